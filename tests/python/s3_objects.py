"""Reads or deletes objects in the local S3 server with boto3, as an operator would
(tests/external_storage.rs). Prints one JSON object.

Usage: s3_objects.py ENDPOINT BUCKET list
       s3_objects.py ENDPOINT BUCKET delete KEY
"""

import json
import sys

import boto3


def main(endpoint, bucket, command, key=None):
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    if command == "delete":
        s3.delete_object(Bucket=bucket, Key=key)
        print(json.dumps({"deleted": key}))
        return
    objects = {}
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        # A serialized Payload: its metadata (the encoding) is readable text.
        objects[item["Key"]] = body.decode("latin-1")[:256]
    print(json.dumps({"objects": objects}))


if __name__ == "__main__":
    main(*sys.argv[1:5])
