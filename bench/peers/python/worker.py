"""The Python SDK (temporalio 1.35.0) serving legwork's benchmark activities.

    python3 worker.py --address 127.0.0.1:7233 --task-queue q

`def` activities run on a ThreadPoolExecutor (as Python's docs advise), `async def` ones
on the worker's asyncio event loop.
"""

import argparse
import asyncio
import concurrent.futures
import time

from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

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
def heartbeat_sync(total_ms: int, every_ms: int) -> int:
    start = time.monotonic()
    beats = 0
    while (time.monotonic() - start) * 1000 < total_ms:
        time.sleep(every_ms / 1000)
        beats += 1
        activity.heartbeat(beats)
    return beats


ACTIVITIES = [
    noop_sync,
    noop_async,
    tiny_sync,
    tiny_async,
    cpu_sync,
    block_sync,
    block_async,
    heartbeat_sync,
]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", default="127.0.0.1:7233")
    parser.add_argument("--task-queue", default="bench")
    parser.add_argument("--namespace", default="default")
    args = parser.parse_args()
    client = await Client.connect(args.address, namespace=args.namespace)
    with concurrent.futures.ThreadPoolExecutor(max_workers=SLOTS) as executor:
        worker = Worker(
            client,
            task_queue=args.task_queue,
            activities=ACTIVITIES,
            activity_executor=executor,
            max_concurrent_activities=SLOTS,
        )
        await worker.run()


if __name__ == "__main__":
    asyncio.run(main())
