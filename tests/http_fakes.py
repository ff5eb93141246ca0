"""A fake HTTP layer for botocore clients: answers from a list, through botocore's own retry handler.

botocore's Stubber answers before the retry handler runs, so it cannot show that a client
retries; ``answer_with`` replaces only the HTTP send (the ``before-send`` event), so parsing,
retries and backoff are botocore's own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from botocore.awsrequest import AWSResponse


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any):
        yield self._body


def answer_with(client: Any, answers: Iterable[tuple[int, dict]]) -> list[str]:
    """Each request the client sends gets the next (status, JSON body); returns the URLs sent."""
    pending = list(answers)
    sent: list[str] = []

    def respond(request: Any, **_: Any) -> AWSResponse:
        sent.append(request.url)
        status, body = pending.pop(0)
        raw = json.dumps(body).encode()
        return AWSResponse(request.url, status, {"Content-Type": "application/x-amz-json-1.1",
                                                 "Content-Length": str(len(raw))}, _Raw(raw))

    client.meta.events.register("before-send", respond)
    return sent


def validate_request(service: str, operation: str, params: dict) -> None:
    """Raises botocore's ParamValidationError when ``params`` are not a valid ``operation`` request."""
    import boto3
    from botocore.validate import validate_parameters

    client = boto3.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x").client(service)
    model = client.meta.service_model.operation_model(operation)
    validate_parameters(params, model.input_shape)
