"""The StackSet asset copier custom resource, against moto's S3."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from lambdas.classroom_asset_copy import index
from tests.lambdas.conftest import custom_resource_event

KEY = "0f5d2c9e.zip"


def event(request_type, objects):
    return custom_resource_event(request_type, "mlref-classroom-assets-us-east-1", "ShelfCopy",
                                 {"Bucket": "shelf", "Objects": objects})


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        for bucket in ("bootstrap", "shelf"):
            client.create_bucket(Bucket=bucket)
        client.put_object(Bucket="bootstrap", Key="abc.zip", Body=b"PK code")
        yield client


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_create_and_update_copy_each_object_under_the_members_key(s3, sent, request_type):
    index.handler(event(request_type, [{"SourceBucket": "bootstrap", "SourceKey": "abc.zip", "Key": KEY}]), None,
                  client=s3)
    assert s3.get_object(Bucket="shelf", Key=KEY)["Body"].read() == b"PK code"
    assert sent[0]["Status"] == "SUCCESS" and sent[0]["PhysicalResourceId"] == "shelf"
    assert sent[0]["Data"] == {"Keys": KEY}


def test_a_missing_source_fails_the_deployment_with_the_reason(s3, sent):
    index.handler(event("Create", [{"SourceBucket": "bootstrap", "SourceKey": "gone.zip", "Key": KEY}]), None,
                  client=s3)
    assert sent[0]["Status"] == "FAILED" and "copying the StackSet code into shelf failed" in sent[0]["Reason"]


def test_delete_touches_nothing(s3, sent):
    s3.put_object(Bucket="shelf", Key=KEY, Body=b"kept")
    index.handler(event("Delete", [{"SourceBucket": "bootstrap", "SourceKey": "abc.zip", "Key": KEY}]), None,
                  client=s3)
    assert s3.get_object(Bucket="shelf", Key=KEY)["Body"].read() == b"kept" and sent[0]["Status"] == "SUCCESS"
