"""Custom resource: copy a StackSet member's code assets into the region's shared asset bucket.

A StackSet member stack cannot read the CDK bootstrap bucket of the admin account, and Lambda
takes its code only from a bucket in the function's own region. The CDK CLI publishes each
member asset into the admin account's bootstrap bucket of every target region; this handler
copies it, in that region, to ``ResourceProperties.Bucket`` under the key the member template
names (``Objects``: ``[{"SourceBucket", "SourceKey", "Key"}]``). The bucket's policy lets the
target accounts read it.

Create and Update copy every object (a copy is idempotent; objects are named by content, so
an update never overwrites what a running class still uses, and nothing is deleted then).
Delete does nothing: the bucket is emptied and deleted with its own stack.
"""

from __future__ import annotations

import logging
from typing import Any

import boto3

try:
    from cfn_response import send_response  # copied beside this file in the Lambda asset
except ImportError:  # imported as a package (tests)
    from lambdas.shared.cfn_response import send_response

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)


def copy_objects(client: Any, bucket: str, objects: list[dict]) -> list[str]:
    """Copies every object into ``bucket``; returns the keys written."""
    written = []
    for item in objects:
        client.copy_object(Bucket=bucket, Key=item["Key"],
                           CopySource={"Bucket": item["SourceBucket"], "Key": item["SourceKey"]},
                           ServerSideEncryption="AES256")
        written.append(item["Key"])
    return written


def handler(event: dict, context: Any, client: Any = None) -> None:
    request_type = event.get("RequestType")
    properties = event.get("ResourceProperties", {})
    bucket, objects = properties.get("Bucket", ""), list(properties.get("Objects", []))
    if request_type == "Delete":
        send_response(event, "SUCCESS", "nothing to do: the bucket is emptied with its stack", resource_id=bucket)
        return
    try:
        written = copy_objects(client or boto3.client("s3"), bucket, objects)
    except Exception as error:  # noqa: BLE001 - reported to CloudFormation, which rolls back
        LOGGER.error("copy into %s failed: %s", bucket, error)
        send_response(event, "FAILED", f"copying the StackSet code into {bucket} failed: {error}", resource_id=bucket)
        return
    LOGGER.info("copied %d object(s) into %s", len(written), bucket)
    send_response(event, "SUCCESS", f"copied {len(written)} object(s)", data={"Keys": ",".join(written)},
                  resource_id=bucket)
