"""A Python workflow that calls activity types no legwork function registers
(tests/dynamic_interop.rs): legwork's dynamic activity serves them.

Each call is `[activity_type, [args...]]`; the workflow runs them in order, one attempt
each, and returns each result (or `failed: <cause>`). The script prints one JSON object:
the workflow's id and the results.

Usage: dynamic_workflow.py ADDRESS WORKFLOW_TASK_QUEUE ACTIVITY_TASK_QUEUE CALLS_JSON
"""

import json
import sys
import uuid
from datetime import timedelta

from temporalio import workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError
from temporalio.worker import Worker

import interop


# Not sandboxed: the sandbox re-imports a workflow's module, and this one is `__main__`.
@workflow.defn(name="DynamicInterop", sandboxed=False)
class DynamicInterop:
    @workflow.run
    async def run(self, task_queue: str, calls: list) -> list:
        results = []
        for activity_type, args in calls:
            try:
                results.append(
                    await workflow.execute_activity(
                        activity_type,
                        args=args,
                        task_queue=task_queue,
                        start_to_close_timeout=timedelta(seconds=30),
                        retry_policy=RetryPolicy(maximum_attempts=1),
                    )
                )
            except ActivityError as error:
                results.append(f"failed: {error.cause}")
        return results


async def main(address, workflow_queue, activity_queue, calls):
    client = await Client.connect(address)
    async with Worker(client, task_queue=workflow_queue, workflows=[DynamicInterop]):
        handle = await client.start_workflow(
            DynamicInterop.run,
            args=[activity_queue, calls],
            id=f"dynamic-interop-{uuid.uuid4()}",
            task_queue=workflow_queue,
        )
        results = await handle.result()
    print(json.dumps({"workflow_id": handle.id, "results": results}))


if __name__ == "__main__":
    interop.run(main, *sys.argv[1:4], json.loads(sys.argv[4]))
