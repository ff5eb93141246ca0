"""The mlops retraining function (lambdas/mlops_retrain): a drift alarm going into ALARM, or the schedule,
starts the CodePipeline with RunReason saying why; anything else starts nothing. Stubber-checked."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from lambdas.mlops_retrain import index

ENV = {"CODE_PIPELINE": "mlref-mlops", "RUN_REASON_VARIABLE": "RunReason"}
ALARM = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:mlref-mlops-drift"


def alarm_event(state: str) -> dict:
    return {"id": "7b1c0f52-3c1e-4b4a-9f61-0a7e2c9d5e11", "detail-type": "CloudWatch Alarm State Change",
            "source": "aws.cloudwatch", "time": "2026-12-01T12:00:10Z", "resources": [ALARM],
            "detail": {"alarmName": "mlref-mlops-drift",
                       "state": {"value": state, "reason": "Threshold Crossed: 1 datapoint [0.42] > 0.3"}}}


@pytest.fixture
def codepipeline(monkeypatch):
    monkeypatch.setattr(index.os, "environ", ENV)
    client = boto3.Session(region_name="us-east-1").client("codepipeline")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def test_a_drift_alarm_starts_a_run_saying_why(codepipeline):
    client, stub = codepipeline
    reason = ("drift: mlref-mlops-drift in ALARM at 2026-12-01T12:00:10Z (Threshold Crossed: 1 datapoint [0.42] "
              "> 0.3)")
    stub.add_response("start_pipeline_execution", {"pipelineExecutionId": "5f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"}, {
        "name": "mlref-mlops", "clientRequestToken": "7b1c0f52-3c1e-4b4a-9f61-0a7e2c9d5e11",
        "variables": [{"name": "RunReason", "value": reason}]})
    assert index.handler(alarm_event("ALARM"), None, codepipeline=client)["reason"] == reason


def test_the_schedule_starts_a_run_naming_its_rule(codepipeline):
    client, stub = codepipeline
    event = {"id": "1d2e3f4a-5b6c-4d7e-8f90-a1b2c3d4e5f6", "detail-type": "Scheduled Event",
             "time": "2026-12-07T00:00:00Z",
             "resources": ["arn:aws:events:us-east-1:123456789012:rule/mlref-mlops-RetrainingOnSchedule"], "detail": {}}
    stub.add_response("start_pipeline_execution", {"pipelineExecutionId": "x"}, {
        "name": "mlref-mlops", "clientRequestToken": event["id"],
        "variables": [{"name": "RunReason",
                       "value": "schedule: mlref-mlops-RetrainingOnSchedule at 2026-12-07T00:00:00Z"}]})
    assert index.handler(event, None, codepipeline=client)["started"]


@pytest.mark.parametrize("event", [alarm_event("OK"), {"detail-type": "Object Created", "detail": {}}])
def test_anything_else_starts_nothing(codepipeline, event):
    client, _ = codepipeline
    assert index.handler(event, None, codepipeline=client)["started"] is False
