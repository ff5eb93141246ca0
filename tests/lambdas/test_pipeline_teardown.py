"""The ml-pipeline teardown custom resource, every request checked by botocore Stubber (moto has
no StopPipelineExecution or DeleteModelPackage)."""

from __future__ import annotations

import hashlib

import boto3
import pytest
from botocore.stub import Stubber

from lambdas.ml_pipeline_teardown import index
from tests.fakes import FakeClock
from tests.lambdas.conftest import custom_resource_event

PIPELINE, GROUP, ENDPOINT = "mlref-ml-pipeline", "mlref-ml-pipeline-models", "mlref-ml-pipeline"
EXECUTION = f"arn:aws:sagemaker:us-east-1:123456789012:pipeline/{PIPELINE}/execution/abc123"
PACKAGE = f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/"
WHEN = "2026-01-15T10:00:00Z"


def event(request_type: str) -> dict:
    return custom_resource_event(request_type, PIPELINE, "PipelineTeardown",
                                 {"PipelineName": PIPELINE, "ModelPackageGroupName": GROUP, "EndpointName": ENDPOINT})


@pytest.fixture
def clients():
    session = boto3.Session(region_name="us-east-1")
    sagemaker, logs = session.client("sagemaker"), session.client("logs")
    with Stubber(sagemaker) as sm, Stubber(logs) as lg:
        yield sagemaker, logs, sm, lg
        sm.assert_no_pending_responses()
        lg.assert_no_pending_responses()


def executions(stub: Stubber, *statuses: str) -> None:
    stub.add_response("list_pipeline_executions", {"PipelineExecutionSummaries": [
        {"PipelineExecutionArn": EXECUTION, "PipelineExecutionStatus": status, "StartTime": WHEN}
        for status in statuses]}, {"PipelineName": PIPELINE})


def endpoint(status: str) -> dict:
    return {"EndpointName": ENDPOINT, "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/x",
            "EndpointConfigName": f"{ENDPOINT}-v2", "EndpointStatus": status, "CreationTime": WHEN,
            "LastModifiedTime": WHEN}


def not_found(stub: Stubber, operation: str, params: dict, message: str = "Could not find endpoint") -> None:
    stub.add_client_error(operation, "ValidationException", message, http_status_code=400, expected_params=params)


def test_delete_stops_executions_deletes_packages_then_the_endpoint_and_what_it_served(clients, sent):
    sagemaker, logs, sm, lg = clients
    executions(sm, "Executing")
    sm.add_response("stop_pipeline_execution", {"PipelineExecutionArn": EXECUTION},
                    {"PipelineExecutionArn": EXECUTION,
                     "ClientRequestToken": hashlib.sha256(EXECUTION.encode()).hexdigest()})
    executions(sm, "Stopping")
    executions(sm, "Stopped")
    sm.add_response("list_model_packages", {"ModelPackageSummaryList": [
        {"ModelPackageArn": f"{PACKAGE}{v}", "ModelPackageGroupName": GROUP, "ModelPackageVersion": v,
         "CreationTime": WHEN, "ModelPackageStatus": "Completed"} for v in (1, 2)]}, {"ModelPackageGroupName": GROUP})
    for version in (1, 2):
        sm.add_response("delete_model_package", {}, {"ModelPackageName": f"{PACKAGE}{version}"})
    sm.add_response("describe_endpoint", endpoint("InService"), {"EndpointName": ENDPOINT})
    sm.add_response("delete_endpoint", {}, {"EndpointName": ENDPOINT})
    not_found(sm, "describe_endpoint", {"EndpointName": ENDPOINT})  # the waiter: gone
    names = [f"{ENDPOINT}-v1", f"{ENDPOINT}-v2", f"{ENDPOINT}-canary"]  # the last is not the function's
    sm.add_response("list_endpoint_configs", {"EndpointConfigs": [
        {"EndpointConfigName": n, "EndpointConfigArn": f"arn:aws:sagemaker:us-east-1:1:endpoint-config/{n}",
         "CreationTime": WHEN} for n in names]}, {"NameContains": ENDPOINT})
    sm.add_response("list_models", {"Models": [
        {"ModelName": n, "ModelArn": f"arn:aws:sagemaker:us-east-1:1:model/{n}", "CreationTime": WHEN}
        for n in names]}, {"NameContains": ENDPOINT})
    for name in names[:2]:
        sm.add_response("delete_endpoint_config", {}, {"EndpointConfigName": name})
    for name in names[:2]:
        sm.add_response("delete_model", {}, {"ModelName": name})
    lg.add_response("delete_log_group", {}, {"logGroupName": f"/aws/sagemaker/Endpoints/{ENDPOINT}"})
    clock = FakeClock()
    index.handler(event("Delete"), None, sagemaker=sagemaker, logs=logs, clock=clock, sleep=clock.sleep)
    assert sent[0]["Status"] == "SUCCESS"
    assert sent[0]["Reason"] == ("stopped 1 execution(s); deleted 2 model package(s); deleted endpoint, "
                                 "2 endpoint config(s), 2 model(s)")
    assert clock.now == index.POLL_SECONDS  # stopping at the first poll, stopped one interval later


def test_a_creating_endpoint_is_waited_for_before_it_is_deleted(clients, sent):
    sagemaker, logs, sm, lg = clients
    executions(sm)
    sm.add_response("list_model_packages", {"ModelPackageSummaryList": []}, {"ModelPackageGroupName": GROUP})
    sm.add_response("describe_endpoint", endpoint("Creating"), {"EndpointName": ENDPOINT})
    sm.add_response("describe_endpoint", endpoint("InService"), {"EndpointName": ENDPOINT})  # in-service waiter
    sm.add_response("delete_endpoint", {}, {"EndpointName": ENDPOINT})
    not_found(sm, "describe_endpoint", {"EndpointName": ENDPOINT})
    sm.add_response("list_endpoint_configs", {"EndpointConfigs": []}, {"NameContains": ENDPOINT})
    sm.add_response("list_models", {"Models": []}, {"NameContains": ENDPOINT})
    lg.add_client_error("delete_log_group", "ResourceNotFoundException", "no such group",
                        expected_params={"logGroupName": f"/aws/sagemaker/Endpoints/{ENDPOINT}"})
    index.handler(event("Delete"), None, sagemaker=sagemaker, logs=logs)
    assert sent[0]["Reason"].endswith("deleted endpoint, 0 endpoint config(s), 0 model(s)")


def test_nothing_left_to_clear_is_a_quiet_success(clients, sent):
    sagemaker, logs, sm, lg = clients
    sm.add_client_error("list_pipeline_executions", "ResourceNotFound", "Pipeline does not exist",
                        expected_params={"PipelineName": PIPELINE})
    sm.add_client_error("list_model_packages", "ResourceNotFound", "Model package group does not exist",
                        expected_params={"ModelPackageGroupName": GROUP})
    not_found(sm, "describe_endpoint", {"EndpointName": ENDPOINT})
    sm.add_response("list_endpoint_configs", {"EndpointConfigs": []}, {"NameContains": ENDPOINT})
    sm.add_response("list_models", {"Models": []}, {"NameContains": ENDPOINT})
    lg.add_client_error("delete_log_group", "ResourceNotFoundException", "no such group",
                        expected_params={"logGroupName": f"/aws/sagemaker/Endpoints/{ENDPOINT}"})
    index.handler(event("Delete"), None, sagemaker=sagemaker, logs=logs)
    assert sent[0]["Reason"] == ("stopped 0 execution(s); no model package group; no endpoint, "
                                 "0 endpoint config(s), 0 model(s)")


def test_an_execution_that_will_not_stop_is_reported_within_the_deadline(clients, sent):
    sagemaker, logs, sm, _lg = clients
    for _ in range(1 + 5):  # the first look, then polls at 0, 15, 30, 45 and 60 s
        executions(sm, "Stopping")
    sm.add_response("list_model_packages", {"ModelPackageSummaryList": []}, {"ModelPackageGroupName": GROUP})
    sm.add_client_error("describe_endpoint", "AccessDeniedException", "not allowed", http_status_code=400,
                        expected_params={"EndpointName": ENDPOINT})
    clock = FakeClock()
    teardown = index.Teardown(sagemaker, logs, event("Delete")["ResourceProperties"], deadline=60, clock=clock,
                              sleep=clock.sleep)
    results = teardown.run()
    assert results[0] == "1 execution(s) still stopping" and clock.now == 60
    assert results[2].startswith("delete_endpoint failed:") and "AccessDenied" in results[2]


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_create_and_update_touch_nothing(clients, sent, request_type):
    sagemaker, logs, _, _ = clients
    index.handler(event(request_type), None, sagemaker=sagemaker, logs=logs)
    assert sent[0]["Status"] == "SUCCESS" and sent[0]["PhysicalResourceId"] == "PipelineTeardown-guid"
