"""Expiry: delete this lab's stack when its time is up.

Invoked by an EventBridge Scheduler one-time schedule at the lab's ``expires-at``. Deletes only
the stack named in STACK_ID, passing the role CloudFormation normally deploys it with
(CFN_ROLE_ARN), so the deletion runs with that role's rights and this function needs none beyond
DeleteStack on its own stack. The account-level janitor sweeps leftovers once CloudFormation
reports the deletion complete.

An expiry is never lost. A stack that is mid-operation (``*_IN_PROGRESS``) cannot be deleted now,
and the operation may end either way: an update that succeeds brings its own, later schedule,
but one that rolls back restores this schedule, which has already fired. So the function leaves
a retry in place: a one-time schedule ``<stack>-expiry-retry`` (``lab_names``) that invokes it
again in ``RETRY_MINUTES`` and deletes itself once run. The same when DeleteStack is refused. On
every run the stack's own ``expires-at`` tag decides: a later time (a redeploy moved the expiry)
means there is nothing to do; otherwise the stack goes.

Idempotent: a stack already gone or being deleted is left alone.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.exceptions import ClientError

try:  # in the Lambda asset lab_names.py sits beside this file
    from lab_names import EXPIRES_TAG, expiry_retry_schedule
except ImportError:  # imported as a package (tests)
    from lambdas.shared.lab_names import EXPIRES_TAG, expiry_retry_schedule

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)
RETRY_MINUTES = 15
SCHEDULER_ROLE_ENV = "SCHEDULER_ROLE_ARN"
Retry = Callable[[str], str]  # (why) -> when the retry runs


def _expires_at(stack: dict) -> datetime | None:
    value = {t["Key"]: t["Value"] for t in stack.get("Tags", [])}.get(EXPIRES_TAG)
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


def expire(client: Any, stack_id: str, role_arn: str, *, retry: Retry, now: datetime) -> dict[str, str]:
    try:
        stacks = client.describe_stacks(StackName=stack_id)["Stacks"]
    except ClientError as error:
        if "does not exist" in error.response["Error"].get("Message", ""):
            return {"action": "none", "reason": "stack already deleted"}
        raise
    stack = stacks[0]
    status = stack["StackStatus"]
    if status in {"DELETE_IN_PROGRESS", "DELETE_COMPLETE"}:
        return {"action": "none", "reason": f"stack is {status}"}
    if status.endswith("_IN_PROGRESS"):  # its outcome, not its new tags, decides: ask again once it settles
        return {"action": "retry", "reason": f"stack is {status}; trying again at {retry(status)}"}
    expires = _expires_at(stack)
    if expires is not None and expires > now:
        return {"action": "none", "reason": f"a later deployment moved the expiry to {expires:%Y-%m-%dT%H:%M:%SZ}"}
    try:
        client.delete_stack(StackName=stack_id, RoleARN=role_arn)
    except ClientError as error:
        code = error.response["Error"].get("Code", "")
        return {"action": "retry", "reason": f"DeleteStack refused ({code}); trying again at {retry(code)}"}
    return {"action": "delete", "reason": f"expired; was {status}"}


def schedule_retry(scheduler: Any, stack_id: str, *, function_arn: str, role_arn: str, when: datetime,
                   why: str) -> str:
    """Creates (or moves) the one-time retry schedule of this stack's expiry; returns when it runs."""
    stack_name = stack_id.split(":stack/", 1)[-1].split("/", 1)[0]
    at = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    request = {
        "Name": expiry_retry_schedule(stack_name), "GroupName": "default",
        "Description": f"Retries the expiry of {stack_name} ({why})"[:512],
        "ScheduleExpression": f"at({at})", "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"}, "ActionAfterCompletion": "DELETE", "State": "ENABLED",
        "Target": {"Arn": function_arn, "RoleArn": role_arn, "Input": json.dumps({"reason": f"expiry retry: {why}"}),
                   "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600}},
    }
    try:
        scheduler.create_schedule(**request)
    except ClientError as error:
        if error.response["Error"].get("Code") != "ConflictException":
            raise
        scheduler.update_schedule(**request)  # a retry is already waiting: move it
    return f"{at}Z"


def handler(event: dict, context: Any, client: Any = None, scheduler: Any = None,
            now: datetime | None = None) -> dict[str, str]:
    stack_id, role_arn = os.environ["STACK_ID"], os.environ["CFN_ROLE_ARN"]
    now = now or datetime.now(UTC)

    def retry(why: str) -> str:
        return schedule_retry(scheduler or boto3.client("scheduler"), stack_id,
                              function_arn=context.invoked_function_arn, role_arn=os.environ[SCHEDULER_ROLE_ENV],
                              when=now + timedelta(minutes=RETRY_MINUTES), why=why)

    result = expire(client or boto3.client("cloudformation"), stack_id, role_arn, retry=retry, now=now)
    LOGGER.info(json.dumps({"stack": stack_id, **result}))
    return result
