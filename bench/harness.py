#!/usr/bin/env python3
"""legwork's performance benchmark: legwork and its peers, side by side, in one run.

Called by `bench/run` (which finds or installs the temporal CLI). Python stdlib only; talks
to the server through `enqueue` (bench/peers/floor/src/bin/enqueue.rs).

Method: for every (scenario, worker) pair a fresh dev server is started, so that no worker
pays for another's in-memory history; within a repetition the workers take turns in a
rotated order. Activities are queued as standalone activities on a fresh task queue with
no worker running; then the worker starts, and everything is measured from the server's
timestamps (schedule, start and close times) and from /proc (the worker's CPU time, sampled
every 50 ms, and its peak RSS).

`--baseline REV` adds legwork as built from commit REV (baseline.py); `--sizes` only builds
and measures the binary per feature set (sizes.py); every report comes with a chart
(chart.py).
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import baseline
import chart
import concurrency
import containment
import sampling
import sizes
from report import report
from targets import targets
from variants import FRONT_WORKERS, FRONTED, LEGWORK_VARIANT_ENV, LEGWORK_VARIANTS

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
TARGET = BENCH / "target"
# examples/bench.rs in a crate of its own: legwork with its default features, and libc.
STANDALONE = BENCH / "peers" / "legwork-standalone" / "Cargo.toml"
RESULTS = BENCH / "results"
LOGS = RESULTS / "logs"
PY_SITE = BENCH / ".venv-py"
PYTHON_SDK = "temporalio==1.35.0"
CLK_TCK = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024

ENQUEUE = TARGET / "floor" / "release" / "enqueue"

WORKERS = {
    "legwork": {
        "label": "legwork",
        # examples/bench.rs built as a user's crate would build it (legwork with its
        # default features, and libc), not as a workspace example with legwork's
        # dev-dependencies and every feature on.
        "binary": TARGET / "legwork-standalone" / "release" / "bench-legwork",
        "rust": True,
    },
    "floor": {
        "label": "floor (raw gRPC)",
        "binary": TARGET / "floor" / "release" / "floor",
        "rust": True,
    },
    "official-rust": {
        "label": "Rust SDK 1.1.1",
        "binary": TARGET / "official-rust" / "release" / "bench-official-rust",
        "rust": True,
    },
    "python": {
        "label": "Python SDK 1.35.0",
        "binary": None,
        "rust": False,
    },
}
ALL_WORKERS = list(WORKERS)

# Scenarios the floor runs: it answers every task at once, whatever its type.
FLOOR_SCENARIOS = {"noop_async", "noop_sync"}
ALL_SCENARIOS = ["noop_async", "noop_sync", "noop_sync_proxied", "noop_sync_tls",
                 "noop_sync_metrics", "noop_sync_encrypted", "cpu_sync", "latency_under_load",
                 "rogue_async", "blocked_loop"]

FULL = {"noop": 2000, "cpu": 300, "cpu_ms": 20, "blockers": 40, "block_ms": 2000,
        "tiny_async": 20, "tiny_interval_ms": 50, "rogues": 4, "rogue_ms": 5000,
        "tiny_sync": 40, "hb_total_ms": 3000, "hb_every_ms": 200, "hb_timeout_ms": 1000}
# blocked_loop: 2 × cores block_async(blocked_ms), the acceptance of issue 12 (point 5).
FULL.update(blocked_rogues=2 * (os.cpu_count() or 2), blocked_ms=10_000, detect_ms=1000)
QUICK = dict(FULL, noop=200, cpu=60)
# Run only when named (`--scenarios concurrency`): minutes a worker; see concurrency.py.
# The containment ones (`--scenarios isolated,crash,runaway`): see containment.py.
OPT_IN_SCENARIOS = [concurrency.SCENARIO, *containment.SCENARIOS]
FULL.update(concurrency.FULL)
QUICK.update(concurrency.QUICK)
FULL.update(containment.FULL)
QUICK.update(containment.QUICK)


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# Building


def cargo_build(args, target_dir=None, timed=False, cwd=ROOT, extra_env=None):
    env = dict(os.environ)
    env.update(extra_env or {})
    if target_dir:
        env["CARGO_TARGET_DIR"] = str(target_dir)
    began = time.monotonic()
    subprocess.run(["cargo", "build", "--release", "--quiet", *args], cwd=cwd, env=env,
                   check=True)
    return time.monotonic() - began


def add_baselines(revs, workers, no_build):
    """Builds (unless `no_build` finds it built) and registers a `legwork@REV` worker for
    each of `revs`, placed after legwork in `workers`."""
    for rev in revs:
        name, title, binary = baseline.build(rev, no_build, cargo_build, log)
        WORKERS[name] = {"label": title, "binary": binary, "rust": True}
        if name not in workers:
            at = workers.index("legwork") + 1 if "legwork" in workers else len(workers)
            workers.insert(at, name)


def label(worker):
    """A worker's column title (an older legwork build's, from its name, for --report)."""
    if worker in WORKERS:
        return WORKERS[worker]["label"]
    return "legwork " + worker[len(baseline.PREFIX):] if baseline.is_baseline(worker) else worker


def build(workers):
    log("building the client tool and the Rust workers (release)")
    floor_manifest = ["--manifest-path", str(BENCH / "peers" / "floor" / "Cargo.toml")]
    cargo_build(floor_manifest, TARGET / "floor")
    if "legwork" in workers:
        cargo_build(["--manifest-path", str(STANDALONE)], TARGET / "legwork-standalone")
    if "official-rust" in workers:
        cargo_build(["--manifest-path", str(BENCH / "peers" / "official-rust" / "Cargo.toml")],
                    TARGET / "official-rust")
    if "python" in workers:
        marker = PY_SITE / "temporalio-1.35.0.dist-info"
        if not marker.exists():
            log(f"installing {PYTHON_SDK} into {PY_SITE}")
            subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                            "--disable-pip-version-check", "--target", str(PY_SITE),
                            PYTHON_SDK], check=True)


def measure_build_times():
    """Clean release builds, each in a fresh target dir: slow (minutes). Crates already
    downloaded are not downloaded again; everything is compiled."""
    out = {}
    jobs = {
        # examples/bench.rs in a crate of its own, so that legwork's dev-dependencies
        # (criterion, trybuild, ...) are not counted.
        "legwork": ["--manifest-path", str(STANDALONE)],
        "official-rust": ["--manifest-path", str(BENCH / "peers" / "official-rust" / "Cargo.toml")],
        "floor": ["--manifest-path", str(BENCH / "peers" / "floor" / "Cargo.toml"), "--bin", "floor"],
    }
    for name, args in jobs.items():
        with tempfile.TemporaryDirectory(prefix=f"legwork-bench-build-{name}-") as target:
            log(f"clean release build of {name} (this takes minutes)")
            out[name] = round(cargo_build(args, target), 1)
            log(f"  {name}: {out[name]} s")
    record = {"date": now_iso(), "machine": machine(), "seconds": out}
    (RESULTS / "build-times.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


# ---------------------------------------------------------------------------------------
# Processes


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def thread_cpu_seconds(pid):
    """Sum of the on-CPU nanoseconds of the process's live threads (/proc/PID/task/*/schedstat):
    exact, where /proc/PID/stat counts 10 ms ticks; but a thread that exits takes its time
    with it, so `Sampler` falls back to the ticks if the sum ever goes down."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total / 1e9


def peak_rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


class Sampler(sampling.Periodic):
    """Samples the CPU time of some processes every 50 ms, with the wall time."""

    def __init__(self, pids):
        self.pids = pids
        self.samples = {pid: [] for pid in pids}
        self.precise = {pid: [] for pid in pids}
        self.start_sampling()

    def sample(self):
        now = time.time()
        for pid in self.pids:
            try:
                ticks, precise = cpu_seconds(pid), thread_cpu_seconds(pid)
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
            self.samples[pid].append((now, ticks))
            self.precise[pid].append((now, precise))

    def between(self, pid, t0, t1):
        """CPU seconds `pid` used between wall times t0 and t1."""
        precise = [c for _, c in self.precise[pid]]
        series = self.precise[pid] if all(a <= b for a, b in zip(precise, precise[1:])) \
            else self.samples[pid]
        return self.at(series, t1) - self.at(series, t0)

    @staticmethod
    def at(samples, t):
        """CPU seconds at wall time `t`, interpolated."""
        if not samples:
            return None
        if t <= samples[0][0]:
            return samples[0][1]
        for (t0, c0), (t1, c1) in zip(samples, samples[1:]):
            if t0 <= t <= t1:
                return c0 if t1 == t0 else c0 + (c1 - c0) * (t - t0) / (t1 - t0)
        return samples[-1][1]


class DevServer:
    def __init__(self, cli, log_path):
        self.port, http_port, metrics_port = free_ports(3)
        self.address = f"127.0.0.1:{self.port}"
        self.log_file = open(log_path, "w")
        self.process = subprocess.Popen(
            [cli, "server", "start-dev", "--headless", "--ip", "127.0.0.1",
             "--port", str(self.port), "--http-port", str(http_port),
             "--metrics-port", str(metrics_port), "--log-level", "warn",
             "--dynamic-config-value", "matching.numTaskqueueReadPartitions=1",
             "--dynamic-config-value", "matching.numTaskqueueWritePartitions=1"],
            stdout=self.log_file, stderr=subprocess.STDOUT, start_new_session=True)
        self.cli = cli
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the dev server exited early; see {log_path}")
            ok = subprocess.run(
                [cli, "operator", "namespace", "describe", "--namespace", "default",
                 "--address", self.address], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL).returncode == 0
            if ok:
                break
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the dev server did not become healthy; see {log_path}")
            time.sleep(0.2)

    def stop(self):
        stop_process(self.process)
        self.log_file.close()


def stop_process(process, grace=3.0):
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def find_or_install_front_tools():
    """The nginx binary for the fronted scenarios (PATH, else /usr/sbin), with openssl for
    their certificates; installs Debian's `nginx` / `openssl` with apt-get when missing,
    as `bench/run` installs the temporal CLI. None (and a log line) when that fails."""
    def find():
        sbin = "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None
        return shutil.which("nginx") or sbin, shutil.which("openssl")

    nginx, openssl = find()
    missing = [name for name, path in (("nginx", nginx), ("openssl", openssl)) if path is None]
    if missing:
        sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
        log(f"installing {' '.join(missing)} (apt-get) for {', '.join(FRONTED)}")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        try:
            subprocess.run([*sudo, "apt-get", "update", "-qq"], env=env, check=True)
            subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", *missing], env=env,
                           check=True)
        except (OSError, subprocess.CalledProcessError) as error:
            log(f"could not install {' '.join(missing)}: {error}")
        nginx, openssl = find()
    if nginx is None or openssl is None:
        log(f"no nginx or openssl: {', '.join(FRONTED)} will fail")
        return None
    return nginx


def make_certificates(directory):
    """A CA (P-256, 2 days) and a server certificate it signs for localhost and 127.0.0.1
    (a leaf: CA:FALSE, serverAuth), as PEM files in `directory`; returns the CA's path."""
    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=directory, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, check=True)

    openssl("req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=bench-ca", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    (directory / "server.ext").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
        "basicConstraints=critical,CA:FALSE\n"
        "extendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "server.ext", "-out", "server.pem")
    return directory / "ca.pem"


def nginx_config(port, upstream, tls):
    """One nginx process in the foreground, on 127.0.0.1:`port`, passing gRPC on to
    `upstream` in plaintext. Upstream connections are kept alive and client connections
    are not closed after 1000 requests (nginx's default): the worker's CPU should not
    include reconnections that a plaintext worker, straight to the server, never makes."""
    listen = f"listen 127.0.0.1:{port} ssl http2;" if tls else f"listen 127.0.0.1:{port} http2;"
    certificate = "ssl_certificate server.pem; ssl_certificate_key server.key;" if tls else ""
    return f"""daemon off; master_process off; worker_processes 1;
error_log stderr warn; pid logs/nginx.pid;
events {{ worker_connections 1024; }}
http {{
  access_log off; ssl_protocols TLSv1.2 TLSv1.3;
  client_body_temp_path logs/body; proxy_temp_path logs/proxy; fastcgi_temp_path logs/fcgi;
  uwsgi_temp_path logs/uwsgi; scgi_temp_path logs/scgi;
  upstream dev_server {{ server {upstream}; keepalive 32; }}
  server {{
    {listen}
    {certificate}
    keepalive_requests 1000000;
    location / {{ grpc_pass grpc://dev_server; grpc_read_timeout 120s; grpc_send_timeout 120s; }}
  }}
}}
"""


class Front:
    """nginx in front of a dev server, on loopback: TLS (with a CA and a certificate made by
    `make_certificates`) or plaintext HTTP/2, passed on to the server in plaintext. Its own
    prefix dir under a temp dir; one process (no master), so its CPU is one pid's."""

    def __init__(self, nginx, cli, upstream, tls, log_path):
        self.dir = Path(tempfile.mkdtemp(prefix="legwork-bench-nginx-"))
        (self.dir / "logs").mkdir()
        self.port = free_ports(1)[0]
        self.address = f"127.0.0.1:{self.port}"
        self.tls = tls
        try:
            self.ca = make_certificates(self.dir) if tls else None
        except subprocess.CalledProcessError as error:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise RuntimeError(f"openssl failed: {error.stderr.decode(errors='replace')}")
        config = self.dir / "nginx.conf"
        config.write_text(nginx_config(self.port, upstream, tls))
        self.log_file = open(log_path, "w")
        self.process = subprocess.Popen(
            [nginx, "-e", "stderr", "-p", str(self.dir), "-c", str(config)],
            stdout=self.log_file, stderr=subprocess.STDOUT, start_new_session=True)
        # Healthy when the CLI reaches the server through it (and trusts the certificate).
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"nginx exited early; see {log_path}")
            ok = subprocess.run(
                [cli, "operator", "namespace", "describe", "--namespace", "default",
                 "--address", self.address, *self.client_args()], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL).returncode == 0
            if ok:
                break
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server is not reachable through nginx; see {log_path}")
            time.sleep(0.2)

    def client_args(self):
        """The connection flags a worker (or the CLI) needs on top of --address."""
        return ["--tls-ca-path", str(self.ca)] if self.tls else []

    def stop(self):
        stop_process(self.process)
        self.log_file.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def worker_command(name, address, queue, extra=()):
    if name == "python":
        return [sys.executable, str(BENCH / "peers" / "python" / "worker.py"),
                "--address", address, "--task-queue", queue, *extra]
    return [str(WORKERS[name]["binary"]), "--address", address, "--task-queue", queue,
            *baseline.command_line(name, extra)]


def launch_worker(name, address, queue, log_path, extra=(), extra_env=None):
    env = dict(os.environ)
    env.update(extra_env or {})
    if name == "python":
        env["PYTHONPATH"] = str(PY_SITE)
    env.setdefault("RUST_LOG", "warn")
    log_file = open(log_path, "w")
    launched = time.time()
    process = subprocess.Popen(worker_command(name, address, queue, extra), stdout=log_file,
                               stderr=subprocess.STDOUT, env=env, start_new_session=True)
    process.log_file = log_file
    return process, launched


class Enqueue:
    def __init__(self, address, queue):
        self.address = address
        self.queue = queue

    def run(self, command, *args, check=True):
        result = subprocess.run(
            [str(ENQUEUE), command, "--address", self.address, "--task-queue", self.queue,
             *map(str, args)], stdout=subprocess.PIPE, text=True)
        if check and result.returncode != 0:
            raise RuntimeError(f"enqueue {command} {args} failed ({result.returncode})")
        return result

    def start(self, prefix, count, activity, *extra):
        self.run("start", "--id-prefix", prefix, "--count", count, "--type", activity, *extra)

    def wait(self, prefix, count, timeout=600):
        return self.run("wait", "--id-prefix", prefix, "--count", count, "--timeout-s", timeout,
                        check=False).returncode == 0

    def started(self, prefix, count, timeout=60):
        return self.run("started", "--id-prefix", prefix, "--count", count,
                        "--timeout-s", timeout, check=False).returncode == 0

    def describe(self, prefix, count):
        return json.loads(self.run("describe", "--id-prefix", prefix, "--count", count).stdout)


# ---------------------------------------------------------------------------------------
# Scenarios


class Run:
    """One worker on one fresh server, for one scenario; with `front` (an nginx binary) the
    worker reaches the server through a `Front`, over TLS if `tls`, while the enqueuer
    still talks to the server directly."""

    def __init__(self, cli, scenario, worker, rep, front=None, tls=False, worker_args=(),
                 worker_env=None):
        self.tag = f"{scenario}-{worker}-{rep}"
        self.worker_args = list(worker_args)
        self.worker_env = worker_env
        self.server = DevServer(cli, LOGS / f"{self.tag}-server.log")
        self.front = None
        if front is not None:
            try:
                self.front = Front(front, cli, self.server.address, tls,
                                   LOGS / f"{self.tag}-nginx.log")
            except BaseException:
                self.server.stop()
                raise
        self.queue = f"bench-{scenario}-{int(time.time() * 1000)}"
        self.enqueue = Enqueue(self.server.address, self.queue)
        self.worker_name = worker
        self.worker = None

    def start_worker(self):
        address, extra = self.server.address, []
        if self.front is not None:
            address, extra = self.front.address, self.front.client_args()
        extra = extra + self.worker_args
        self.worker, self.launched = launch_worker(
            self.worker_name, address, self.queue, LOGS / f"{self.tag}-worker.log", extra,
            self.worker_env)
        pids = [self.worker.pid, self.server.process.pid]
        if self.front is not None:
            pids.append(self.front.process.pid)
        self.sampler = Sampler(pids)

    def warm_up(self):
        """Until one activity has gone through, the worker may still be starting."""
        self.enqueue.start("warm", 1, "noop_sync")
        if not self.enqueue.wait("warm", 1, timeout=60):
            raise RuntimeError(f"{self.worker_name} did not complete a warm-up activity")

    def finish(self):
        """Samples, reads peak RSS, stops the worker; returns (peak RSS, alive)."""
        self.sampler.finish()
        alive = self.worker.poll() is None
        rss = peak_rss(self.worker.pid) if alive else None
        stop_process(self.worker)
        self.worker.log_file.close()
        return rss, alive

    def close(self):
        if self.worker is not None and self.worker.poll() is None:
            stop_process(self.worker)
        if self.front is not None:
            self.front.stop()
        self.server.stop()


def closes(described):
    return [d["close"] for d in described if d["close"] is not None]


def latencies(described):
    return [d["close"] - d["schedule"] for d in described
            if d["close"] is not None and d["schedule"] is not None]


def all_completed(*groups):
    return all(d["status"] == "COMPLETED" for group in groups for d in group)


def status_counts(described):
    counts = {}
    for d in described:
        key = d["status"] if d["failure"] is None else f"{d['status']}:{d['failure_detail']}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def drain(cli, scenario, worker, rep, count, activity, args, front=None, tls=False,
          worker_args=(), worker_env=None):
    run = Run(cli, scenario, worker, rep, front, tls, worker_args, worker_env)
    try:
        log(f"  {worker}: queueing {count} {activity}")
        run.enqueue.start("a", count, activity, *args)
        run.start_worker()
        ok = run.enqueue.wait("a", count)
        rss, alive = run.finish()
        described = run.enqueue.describe("a", count)
    finally:
        run.close()
    started = [d["started"] for d in described if d["started"] is not None]
    done = closes(described)
    result = {"ok": ok and alive and all_completed(described),
              "statuses": status_counts(described), "peak_rss_mib":
              rss / MIB if rss else None}
    if not done:
        return result
    first_start, first_close, last_close = min(started), min(done), max(done)
    wall = last_close - first_start
    worker_pid, server_pid = run.worker.pid, run.server.process.pid
    worker_cpu = run.sampler.between(worker_pid, first_start, last_close)
    server_cpu = run.sampler.between(server_pid, first_start, last_close)
    result.update({
        "count": len(done),
        "drain_s": wall,
        "throughput_per_s": len(done) / wall if wall > 0 else None,
        "worker_cpu_ms_per_activity": 1000 * worker_cpu / len(done),
        "worker_cpu_total_s": run.sampler.samples[worker_pid][-1][1],
        "worker_cores_busy": worker_cpu / wall if wall > 0 else None,
        "server_cpu_ms_per_activity": 1000 * server_cpu / len(done),
        "server_cores_busy": server_cpu / wall if wall > 0 else None,
        "launch_to_first_completion_s": first_close - run.launched,
    })
    if run.front is not None:
        nginx_cpu = run.sampler.between(run.front.process.pid, first_start, last_close)
        result.update({
            "nginx_cpu_ms_per_activity": 1000 * nginx_cpu / len(done),
            "nginx_cores_busy": nginx_cpu / wall if wall > 0 else None,
        })
    return result


def summary(values):
    values = sorted(values)
    if not values:
        return {"median_ms": None, "max_ms": None, "n": 0}
    return {"median_ms": 1000 * statistics.median(values), "max_ms": 1000 * values[-1],
            "n": len(values)}


def latency_under_load(cli, worker, rep, p):
    run = Run(cli, "latency_under_load", worker, rep)
    try:
        run.start_worker()
        run.warm_up()
        n, gap = p["tiny_async"], ["--interval-ms", p["tiny_interval_ms"]]
        log(f"  {worker}: {n} tiny_async, idle")
        run.enqueue.start("idle", n, "tiny_async", *gap)
        run.enqueue.wait("idle", n, timeout=120)
        log(f"  {worker}: {p['blockers']} block_sync({p['block_ms']}) running, {n} tiny_async")
        run.enqueue.start("block", p["blockers"], "block_sync", "--arg", p["block_ms"])
        all_started = run.enqueue.started("block", p["blockers"], timeout=60)
        run.enqueue.start("load", n, "tiny_async", *gap)
        ok = run.enqueue.wait("load", n, timeout=120)
        run.enqueue.wait("block", p["blockers"], timeout=120)
        rss, alive = run.finish()
        idle = run.enqueue.describe("idle", n)
        load = run.enqueue.describe("load", n)
        blockers = run.enqueue.describe("block", p["blockers"])
    finally:
        run.close()
    first_block_close = min(closes(blockers) or [float("inf")])
    return {
        "ok": ok and alive and all_started and all_completed(idle, load),
        "idle": summary(latencies(idle)),
        "loaded": summary(latencies(load)),
        "loaded_statuses": status_counts(load),
        # The tiny ones must have run while every blocker was still blocking.
        "tiny_closed_while_blocked": sum(1 for c in closes(load) if c < first_block_close),
        "peak_rss_mib": rss / MIB if rss else None,
    }


def rogue_async(cli, worker, rep, p):
    run = Run(cli, "rogue_async", worker, rep)
    try:
        run.start_worker()
        run.warm_up()
        n = p["tiny_sync"]
        log(f"  {worker}: {n} tiny_sync, idle")
        run.enqueue.start("idle", n, "tiny_sync")
        run.enqueue.wait("idle", n, timeout=120)
        log(f"  {worker}: {p['rogues']} block_async({p['rogue_ms']}) running, {n} tiny_sync "
            f"and a heartbeating one")
        run.enqueue.start("rogue", p["rogues"], "block_async", "--arg", p["rogue_ms"])
        all_started = run.enqueue.started("rogue", p["rogues"], timeout=60)
        run.enqueue.start("hb", 1, "heartbeat_sync", "--arg", p["hb_total_ms"],
                          "--arg", p["hb_every_ms"], "--heartbeat-timeout-ms",
                          p["hb_timeout_ms"])
        run.enqueue.start("load", n, "tiny_sync")
        ok = run.enqueue.wait("load", n, timeout=120)
        run.enqueue.wait("hb", 1, timeout=120)
        rss, alive = run.finish()
        idle = run.enqueue.describe("idle", n)
        load = run.enqueue.describe("load", n)
        hb = run.enqueue.describe("hb", 1)[0]
    finally:
        run.close()
    return {
        "ok": ok and alive and all_started and all_completed(idle, load),
        "idle": summary(latencies(idle)),
        "loaded": summary(latencies(load)),
        "loaded_statuses": status_counts(load),
        "heartbeat_status": hb["status"],
        "heartbeat_timed_out": hb["failure_detail"] == "HEARTBEAT",
        # A worker whose polling froze may pick the heartbeating activity up only after
        # the freeze, and then not time out: how long it waited says so.
        "heartbeat_schedule_to_start_ms": 1000 * (hb["started"] - hb["schedule"])
        if hb["started"] and hb["schedule"] else None,
        "heartbeat_failure": hb["failure_message"],
        "peak_rss_mib": rss / MIB if rss else None,
    }


def blocked_loop(cli, worker, rep, p):
    """Tiny async activities while 2 × cores async ones block their event-loop threads:
    legwork starts them on a spare event-loop thread; SDKs run them behind the rogues."""
    run = Run(cli, "blocked_loop", worker, rep)
    rogues, n, gap = p["blocked_rogues"], p["tiny_async"], ["--interval-ms", p["tiny_interval_ms"]]
    # Every rogue may run after the others (one asyncio loop): room for all of them.
    budget_s = rogues * p["blocked_ms"] / 1000 + 60
    timeout = ["--start-to-close-ms", int(budget_s * 1000)]
    try:
        run.start_worker()
        run.warm_up()
        # A first batch settles the worker (its first second is slower): not measured.
        run.enqueue.start("settle", n, "tiny_async", *gap)
        run.enqueue.wait("settle", n, timeout=120)
        log(f"  {worker}: {n} tiny_async, idle")
        run.enqueue.start("idle", n, "tiny_async", *gap)
        run.enqueue.wait("idle", n, timeout=120)
        log(f"  {worker}: {rogues} block_async({p['blocked_ms']}) running, {n} tiny_async")
        run.enqueue.start("rogue", rogues, "block_async", "--arg", p["blocked_ms"], *timeout)
        all_started = run.enqueue.started("rogue", rogues, timeout=60)
        # Long enough for a stall to be seen (legwork: a poll held past 100 ms).
        time.sleep(p["detect_ms"] / 1000)
        run.enqueue.start("load", n, "tiny_async", *gap, *timeout)
        ok = run.enqueue.wait("load", n, timeout=int(budget_s) + 60)
        run.enqueue.wait("rogue", rogues, timeout=int(budget_s) + 60)
        rss, alive = run.finish()
        idle = run.enqueue.describe("idle", n)
        load = run.enqueue.describe("load", n)
        blocked = run.enqueue.describe("rogue", rogues)
    finally:
        run.close()
    first_rogue_close = min(closes(blocked) or [float("inf")])
    return {
        "ok": ok and alive and all_started and all_completed(idle, load),
        "rogues": rogues,
        "idle": summary(latencies(idle)),
        "loaded": summary(latencies(load)),
        "loaded_statuses": status_counts(load),
        "tiny_closed_while_blocked": sum(1 for c in closes(load) if c < first_rogue_close),
        "peak_rss_mib": rss / MIB if rss else None,
    }


def runs_scenario(worker, scenario):
    """The floor runs the no-op scenarios only; only FRONT_WORKERS run the fronted ones;
    an older legwork build runs legwork's, except those it lacks something for."""
    if baseline.is_baseline(worker):
        if scenario in containment.SCENARIOS and not containment.modes(scenario, worker):
            return False
        return runs_scenario("legwork", scenario) and not baseline.missing(worker, scenario)
    if worker == "floor" and scenario not in FLOOR_SCENARIOS:
        return False
    if scenario in LEGWORK_VARIANTS:
        return worker == "legwork"
    return scenario not in FRONTED or worker in FRONT_WORKERS


def run_scenario(cli, scenario, worker, rep, p, nginx=None):
    if scenario in FRONTED:
        if nginx is None:
            raise RuntimeError(f"{scenario} needs nginx and openssl (apt-get install nginx)")
        return drain(cli, scenario, worker, rep, p["noop"], "noop_sync", [], front=nginx,
                     tls=FRONTED[scenario])
    if scenario in LEGWORK_VARIANTS:
        return drain(cli, scenario, worker, rep, p["noop"], "noop_sync", [],
                     worker_args=LEGWORK_VARIANTS[scenario],
                     worker_env=LEGWORK_VARIANT_ENV.get(scenario))
    if scenario == "noop_async":
        return drain(cli, scenario, worker, rep, p["noop"], "noop_async", [])
    if scenario == "noop_sync":
        return drain(cli, scenario, worker, rep, p["noop"], "noop_sync", [])
    if scenario == "cpu_sync":
        return drain(cli, scenario, worker, rep, p["cpu"], "cpu_sync", ["--arg", p["cpu_ms"]])
    if scenario == "latency_under_load":
        return latency_under_load(cli, worker, rep, p)
    if scenario == "rogue_async":
        return rogue_async(cli, worker, rep, p)
    if scenario == "blocked_loop":
        return blocked_loop(cli, worker, rep, p)
    if scenario == concurrency.SCENARIO:
        return concurrency.concurrency(sys.modules[__name__], cli, worker, rep, p)
    if scenario in containment.SCENARIOS:
        return containment.containment(sys.modules[__name__], cli, scenario, worker, rep, p)
    raise ValueError(scenario)


# ---------------------------------------------------------------------------------------
# Aggregation and report


def now_iso():
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def machine():
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model}, Linux {platform.release()}"


def derive(data):
    """Figures computed from the others (so that --report can redo them from a JSON)."""
    cores = data.get("cores") or os.cpu_count()
    for runs in data["results"].get("cpu_sync", {}).values():
        for r in runs:
            w, srv = r.get("worker_cores_busy"), r.get("server_cores_busy")
            if w is not None and srv is not None and cores > srv:
                r["worker_share_of_free_cores"] = w / (cores - srv)


def binary_sizes(workers):
    sizes = {}
    for w in workers:
        binary = WORKERS[w]["binary"]
        if binary is not None and binary.exists():
            sizes[w] = binary.stat().st_size / MIB
    return sizes


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller N, for a smoke run")
    parser.add_argument("--workers", default=",".join(ALL_WORKERS))
    parser.add_argument("--scenarios", default=",".join(ALL_SCENARIOS))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--baseline", metavar="REV", action="append", default=[],
                        help="also run legwork as built from commit REV (worker legwork@REV; "
                        "repeatable)")
    parser.add_argument("--build-times", action="store_true",
                        help="also time clean release builds (minutes)")
    parser.add_argument("--sizes", action="store_true",
                        help="only build the standalone crate for each feature set and profile "
                        "and write results/sizes.{md,json} (minutes)")
    parser.add_argument("--no-build", action="store_true", help="use the binaries as built")
    parser.add_argument("--out", help="writes OUT.md, OUT.json and OUT.svg [default: "
                        "results/latest, or results/containment when only containment "
                        "scenarios run]")
    parser.add_argument("--report", metavar="JSON",
                        help="only rewrite the report (OUT.md, OUT.svg) from a results JSON")
    args = parser.parse_args()
    args.workers = [w for w in args.workers.split(",") if w]
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    for w in args.workers:
        if w not in WORKERS:
            parser.error(f"unknown worker {w}: {', '.join(ALL_WORKERS)}")
    for s in args.scenarios:
        if s not in ALL_SCENARIOS + OPT_IN_SCENARIOS:
            parser.error(f"unknown scenario {s}: {', '.join(ALL_SCENARIOS + OPT_IN_SCENARIOS)}")
    return args


def write_report(data, out):
    """Targets and report from the figures; writes OUT.json, OUT.md and OUT.svg."""
    derive(data)
    data["targets"] = targets(data)
    data["labels"] = {w: label(w) for w in data["workers"]}
    markdown = report(data)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(data, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown + "\n")
    chart.write(data, out.with_suffix(".svg"), label)
    print(markdown)


def run_all(data, cli, args, p, nginx):
    """Every scenario for every worker that runs it, `args.repeat` times, into `data`."""
    workers, scenarios = data["workers"], data["scenarios"]
    for rep in range(args.repeat):
        # Odd repetitions run the scenarios in reverse: the later of two runs tends to cost
        # more (measured: the same scenario pair gave 1.15 one way round, 0.91 the other),
        # and paired ratios must not carry that order.
        for scenario in scenarios if rep % 2 == 0 else list(reversed(scenarios)):
            runnable = [w for w in workers if runs_scenario(w, scenario)]
            shift = rep % len(runnable) if runnable else 0
            order = runnable[shift:] + runnable[:shift]
            log(f"repetition {rep + 1}/{args.repeat}: {scenario} ({', '.join(order)})")
            for w in order:
                try:
                    result = run_scenario(cli, scenario, w, rep, p, nginx)
                except Exception as error:  # one broken worker must not sink the run
                    log(f"  {w}: {scenario} failed: {error}")
                    result = {"ok": False, "error": str(error)}
                data["results"].setdefault(scenario, {}).setdefault(w, []).append(result)
                log(f"  {w}: {json.dumps(result)}")


def skipped(workers, scenarios):
    """{scenario: {worker: what it lacks}} for the older legwork builds."""
    out = {}
    for s in scenarios:
        for w in workers:
            lacks = baseline.missing(w, s) if runs_scenario("legwork", s) else []
            if s in containment.SCENARIOS and baseline.is_baseline(w) \
                    and not containment.modes(s, w):
                lacks = [f"the activities of legwork's modes ({', '.join(m[2] for m in containment.MODES[s]['legwork'])})"]
            if lacks:
                log(f"{w} skips {s}: it has no {', '.join(lacks)}")
                out.setdefault(s, {})[w] = lacks
    return out


def main():
    args = parse_args()
    if args.report:
        data = json.loads(Path(args.report).read_text())
        data.setdefault("sizes", sizes.load())
        write_report(data, Path(args.report))
        return
    if args.sizes:
        sizes.main(cargo_build, log, no_build=args.no_build)
        return
    workers, scenarios = args.workers, args.scenarios
    cli = os.environ.get("TEMPORAL_CLI") or shutil.which("temporal")
    if not cli:
        sys.exit("no temporal CLI: run through bench/run, or set TEMPORAL_CLI")
    LOGS.mkdir(parents=True, exist_ok=True)
    p = QUICK if args.quick else FULL
    if args.out is None:
        only_containment = all(s in containment.SCENARIOS for s in scenarios)
        args.out = str(RESULTS / ("containment" if only_containment else "latest"))

    if not args.no_build:
        build(workers)
    add_baselines(args.baseline, workers, args.no_build)
    fronted = any(runs_scenario(w, s) for s in FRONTED for w in workers)
    nginx = find_or_install_front_tools() if fronted else None
    build_times = measure_build_times() if args.build_times else None
    if build_times is None and (RESULTS / "build-times.json").exists():
        build_times = json.loads((RESULTS / "build-times.json").read_text())

    version = subprocess.run([cli, "--version"], stdout=subprocess.PIPE, text=True).stdout.strip()
    data = {"date": now_iso(), "machine": machine(), "temporal": version.replace("temporal version ", ""),
            "quick": args.quick, "repeat": args.repeat, "parameters": p, "workers": workers,
            "scenarios": scenarios, "results": {}, "binary_mib": binary_sizes(workers),
            "build_times": build_times, "sizes": sizes.load(),
            "skipped": skipped(workers, scenarios)}
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                stdout=subprocess.PIPE, text=True).stdout.strip()
        data["commit"] = commit
    except OSError:
        pass
    data["loadavg_before"] = open("/proc/loadavg").read().split()[:3]
    began = time.monotonic()
    run_all(data, cli, args, p, nginx)
    data["elapsed_s"] = round(time.monotonic() - began)
    data["loadavg_after"] = open("/proc/loadavg").read().split()[:3]
    data["cores"] = os.cpu_count()
    data["baselines"] = {w: dict(baseline.record(w), label=label(w))
                         for w in workers if baseline.is_baseline(w)}
    out = Path(args.out)
    write_report(data, out)
    log(f"wrote {out.with_suffix('.md')}, {out.with_suffix('.json')} and "
        f"{out.with_suffix('.svg')} in {data['elapsed_s']} s")

if __name__ == "__main__":
    main()
