"""The Python SDK (temporalio 1.35.0) serving legwork's benchmark activities.

    python3 worker.py --address 127.0.0.1:7233 --task-queue q

`def` activities run on a ThreadPoolExecutor (as Python's docs advise), `async def` ones
on the worker's asyncio event loop. With `--process-pool N`, `def` activities run on
Python's documented process-pool set-up instead, its containment of crashing code:
`ProcessPoolExecutor(max_workers=N)` and a `SharedStateManager` over a
`multiprocessing.Manager()` (heartbeats and cancellation cross to the pool through it).

For the `concurrency` scenario: `--max-concurrent-activities N` (activity slots, default
100) and `--blocking-threads N` (the executor's threads, default: the slots). With
BENCH_LAG_FILE set, a probe appends `unix_seconds lag_ms` every 500 ms: how late a timer
fires on the asyncio loop that runs async activities and hands tasks to and from the SDK's
core (legwork's `legwork_control_loop_lag`, measured the same way).
"""

import argparse
import asyncio
import concurrent.futures
import multiprocessing
import os
import time

from temporalio import activity
from temporalio.client import Client
from temporalio.worker import SharedStateManager, Worker

SLOTS = 100


def burn(ms: int) -> int:
    """Burns `ms` of this thread's CPU time."""
    end = time.thread_time() + ms / 1000
    spins = 0
    while time.thread_time() < end:
        spins += 1
    return spins


@activity.defn
def noop_sync() -> None:
    return None


@activity.defn
async def noop_async() -> None:
    return None


@activity.defn
def tiny_sync() -> None:
    return None


@activity.defn
async def tiny_async() -> None:
    return None


@activity.defn
def cpu_sync(ms: int) -> int:
    return burn(ms)


@activity.defn
def block_sync(ms: int) -> None:
    time.sleep(ms / 1000)


@activity.defn
async def block_async(ms: int) -> None:
    # The rogue: the mistake Python's docs warn about, a blocking call in `async def`.
    time.sleep(ms / 1000)


@activity.defn
async def sleep_async(ms: int) -> None:
    # Awaits a timer: parked, it holds no thread.
    await asyncio.sleep(ms / 1000)


@activity.defn
def heartbeat_sync(total_ms: int, every_ms: int) -> int:
    start = time.monotonic()
    beats = 0
    while (time.monotonic() - start) * 1000 < total_ms:
        time.sleep(every_ms / 1000)
        beats += 1
        activity.heartbeat(beats)
    return beats


@activity.defn
def abort_sync() -> None:
    # The `crash` scenario: on the thread pool it takes the worker; in a pool process,
    # the pool.
    os.abort()


@activity.defn
def runaway_sync() -> None:
    # The `runaway` scenario: heartbeats every 100 ms for ever. Python raises the
    # cancellation into a thread between bytecodes; code stuck in a native library never
    # sees it, so this loop swallows it. In a pool process it is never raised at all.
    while True:
        try:
            activity.heartbeat("still going")
            until = time.monotonic() + 0.1
            while time.monotonic() < until:
                pass
        except BaseException:  # noqa: B036 - ignoring cancellation is the point
            pass


ACTIVITIES = [
    noop_sync,
    noop_async,
    tiny_sync,
    tiny_async,
    cpu_sync,
    block_sync,
    block_async,
    sleep_async,
    heartbeat_sync,
    abort_sync,
    runaway_sync,
]


async def lag_probe(path: str) -> None:
    """Appends how late a 500 ms timer fires on this loop to `path`, one line a tick."""
    loop = asyncio.get_running_loop()
    with open(path, "w", buffering=1) as out:
        due = loop.time() + 0.5
        while True:
            await asyncio.sleep(max(0.0, due - loop.time()))
            now = loop.time()
            out.write(f"{time.time():.3f} {max(0.0, now - due) * 1000:.3f}\n")
            due = now + 0.5


def executor_and_state(args):
    """The executor of `def` activities: threads, or the documented process pool with the
    shared state manager it needs (None with threads)."""
    if args.process_pool:
        manager = multiprocessing.Manager()
        state = SharedStateManager.create_from_multiprocessing(manager)
        return concurrent.futures.ProcessPoolExecutor(max_workers=args.process_pool), state
    threads = args.blocking_threads or args.max_concurrent_activities
    return concurrent.futures.ThreadPoolExecutor(max_workers=threads), None


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", default="127.0.0.1:7233")
    parser.add_argument("--task-queue", default="bench")
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--max-concurrent-activities", type=int, default=SLOTS)
    parser.add_argument("--blocking-threads", type=int, default=None)
    parser.add_argument("--process-pool", type=int, default=0, metavar="N",
                        help="run def activities on a ProcessPoolExecutor of N processes")
    args = parser.parse_args()
    if os.environ.get("BENCH_LAG_FILE"):
        probe = asyncio.create_task(lag_probe(os.environ["BENCH_LAG_FILE"]))  # noqa: F841
    # The pool's manager process is forked before the client's threads exist.
    executor, state = executor_and_state(args)
    client = await Client.connect(args.address, namespace=args.namespace)
    with executor:
        worker = Worker(
            client,
            task_queue=args.task_queue,
            activities=ACTIVITIES,
            activity_executor=executor,
            shared_state_manager=state,
            max_concurrent_activities=args.max_concurrent_activities,
        )
        await worker.run()


if __name__ == "__main__":
    asyncio.run(main())
