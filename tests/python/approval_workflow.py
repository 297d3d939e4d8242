"""A Python workflow whose activity is completed by a third party (tests/async_completion.rs).

The workflow calls the legwork activity `request_approval` with a fixed activity id; the
legwork worker hands the attempt out and returns, and the test completes it by workflow
id and activity id. The workflow returns what the activity "returned". The script prints
one JSON object: {"result": ..., "error": ...}.

Usage: approval_workflow.py ADDRESS WORKFLOW_TASK_QUEUE ACTIVITY_TASK_QUEUE WORKFLOW_ID ACTIVITY_ID DOCUMENT
"""

import sys
from datetime import timedelta

from temporalio import workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.worker import Worker

import interop


# Not sandboxed: the sandbox re-imports a workflow's module, and this one is `__main__`.
@workflow.defn(name="ApprovalInterop", sandboxed=False)
class ApprovalInterop:
    @workflow.run
    async def run(self, task_queue: str, activity_id: str, document: str):
        return await workflow.execute_activity(
            "request_approval",
            document,
            task_queue=task_queue,
            activity_id=activity_id,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )


async def main(address, workflow_queue, activity_queue, workflow_id, activity_id, document):
    client = await Client.connect(address)
    async with Worker(client, task_queue=workflow_queue, workflows=[ApprovalInterop]):
        handle = await client.start_workflow(
            ApprovalInterop.run,
            args=[activity_queue, activity_id, document],
            id=workflow_id,
            task_queue=workflow_queue,
            execution_timeout=timedelta(seconds=90),
        )
        await interop.print_outcome(handle)


if __name__ == "__main__":
    interop.run(main, *sys.argv[1:7])
