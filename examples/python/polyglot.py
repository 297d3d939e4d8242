"""Runs the Polyglot workflow (polyglot_workflow.py) against Rust activities and prints
its report.

Start the Rust worker first (`cargo run --example polyglot -- --dev` logs the dev
server's address), or let `scripts/example polyglot` do both.

Usage: python3 examples/python/polyglot.py [ADDRESS] [TASK_QUEUE]
       (defaults: localhost:7233, polyglot; temporalio must be importable)
"""

import asyncio
import os
import sys
import uuid
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker

from polyglot_workflow import Polyglot


async def main(address: str, task_queue: str) -> None:
    client = await Client.connect(address)
    # A worker for the workflow only: the activities are the Rust worker's.
    async with Worker(client, task_queue=task_queue, workflows=[Polyglot]):
        report = await client.execute_workflow(
            Polyglot.run,
            "Python",
            id=f"polyglot-{uuid.uuid4()}",
            task_queue=task_queue,
            execution_timeout=timedelta(seconds=60),
        )
    for line in report:
        print(line)


if __name__ == "__main__":
    asyncio.run(
        main(
            sys.argv[1] if len(sys.argv) > 1 else "localhost:7233",
            sys.argv[2] if len(sys.argv) > 2 else "polyglot",
        )
    )
    # The SDK's native threads can crash the interpreter while it finalizes, after the
    # work is done: leave without finalizing.
    sys.stdout.flush()
    os._exit(0)
