"""Expiry: delete this lab's stack when its time is up.

Invoked once by an EventBridge Scheduler one-time schedule at the lab's
``expires-at``. Deletes only the stack named in STACK_ID, passing the role
CloudFormation normally deploys it with (CFN_ROLE_ARN), so the deletion runs with
that role's rights and this function needs none beyond DeleteStack on its own
stack. The account-level janitor sweeps leftovers once CloudFormation reports the
deletion complete.

Idempotent: a stack already gone or being deleted is left alone; a stack that is
mid-update (a redeploy moving the expiry) is skipped, since the redeploy brings
its own schedule.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import boto3
from botocore.exceptions import ClientError

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)


def expire(client: Any, stack_id: str, role_arn: str) -> dict[str, str]:
    try:
        stacks = client.describe_stacks(StackName=stack_id)["Stacks"]
    except ClientError as error:
        if "does not exist" in error.response["Error"].get("Message", ""):
            return {"action": "none", "reason": "stack already deleted"}
        raise
    status = stacks[0]["StackStatus"]
    if status in {"DELETE_IN_PROGRESS", "DELETE_COMPLETE"}:
        return {"action": "none", "reason": f"stack is {status}"}
    if status.endswith("_IN_PROGRESS"):
        return {"action": "none", "reason": f"stack is {status}; the running deployment sets a new expiry"}
    client.delete_stack(StackName=stack_id, RoleARN=role_arn)
    return {"action": "delete", "reason": f"expired; was {status}"}


def handler(event: dict, context: object, client: Any = None) -> dict[str, str]:
    stack_id, role_arn = os.environ["STACK_ID"], os.environ["CFN_ROLE_ARN"]
    result = expire(client or boto3.client("cloudformation"), stack_id, role_arn)
    LOGGER.info(json.dumps({"stack": stack_id, **result}))
    return result
