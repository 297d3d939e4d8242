"""A Python workflow that calls legwork activities with tracing on (tests/trace_interop.rs).

The workflow runs on a worker of its own (workflows only) with temporalio's
TracingInterceptor, which writes each StartActivity span's W3C context into the activity
task's `_tracer-data` header. Spans are kept in memory; the script prints one JSON object:
the workflow's ids, each activity's result, and every span it finished.

Usage: trace_workflow.py ADDRESS WORKFLOW_TASK_QUEUE ACTIVITY_TASK_QUEUE ACTIVITY...
"""

import json
import sys
import uuid
from datetime import timedelta

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio import workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.exceptions import ActivityError
from temporalio.worker import Worker

import interop


# Not sandboxed: the sandbox re-imports a workflow's module, and this one is `__main__`.
@workflow.defn(name="TraceInterop", sandboxed=False)
class TraceInterop:
    @workflow.run
    async def run(self, task_queue: str, activities: list[str]) -> dict[str, str]:
        results = {}
        for name in activities:
            try:
                results[name] = await workflow.execute_activity(
                    name,
                    "traced",
                    task_queue=task_queue,
                    start_to_close_timeout=timedelta(seconds=30),
                    # One attempt: a failure is the outcome under test, not a retry.
                    retry_policy=RetryPolicy(maximum_attempts=1),
                )
            except ActivityError as error:
                results[name] = f"failed: {error.cause}"
        return results


def span_json(span):
    context, parent = span.get_span_context(), span.parent
    return {
        "name": span.name,
        "kind": span.kind.name,
        "trace_id": format(context.trace_id, "032x"),
        "span_id": format(context.span_id, "016x"),
        "parent_span_id": format(parent.span_id, "016x") if parent else None,
        "attributes": dict(span.attributes or {}),
    }


async def main(address, workflow_queue, activity_queue, activities):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    # On the client, so its StartWorkflow span is the root: without a client span the
    # interceptor creates no workflow spans (always_create_workflow_spans=False).
    client = await Client.connect(
        address, interceptors=[TracingInterceptor(provider.get_tracer("trace_interop"))]
    )
    async with Worker(client, task_queue=workflow_queue, workflows=[TraceInterop]):
        handle = await client.start_workflow(
            TraceInterop.run,
            args=[activity_queue, activities],
            id=f"trace-interop-{uuid.uuid4()}",
            task_queue=workflow_queue,
        )
        results = await handle.result()
    provider.shutdown()
    print(
        json.dumps(
            {
                "workflow_id": handle.id,
                "run_id": handle.result_run_id,
                "results": results,
                "spans": [span_json(span) for span in exporter.get_finished_spans()],
            }
        )
    )


if __name__ == "__main__":
    interop.run(main, *sys.argv[1:4], sys.argv[4:])
