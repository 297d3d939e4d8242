"""A Python workflow whose payloads go through temporalio 1.35's own external storage
(`ExternalStorage` with `temporalio.contrib.aws.s3driver.S3StorageDriver`) to a local S3
server, calling a legwork activity (tests/external_storage.rs).

The workflow sends a large string to the activity and returns what the activity sends
back; both cross Temporal as storage references. With `aes`, the sample encryption codec
(codec_check.py) runs before storage, as in every SDK. The script prints one JSON object:
the workflow's result as Python decoded it, and the metadata and size of every payload in
the history as the server stores it.

Usage: storage_workflow.py ADDRESS WORKFLOW_QUEUE ACTIVITY_QUEUE ACTIVITY S3_ENDPOINT BUCKET SIZE CODEC
"""

import dataclasses
import json
import sys
import uuid
from datetime import timedelta

import aioboto3
import temporalio.converter
from temporalio import workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.contrib.aws.s3driver import S3StorageDriver
from temporalio.contrib.aws.s3driver.aioboto3 import new_aioboto3_client
from temporalio.converter import ExternalStorage
from temporalio.worker import Worker

import interop
from codec_check import SampleEncryptionCodec
from codec_workflow import stored_payloads


@workflow.defn(name="StorageInterop", sandboxed=False)
class StorageInterop:
    @workflow.run
    async def run(self, task_queue: str, activity: str, size: int) -> str:
        # Large enough that the SDK stores it: the default threshold is 256 KiB.
        text = "".join(chr(ord("a") + i % 26) for i in range(size))
        return await workflow.execute_activity(
            activity,
            text,
            task_queue=task_queue,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )


async def main(address, workflow_queue, activity_queue, activity, endpoint, bucket, size, codec):
    session = aioboto3.Session()
    async with session.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ) as s3:
        storage = ExternalStorage(
            drivers=[S3StorageDriver(client=new_aioboto3_client(s3), bucket=bucket)]
        )
        converter = dataclasses.replace(
            temporalio.converter.default(),
            payload_codec=SampleEncryptionCodec() if codec == "aes" else None,
            external_storage=storage,
        )
        client = await Client.connect(address, data_converter=converter)
        async with Worker(client, task_queue=workflow_queue, workflows=[StorageInterop]):
            handle = await client.start_workflow(
                StorageInterop.run,
                args=[activity_queue, activity, int(size)],
                id=f"storage-interop-{uuid.uuid4()}",
                task_queue=workflow_queue,
                execution_timeout=timedelta(seconds=60),
            )
            result = await handle.result()
            stored = await stored_payloads(handle)
    print(json.dumps({"result_len": len(result), "result_head": result[:32], "history_payloads": stored}))


if __name__ == "__main__":
    interop.run(main, *sys.argv[1:9])
