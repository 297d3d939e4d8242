"""A second legwork build as a worker of bench/run: `bench/run --baseline REV`.

The worker `legwork@REV` (labelled `legwork REV`) is examples/bench.rs built as the user's
crate `bench/peers/legwork-standalone` of commit REV, from REV's own tree: `git archive REV`
is unpacked into `bench/target/baseline-REV/src` and built in release into
`bench/target/baseline-REV/target`. It runs every scenario `legwork` runs, with the same
command line, except what the older build does not have: a flag its `--help` does not list
is left out of its command line (and the report says so), and a scenario (or a part of
one) that needs an activity its `--list` does not print, a flag it cannot do without, or
an environment variable its examples/bench.rs never reads, is skipped for it.

`harness.py` registers the worker in its WORKERS and asks this module what to pass.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
TARGET = BENCH / "target"
STANDALONE = Path("bench") / "peers" / "legwork-standalone" / "Cargo.toml"
PREFIX = "legwork@"

# What a scenario cannot run without (beyond --address and --task-queue): activities the
# build must serve, flags it must take, environment variables its bench.rs must read.
# Flags that only add to a run (concurrency's --metrics-bind, for the lag histogram) are
# not here: they are dropped for a build that lacks them.
NEEDS = {
    "noop_async": {"activities": ["noop_async"]},
    "noop_sync": {"activities": ["noop_sync"]},
    "noop_sync_proxied": {"activities": ["noop_sync"]},
    "noop_sync_tls": {"activities": ["noop_sync"], "flags": ["--tls-ca-path"]},
    "noop_sync_metrics": {"activities": ["noop_sync"], "flags": ["--metrics-bind"]},
    "noop_sync_encrypted": {"activities": ["noop_sync"], "env": ["BENCH_PAYLOAD_KEY"]},
    "cpu_sync": {"activities": ["cpu_sync"]},
    "latency_under_load": {"activities": ["noop_sync", "tiny_async", "block_sync"]},
    "rogue_async": {"activities": ["noop_sync", "tiny_sync", "block_async", "heartbeat_sync"]},
    "blocked_loop": {"activities": ["noop_sync", "tiny_async", "block_async"]},
    # Each part of it checks its own activity (`serves`).
    "concurrency": {"activities": []},
}

# name -> {"rev", "commit", "binary", "flags": {flag: takes a value}, "activities", "env"}
BUILDS = {}
# name -> flags left out of its command line (for the report)
DROPPED = {}


def is_baseline(worker):
    return worker.startswith(PREFIX)


def is_legwork(worker):
    """legwork, or an older build of it."""
    return worker == "legwork" or is_baseline(worker)


def git(*args, check=True):
    return subprocess.run(["git", *args], cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, check=check).stdout.strip()


def resolve(rev):
    """REV's short commit id; exits with a message when REV is no commit or has no
    standalone crate to build."""
    result = subprocess.run(["git", "rev-parse", "--short", f"{rev}^{{commit}}"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        sys.exit(f"--baseline {rev}: not a commit ({result.stderr.strip()})")
    short = result.stdout.strip()
    if not git("ls-tree", short, str(STANDALONE)):
        sys.exit(f"--baseline {rev}: {short} has no {STANDALONE} to build")
    return short


def paths(short):
    top = TARGET / f"baseline-{short}"
    return top / "src", top / "target", top / "target" / "release" / "bench-legwork"


def export(short, src):
    """REV's tree, fresh, in `src` (what `git archive` gives: tracked files only)."""
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    archive = subprocess.Popen(["git", "archive", short], cwd=ROOT, stdout=subprocess.PIPE)
    try:
        subprocess.run(["tar", "-x", "-C", str(src)], stdin=archive.stdout, check=True)
    finally:
        archive.stdout.close()
    if archive.wait() != 0:
        raise RuntimeError(f"git archive {short} failed")


def build(rev, no_build, cargo_build, log):
    """Exports and builds REV's standalone crate unless `no_build` and its binary exists;
    returns (worker name, label, binary)."""
    short = resolve(rev)
    src, target, binary = paths(short)
    if not (no_build and binary.exists()):
        log(f"building legwork at {short} (its {STANDALONE}, release) in {target.parent}")
        export(short, src)
        cargo_build(["--manifest-path", str(src / STANDALONE)], target, cwd=src)
    if not binary.exists():
        sys.exit(f"--baseline {rev}: no {binary} (drop --no-build to build it)")
    name = PREFIX + short
    BUILDS[name] = {"rev": rev, "commit": git("rev-parse", short), "binary": binary,
                    **probe(binary, src)}
    return name, f"legwork {short}", binary


def probe(binary, src):
    """The long flags the build's --help lists (and whether each takes a value), the
    activities its --list prints, the BENCH_* variables its examples/bench.rs reads."""
    text = subprocess.run([str(binary), "--help"], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True).stdout
    flags = {m.group(1): bool(m.group(2))
             for m in re.finditer(r"(--[a-z0-9][a-z0-9-]*)(?:[ =](<[^>]+>|\[[^\]]+\]))?", text)}
    listed = subprocess.run([str(binary), "--list"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True).stdout
    activities = sorted({line.split()[0] for line in listed.splitlines() if line.strip()})
    bench_rs = src / "examples" / "bench.rs"
    env = sorted(set(re.findall(r"\bBENCH_[A-Z_]+", bench_rs.read_text()))) \
        if bench_rs.exists() else []
    return {"flags": flags, "activities": activities, "env": env}


def serves(worker, activity):
    """Whether `worker` serves `activity` (any worker but an older legwork build: yes)."""
    build_ = BUILDS.get(worker)
    return build_ is None or activity in build_["activities"]


def missing(worker, scenario):
    """What `worker` lacks to run `scenario` (empty: it can), as text."""
    build_ = BUILDS.get(worker)
    if build_ is None:
        return []
    needs = NEEDS.get(scenario)
    if needs is None:  # the containment scenarios: their modes check their activities
        return []
    lacks = [a for a in needs.get("activities", []) if a not in build_["activities"]]
    lacks += [f for f in needs.get("flags", []) if f not in build_["flags"]]
    lacks += [e for e in needs.get("env", []) if e not in build_["env"]]
    return lacks


def command_line(worker, args):
    """`args` with the flags `worker` does not take left out (each with its value)."""
    build_ = BUILDS.get(worker)
    if build_ is None:
        return list(args)
    out, args, i = [], list(args), 0
    while i < len(args):
        arg = args[i]
        flag = arg.split("=", 1)[0]
        if arg.startswith("--") and flag not in build_["flags"]:
            DROPPED.setdefault(worker, set()).add(flag)
            takes_value = "=" not in arg and i + 1 < len(args) \
                and not args[i + 1].startswith("--")
            i += 2 if takes_value else 1
            continue
        out.append(arg)
        i += 1
    return out


def record(worker):
    """What the report says of an older build: its commit, what it lacked."""
    build_ = BUILDS[worker]
    return {"rev": build_["rev"], "commit": build_["commit"],
            "activities": build_["activities"],
            "dropped_flags": sorted(DROPPED.get(worker, ())),
            "binary": str(build_["binary"])}


def report_notes(data, label):
    """What each older legwork build in the run is, and what it did not run."""
    lines = []
    for w, b in (data.get("baselines") or {}).items():
        skips = [f"{s} (it has no {', '.join(by[w])})"
                 for s, by in (data.get("skipped") or {}).items() if w in by]
        for s, by in data["results"].items():
            for part, r in ((k, v) for k, v in (by.get(w) or [{}])[0].items()
                            if isinstance(v, dict) and v.get("skipped")):
                skips.append(f"{s} {part} ({r['skipped']})")
        dropped = ", ".join(f"`{f}`" for f in b.get("dropped_flags", [])) or "none"
        lines.append(f"*{b.get('label', label(w))}*: legwork's bench worker as built from commit "
                     f"{b['commit'][:12]} (`--baseline {b['rev']}`: that commit's "
                     f"`bench/peers/legwork-standalone`); flags it does not take, left out of "
                     f"its command line: {dropped}; not run: {', '.join(skips) or 'nothing'}.")
        lines.append("")
    return lines


def main():
    """`python3 bench/baseline.py REV`: only builds REV's worker (as --baseline REV does)."""
    import time

    def log(message):
        print(f"[baseline {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    def cargo_build(args, target_dir, cwd):
        env = dict(os.environ, CARGO_TARGET_DIR=str(target_dir))
        subprocess.run(["cargo", "build", "--release", "--quiet", *args], cwd=cwd, env=env,
                       check=True)

    for rev in [a for a in sys.argv[1:] if not a.startswith("--")]:
        name, label, binary = build(rev, "--no-build" in sys.argv, cargo_build, log)
        print(f"{name} ({label}): {binary}, {binary.stat().st_size / 1024 / 1024:.2f} MiB; "
              f"flags {sorted(BUILDS[name]['flags'])}; activities {BUILDS[name]['activities']}")


if __name__ == "__main__":
    main()
