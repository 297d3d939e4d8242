"""`bench/run --sizes`: the size of legwork's bench worker for each feature set.

The user's crate `bench/peers/legwork-standalone` (examples/bench.rs; its manifest passes
legwork's features through) is built in release, stripped (its `[profile.release]` says
`strip = true`), once per feature set in `FEATURE_SETS`, sharing one target dir
(`bench/target/sizes`): each binary is copied aside (`bench/target/sizes/bin/`) before the
next build overwrites it. Then once more with default features and the size-tuned profile
(`SIZE_TUNED`, set through Cargo's environment) in a target dir of its own. Writes
`bench/results/sizes.{md,json}`; the benchmark report's build table shows the latest.
With `--no-build`, a binary already copied aside is measured as it is.
"""

import datetime
import json
import os
import platform
import shutil
import subprocess
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
STANDALONE = BENCH / "peers" / "legwork-standalone" / "Cargo.toml"
TARGET = BENCH / "target" / "sizes"
TUNED_TARGET = BENCH / "target" / "sizes-tuned"
RESULTS = BENCH / "results"
MIB = 1024 * 1024

# (key, label, cargo flags): legwork's feature sets, through the standalone crate's.
FEATURE_SETS = [
    ("default", "default features (`cli`)", []),
    ("no-default", "`--no-default-features` (no `cli`: the worker built by hand)",
     ["--no-default-features"]),
    ("s3", "default + `s3`", ["--features", "s3"]),
    ("otel", "default + `otel`", ["--features", "otel"]),
    ("protobuf", "default + `protobuf`", ["--features", "protobuf"]),
]
# What the binaries are built from: a change there marks the record's commit "+changes".
BUILT_FROM = ["Cargo.toml", "Cargo.lock", "src", "runtime", "macros", "examples/bench.rs",
              "bench/peers/legwork-standalone"]
# No `panic = "abort"`: legwork catches an activity's panic as a failed attempt, which
# needs unwinding; with abort, one panicking activity would end the worker.
SIZE_TUNED = {"CARGO_PROFILE_RELEASE_LTO": "fat", "CARGO_PROFILE_RELEASE_CODEGEN_UNITS": "1",
              "CARGO_PROFILE_RELEASE_OPT_LEVEL": "s"}


def tuned_label():
    """The row's label: the profile settings, as Cargo.toml would spell them."""
    names = {"LTO": "lto", "CODEGEN_UNITS": "codegen-units", "OPT_LEVEL": "opt-level",
             "PANIC": "panic"}
    settings = ", ".join(f"{names[k.removeprefix('CARGO_PROFILE_RELEASE_')]}={v}"
                         for k, v in SIZE_TUNED.items())
    return f"default features, size-tuned profile ({settings})"


def jobs():
    """(key, label, cargo flags, extra environment, target dir) of every build."""
    out = [(key, text, flags, {}, TARGET) for key, text, flags in FEATURE_SETS]
    out.append(("default-size-tuned", tuned_label(), [], SIZE_TUNED, TUNED_TARGET))
    return out


def measure(cargo_build, log, no_build=False):
    """Builds each job (unless `no_build` finds its copy) and returns the rows."""
    rows = []
    (TARGET / "bin").mkdir(parents=True, exist_ok=True)
    for key, text, flags, env, target in jobs():
        kept = TARGET / "bin" / f"bench-legwork-{key}"
        row = {"key": key, "label": text, "cargo_flags": flags, "env": env}
        if not (no_build and kept.exists()):
            log(f"release build of the standalone crate: {text}")
            try:
                seconds = cargo_build(["--manifest-path", str(STANDALONE), *flags], target,
                                      extra_env=env)
            except subprocess.CalledProcessError as error:
                log(f"  {key}: the build failed ({error})")
                rows.append(dict(row, error=f"the build failed ({error.returncode})"))
                continue
            shutil.copy2(target / "release" / "bench-legwork", kept)
            row["build_s"] = round(seconds, 1)
        row["bytes"] = kept.stat().st_size
        row["mib"] = row["bytes"] / MIB
        row["stripped"] = stripped(kept)
        log(f"  {key}: {row['mib']:.2f} MiB")
        rows.append(row)
    return rows


def stripped(binary):
    """Whether the binary has no symbol table (`file` says so), or None without `file`."""
    try:
        out = subprocess.run(["file", "-b", str(binary)], stdout=subprocess.PIPE,
                             text=True).stdout
    except OSError:
        return None
    return "not stripped" not in out and "stripped" in out


def markdown(record):
    lines = [f"Sizes of legwork's bench worker (`examples/bench.rs` through "
             f"`bench/peers/legwork-standalone`), release, stripped; `bench/run --sizes` of "
             f"{record['date']}, commit {record.get('commit', '?')}, {record['machine']}.", "",
             "| feature set | stripped MiB |", "|---|---|"]
    for row in record["rows"]:
        value = f"{row['mib']:.2f}" if "mib" in row else row.get("error", "n/a")
        lines.append(f"| {row['label']} | {value} |")
    return "\n".join(lines) + "\n"


def load():
    """The latest `--sizes` record, or None."""
    path = RESULTS / "sizes.json"
    return json.loads(path.read_text()) if path.exists() else None


def report_rows(data, fmt):
    """The build table's rows for `bench/run --sizes` (legwork's column only)."""
    record = data.get("sizes") or {}
    if "legwork" not in data.get("workers", []):
        return []
    rows = []
    for row in record.get("rows", []):
        rows.append((f"stripped binary, {row['label']} (MiB; `--sizes`, "
                     f"{record['date'][:10]}, commit {record.get('commit', '?')})",
                     lambda w, v=row.get("mib"): fmt(v, 2) if w == "legwork" else "-"))
    return rows


def main(cargo_build, log, no_build=False):
    """Measures, writes results/sizes.{md,json}, prints the table."""
    rows = measure(cargo_build, log, no_build)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True).stdout.strip()
    # Changes to what the binaries are built from (not to docs or the harness).
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                            *BUILT_FROM], cwd=ROOT, stdout=subprocess.PIPE, text=True).stdout.strip()
    record = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
              "commit": commit + ("+changes" if dirty else ""),
              "machine": f"{os.cpu_count()} cores, Linux {platform.release()}",
              "rustc": subprocess.run(["rustc", "--version"], stdout=subprocess.PIPE,
                                      text=True).stdout.strip(),
              "rows": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "sizes.json").write_text(json.dumps(record, indent=2) + "\n")
    text = markdown(record)
    (RESULTS / "sizes.md").write_text(text)
    print(text)
    return record
