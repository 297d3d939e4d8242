"""A Python workflow that calls a legwork activity with a header of its own
(tests/interceptors.rs).

A workflow outbound interceptor adds the header `tenant` (a JSON string payload) to every
activity the workflow schedules, as a team's context-propagation interceptor would. The
workflow runs on a worker of its own (workflows only) and returns the activity's result,
or the failure's message when it failed. The script prints one JSON object:
{"result": ..., "error": ...}.

Usage: header_workflow.py ADDRESS WORKFLOW_TASK_QUEUE ACTIVITY_TASK_QUEUE ACTIVITY TENANT ARGS_JSON
"""

import json
import sys
import uuid
from datetime import timedelta

import temporalio.converter
from temporalio import workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.worker import (
    Interceptor,
    StartActivityInput,
    Worker,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

import interop

TENANT = {"value": None}


class _Outbound(WorkflowOutboundInterceptor):
    def start_activity(self, input: StartActivityInput):
        payload = temporalio.converter.default().payload_converter.to_payloads([TENANT["value"]])[0]
        input.headers = {**input.headers, "tenant": payload}
        return super().start_activity(input)


class _Inbound(WorkflowInboundInterceptor):
    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        super().init(_Outbound(outbound))


class TenantHeader(Interceptor):
    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput):
        return _Inbound


# Not sandboxed: the sandbox re-imports a workflow's module, and this one is `__main__`.
@workflow.defn(name="HeaderInterop", sandboxed=False)
class HeaderInterop:
    @workflow.run
    async def run(self, task_queue: str, activity: str, args: list):
        return await workflow.execute_activity(
            activity,
            args=args,
            task_queue=task_queue,
            start_to_close_timeout=timedelta(seconds=20),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )


async def main(address, workflow_queue, activity_queue, activity, tenant, args_json):
    TENANT["value"] = tenant
    client = await Client.connect(address)
    async with Worker(
        client,
        task_queue=workflow_queue,
        workflows=[HeaderInterop],
        interceptors=[TenantHeader()],
    ):
        handle = await client.start_workflow(
            HeaderInterop.run,
            args=[activity_queue, activity, json.loads(args_json)],
            id=f"header-interop-{uuid.uuid4()}",
            task_queue=workflow_queue,
            execution_timeout=timedelta(seconds=60),
        )
        await interop.print_outcome(handle)


if __name__ == "__main__":
    interop.run(main, *sys.argv[1:7])
