"""A Python workflow that cancels the legwork activity it started (tests/worker_commands.rs).

The workflow starts the legwork activity ACTIVITY (`wait_for_cancel` or
`sleep_for_cancel`, neither of which heartbeats) and waits; once the activity has written MARKER.started, the script signals the workflow, which
cancels the activity and waits for the cancellation to complete
(`WAIT_CANCELLATION_COMPLETED`), so that the workflow sees how the attempt really ended.
With MODE `terminate`, the script terminates the workflow instead and waits for the
activity to write MARKER.cancelled (the server cancels the attempts of a workflow that
closes); then "result" is null. The script prints one JSON object:
{"result": {"outcome": "completed"|"cancelled"|"failed", "detail": ...},
 "cancel_sent_at": UNIX_SECONDS}; a workflow that fails makes the script fail.

Usage: cancel_workflow.py ADDRESS WORKFLOW_TASK_QUEUE ACTIVITY_TASK_QUEUE WORKFLOW_ID ACTIVITY MARKER SECONDS MODE
"""

import asyncio
import json
import os
import sys
import time
from datetime import timedelta

from temporalio import workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, CancelledError
from temporalio.worker import Worker

import interop


# Not sandboxed: the sandbox re-imports a workflow's module, and this one is `__main__`.
@workflow.defn(name="CancelInterop", sandboxed=False)
class CancelInterop:
    def __init__(self):
        self.cancel_asked = False

    @workflow.signal
    def cancel_activity(self):
        self.cancel_asked = True

    @workflow.run
    async def run(self, task_queue: str, activity: str, marker: str, seconds: int):
        activity = workflow.start_activity(
            activity,
            args=[marker, seconds],
            task_queue=task_queue,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RetryPolicy(maximum_attempts=1),
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        await workflow.wait_condition(lambda: self.cancel_asked or activity.done())
        if not activity.done():
            activity.cancel()
        try:
            return {"outcome": "completed", "detail": await activity}
        except ActivityError as error:
            outcome = "cancelled" if isinstance(error.cause, CancelledError) else "failed"
            return {"outcome": outcome, "detail": str(error.cause)}


async def wait_for_file(path, timeout=30.0):
    """The activity writes the file when it starts; nothing else tells this script."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        await asyncio.sleep(0.02)


async def main(address, workflow_queue, activity_queue, workflow_id, activity, marker, seconds,
               mode):
    client = await Client.connect(address)
    async with Worker(client, task_queue=workflow_queue, workflows=[CancelInterop]):
        handle = await client.start_workflow(
            CancelInterop.run,
            args=[activity_queue, activity, marker, int(seconds)],
            id=workflow_id,
            task_queue=workflow_queue,
            execution_timeout=timedelta(seconds=90),
        )
        await wait_for_file(marker + ".started")
        cancel_sent_at = time.time()
        if mode == "terminate":
            await handle.terminate("the test is done with it")
            await wait_for_file(marker + ".cancelled")
            result = None
        else:
            await handle.signal(CancelInterop.cancel_activity)
            result = await handle.result()
        print(json.dumps({"result": result, "cancel_sent_at": cancel_sent_at}))


if __name__ == "__main__":
    interop.run(main, *sys.argv[1:9])
