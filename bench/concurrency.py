"""The `concurrency` scenario of bench/run: how much one worker costs per activity in flight.

Not in bench/run's default scenarios (it takes several minutes a worker): run it alone with
`bench/run --scenarios concurrency`. Two parts, each on a fresh dev server:

- async: `parked` (10,000) `sleep_async(park_ms)` activities, each awaiting a timer,
  queued once the worker runs (tasks that find a poll waiting are handed over at once;
  a backlog of 10,000 drains from the server's store at a fraction of that rate). The
  timer is 600 s, not 60: on 2 cores the dev server takes 50 to 150 new activities a
  second, so the last of 10,000 starts minutes after the first, whose 60 s timer would
  have fired long before; what a parked activity costs the worker does not depend on
  how long its timer is. Once every one has started (the server says so),
  the worker is watched for `window_s` while all of them are parked: its CPU seconds per
  wall second, its RSS and threads; then its peak RSS (VmHWM). Control-loop lag: legwork's
  `legwork_control_loop_lag` histogram from its /metrics, during the ramp (launch to all
  started) and during the window; the peers have no such metric, so they run the same
  probe legwork does (a 500 ms timer on their runtime, how late it fires), written to
  BENCH_LAG_FILE by bench/peers/official-rust and bench/peers/python.
- sync: `sync_parked` (1,000) `block_sync(park_ms)` activities, each sleeping its thread;
  the same watch (threads, RSS, CPU).

Every worker gets the slots and threads the scenario needs (`WORKER_ARGS`). The worker is
stopped once measured: what the timers do when they fire is the other scenarios' business.

`harness.py` passes itself (`h`) in, for `Run` and the helpers it shares.
"""

import statistics
import time
import urllib.request

import baseline
from figures import fmt, median_of

SCENARIO = "concurrency"
FULL = {"parked": 10_000, "sync_parked": 1_000, "park_ms": 600_000, "window_s": 10}
QUICK = dict(FULL, parked=1_000, sync_parked=100, window_s=5)
MIB = 1024 * 1024
# The activities live longer than the worker: the server must not time them out first.
START_TO_CLOSE_MS = 1_200_000
# The ids queued last: while these have not all started, describing the other thousands
# would only slow the server down.
TAIL = 100


def worker_args(worker, p, metrics_port):
    """Slots for every activity of either part, a thread for every sync one."""
    slots, threads = max(p["parked"], p["sync_parked"]), p["sync_parked"]
    args = ["--max-concurrent-activities", str(slots), "--blocking-threads", str(threads)]
    if baseline.is_legwork(worker):
        args += ["--metrics-bind", f"127.0.0.1:{metrics_port}"]
    return args


def proc_status(pid):
    """VmRSS, VmHWM (bytes) and Threads of a live process."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) * 1024
            elif key == "Threads":
                out[key] = int(value)
    return out


def scrape_histogram(port, name):
    """Cumulative buckets {le: count} of a histogram at http://127.0.0.1:port/metrics, with
    its sum under the key "sum"."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    buckets = {}
    for line in text.splitlines():
        if line.startswith(f"{name}_bucket"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            bound = float("inf") if le == "+Inf" else float(le)
            buckets[bound] = buckets.get(bound, 0) + float(line.rsplit(" ", 1)[1])
        elif line.startswith(f"{name}_sum"):
            buckets["sum"] = buckets.get("sum", 0) + float(line.rsplit(" ", 1)[1])
    return buckets


def histogram_summary(after, before=None):
    """Samples, their mean and the bucket bound (ms) at or under which 99 % of them fall,
    of the samples recorded between two scrapes."""
    before = before or {}
    counts = {le: after[le] - before.get(le, 0) for le in sorted(k for k in after if k != "sum")}
    total = counts.get(float("inf"), 0)
    if not total:
        return {"samples": 0, "p99_le_ms": None}
    p99 = next(le for le, c in counts.items() if c >= 0.99 * total)
    mean = (after.get("sum", 0) - before.get("sum", 0)) / total
    return {"samples": int(total), "p99_le_ms": p99, "mean_ms": mean,
            "over_10_ms": int(total - counts.get(10.0, total))}


def lag_file_summary(path, t0, t1):
    """Samples, p99, max and mean (ms) of a peer's probe lines between wall times t0 and t1."""
    try:
        lines = path.read_text().split("\n")
    except FileNotFoundError:
        return {"samples": 0}
    lags = sorted(float(lag) for at, lag in (line.split() for line in lines if line.strip())
                  if t0 <= float(at) <= t1)
    if not lags:
        return {"samples": 0}
    return {"samples": len(lags), "p99_ms": lags[min(len(lags) - 1, int(0.99 * len(lags)))],
            "max_ms": lags[-1], "mean_ms": statistics.mean(lags)}


def watch(h, run, t_all_started, window_s):
    """CPU per wall second, RSS and threads of the worker over `window_s` from now."""
    pid = run.worker.pid
    t0, precise0, ticks0 = time.time(), h.thread_cpu_seconds(pid), h.cpu_seconds(pid)
    time.sleep(window_s)
    status = proc_status(pid)
    t1, precise1, ticks1 = time.time(), h.thread_cpu_seconds(pid), h.cpu_seconds(pid)
    # The live threads' nanoseconds, unless a thread exited meanwhile (an idle pool thread)
    # and took its time with it: then the process's 10 ms ticks, which keep it.
    cpu = precise1 - precise0 if precise1 >= precise0 else ticks1 - ticks0
    return t0, t1, {
        "ramp_s": t_all_started - run.launched,
        "cpu_s_per_s": cpu / (t1 - t0),
        "rss_mib": status["VmRSS"] / MIB,
        "threads": status["Threads"],
    }


def part(h, cli, worker, rep, p, activity, count):
    """Starts the worker, queues `count` `activity(park_ms)`, waits until all have started,
    watches it while they are parked; returns the figures."""
    port = h.free_ports(1)[0]
    lag_file = h.LOGS / f"{SCENARIO}-{activity}-{worker}-{rep}-lag.txt"
    args = worker_args(worker, p, port)
    # legwork's lag histogram, read from --metrics-bind (an older build may not take it:
    # then nothing to read, and the lag is n/a); the peers' probe file otherwise.
    metrics = "--metrics-bind" in baseline.command_line(worker, args)
    env = None if baseline.is_legwork(worker) else {"BENCH_LAG_FILE": str(lag_file)}
    run = h.Run(cli, f"{SCENARIO}-{activity}", worker, rep, worker_args=args, worker_env=env)
    result = {"count": count}
    try:
        run.start_worker()
        # No 50 ms sampling of every thread here: with 1,000 threads it would load the
        # machine; `watch` reads the CPU at the two ends of its window instead.
        run.sampler.stop.set()
        h.log(f"  {worker}: queueing {count} {activity}({p['park_ms']})")
        began = time.monotonic()
        extra = ["--arg", p["park_ms"], "--start-to-close-ms", START_TO_CLOSE_MS,
                 "--concurrency", 64]
        run.enqueue.start("park", count - TAIL, activity, *extra)
        run.enqueue.start("tail", TAIL, activity, *extra)
        result["enqueue_s"] = time.monotonic() - began
        all_started = (run.enqueue.started("tail", TAIL, timeout=600)
                       and run.enqueue.started("park", count - TAIL, timeout=600))
        t_all = time.time()
        result["all_started"] = all_started
        if run.worker.poll() is not None:
            raise RuntimeError(f"the worker exited ({run.worker.returncode}); see "
                               f"{h.LOGS / (run.tag + '-worker.log')}")
        if metrics:
            ramp = control_lag_buckets(port)
        t0, t1, figures = watch(h, run, t_all, p["window_s"])
        result.update(figures)
        # Parked all through the window: no timer can have fired before launch + park_ms.
        result["all_parked"] = all_started and t1 < run.launched + p["park_ms"] / 1000
        if metrics:
            window = control_lag_buckets(port)
            result["lag_ramp"] = histogram_summary(ramp)
            result["lag_window"] = histogram_summary(window, ramp)
        else:
            result["lag_ramp"] = lag_file_summary(lag_file, run.launched, t_all)
            result["lag_window"] = lag_file_summary(lag_file, t0, t1)
        rss, alive = run.finish()
        result["peak_rss_mib"] = rss / MIB if rss else None
        result["ok"] = bool(alive and result["all_parked"])
    finally:
        run.close()
    return result


def control_lag_buckets(port):
    return scrape_histogram(port, "legwork_control_loop_lag")


def concurrency(h, cli, worker, rep, p):
    """Both parts, each on a fresh server (a part whose activity an older legwork build
    does not serve is skipped)."""
    out = {}
    for key, activity, count in (("async", "sleep_async", p["parked"]),
                                 ("sync", "block_sync", p["sync_parked"])):
        if not baseline.serves(worker, activity):
            h.log(f"  {worker}: {SCENARIO} {key} skipped: this build has no {activity}")
            out[key] = {"skipped": f"no {activity} in this build"}
            continue
        try:  # one part failing must not lose the other's figures
            out[key] = part(h, cli, worker, rep, p, activity, count)
        except Exception as error:
            h.log(f"  {worker}: {SCENARIO} {key} failed: {error}")
            out[key] = {"ok": False, "error": str(error)}
    return {"ok": all(r["ok"] for r in out.values() if "skipped" not in r), **out}


def lag_cell(r, phase):
    lag = (r or {}).get(phase) or {}
    if "p99_le_ms" in lag:
        if lag["p99_le_ms"] is None:
            return "n/a"
        over = lag.get("over_10_ms")
        over = f", {over} over 10" if over is not None else ""
        return (f"p99 ≤ {lag['p99_le_ms']:g}, mean {lag['mean_ms']:.2f}{over} "
                f"({lag['samples']} samples)")
    if lag.get("samples"):
        return (f"p99 {lag['p99_ms']:.1f}, max {lag['max_ms']:.1f}, mean {lag['mean_ms']:.2f} "
                f"({lag['samples']} samples)")
    return "n/a"


def report_table(lines, data, workers, labels):
    """The scenario's table, appended to `lines` (markdown)."""
    res = data["results"].get(SCENARIO)
    if not res:
        return
    p = data["parameters"]

    def get(w, *path, digits=1):
        runs = res.get(w)
        return fmt(median_of(runs, *path), digits) if runs else "n/a"

    def first(w, key, phase):
        runs = res.get(w)
        return lag_cell(runs[0].get(key), phase) if runs else "n/a"

    rows = [
        (f"async: {p['parked']} sleep_async in flight, all started after (s)",
         lambda w: get(w, "async", "ramp_s")),
        ("async: all parked through the window", lambda w: "n/a" if not res.get(w) else
         "skipped" if any(r.get("async", {}).get("skipped") for r in res[w]) else
         ("yes" if all(r.get("async", {}).get("all_parked") for r in res[w]) else "**no**")),
        ("async: peak RSS (MiB)", lambda w: get(w, "async", "peak_rss_mib")),
        ("async: RSS while parked (MiB)", lambda w: get(w, "async", "rss_mib")),
        ("async: CPU while parked (CPU s per s)", lambda w: get(w, "async", "cpu_s_per_s", digits=4)),
        ("async: threads", lambda w: get(w, "async", "threads", digits=0)),
        ("async: control-loop lag (ms), launch to all started", lambda w: first(w, "async", "lag_ramp")),
        ("async: control-loop lag (ms), parked", lambda w: first(w, "async", "lag_window")),
        (f"sync: {p['sync_parked']} block_sync in flight, all started after (s)",
         lambda w: get(w, "sync", "ramp_s")),
        ("sync: threads", lambda w: get(w, "sync", "threads", digits=0)),
        ("sync: RSS while parked (MiB)", lambda w: get(w, "sync", "rss_mib")),
        ("sync: peak RSS (MiB)", lambda w: get(w, "sync", "peak_rss_mib")),
        ("sync: CPU while parked (CPU s per s)", lambda w: get(w, "sync", "cpu_s_per_s", digits=4)),
    ]
    lines.append(f"**concurrency: activities in flight at once on one worker, each awaiting a "
                 f"{p['park_ms'] // 1000} s timer (async) or sleeping its thread (sync); "
                 f"watched for {p['window_s']} s once all have started. Lag: legwork's "
                 f"`legwork_control_loop_lag` (p99: the histogram bucket under which 99 % "
                 f"fall); the peers: the same 500 ms timer probe on their runtime; first "
                 f"repetition**")
    lines.append("")
    if data.get("note"):  # figures merged from more than one run say so
        lines.append(data["note"])
        lines.append("")
    lines.append("| | " + " | ".join(labels) + " |")
    lines.append("|---" * (len(labels) + 1) + "|")
    for name, getter in rows:
        lines.append(f"| {name} | " + " | ".join(getter(w) for w in workers) + " |")
    lines.append("")


def targets(data, add):
    """The issue's targets for legwork: under 64 MiB with 10,000 in flight, lag p99 < 10 ms."""
    runs = data["results"].get(SCENARIO, {}).get("legwork")
    if not runs:
        return
    parked = data["parameters"]["parked"]
    rss = median_of(runs, "async", "peak_rss_mib")
    add(f"concurrency: {parked} async in flight under 64 MiB peak RSS", rss,
        lambda v: v < 64 and all(r.get("async", {}).get("all_parked") for r in runs),
        f"{rss:.1f} MiB" if rss is not None else None)
    worst = [r.get("async", {}).get(phase, {}).get("p99_le_ms") for r in runs
             for phase in ("lag_ramp", "lag_window")]
    worst = [v for v in worst if v is not None]
    add("concurrency: control-loop lag p99 < 10 ms (ramp and parked)",
        max(worst) if worst else None, lambda v: v < 10,
        f"≤ {max(worst):g} ms (histogram bucket)" if worst else None)
    idle = median_of(runs, "async", "cpu_s_per_s")
    idle = None if idle is None else 1000 * idle
    add(f"concurrency: idle CPU with {parked} async parked ≤ 0.4 ms per s", idle,
        lambda v: v <= 0.4, f"{idle:.2f} ms per s" if idle is not None else None)
