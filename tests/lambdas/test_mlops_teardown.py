"""The mlops teardown (lambdas/mlops_teardown): on stack deletion the CodePipeline runs and the builds are
stopped before the shared SageMaker clean-up, and the stack deletion never fails. Stubber-checked."""

from __future__ import annotations

import pytest

from lambdas.mlops_teardown import index
from tests.fakes import FakeClock, stubbed_clients
from tests.lambdas.conftest import custom_resource_event

PROPERTIES = {"PipelineName": "mlref-mlops-build", "ModelPackageGroupName": "mlref-mlops-models",
              "EndpointNames": ["mlref-mlops-staging", "mlref-mlops-prod"], "CodePipelineName": "mlref-mlops",
              "BuildProjects": ["mlref-mlops-build-test", "mlref-mlops-integration"]}
WHEN = "2026-12-01T12:00:00Z"
BUILD = "mlref-mlops-build-test:4c7b1f0e-1111-4a2b-8c3d-4e5f6a7b8c9d"


@pytest.fixture
def clients():
    with stubbed_clients(("sagemaker", "logs", "codepipeline", "codebuild")) as pair:
        yield pair


def delivery_stopped(stubs) -> None:
    stubs["codepipeline"].add_response("list_pipeline_executions", {"pipelineExecutionSummaries": [
        {"pipelineExecutionId": "5f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f", "status": "InProgress"},
        {"pipelineExecutionId": "6a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d", "status": "Succeeded"}]},
        {"pipelineName": "mlref-mlops"})
    stubs["codepipeline"].add_response("stop_pipeline_execution", {"pipelineExecutionId": "x"}, {
        "pipelineName": "mlref-mlops", "pipelineExecutionId": "5f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
        "abandon": True, "reason": "the mlops stack is being deleted"})
    stubs["codebuild"].add_response("list_builds_for_project", {"ids": [BUILD]},
                                    {"projectName": "mlref-mlops-build-test"})
    stubs["codebuild"].add_response("list_builds_for_project", {}, {"projectName": "mlref-mlops-integration"})
    stubs["codebuild"].add_response("batch_get_builds", {"builds": [{"id": BUILD, "buildStatus": "IN_PROGRESS"}]},
                                    {"ids": [BUILD]})
    stubs["codebuild"].add_response("stop_build", {"build": {"id": BUILD}}, {"id": BUILD})


def sagemaker_clear(stubs) -> None:
    stubs["sagemaker"].add_response("list_pipeline_executions", {"PipelineExecutionSummaries": []},
                                    {"PipelineName": "mlref-mlops-build"})
    stubs["sagemaker"].add_response("list_model_packages", {"ModelPackageSummaryList": []},
                                    {"ModelPackageGroupName": "mlref-mlops-models"})
    for endpoint in PROPERTIES["EndpointNames"]:
        stubs["sagemaker"].add_client_error("describe_endpoint", "ValidationException", f"Could not find {endpoint}",
                                            expected_params={"EndpointName": endpoint})
        stubs["sagemaker"].add_response("list_endpoint_configs", {"EndpointConfigs": [{
            "EndpointConfigName": f"{endpoint}-v3",
            "EndpointConfigArn": f"arn:aws:sagemaker:us-east-1:1:endpoint-config/{endpoint}-v3",
            "CreationTime": WHEN}]}, {"NameContains": endpoint})
        stubs["sagemaker"].add_response("list_models", {"Models": []}, {"NameContains": endpoint})
        stubs["sagemaker"].add_response("delete_endpoint_config", {}, {"EndpointConfigName": f"{endpoint}-v3"})
        stubs["logs"].add_client_error("delete_log_group", "ResourceNotFoundException", "gone",
                                       expected_params={"logGroupName": f"/aws/sagemaker/Endpoints/{endpoint}"})


def test_delete_stops_runs_and_builds_first_then_clears_both_endpoints(clients, sent):
    made, stubs = clients
    delivery_stopped(stubs)
    sagemaker_clear(stubs)
    clock = FakeClock()
    index.handler(custom_resource_event("Delete", "mlref-mlops", "TeardownClear", PROPERTIES), None, clients=made,
                  clock=clock, sleep=clock.sleep)
    reason = sent[0]["Reason"]
    assert sent[0]["Status"] == "SUCCESS"
    assert reason.startswith("stopped 1 CodePipeline execution(s); stopped 1 build(s); stopped 0 execution(s)")
    assert "no endpoint mlref-mlops-staging, 1 endpoint config(s), 0 model(s); no endpoint mlref-mlops-prod" in reason


def test_a_failing_step_is_reported_and_the_rest_still_runs(clients, sent):
    made, stubs = clients
    stubs["codepipeline"].add_client_error("list_pipeline_executions", "AccessDeniedException", "not allowed")
    stubs["codebuild"].add_response("list_builds_for_project", {}, {"projectName": "mlref-mlops-build-test"})
    stubs["codebuild"].add_response("list_builds_for_project", {}, {"projectName": "mlref-mlops-integration"})
    sagemaker_clear(stubs)
    index.handler(custom_resource_event("Delete", "mlref-mlops", "TeardownClear", PROPERTIES), None, clients=made)
    assert sent[0]["Status"] == "SUCCESS" and sent[0]["Reason"].startswith("stop_code_pipeline failed:")
    assert "stopped 0 build(s)" in sent[0]["Reason"]
