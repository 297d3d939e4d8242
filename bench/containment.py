"""The containment scenarios of bench/run: `isolated`, `crash` and `runaway`.

Run only when named: `bench/run --scenarios isolated,crash,runaway` (written to
results/containment.{md,json}); bench/README.md ("Containment") gives the method. Each
worker runs each scenario in one or two modes (`MODES`), each on a fresh dev server:
"contained", its way of keeping a misbehaving activity from the rest (legwork's
`#[activity(isolated)]`; Python's documented process pool; the Rust SDK has none), and
"in_process", the plain sync activity.

`harness.py` passes itself (`h`) in, for `Run` and the helpers it shares.
"""

import os
import subprocess
import time

import baseline
import sampling
from figures import fmt, median_of

SCENARIOS = ["isolated", "crash", "runaway"]
FULL = {"contained_noop": 1000, "contained_batch": 200, "contained_warm": 300,
        "crash_inflight": 50, "crash_sleep_ms": 3000, "crash_window_s": 30,
        "kill_grace_s": 2, "runaway_window_s": 20, "runaway_heartbeat_timeout_ms": 1000}
QUICK = dict(FULL, contained_noop=200, contained_batch=100, contained_warm=100)
# Python's documented process pool (ProcessPoolExecutor(max_workers=8)).
PY_POOL = 8
# Longer than any run: an activity that closes did not wait for its timeout.
LONG_MS = 600_000
# How long a worker has to complete a no-op after the crash to count as serving.
PROBE_S = 10
MIB = 1024 * 1024
LEGWORK_GRACE = ["--isolated-kill-grace", f"{FULL['kill_grace_s']}s"]


def pool(activity, n=PY_POOL):
    """Python's containment: `def` activities on its documented process pool, of `n`."""
    return ("contained", f"{activity} on ProcessPoolExecutor({n})", activity,
            ["--process-pool", str(n)])


def plain(activity, how):
    return ("in_process", f"{how} {activity}", activity, [])


# scenario -> worker -> [(mode, how it runs, activity, worker flags)]
MODES = {
    "isolated": {
        "legwork": [("contained", "#[activity(isolated)] noop_isolated", "noop_isolated", []),
                    plain("noop_sync", "#[activity]")],
        "official-rust": [plain("noop_sync", "sync fn")],
        "python": [pool("noop_sync"), plain("noop_sync", "threads:")],
    },
    "crash": {
        "legwork": [("contained", "#[activity(isolated)] abort_isolated", "abort_isolated", [])],
        "official-rust": [plain("abort_sync", "sync fn")],
        # A pool process for each activity in flight and one for the abort: with the
        # docs' 8, the abort would wait behind the sleepers until most had finished.
        "python": [pool("abort_sync", FULL["crash_inflight"] + 1)],
    },
    "runaway": {
        "legwork": [("contained", "#[activity(isolated)] runaway_isolated, "
                     + " ".join(LEGWORK_GRACE), "runaway_isolated", LEGWORK_GRACE),
                    plain("runaway_sync", "#[activity]")],
        "official-rust": [plain("runaway_sync", "sync fn")],
        "python": [pool("runaway_sync"), plain("runaway_sync", "threads:")],
    },
}


# ---------------------------------------------------------------------------------------
# The worker's process tree


def process_tree(root):
    """`root` and its live descendants (from each process's parent in /proc/*/stat)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def tree_status(root):
    """Processes and summed VmRSS (bytes) of the tree, now."""
    pids, rss = process_tree(root), 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                rss += next((int(line.split()[1]) * 1024 for line in f
                             if line.startswith("VmRSS:")), 0)
        except OSError:
            pass
    return len(pids), rss


class TreeSampler(sampling.Periodic):
    """CPU seconds of a process tree and of its root alone, every 50 ms, with the wall
    time: the on-CPU nanoseconds of every thread of every process in the tree
    (/proc/PID/task/TID/schedstat). A thread or a child that exits keeps the last figure
    read from it (it loses at most the 50 ms before it exited), where a sum over the live
    threads would drop, and /proc/PID/stat's 10 ms ticks would blur a 0.5 ms no-op."""

    def __init__(self, root):
        self.root, self.samples, self.last = root, [], {}
        self.start_sampling()

    def sample(self):
        now = time.time()
        for pid in process_tree(self.root):
            try:
                tasks = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue  # exited between the listing and the read
            for tid in tasks:
                try:
                    with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                        self.last[(pid, tid)] = int(f.read().split()[0]) / 1e9
                except (OSError, ValueError, IndexError):
                    pass
        tree = sum(self.last.values())
        worker = sum(v for (pid, _), v in self.last.items() if pid == self.root)
        self.samples.append((now, {"tree": tree, "worker": worker}))

    def between(self, h, t0, t1, who="tree"):
        """CPU seconds of `who` (the tree, or the worker process alone) between wall
        times, interpolated as `harness.Sampler` does."""
        series = [(t, cpu[who]) for t, cpu in self.samples]
        return h.Sampler.at(series, t1) - h.Sampler.at(series, t0)


# ---------------------------------------------------------------------------------------
# Scenarios


def start(h, cli, scenario, worker, rep, mode, flags):
    """A fresh server and the worker on it, warm (one noop_sync went through)."""
    run = h.Run(cli, f"{scenario}-{mode}", worker, rep, worker_args=flags)
    try:
        run.start_worker()
        run.sampler.stop.set()  # the scenarios sample what they need themselves
        run.warm_up()
    except BaseException:
        run.close()
        raise
    return run


def isolated(h, run, activities, p):
    """CPU per no-op of the worker's process tree for each of `activities`, served by one
    worker: batches of `contained_batch` alternate between them (A B, B A, ...), so that
    the load of a shared machine, which drifts, falls on each alike."""
    n, batch, at_once = p["contained_noop"], p["contained_batch"], ["--concurrency", 64]
    for a in activities:
        # Queued as the measured ones are, so that the children are started before the
        # window: legwork keeps as many as ever ran at once, Python's pool grows to its 8.
        # A long-running worker has paid for them long ago; the count before and after
        # the window shows whether any was started within it.
        run.enqueue.start(f"warm-{a}", p["contained_warm"], a, *at_once)
        run.enqueue.wait(f"warm-{a}", p["contained_warm"], timeout=120)
    processes_before = tree_status(run.worker.pid)[0]
    sampler, batches = TreeSampler(run.worker.pid), []
    for i in range(n // batch):
        for a in activities if i % 2 == 0 else activities[::-1]:
            run.enqueue.start(f"{a}-{i}", batch, a, *at_once)
            ok = run.enqueue.wait(f"{a}-{i}", batch, timeout=300)
            batches.append((a, ok, run.enqueue.describe(f"{a}-{i}", batch)))
    processes, rss = tree_status(run.worker.pid)
    sampler.finish()
    out = {}
    for a in activities:
        mine = [(ok, described) for name, ok, described in batches if name == a]
        cpu = own = wall = count = 0
        for _, described in mine:
            started = [d["started"] for d in described if d["started"] is not None]
            done = h.closes(described)
            if done:  # each batch's window: its first start to its last close
                t0, t1 = min(started), max(done)
                cpu += sampler.between(h, t0, t1)
                own += sampler.between(h, t0, t1, "worker")
                wall, count = wall + t1 - t0, count + len(done)
        everything = [d for _, described in mine for d in described]
        out[a] = {"ok": all(ok for ok, _ in mine) and h.all_completed(everything),
                  "statuses": h.status_counts(everything), "count": count,
                  "throughput_per_s": count / wall if wall else None,
                  "tree_cpu_ms_per_activity": 1000 * cpu / count if count else None,
                  "worker_cpu_ms_per_activity": 1000 * own / count if count else None,
                  "processes_before": processes_before, "processes": processes,
                  "tree_rss_mib": rss / MIB, "batches": len(mine)}
    return out


def crash(h, run, activity, p):
    """How many of `crash_inflight` sleeping activities complete once one aborts."""
    n, window = p["crash_inflight"], p["crash_window_s"]
    long = ["--start-to-close-ms", LONG_MS]
    run.enqueue.start("steady", n, "block_sync", "--arg", p["crash_sleep_ms"], *long)
    all_started = run.enqueue.started("steady", n, timeout=60)
    crashed_at = time.time()
    run.enqueue.start("crash", 1, activity, *long)
    run.enqueue.wait("steady", n, timeout=window)
    steady = run.enqueue.describe("steady", n)
    crasher = run.enqueue.describe("crash", 1)[0]
    # Still serving? An async no-op (Python's broken pool would fail a sync one anyway).
    run.enqueue.start("after", 1, "noop_async", "--start-to-close-ms", LONG_MS)
    serves = run.enqueue.wait("after", 1, timeout=PROBE_S)
    code = run.worker.poll()
    in_time = [d for d in steady if d["status"] == "COMPLETED"
               and d["close"] is not None and d["close"] <= crashed_at + window]
    return {"ok": all_started, "inflight": n, "completed": len(in_time),
            "statuses": h.status_counts(steady), "serves_after": serves,
            "worker_alive": code is None, "worker_exit": code,
            "crash_status": crasher["status"], "crash_failure": crasher["failure_message"]}


def runaway(h, cli, run, activity, p):
    """Seconds from cancelling a runaway to the start of the no-op queued behind it."""
    run.enqueue.start("runaway", 1, activity, "--start-to-close-ms", LONG_MS,
                      "--heartbeat-timeout-ms", p["runaway_heartbeat_timeout_ms"])
    started = run.enqueue.started("runaway", 1, timeout=60)
    run.enqueue.start("next", 1, "noop_sync", "--start-to-close-ms", LONG_MS)
    time.sleep(1)  # the no-op waits for the one slot; the runaway heartbeats meanwhile
    cancelled_at = time.time()
    cancel = subprocess.run([cli, "activity", "cancel", "--activity-id", "runaway-0",
                             "--address", run.server.address, "--reason", "bench"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    cancel_s = time.time() - cancelled_at
    run.enqueue.started("next", 1, timeout=p["runaway_window_s"])
    code = run.worker.poll()
    queued = run.enqueue.describe("next", 1)[0]
    runaway = run.enqueue.describe("runaway", 1)[0]
    served = queued["started"] - cancelled_at if queued["started"] else None
    return {"ok": started and cancel.returncode == 0, "cancel_error": cancel.stderr.strip(),
            "cancel_call_s": cancel_s, "served_after_s": served,
            "window_s": p["runaway_window_s"], "worker_alive": code is None,
            "runaway_status": runaway["status"], "runaway_failure": runaway["failure_message"]}


def modes(scenario, worker):
    """MODES of `worker`; an older legwork build has legwork's, less those whose activity
    it does not serve (at 35b971c: no `*_isolated` activity)."""
    if baseline.is_baseline(worker):
        return [m for m in MODES[scenario]["legwork"] if baseline.serves(worker, m[2])]
    return MODES[scenario][worker]


def runs_of(scenario, worker):
    """The worker's modes in `scenario`, grouped by run: in `isolated`, modes with the same
    worker flags share one worker (legwork's two), so their ratio is not one of two
    moments of a loaded machine; elsewhere each mode has a worker of its own."""
    if scenario != "isolated":
        return [[mode] for mode in modes(scenario, worker)]
    groups = {}
    for mode in modes(scenario, worker):
        groups.setdefault(tuple(mode[3]), []).append(mode)
    return list(groups.values())


def containment(h, cli, scenario, worker, rep, p):
    """Every mode of `worker` in `scenario`, each run on a fresh server."""
    out = {}
    for group in runs_of(scenario, worker):
        names, flags = [m[0] for m in group], group[0][3]
        if scenario == "runaway":
            flags = ["--max-concurrent-activities", "1", *flags]
        run, load = None, open("/proc/loadavg").read().split()[:3]
        try:  # one run failing must not lose the others' figures
            run = start(h, cli, scenario, worker, rep, "+".join(names), flags)
            h.log(f"  {worker}: {scenario}, {' against '.join(m[1] for m in group)}")
            if scenario == "isolated":
                figures = isolated(h, run, [m[2] for m in group], p)
                out.update({m[0]: figures[m[2]] for m in group})
            elif scenario == "crash":
                out[names[0]] = crash(h, run, group[0][2], p)
            else:
                out[names[0]] = runaway(h, cli, run, group[0][2], p)
        except Exception as error:
            h.log(f"  {worker}: {scenario} {'+'.join(names)} failed: {error}")
            out.update({name: {"ok": False, "error": str(error)} for name in names})
        finally:
            if run is not None:
                run.close()
        for mode, how, _, _ in group:
            out[mode].update(how=how, loadavg=load)
    return {"ok": all(r["ok"] for r in out.values()), "modes": out}


# ---------------------------------------------------------------------------------------
# Report


def outcome(status, failure):
    return f"{status}: {failure}" if failure else f"{status} (no outcome reported)"


def cells(res, workers, mode, getter, missing="n/a"):
    """One cell per worker: `getter` of its first repetition's figures in `mode` (None:
    its only mode)."""
    out = []
    for w in workers:
        modes = (res.get(w) or [{}])[0].get("modes", {})
        r = next(iter(modes.values()), None) if mode is None else modes.get(mode)
        out.append(missing if r is None else f"failed: {r['error']}" if "error" in r
                   else getter(r))
    return out


def isolated_rows(res, workers, p):
    def both(key, digits):  # "contained / in-process" medians of a figure
        return [" / ".join(fmt(median_of(res.get(w) or [], "modes", m, key), digits)
                           for m in ("contained", "in_process")) for w in workers]

    def ratio(w):
        runs = res.get(w) or []
        a = median_of(runs, "modes", "contained", "tree_cpu_ms_per_activity")
        b = median_of(runs, "modes", "in_process", "tree_cpu_ms_per_activity")
        return fmt(a / b) if a is not None and b else "n/a"

    return [
        ("contained / in-process: how", [f"{a} / {b}" for a, b in zip(
            cells(res, workers, "contained", lambda r: r["how"], "none"),
            cells(res, workers, "in_process", lambda r: r["how"]))]),
        (f"contained / in-process: CPU per no-op, worker + children (ms, "
         f"{p['contained_noop']} no-ops)", both("tree_cpu_ms_per_activity", 3)),
        ("contained / in-process: CPU ratio", [ratio(w) for w in workers]),
        ("contained / in-process: of which the worker process itself (ms)",
         both("worker_cpu_ms_per_activity", 3)),
        ("contained / in-process: drain throughput (activities/s)",
         both("throughput_per_s", 1)),
        ("contained / in-process: RSS of the tree after the drain (MiB)",
         both("tree_rss_mib", 1)),
        ("contained: processes in the tree (before / after the drain)", cells(
            res, workers, "contained",
            lambda r: f"{r.get('processes_before', 'n/a')} / {r.get('processes', 'n/a')}")),
    ]


def crash_rows(res, workers, p):
    def worker_after(r):
        if r.get("serves_after"):
            return "serving (a new no-op completed)"
        code = r["worker_exit"]
        if r["worker_alive"]:
            return f"not serving (no new no-op in {PROBE_S} s), process still up"
        return f"killed by signal {-code}" if code is not None and code < 0 else f"exited ({code})"

    def statuses(r):
        return ", ".join(f"{k}: {v}" for k, v in sorted(r["statuses"].items()))

    def get(getter):  # one mode a worker here: its containment, or none (the Rust SDK)
        return cells(res, workers, None, getter)

    return [
        ("the crashing activity", get(lambda r: r["how"])),
        (f"of {p['crash_inflight']} block_sync({p['crash_sleep_ms']} ms) in flight, completed "
         f"within {p['crash_window_s']} s of the abort", get(lambda r: str(r["completed"]))),
        ("their statuses then", get(statuses)),
        ("the crashing activity's outcome",
         get(lambda r: outcome(r["crash_status"], r["crash_failure"]))),
        ("the worker after the abort", get(worker_after)),
    ]


def runaway_rows(res, workers):
    def served(r):
        if r.get("served_after_s") is None:
            return f"never, within {r['window_s']} s"
        return fmt(r["served_after_s"])

    rows = []
    for mode in ("contained", "in_process"):
        name = mode.replace("_", "-")
        rows += [
            (f"{name}: runaway", cells(res, workers, mode, lambda r: r["how"], "none")),
            (f"{name}: cancel to the queued no-op's start (s)", cells(res, workers, mode, served)),
            (f"{name}: the runaway then", cells(
                res, workers, mode,
                lambda r: outcome(r["runaway_status"], r["runaway_failure"]))),
        ]
    return rows


def report_table(lines, data, workers, labels):
    """The scenarios' tables, appended to `lines` (markdown)."""
    # A run from before these scenarios has none of their parameters (--report of it).
    p = {**FULL, **data["parameters"]}
    loads = [float(r["loadavg"][0]) for by in data["results"].values() for runs in by.values()
             for run in runs for r in run.get("modes", {}).values() if r.get("loadavg")]
    if loads:
        lines += [f"Machine load during the containment runs (1-minute load average at each "
                  f"mode's start, {data.get('cores', '?')} cores): {min(loads):.2f} to "
                  f"{max(loads):.2f}.", ""]
    titles = {
        "isolated": "isolated: CPU per no-op activity of the worker's process tree (the worker "
                    "and its children), contained against in-process",
        "crash": f"crash: one activity aborts its process while {p['crash_inflight']} sync "
                 f"activities sleep {p['crash_sleep_ms']} ms each (start-to-close "
                 f"{LONG_MS // 1000} s)",
        "runaway": f"runaway: a one-slot worker runs an activity that heartbeats every 100 ms "
                   f"and ignores cancellation ({p['runaway_heartbeat_timeout_ms']} ms heartbeat "
                   f"timeout); a no-op is queued behind it; the runaway is cancelled",
    }
    for scenario in SCENARIOS:
        res = data["results"].get(scenario)
        if not res:
            continue
        rows = (isolated_rows(res, workers, p) if scenario == "isolated"
                else crash_rows(res, workers, p) if scenario == "crash"
                else runaway_rows(res, workers))
        lines += [f"**{titles[scenario]}**", "", "| | " + " | ".join(labels) + " |",
                  "|---" * (len(labels) + 1) + "|"]
        lines += [f"| {name} | " + " | ".join(row) + " |" for name, row in rows]
        lines.append("")


def targets(data, add):
    """The issue's targets for legwork's isolated activities."""
    res, p = data["results"], data["parameters"]

    def m(scenario, worker, mode, key):
        return median_of(res.get(scenario, {}).get(worker, []), "modes", mode, key)

    if "isolated" in res:
        iso = m("isolated", "legwork", "contained", "tree_cpu_ms_per_activity")
        plain = m("isolated", "legwork", "in_process", "tree_cpu_ms_per_activity")
        py = m("isolated", "python", "contained", "tree_cpu_ms_per_activity")
        add("isolated: CPU per no-op, worker + children, ≤ 1.5 × in-process sync",
            iso / plain if iso is not None and plain else None, lambda v: v <= 1.5)
        add("isolated: CPU per no-op below Python's process pool",
            iso / py if iso is not None and py else None, lambda v: v < 1,
            f"{iso:.3f} ms against {py:.3f} ms" if iso is not None and py else None)
    if "crash" in res:
        done = m("crash", "legwork", "contained", "completed")
        n = p["crash_inflight"]
        add(f"crash: {n} of {n} in flight complete beside an aborting isolated activity",
            done, lambda v: v == n, f"{done:.0f} of {n}" if done is not None else None)
    if "runaway" in res:
        runs = res["runaway"].get("legwork", [])
        served = [r.get("modes", {}).get("contained", {}).get("served_after_s") for r in runs]
        bound, window = p["kill_grace_s"] + 1, p["runaway_window_s"]
        # Never within the window counts as the window, and fails.
        worst = max((window if v is None else v) for v in served) if runs else None
        add(f"runaway: the slot serves again ≤ kill grace + 1 s ({bound} s) after the cancel",
            worst, lambda v: None not in served and v <= bound,
            None if worst is None else f"{worst:.2f} s" if None not in served
            else f"never, within {window} s")
