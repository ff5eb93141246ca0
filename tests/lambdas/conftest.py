"""Fixtures shared by the Lambda handler tests."""

from __future__ import annotations

import json

import boto3
import botocore.session
import pytest
from botocore.loaders import create_loader
from moto import mock_aws

from lambdas.shared import cfn_response

REGION = "us-east-1"

# One botocore loader for every session of these tests: each new session would otherwise parse
# the service models again (about a second per test for the dozen services a sweep calls).
LOADER = create_loader()


def new_session(region=REGION, **credentials):
    core = botocore.session.get_session()
    core.register_component("data_loader", LOADER)
    return boto3.Session(botocore_session=core, region_name=region, **credentials)


@pytest.fixture
def session():
    """A boto3 session inside moto's mocks, for the sweep and teardown tests."""
    with mock_aws():
        yield new_session()


@pytest.fixture
def sent(monkeypatch):
    """Captures what a custom-resource handler PUTs to CloudFormation's pre-signed response URL."""
    responses = []

    class Response:
        status = 200

        def __enter__(self):
            return self

        def __exit__(self, *args):
            return False

    def fake_urlopen(request, timeout):
        responses.append({"url": request.full_url, "method": request.get_method(), **json.loads(request.data)})
        return Response()

    monkeypatch.setattr(cfn_response.urllib.request, "urlopen", fake_urlopen)
    return responses


def custom_resource_event(request_type: str, stack: str, logical_id: str, properties: dict, **extra) -> dict:
    """What CloudFormation sends a custom-resource handler: ``properties`` beside the ServiceToken."""
    return {
        "RequestType": request_type, "ResponseURL": "https://cloudformation-custom-resource-response.example/abc",
        "StackId": f"arn:aws:cloudformation:us-east-1:123456789012:stack/{stack}/guid",
        "RequestId": "req-1", "LogicalResourceId": logical_id,
        "ResourceProperties": {"ServiceToken": "arn:fn", **properties}, **extra,
    }
