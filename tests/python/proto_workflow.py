"""A Python workflow that passes protobuf messages to a legwork activity
(tests/protobuf_interop.rs).

The message classes come from the descriptor set scripts/gen-test-protos writes
(tests/common/proto/legwork.test.v1.bin), built without protoc and registered in the
default symbol database, where the SDK's protobuf converters look a `messageType` up.

ENCODING says how the workflow writes the `Order`: `json` is the SDK's default data
converter (`json/protobuf`); `binary` puts the SDK's BinaryProtoPayloadConverter first
(`binary/protobuf`). Either way the workflow reads both encodings back.

The workflow builds the order, runs ACTIVITY with it (and NOTE, a string, as a second
argument when it is not empty), checks the result is a `Receipt`
and returns it as a dict (proto field names, 64-bit integers as strings). The script
prints one JSON object: that dict, the receipt's type, and the metadata of the activity's
input and result payloads as the server stores them.

Usage: proto_workflow.py ADDRESS WORKFLOW_TASK_QUEUE ACTIVITY_TASK_QUEUE ACTIVITY NOTE
       DESCRIPTOR_SET ENCODING
"""

import dataclasses
import json
import sys
import uuid
from datetime import timedelta

from google.protobuf import descriptor_pb2, descriptor_pool, json_format
from google.protobuf.internal import builder
import temporalio.converter
from temporalio import workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.worker import Worker

import interop

# Set by load_messages before the workflow runs.
Order = Receipt = PRIORITY_RUSH = None
# Above 2^53: a double cannot hold it, so JSON must carry it as a string.
TOTAL_MICROS = 9_007_199_254_740_993


def load_messages(path):
    """Builds the message classes as a generated _pb2 module would, from the set."""
    global Order, Receipt, PRIORITY_RUSH
    with open(path, "rb") as file:
        files = descriptor_pb2.FileDescriptorSet.FromString(file.read())
    namespace = {}
    for proto in files.file:
        built = descriptor_pool.Default().AddSerializedFile(proto.SerializeToString())
        builder.BuildMessageAndEnumDescriptors(built, namespace)
        builder.BuildTopDescriptorsAndMessages(built, "legwork_test_pb2", namespace)
    Order, Receipt = namespace["Order"], namespace["Receipt"]
    PRIORITY_RUSH = namespace["PRIORITY_RUSH"]


def sample_order():
    order = Order(
        order_id="ord-7f3a",
        total_micros=TOTAL_MICROS,
        priority=PRIORITY_RUSH,
        gift_wrap=True,
    )
    order.customer.display_name = "Zoë Python"
    order.customer.loyalty_points = 18_446_744_073_709_551_615
    order.lines.add(sku="tea-☕-250g", quantity=3, unit_micros=-12_500_000)
    order.lines.add(sku="mug", quantity=1, unit_micros=8_990_000)
    return order


# Not sandboxed: the sandbox re-imports a workflow's module, and this one is `__main__`.
@workflow.defn(name="ProtoInterop", sandboxed=False)
class ProtoInterop:
    @workflow.run
    async def run(self, task_queue: str, activity: str, note: str) -> dict:
        receipt = await workflow.execute_activity(
            activity,
            args=[sample_order(), note] if note else [sample_order()],
            task_queue=task_queue,
            start_to_close_timeout=timedelta(seconds=20),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )
        if not isinstance(receipt, Receipt):
            raise TypeError(f"expected a Receipt, got {type(receipt)!r}")
        return {
            "type": receipt.DESCRIPTOR.full_name,
            "receipt": json_format.MessageToDict(receipt, preserving_proto_field_name=True),
        }


class BinaryFirstPayloadConverter(temporalio.converter.CompositePayloadConverter):
    """Writes messages as binary/protobuf; reads both protobuf encodings."""

    def __init__(self):
        super().__init__(
            temporalio.converter.BinaryNullPayloadConverter(),
            temporalio.converter.BinaryPlainPayloadConverter(),
            temporalio.converter.BinaryProtoPayloadConverter(),
            temporalio.converter.JSONProtoPayloadConverter(),
            temporalio.converter.JSONPlainPayloadConverter(),
        )


def stored_metadata(history, kind, field):
    for event in history.events:
        if event.WhichOneof("attributes") != kind:
            continue
        payloads = getattr(getattr(event, kind), field).payloads
        return [
            {key: value.decode() for key, value in sorted(payload.metadata.items())}
            for payload in payloads
        ]
    return None


async def main(
    address, workflow_queue, activity_queue, activity, note, descriptor_set, encoding
):
    load_messages(descriptor_set)
    converter = temporalio.converter.default()
    if encoding == "binary":
        converter = dataclasses.replace(
            converter, payload_converter_class=BinaryFirstPayloadConverter
        )
    client = await Client.connect(address, data_converter=converter)
    async with Worker(client, task_queue=workflow_queue, workflows=[ProtoInterop]):
        handle = await client.start_workflow(
            ProtoInterop.run,
            args=[activity_queue, activity, note],
            id=f"proto-interop-{uuid.uuid4()}",
            task_queue=workflow_queue,
            execution_timeout=timedelta(seconds=60),
        )
        result = await handle.result()
    history = await handle.fetch_history()
    result["input"] = stored_metadata(
        history, "activity_task_scheduled_event_attributes", "input"
    )
    result["output"] = stored_metadata(
        history, "activity_task_completed_event_attributes", "result"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    interop.run(main, *sys.argv[1:8])
