"""The expiry handler: moto's CloudFormation for behaviour, Stubber for the exact request."""

from __future__ import annotations

import json
from datetime import datetime

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from lambdas.lab_expiry import index

ROLE = "arn:aws:iam::123456789012:role/cdk-hnb659fds-cfn-exec-role-123456789012-us-east-1"
TEMPLATE = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})


@pytest.fixture
def cloudformation(monkeypatch):
    with mock_aws():
        client = boto3.client("cloudformation", region_name="us-east-1")
        stack_id = client.create_stack(StackName="mlref-data-lake", TemplateBody=TEMPLATE)["StackId"]
        monkeypatch.setenv("STACK_ID", stack_id)
        monkeypatch.setenv("CFN_ROLE_ARN", ROLE)
        yield client, stack_id


def status(client, stack_id):
    return client.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]


def test_expiry_deletes_its_stack(cloudformation):
    client, stack_id = cloudformation
    assert index.handler({}, None, client=client) == {"action": "delete", "reason": "expired; was CREATE_COMPLETE"}
    assert status(client, stack_id) == "DELETE_COMPLETE"


def test_expiry_twice_is_harmless(cloudformation):
    client, stack_id = cloudformation
    index.handler({}, None, client=client)
    assert index.handler({}, None, client=client) == {"action": "none", "reason": "stack is DELETE_COMPLETE"}


def test_a_stack_that_no_longer_exists_is_fine(cloudformation, monkeypatch):
    client, _ = cloudformation
    monkeypatch.setenv("STACK_ID", "mlref-never-deployed")
    assert index.handler({}, None, client=client) == {"action": "none", "reason": "stack already deleted"}


def stubbed(status_value=None, error=None):
    client = boto3.client("cloudformation", region_name="us-east-1")
    stub = Stubber(client)
    if error:
        stub.add_client_error("describe_stacks", error, "User is not authorized to perform: DescribeStacks")
    else:
        stub.add_response("describe_stacks", {"Stacks": [{
            "StackName": "mlref-data-lake", "StackStatus": status_value, "CreationTime": datetime(2026, 1, 1)}]},
            {"StackName": "arn:stack"})
    stub.activate()
    return client, stub


def test_delete_passes_the_deploy_role_explicitly():
    client, stub = stubbed("UPDATE_COMPLETE")
    stub.add_response("delete_stack", {}, {"StackName": "arn:stack", "RoleARN": ROLE})
    assert index.expire(client, "arn:stack", ROLE)["action"] == "delete"
    stub.assert_no_pending_responses()


def test_a_stack_being_redeployed_is_left_to_its_new_expiry():
    client, stub = stubbed("UPDATE_IN_PROGRESS")
    assert index.expire(client, "arn:stack", ROLE)["action"] == "none"
    stub.assert_no_pending_responses()  # no DeleteStack was sent


def test_a_stack_whose_delete_failed_is_deleted_again():
    client, stub = stubbed("DELETE_FAILED")
    stub.add_response("delete_stack", {}, {"StackName": "arn:stack", "RoleARN": ROLE})
    assert index.expire(client, "arn:stack", ROLE)["action"] == "delete"


def test_a_denied_describe_is_raised_so_the_scheduler_retries():
    client, _ = stubbed(error="AccessDenied")
    with pytest.raises(ClientError):
        index.expire(client, "arn:stack", ROLE)
