"""The targets of a run: each with its measured value (a median, or a paired ratio) and
whether it is met; the report prints them last."""

import baseline
import concurrency
import containment
from figures import fmt, median_of, paired_ratios, ratio
from variants import FRONTED


class Targets:
    """The targets of this run, each with its measured value and whether it is met."""

    def __init__(self, data):
        self.data, self.res, self.out = data, data["results"], []

    def m(self, scenario, worker, *path):
        return median_of(self.res.get(scenario, {}).get(worker, []), *path)

    def runs(self, scenario, worker):
        return self.res.get(scenario, {}).get(worker, [])

    def add(self, target, value, met, text=None):
        self.out.append({"target": target, "value": value,
                         "measured": text if text is not None else fmt(value),
                         "met": None if value is None else met(value)})

    def add_paired(self, target, scenario, a, b, path, met, scenario_b=None):
        """a's figure in `scenario` against b's in `scenario_b` (the same by default)."""
        value, ratios = paired_ratios(self.runs(scenario, a),
                                      self.runs(scenario_b or scenario, b), *path)
        text = None
        if len(ratios) > 1:
            text = f"{fmt(value)} (each repetition: {', '.join(fmt(r) for r in ratios)})"
        self.add(target, value, met, text)


def noop_targets(t):
    """The no-ops against the floor, the Rust SDK and older builds of legwork."""
    cpu = ["worker_cpu_ms_per_activity"]
    for s in ("noop_async", "noop_sync"):
        t.add_paired(f"{s}: throughput ≥ 0.95 × floor", s, "legwork", "floor",
                     ["throughput_per_s"], lambda v: v >= 0.95)
        t.add_paired(f"{s}: worker CPU/activity ≤ 0.5 × Rust SDK", s, "legwork",
                     "official-rust", cpu, lambda v: v <= 0.5)
        t.add_paired(f"{s}: worker CPU/activity ≤ 1.3 × floor", s, "legwork", "floor",
                     cpu, lambda v: v <= 1.3)
        bound = {"noop_async": 1.15, "noop_sync": 1.10}[s]
        t.add_paired(f"{s}: worker CPU/activity ≤ {bound:.2f} × floor", s, "legwork", "floor",
                     cpu, lambda v, b=bound: v <= b)
    for w in t.data["workers"]:
        if baseline.is_baseline(w):
            t.add_paired(f"noop_async: worker CPU/activity main ≤ 1.0 × {w[len(baseline.PREFIX):]}",
                         "noop_async", "legwork", w, cpu, lambda v: v <= 1.0)


def feature_targets(t):
    """What TLS and metrics cost, against plain noop_sync."""
    res, cpu = t.res, ["worker_cpu_ms_per_activity"]
    if "noop_sync_tls" in res:
        t.add_paired("noop_sync: worker CPU/activity over TLS (via nginx) ≤ 1.2 × plaintext "
                     "(direct)", "noop_sync_tls", "legwork", "legwork",
                     cpu, lambda v: v <= 1.2, "noop_sync")
        if "noop_sync_proxied" in res:
            t.add_paired("noop_sync (diagnostic, TLS alone): worker CPU/activity over TLS ≤ 1.2 × "
                         "plaintext, both via nginx", "noop_sync_tls", "legwork", "legwork",
                         cpu, lambda v: v <= 1.2, "noop_sync_proxied")
    if "noop_sync_metrics" in res:
        t.add_paired("noop_sync: worker CPU/activity with metrics ≤ 1.05 × without",
                     "noop_sync_metrics", "legwork", "legwork",
                     cpu, lambda v: v <= 1.05, "noop_sync")


def latency_targets(t):
    """The idle-vs-loaded scenarios and cpu_sync."""
    m = t.m
    for target, s, bound in (("latency under load: median ≤ 1.1 × idle", "latency_under_load", 1.1),
                             ("rogue async: tiny sync median ≤ 1.5 × idle", "rogue_async", 1.5),
                             ("blocked loop: tiny async median ≤ 1.5 × idle", "blocked_loop", 1.5)):
        t.add(target, ratio(m(s, "legwork", "loaded", "median_ms"),
                            m(s, "legwork", "idle", "median_ms")), lambda v, b=bound: v <= b)
    rogue = t.res.get("rogue_async", {}).get("legwork")
    if rogue:
        timed = sum(1 for r in rogue if r.get("heartbeat_timed_out"))
        t.add("rogue async: no heartbeat timeout", timed, lambda v: v == 0,
              f"{timed}/{len(rogue)} runs timed out")
    t.add("cpu_sync: worker keeps both cores busy (CPU ≈ 2 × wall)",
          m("cpu_sync", "legwork", "worker_cores_busy"), lambda v: v >= 1.8)
    t.add("cpu_sync (diagnostic, not in the issue): worker takes ≥ 0.9 of the cores the server leaves",
          m("cpu_sync", "legwork", "worker_share_of_free_cores"), lambda v: v >= 0.9)


def footprint_targets(t):
    """Start-up, memory, binary and build time."""
    m, res = t.m, t.res
    launch = [m(s, "legwork", "launch_to_first_completion_s") for s in ("noop_async", "noop_sync")]
    launch = [v for v in launch if v is not None]
    t.add("launch to first completion ≤ 0.1 s", min(launch) if launch else None,
          lambda v: v <= 0.1, fmt(min(launch), 3) + " s" if launch else None)
    # Over the scenarios the peers run too: the fronted ones report theirs in their table.
    rss = [median_of(by.get("legwork", []), "peak_rss_mib") for s, by in res.items()
           if s not in FRONTED]
    rss = [v for v in rss if v is not None]
    t.add("peak RSS ≤ 10 MiB (largest over scenarios)", max(rss) if rss else None,
          lambda v: v <= 10, fmt(max(rss), 1) + " MiB" if rss else None)
    noops = [m(s, "legwork", "peak_rss_mib") for s in ("noop_async", "noop_sync")]
    noops = [v for v in noops if v is not None]
    t.add("peak RSS draining noops ≤ 7 MiB (noop_async, noop_sync)", max(noops) if noops else None,
          lambda v: v <= 7, fmt(max(noops), 1) + " MiB" if noops else None)
    size = t.data.get("binary_mib", {}).get("legwork")
    for bound in (8, 5):
        t.add(f"release binary ≤ {bound} MiB", size, lambda v, b=bound: v <= b,
              fmt(size, 1) + " MiB" if size else None)
    builds = (t.data.get("build_times") or {}).get("seconds", {})
    t.add("clean release build ≤ 0.5 × Rust SDK worker's",
          ratio(builds.get("legwork"), builds.get("official-rust")), lambda v: v <= 0.5)


def targets(data):
    t = Targets(data)
    noop_targets(t)
    feature_targets(t)
    latency_targets(t)
    footprint_targets(t)
    concurrency.targets(data, t.add)
    containment.targets(data, t.add)
    return t.out
