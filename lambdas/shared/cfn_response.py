"""Answering a CloudFormation custom-resource request (copied beside each handler that needs it)."""

from __future__ import annotations

import json
import logging
import urllib.request
from typing import Any

LOGGER = logging.getLogger()


def physical_id(event: dict) -> str:
    """The resource's existing id, or a new one stable for this logical resource and stack."""
    return event.get("PhysicalResourceId") or f"{event['LogicalResourceId']}-{event['StackId'].rsplit('/', 1)[-1]}"


def send_response(event: dict, status: str, reason: str, data: dict[str, Any] | None = None,
                  resource_id: str | None = None) -> None:
    """PUTs the result to the pre-signed URL CloudFormation waits on."""
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:1000],
            "PhysicalResourceId": resource_id or physical_id(event),
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": data or {},
        }
    ).encode()
    request = urllib.request.Request(
        event["ResponseURL"], data=body, method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(body))},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # pre-signed S3 URL
        LOGGER.info("response sent: %s %s", status, response.status)
