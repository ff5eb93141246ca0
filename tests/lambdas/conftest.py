"""Fixtures shared by the Lambda handler tests."""

from __future__ import annotations

import json

import pytest

from lambdas.shared import cfn_response


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
