"""A Python workflow that calls a legwork activity through encrypted payloads
(tests/codec_interop.rs).

The client's data converter carries the encryption codec of Temporal's samples-python
`encryption/` (codec_check.py's SampleEncryptionCodec: its key and key id), so the
workflow's input and result, and the activity's arguments and result, reach the server
as `binary/encrypted`. The workflow runs on a worker of its own (workflows only) and
returns the activity's result as it decoded it. The script prints one JSON object: the
workflow's ids, that result, and the metadata of every payload in the workflow's history,
as the server stores them (fetch_history does not decode).

Usage: codec_workflow.py ADDRESS WORKFLOW_TASK_QUEUE ACTIVITY_TASK_QUEUE ACTIVITY ARGS_JSON
"""

import dataclasses
import json
import sys
import uuid
from datetime import timedelta

from google.protobuf.message import Message
import temporalio.converter
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.worker import Worker

import interop
from codec_check import SampleEncryptionCodec


# Not sandboxed: the sandbox re-imports a workflow's module, and this one is `__main__`.
@workflow.defn(name="CodecInterop", sandboxed=False)
class CodecInterop:
    @workflow.run
    async def run(self, task_queue: str, activity: str, args: list) -> dict:
        return await workflow.execute_activity(
            activity,
            args=args,
            task_queue=task_queue,
            start_to_close_timeout=timedelta(seconds=20),
            # One attempt: a codec failure is an outcome to report, not to retry.
            retry_policy=RetryPolicy(maximum_attempts=1),
        )


def payloads_in(message, path):
    """(path, Payload) for every Payload in a protobuf message, maps and lists included."""
    if isinstance(message, Payload):
        yield path, message
        return
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        name = f"{path}.{field.name}"
        if field.message_type.GetOptions().map_entry:
            if field.message_type.fields_by_name["value"].message_type is None:
                continue
            for key, item in value.items():
                yield from payloads_in(item, f"{name}[{key}]")
        elif isinstance(value, Message):
            yield from payloads_in(value, name)
        else:  # a repeated message field
            for index, item in enumerate(value):
                yield from payloads_in(item, f"{name}[{index}]")


async def stored_payloads(handle):
    """Every payload of the workflow's history as the server stores it: where it is, its
    metadata as text, its size, and the sizes of what it stands for when stored
    externally."""
    history = await handle.fetch_history()
    stored = []
    for event in history.events:
        kind = event.WhichOneof("attributes")
        for path, payload in payloads_in(getattr(event, kind), kind):
            stored.append(
                {
                    "event_id": event.event_id,
                    "path": path,
                    "metadata": {
                        key: value.decode("utf-8", "backslashreplace")
                        for key, value in sorted(payload.metadata.items())
                    },
                    "data_len": len(payload.data),
                    "external_sizes": [p.size_bytes for p in payload.external_payloads],
                }
            )
    return stored


async def main(address, workflow_queue, activity_queue, activity, args_json):
    converter = dataclasses.replace(
        temporalio.converter.default(), payload_codec=SampleEncryptionCodec()
    )
    client = await Client.connect(address, data_converter=converter)
    async with Worker(client, task_queue=workflow_queue, workflows=[CodecInterop]):
        handle = await client.start_workflow(
            CodecInterop.run,
            args=[activity_queue, activity, json.loads(args_json)],
            id=f"codec-interop-{uuid.uuid4()}",
            task_queue=workflow_queue,
            execution_timeout=timedelta(seconds=60),
        )
        result = await handle.result()
    stored = await stored_payloads(handle)
    print(
        json.dumps(
            {
                "workflow_id": handle.id,
                "run_id": handle.result_run_id,
                "result": result,
                "history_payloads": stored,
            }
        )
    )


if __name__ == "__main__":
    interop.run(main, *sys.argv[1:6])
