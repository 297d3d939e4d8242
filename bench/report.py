"""The markdown report of a run (OUT.md): a table per scenario, a column per worker, then
the targets. Reads only the run's JSON, so that `bench/run --report` can redraw it."""

import baseline
import concurrency
import containment
import sizes
from figures import fmt, median_of, paired_ratios, ratio
from variants import FRONTED, LEGWORK_VARIANTS


class Tables:
    """The report's markdown, one table at a time: a row per figure, a column per worker."""

    def __init__(self, data):
        self.data, self.res, self.p = data, data["results"], data["parameters"]
        self.workers = data["workers"]
        self.labels = [data["labels"][w] for w in self.workers]
        self.lines = []

    def table(self, title, rows):
        self.lines += [f"**{title}**", "", "| | " + " | ".join(self.labels) + " |",
                       "|---" * (len(self.labels) + 1) + "|"]
        for name, getter in rows:
            self.lines.append(f"| {name} | " + " | ".join(getter(w) for w in self.workers) + " |")
        self.lines.append("")

    def get(self, scenario, w, *path, digits=2):
        runs = self.res.get(scenario, {}).get(w)
        if not runs:
            return "n/a"
        return fmt(median_of(runs, *path), digits)

    def idle_vs_loaded(self, s, loaded):
        """The three rows every idle-vs-loaded scenario opens with; `loaded` names its load."""
        def medians(w, phase):
            return f"{self.get(s, w, phase, 'median_ms', digits=0)} / {self.get(s, w, phase, 'max_ms', digits=0)}"

        def slowdown(w):
            runs = self.res[s].get(w)
            if not runs:
                return "n/a"
            return fmt(ratio(median_of(runs, 'loaded', 'median_ms'), median_of(runs, 'idle', 'median_ms')))

        return [
            ("idle median / max", lambda w: medians(w, "idle")),
            (f"{loaded} median / max", lambda w: medians(w, "loaded")),
            (f"{loaded} / idle median", slowdown),
        ]


def drain_tables(t):
    """noop_async, noop_sync and cpu_sync: a queue drained, figures per activity."""
    p, get = t.p, t.get
    for scenario, n in (("noop_async", p["noop"]), ("noop_sync", p["noop"]),
                        ("cpu_sync", p["cpu"])):
        if scenario not in t.res:
            continue
        rows = [
            ("drain throughput (activities/s)", lambda w, s=scenario: get(s, w, "throughput_per_s", digits=1)),
            ("worker CPU per activity (ms)", lambda w, s=scenario: get(s, w, "worker_cpu_ms_per_activity", digits=3)),
            ("server CPU per activity (ms)", lambda w, s=scenario: get(s, w, "server_cpu_ms_per_activity", digits=1)),
            ("launch to first completion (s)", lambda w, s=scenario: get(s, w, "launch_to_first_completion_s", digits=3)),
            ("peak RSS (MiB)", lambda w, s=scenario: get(s, w, "peak_rss_mib", digits=1)),
        ]
        if scenario == "cpu_sync":
            rows.insert(2, ("worker cores busy (CPU / wall)", lambda w: get("cpu_sync", w, "worker_cores_busy")))
            rows.insert(3, ("server cores busy (CPU / wall)", lambda w: get("cpu_sync", w, "server_cores_busy")))
            rows.insert(4, ("worker share of the cores the server leaves", lambda w: get("cpu_sync", w, "worker_share_of_free_cores")))
        extra = f", {p['cpu_ms']} ms of thread CPU each" if scenario == "cpu_sync" else ""
        t.table(f"{scenario}: {n} activities{extra}", rows)


def latency_tables(t):
    """The idle-vs-loaded scenarios: latency_under_load, rogue_async, blocked_loop."""
    p, res, get = t.p, t.res, t.get
    def rss(s):
        return ("peak RSS (MiB)", lambda w: get(s, w, "peak_rss_mib", digits=1))

    if "latency_under_load" in res:
        s = "latency_under_load"
        t.table(f"latency under load: {p['tiny_async']} tiny_async {p['tiny_interval_ms']} ms apart, "
                f"idle vs while {p['blockers']} block_sync({p['block_ms']} ms) run "
                f"(schedule to close, ms)", [*t.idle_vs_loaded(s, "loaded"), rss(s)])
    if "rogue_async" in res:
        s = "rogue_async"

        def hb(w):
            runs = res[s].get(w)
            if not runs:
                return "n/a"
            timed = sum(1 for r in runs if r.get("heartbeat_timed_out"))
            return f"{timed}/{len(runs)} runs"

        t.table(f"rogue async: {p['tiny_sync']} tiny_sync (and one heartbeat_sync, "
                f"{p['hb_every_ms']} ms beats, {p['hb_timeout_ms']} ms timeout), idle vs while "
                f"{p['rogues']} async activities block their thread for {p['rogue_ms']} ms "
                f"(schedule to close, ms)", [
                    *t.idle_vs_loaded(s, "rogue"),
                    ("heartbeat timed out", hb),
                    ("heartbeat_sync schedule to start (ms)", lambda w: get(s, w, "heartbeat_schedule_to_start_ms", digits=0)),
                    rss(s),
                ])
    if "blocked_loop" in res:
        s = "blocked_loop"
        t.table(f"blocked event loop: {p['tiny_async']} tiny_async {p['tiny_interval_ms']} ms "
                f"apart, idle vs while {p['blocked_rogues']} async activities (2 × cores) block "
                f"their thread for {p['blocked_ms']} ms (schedule to close, ms)", [
                    *t.idle_vs_loaded(s, "blocked"),
                    ("tiny ones done before the first rogue", lambda w: get(s, w, "tiny_closed_while_blocked", digits=0)),
                    rss(s),
                ])


def build_table(t):
    binaries = t.data.get("binary_mib", {})
    builds = t.data.get("build_times")
    t.table("build", [
        ("release binary (MiB)", lambda w: fmt(binaries.get(w), 1)),
        ("clean release build (s)" + (f", measured {builds['date'][:10]}" if builds else ""),
         lambda w: fmt((builds or {}).get("seconds", {}).get(w), 0)),
        *sizes.report_rows(t.data, fmt),
    ])


def targets_table(lines, data):
    """The targets, then the runs that did not finish cleanly."""
    lines += ["**targets** (legwork against the others in this run)", "",
              "| target | measured | met |", "|---|---|---|"]
    for t in data["targets"]:
        met = {True: "yes", False: "**no**", None: "n/a"}[t["met"]]
        lines.append(f"| {t['target']} | {t['measured']} | {met} |")
    lines.append("")
    failures = [f"{s}/{w} rep {i}" for s, by in data["results"].items() for w, runs in by.items()
                for i, r in enumerate(runs) if not r.get("ok")]
    if failures:
        lines.append("Runs that did not finish cleanly (timeouts, a dead worker): "
                     + ", ".join(failures))
        lines.append("")


def report(data):
    t = Tables(data)
    res, lines = t.res, t.lines
    lines += [f"Run of {data['date']} on {data['machine']}; temporal CLI {data['temporal']}; "
              f"{data['repeat']} repetition(s), median shown; a fresh dev server for every "
              f"scenario and worker; load average {' '.join(data['loadavg_before'])} before, "
              f"{' '.join(data['loadavg_after'])} after; commit {data.get('commit', '?')}.", ""]
    lines += baseline.report_notes(data, lambda w: data["labels"][w])
    drain_tables(t)
    latency_tables(t)
    concurrency.report_table(lines, data, t.workers, t.labels)
    containment.report_table(lines, data, t.workers, t.labels)
    fronted = [s for s in ("noop_sync", *FRONTED, *LEGWORK_VARIANTS) if s in res]
    if any(s != "noop_sync" for s in fronted):
        front_table(lines, res, fronted, t.p["noop"])
    build_table(t)
    targets_table(lines, data)
    return "\n".join(lines)


def front_table(lines, res, scenarios, n):
    """legwork's noop_sync straight to the server, through nginx in plaintext, through
    nginx over TLS, with metrics on: one column a scenario."""
    names = {"noop_sync": "direct, plaintext", "noop_sync_proxied": "via nginx, plaintext",
             "noop_sync_tls": "via nginx, TLS", "noop_sync_metrics": "direct, metrics on",
             "noop_sync_encrypted": "direct, AES-256-GCM codec"}
    runs = {s: res[s].get("legwork", []) for s in scenarios}

    def cell(s, key, digits):
        return fmt(median_of(runs[s], key), digits) if runs[s] else "n/a"

    def against_direct(s):
        if s == "noop_sync":
            return "-"
        value, ratios = paired_ratios(runs[s], runs.get("noop_sync", []),
                                      "worker_cpu_ms_per_activity")
        if len(ratios) > 1:
            return f"{fmt(value)} ({', '.join(fmt(r) for r in ratios)})"
        return fmt(value)

    rows = [
        ("drain throughput (activities/s)", lambda s: cell(s, "throughput_per_s", 1)),
        ("worker CPU per activity (ms)", lambda s: cell(s, "worker_cpu_ms_per_activity", 3)),
        ("worker CPU per activity / direct (paired; each repetition)", against_direct),
        ("nginx CPU per activity (ms)", lambda s: cell(s, "nginx_cpu_ms_per_activity", 3)
         if s in FRONTED else "-"),
        ("server CPU per activity (ms)", lambda s: cell(s, "server_cpu_ms_per_activity", 1)),
        ("launch to first completion (s)",
         lambda s: cell(s, "launch_to_first_completion_s", 3)),
        ("peak RSS (MiB)", lambda s: cell(s, "peak_rss_mib", 1)),
    ]
    lines.append(f"**legwork's noop_sync variants, {n} activities: the worker straight to the "
                 f"server, through nginx on loopback (the enqueuer always straight), "
                 f"with metrics on, or with the encryption codec**")
    lines.append("")
    lines.append("| | " + " | ".join(f"{names[s]} ({s})" for s in scenarios) + " |")
    lines.append("|---" * (len(scenarios) + 1) + "|")
    for name, getter in rows:
        lines.append(f"| {name} | " + " | ".join(getter(s) for s in scenarios) + " |")
    lines.append("")
