"""The custom resource that stops the EMR Serverless application before it is deleted."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from lambdas.batch_etl_emr_stopper import index
from tests.lambdas.conftest import custom_resource_event

ROLE = "arn:aws:iam::123456789012:role/etl-job"


def event(request_type, application_id):
    return custom_resource_event(request_type, "mlref-batch-etl", "SparkStopper", {"ApplicationId": application_id})


class Context:
    def __init__(self, millis=600_000):
        self.millis = millis

    def get_remaining_time_in_millis(self):
        self.millis -= 20_000
        return self.millis


@pytest.fixture
def emr():
    with mock_aws():
        yield boto3.client("emr-serverless", region_name="us-east-1")


def test_delete_stops_a_started_application(emr, sent):
    application = emr.create_application(name="etl", releaseLabel="emr-7.9.0", type="SPARK")["applicationId"]
    emr.start_application(applicationId=application)
    emr.start_job_run(applicationId=application, executionRoleArn=ROLE,  # finished: the application stays STARTED
                      jobDriver={"sparkSubmit": {"entryPoint": "s3://assets/spark_job.py"}})
    index.handler(event("Delete", application), Context(), client=emr, sleep=lambda _: None)
    assert emr.get_application(applicationId=application)["application"]["state"] == "STOPPED"
    assert sent[0]["Status"] == "SUCCESS" and "application STOPPED" in sent[0]["Reason"]


def test_create_and_update_do_nothing(emr, sent):
    application = emr.create_application(name="etl", releaseLabel="emr-7.9.0", type="SPARK")["applicationId"]
    index.handler(event("Create", application), Context(), client=emr)
    assert emr.get_application(applicationId=application)["application"]["state"] == "STARTED"
    assert sent[0]["Status"] == "SUCCESS"


def test_unfinished_runs_are_cancelled_first_and_a_slow_stop_fails_with_the_state(sent):
    client = boto3.client("emr-serverless", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_response("list_job_runs", {"jobRuns": [{
            "applicationId": "app1", "id": "run1",
            "arn": "arn:aws:emr-serverless:us-east-1:123456789012:/applications/app1/jobruns/run1",
            "createdBy": ROLE, "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z",
            "executionRole": ROLE, "state": "RUNNING", "stateDetails": "running", "releaseLabel": "emr-7.9.0"}]},
            {"applicationId": "app1", "states": index.UNFINISHED})
        stub.add_response("cancel_job_run", {"applicationId": "app1", "jobRunId": "run1"},
                          {"applicationId": "app1", "jobRunId": "run1"})
        for _ in range(3):  # STOPPING until the function's time is nearly up
            stub.add_response("get_application", {"application": {
                "applicationId": "app1", "arn": "arn:aws:emr-serverless:us-east-1:123456789012:/applications/app1",
                "releaseLabel": "emr-7.9.0", "type": "SPARK", "state": "STOPPING",
                "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z"}}, {"applicationId": "app1"})
        index.handler(event("Delete", "app1"), Context(millis=85_000), client=client, sleep=lambda _: None)
        stub.assert_no_pending_responses()
    assert sent[0]["Status"] == "FAILED" and "still STOPPING" in sent[0]["Reason"]


def test_a_deleted_application_is_success(emr, sent):
    index.handler(event("Delete", "00fabcdefghijk"), Context(), client=emr)
    assert sent[0]["Status"] == "SUCCESS"
