"""The Redshift DDL custom resource, with requests checked against the Data API model (Stubber)."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from lambdas.clickstream_redshift_sql import index
from tests.lambdas.conftest import custom_resource_event

PROPS = {"ServiceToken": "arn:fn", "WorkgroupName": "mlref-clickstream", "Database": "clickstream",
         "SecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:admin-AbCdEf",
         "Statements": ["CREATE SCHEMA IF NOT EXISTS clickstream",
                        "CREATE TABLE IF NOT EXISTS clickstream.events (x INT)"]}


def event(request_type, **extra):
    return custom_resource_event(request_type, "mlref-clickstream", "SchemaResource", PROPS, **extra)


@pytest.fixture
def data_api():
    client = boto3.client("redshift-data", region_name="us-east-1")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def expect_statement(stub, sql, statement_id, statuses, error=None):
    stub.add_response("execute_statement", {"Id": statement_id}, {
        "WorkgroupName": PROPS["WorkgroupName"], "Database": PROPS["Database"], "SecretArn": PROPS["SecretArn"],
        "Sql": sql, "StatementName": "mlref-labs-ddl"})
    for status in statuses:
        response = {"Id": statement_id, "Status": status}
        if error and status == "FAILED":
            response["Error"] = error
        stub.add_response("describe_statement", response, {"Id": statement_id})


def test_create_runs_every_statement_in_order_and_waits_for_each(data_api, sent):
    client, stub = data_api
    expect_statement(stub, PROPS["Statements"][0], "11111111-1111-1111-1111-111111111111", ["SUBMITTED", "FINISHED"])
    expect_statement(stub, PROPS["Statements"][1], "22222222-2222-2222-2222-222222222222",
                     ["STARTED", "PICKED", "FINISHED"])
    index.handler(event("Create"), None, client=client, sleep=lambda _: None)
    assert sent[-1]["Status"] == "SUCCESS" and sent[-1]["Data"] == {"Statements": "2"}
    assert sent[-1]["PhysicalResourceId"] == "SchemaResource-guid"


def test_update_converges_when_an_object_already_exists(data_api, sent):
    client, stub = data_api
    expect_statement(stub, PROPS["Statements"][0], "33333333-3333-3333-3333-333333333333", ["FAILED"],
                     error='ERROR: schema "clickstream" already exists')
    expect_statement(stub, PROPS["Statements"][1], "44444444-4444-4444-4444-444444444444", ["FINISHED"])
    index.handler(event("Update", PhysicalResourceId="SchemaResource-guid"), None, client=client, sleep=lambda _: None)
    assert sent[-1]["Status"] == "SUCCESS" and sent[-1]["PhysicalResourceId"] == "SchemaResource-guid"


def test_a_failing_statement_fails_the_resource_with_the_error(data_api, sent):
    client, stub = data_api
    expect_statement(stub, PROPS["Statements"][0], "55555555-5555-5555-5555-555555555555", ["FAILED"],
                     error="ERROR: permission denied for database clickstream")
    index.handler(event("Create"), None, client=client, sleep=lambda _: None)
    assert sent[-1]["Status"] == "FAILED"
    assert "permission denied for database clickstream" in sent[-1]["Reason"]


def test_a_statement_that_never_finishes_is_cancelled_and_reported(data_api, sent):
    client, stub = data_api
    expect_statement(stub, PROPS["Statements"][0], "66666666-6666-6666-6666-666666666666", ["STARTED"] * 3)
    stub.add_response("cancel_statement", {"Status": True}, {"Id": "66666666-6666-6666-6666-666666666666"})
    index.handler(event("Create"), None, client=client, sleep=lambda _: None, timeout_s=4, poll_s=2)
    assert sent[-1]["Status"] == "FAILED" and "still STARTED after 4 s" in sent[-1]["Reason"]


def test_delete_touches_nothing_and_always_succeeds(data_api, sent):
    client, _ = data_api  # no stubbed responses: any call would fail the test
    index.handler(event("Delete", PhysicalResourceId="SchemaResource-guid"), None, client=client)
    assert sent[-1]["Status"] == "SUCCESS" and sent[-1]["PhysicalResourceId"] == "SchemaResource-guid"
