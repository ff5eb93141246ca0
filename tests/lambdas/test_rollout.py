"""The shared rollout pieces: every DeploymentConfig they build is a valid UpdateEndpoint request (botocore's
model checks it), values out of the API's ranges are refused, and DescribeEndpoint answers are classified by
the config the endpoint ends on."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from lambdas.shared.rollout import (
    FAILED,
    ROLLED_BACK,
    SUCCEEDED,
    UPDATING,
    deployment_config,
    rollout_of,
    traffic_steps,
)


def sent(config: dict) -> None:
    """Sends UpdateEndpoint through a Stubber: botocore validates the request against the API model."""
    client = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    request = {"EndpointName": "e", "EndpointConfigName": "c2", "DeploymentConfig": config}
    with Stubber(client) as stub:
        stub.add_response("update_endpoint", {"EndpointArn": "arn:aws:sagemaker:us-east-1:111122223333:endpoint/e"},
                          request)
        client.update_endpoint(**request)


@pytest.mark.parametrize("strategy", ["all-at-once", "canary", "linear"])
def test_each_strategy_is_a_valid_request_with_its_alarm(strategy):
    config = deployment_config(strategy, alarms=["errors"], bake_seconds=120, step_percent=20 if strategy == "linear"
                               else 50)
    sent(config)
    routing = config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["Type"] == strategy.upper().replace("-", "_") and routing["WaitIntervalInSeconds"] == 120
    assert config["AutoRollbackConfiguration"] == {"Alarms": [{"AlarmName": "errors"}]}
    timeout = config["BlueGreenUpdatePolicy"]["MaximumExecutionTimeoutInSeconds"]
    assert 600 <= timeout <= 28800 and timeout > 120 * traffic_steps(strategy, 20) + 60


def test_the_execution_timeout_stays_within_the_apis_range():
    assert deployment_config("linear", alarms=[], bake_seconds=3600, step_percent=10)[
        "BlueGreenUpdatePolicy"]["MaximumExecutionTimeoutInSeconds"] == 28800
    quick = deployment_config("all-at-once", alarms=[], bake_seconds=0, termination_wait_seconds=0)
    assert quick["BlueGreenUpdatePolicy"]["MaximumExecutionTimeoutInSeconds"] >= 600
    assert "AutoRollbackConfiguration" not in quick
    sent(quick)


@pytest.mark.parametrize(("strategy", "kwargs", "message"), [
    ("blue-green", {}, "not one of"),
    ("canary", {"step_percent": 60}, "canary is 1 to 50%"),
    ("linear", {"step_percent": 5}, "linear step is 10 to 50%"),
    ("canary", {"bake_seconds": 4000}, "0 to 3600"),
])
def test_values_out_of_range_are_refused_with_the_range(strategy, kwargs, message):
    with pytest.raises(ValueError, match=message):
        deployment_config(strategy, alarms=["a"], **kwargs)


def pending(*statuses: str, weight: float = 0.5) -> dict:
    return {"EndpointConfigName": "v2", "ProductionVariants": [
        {"VariantName": "AllTraffic", "CurrentWeight": weight, "VariantStatus": [{"Status": s} for s in statuses]}]}


def test_a_clean_canary_ends_succeeded_on_the_new_config():
    answers = [
        {"EndpointStatus": "Updating", "EndpointConfigName": "v1", "PendingDeploymentSummary": pending("Creating")},
        {"EndpointStatus": "Updating", "EndpointConfigName": "v1",
         "PendingDeploymentSummary": pending("ActivatingTraffic", weight=0.5)},
        {"EndpointStatus": "Updating", "EndpointConfigName": "v1", "PendingDeploymentSummary": pending("Baking")},
        {"EndpointStatus": "InService", "EndpointConfigName": "v2"},
    ]
    seen = [rollout_of(answer, original="v1", target="v2") for answer in answers]
    assert [r.state for r in seen] == [UPDATING, UPDATING, UPDATING, SUCCEEDED]
    assert "AllTraffic ActivatingTraffic (weight 0.5)" in seen[1].phase and seen[-1].done


def test_an_alarm_rollback_is_rolled_back_with_or_without_a_reason():
    back = {"EndpointStatus": "InService", "EndpointConfigName": "v1"}
    assert rollout_of(back, original="v1", target="v2").state == ROLLED_BACK
    reasoned = {**back, "FailureReason": "alarm errors fired"}
    assert rollout_of(reasoned, original="v1", target="v2").reason == "alarm errors fired"
    rolling = {"EndpointStatus": "RollingBack", "EndpointConfigName": "v1",
               "PendingDeploymentSummary": pending("Deleting")}
    assert rollout_of(rolling, original="v1", target="v2").state == UPDATING


def test_a_broken_endpoint_or_a_stranger_config_is_a_failure():
    assert rollout_of({"EndpointStatus": "UpdateRollbackFailed", "EndpointConfigName": "v2", "FailureReason": "x"},
                      original="v1", target="v2").state == FAILED
    assert rollout_of({"EndpointStatus": "InService", "EndpointConfigName": "v9"}, original="v1",
                      target="v2").state == FAILED
