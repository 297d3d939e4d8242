"""A Python workflow whose codec picks its key by workflow id, from the serialization
context (temporalio's `WithSerializationContext`), calling a legwork activity whose codec
follows the same rule from legwork's `SerializationContext` (tests/serialization_context.rs).

The key of workflow W is SHA-256("legwork-tenant:" + W) and its key id is W; payloads are
sealed as the samples' encryption codec seals them (AES-256-GCM over the serialized
payload, a 12-byte nonce in front), the format legwork's Aes256Gcm reads. Prints the
activity's result as Python decoded it and the key ids in the history.

Usage: context_codec_workflow.py ADDRESS WORKFLOW_QUEUE ACTIVITY_QUEUE ACTIVITY ARGS_JSON
"""

import dataclasses
import hashlib
import json
import os
import sys
import uuid
from datetime import timedelta
from typing import List, Optional, Sequence

import temporalio.converter
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.converter import PayloadCodec, SerializationContext, WithSerializationContext
from temporalio.worker import Worker

import interop
from codec_workflow import CodecInterop, stored_payloads


class WorkflowKeyCodec(PayloadCodec, WithSerializationContext):
    """One key per workflow, derived from its id."""

    def __init__(self, workflow_id: Optional[str] = None) -> None:
        self.workflow_id = workflow_id

    def with_context(self, context: SerializationContext) -> "WorkflowKeyCodec":
        return WorkflowKeyCodec(getattr(context, "workflow_id", None))

    def _aes(self) -> AESGCM:
        if not self.workflow_id:
            raise ValueError("no workflow id in the serialization context")
        return AESGCM(hashlib.sha256(b"legwork-tenant:" + self.workflow_id.encode()).digest())

    async def encode(self, payloads: Sequence[Payload]) -> List[Payload]:
        out = []
        for payload in payloads:
            nonce = os.urandom(12)
            sealed = self._aes().encrypt(nonce, payload.SerializeToString(), None)
            metadata = {"encoding": b"binary/encrypted", "encryption-key-id": self.workflow_id.encode()}
            out.append(Payload(metadata=metadata, data=nonce + sealed))
        return out

    async def decode(self, payloads: Sequence[Payload]) -> List[Payload]:
        out = []
        for payload in payloads:
            if payload.metadata.get("encoding") != b"binary/encrypted":
                out.append(payload)
                continue
            plain = self._aes().decrypt(payload.data[:12], payload.data[12:], None)
            out.append(Payload.FromString(plain))
        return out


async def main(address, workflow_queue, activity_queue, activity, args_json):
    converter = dataclasses.replace(temporalio.converter.default(), payload_codec=WorkflowKeyCodec())
    client = await Client.connect(address, data_converter=converter)
    workflow_id = f"tenant-{uuid.uuid4()}"
    async with Worker(client, task_queue=workflow_queue, workflows=[CodecInterop]):
        handle = await client.start_workflow(
            CodecInterop.run,
            args=[activity_queue, activity, json.loads(args_json)],
            id=workflow_id,
            task_queue=workflow_queue,
            execution_timeout=timedelta(seconds=60),
        )
        result = await handle.result()
    key_ids = {p["metadata"].get("encryption-key-id", "") for p in await stored_payloads(handle)}
    print(json.dumps({"workflow_id": workflow_id, "result": result, "key_ids": sorted(key_ids)}))


if __name__ == "__main__":
    interop.run(main, *sys.argv[1:6])
