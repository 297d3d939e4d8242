"""A Python workflow whose activities run on a legwork worker (tests/operator.rs): one with
a priority, which reports what `ctx.info().priority` holds, and one the test pauses,
updates, unpauses and resets by workflow id and activity id.

The workflow runs `priority_of` with Priority(priority_key=1, fairness_key="tenant-b",
fairness_weight=2.5), then `heartbeat_until_stopped` (finishing on its third run) under
activity id HELD_ID, which the test pauses, updates, unpauses and resets. The script prints one JSON object: {"result": {"priority": [key,
fairness key, weight], "held": "done on run N"}, "error": null}, or the innermost cause's
message as "error".

Usage: priority_workflow.py ADDRESS WORKFLOW_TASK_QUEUE ACTIVITY_TASK_QUEUE WORKFLOW_ID HELD_ID
"""

import sys
from datetime import timedelta

from temporalio import workflow
from temporalio.client import Client
from temporalio.common import Priority, RetryPolicy
from temporalio.worker import Worker

import interop


# Not sandboxed: the sandbox re-imports a workflow's module, and this one is `__main__`.
@workflow.defn(name="PriorityInterop", sandboxed=False)
class PriorityInterop:
    @workflow.run
    async def run(self, task_queue: str, held_id: str):
        priority = await workflow.execute_activity(
            "priority_of",
            task_queue=task_queue,
            start_to_close_timeout=timedelta(seconds=30),
            priority=Priority(priority_key=1, fairness_key="tenant-b", fairness_weight=2.5),
        )
        held = await workflow.execute_activity(
            "heartbeat_until_stopped",
            3,
            activity_id=held_id,
            task_queue=task_queue,
            start_to_close_timeout=timedelta(seconds=30),
            heartbeat_timeout=timedelta(seconds=2),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=100), maximum_attempts=5
            ),
        )
        return {"priority": priority, "held": held}


async def main(address, workflow_queue, activity_queue, workflow_id, held_id):
    client = await Client.connect(address)
    async with Worker(client, task_queue=workflow_queue, workflows=[PriorityInterop]):
        handle = await client.start_workflow(
            PriorityInterop.run,
            args=[activity_queue, held_id],
            id=workflow_id,
            task_queue=workflow_queue,
            execution_timeout=timedelta(seconds=90),
        )
        await interop.print_outcome(handle)


if __name__ == "__main__":
    interop.run(main, *sys.argv[1:6])
