"""The expiry handler: moto's CloudFormation for behaviour, Stubber for the exact request."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from lambdas.lab_expiry import index

ROLE = "arn:aws:iam::123456789012:role/cdk-hnb659fds-cfn-exec-role-123456789012-us-east-1"
INVOKER = "arn:aws:iam::123456789012:role/mlref-data-lake-ExpiryInvokerRole"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:mlref-data-lake-ExpiryExpire"
TEMPLATE = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})
NOW = datetime(2026, 1, 15, 13, 30, tzinfo=UTC)
CONTEXT = SimpleNamespace(invoked_function_arn=FUNCTION)


def no_retry(why):
    raise AssertionError(f"no retry expected ({why})")


@pytest.fixture
def cloudformation(monkeypatch):
    with mock_aws():
        client = boto3.client("cloudformation", region_name="us-east-1")
        stack_id = client.create_stack(StackName="mlref-data-lake", TemplateBody=TEMPLATE)["StackId"]
        monkeypatch.setenv("STACK_ID", stack_id)
        monkeypatch.setenv("CFN_ROLE_ARN", ROLE)
        monkeypatch.setenv("SCHEDULER_ROLE_ARN", INVOKER)
        yield client, stack_id


def status(client, stack_id):
    return client.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]


def test_expiry_deletes_its_stack(cloudformation):
    client, stack_id = cloudformation
    assert index.handler({}, CONTEXT, client=client, now=NOW) == {"action": "delete",
                                                                  "reason": "expired; was CREATE_COMPLETE"}
    assert status(client, stack_id) == "DELETE_COMPLETE"


def test_expiry_twice_is_harmless(cloudformation):
    client, _stack_id = cloudformation
    index.handler({}, CONTEXT, client=client, now=NOW)
    again = index.handler({}, CONTEXT, client=client, now=NOW)
    assert again == {"action": "none", "reason": "stack is DELETE_COMPLETE"}


def test_a_stack_that_no_longer_exists_is_fine(cloudformation, monkeypatch):
    client, _ = cloudformation
    monkeypatch.setenv("STACK_ID", "mlref-never-deployed")
    assert index.handler({}, CONTEXT, client=client, now=NOW) == {"action": "none", "reason": "stack already deleted"}


def stubbed(status_value=None, error=None, expires_at="2026-01-15T13:30:00Z", stack="arn:stack"):
    client = boto3.client("cloudformation", region_name="us-east-1")
    stub = Stubber(client)
    if error:
        stub.add_client_error("describe_stacks", error, "User is not authorized to perform: DescribeStacks")
    else:
        stub.add_response("describe_stacks", {"Stacks": [{
            "StackName": "mlref-data-lake", "StackStatus": status_value, "CreationTime": datetime(2026, 1, 1),
            "Tags": [{"Key": "expires-at", "Value": expires_at}]}]}, {"StackName": stack})
    stub.activate()
    return client, stub


def test_delete_passes_the_deploy_role_explicitly():
    client, stub = stubbed("UPDATE_COMPLETE")
    stub.add_response("delete_stack", {}, {"StackName": "arn:stack", "RoleARN": ROLE})
    assert index.expire(client, "arn:stack", ROLE, retry=no_retry, now=NOW)["action"] == "delete"
    stub.assert_no_pending_responses()


def test_a_stack_whose_delete_failed_is_deleted_again():
    client, stub = stubbed("DELETE_FAILED")
    stub.add_response("delete_stack", {}, {"StackName": "arn:stack", "RoleARN": ROLE})
    assert index.expire(client, "arn:stack", ROLE, retry=no_retry, now=NOW)["action"] == "delete"


def test_a_denied_describe_is_raised_so_the_scheduler_retries():
    client, _ = stubbed(error="AccessDenied")
    with pytest.raises(ClientError):
        index.expire(client, "arn:stack", ROLE, retry=no_retry, now=NOW)


# -- an expiry that cannot delete now leaves a retry (issue 24) -------------------------------------

STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/mlref-data-lake/guid"


def scheduler_stub(*, conflict=False):
    scheduler = boto3.client("scheduler", region_name="us-east-1")
    stub = Stubber(scheduler)
    request = {
        "Name": "mlref-data-lake-expiry-retry", "GroupName": "default", "ScheduleExpression": "at(2026-01-15T13:45:00)",
        "ScheduleExpressionTimezone": "UTC", "FlexibleTimeWindow": {"Mode": "OFF"}, "ActionAfterCompletion": "DELETE",
        "State": "ENABLED", "Description": "Retries the expiry of mlref-data-lake (UPDATE_ROLLBACK_IN_PROGRESS)",
        "Target": {"Arn": FUNCTION, "RoleArn": INVOKER,
                   "Input": json.dumps({"reason": "expiry retry: UPDATE_ROLLBACK_IN_PROGRESS"}),
                   "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600}}}
    arn = {"ScheduleArn": "arn:aws:scheduler:us-east-1:123456789012:schedule/default/mlref-data-lake-expiry-retry"}
    if conflict:
        stub.add_client_error("create_schedule", "ConflictException", "exists", expected_params=request)
        stub.add_response("update_schedule", arn, request)
    else:
        stub.add_response("create_schedule", arn, request)
    stub.activate()
    return scheduler, stub


@pytest.mark.parametrize("conflict", [False, True], ids=["a new retry", "a waiting retry moved"])
def test_an_expiry_during_a_rollback_leaves_a_retry(monkeypatch, conflict):
    """A rolled-back update restores the schedule that has already fired: without a retry, never deleted."""
    monkeypatch.setenv("STACK_ID", STACK_ID)
    monkeypatch.setenv("CFN_ROLE_ARN", ROLE)
    monkeypatch.setenv("SCHEDULER_ROLE_ARN", INVOKER)
    client, stub = stubbed("UPDATE_ROLLBACK_IN_PROGRESS", stack=STACK_ID)
    scheduler, scheduled = scheduler_stub(conflict=conflict)
    result = index.handler({}, CONTEXT, client=client, scheduler=scheduler, now=NOW)
    assert result == {"action": "retry",
                      "reason": "stack is UPDATE_ROLLBACK_IN_PROGRESS; trying again at 2026-01-15T13:45:00Z"}
    scheduled.assert_no_pending_responses()
    stub.assert_no_pending_responses()  # no DeleteStack was sent


@pytest.mark.parametrize("expires_at,action", [("2026-01-15T13:30:00Z", "delete"), ("2026-01-15T21:30:00Z", "none")],
                         ids=["rolled back to the fired expiry", "updated to a later expiry"])
def test_the_retry_reads_the_stacks_own_expiry(expires_at, action):
    client, stub = stubbed("UPDATE_ROLLBACK_COMPLETE" if action == "delete" else "UPDATE_COMPLETE",
                           expires_at=expires_at)
    if action == "delete":
        stub.add_response("delete_stack", {}, {"StackName": "arn:stack", "RoleARN": ROLE})
    later = datetime(2026, 1, 15, 13, 45, tzinfo=UTC)
    assert index.expire(client, "arn:stack", ROLE, retry=no_retry, now=later)["action"] == action
    stub.assert_no_pending_responses()


def test_a_refused_delete_leaves_a_retry_too():
    client, stub = stubbed("CREATE_COMPLETE")
    stub.add_client_error("delete_stack", "Throttling", "Rate exceeded",
                          expected_params={"StackName": "arn:stack", "RoleARN": ROLE})
    asked = []
    result = index.expire(client, "arn:stack", ROLE, retry=lambda why: asked.append(why) or "later", now=NOW)
    assert result == {"action": "retry", "reason": "DeleteStack refused (Throttling); trying again at later"}
    assert asked == ["Throttling"]
