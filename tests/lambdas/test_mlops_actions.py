"""The mlops CodePipeline actions (lambdas/mlops_train, lambdas/mlops_deploy): each invocation answers its
job, with a continuation token while the SageMaker execution or the endpoint is busy, output variables when
done and a one-line failure otherwise; every request checked by botocore Stubber."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from botocore.response import StreamingBody

from lambdas.mlops_deploy import index as deploy
from lambdas.mlops_train import index as train
from lambdas.shared.rollout import deployment_config
from tests.fakes import stubbed_clients

SM_PIPELINE, GROUP = "mlref-mlops-build", "mlref-mlops-models"
EXECUTION = f"arn:aws:sagemaker:us-east-1:123456789012:pipeline/{SM_PIPELINE}/execution/q1w2e3r4t5y6"
PACKAGE = f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/3"
CP_EXECUTION = "5f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
WHEN = datetime(2026, 12, 1, 12, tzinfo=UTC)
TRAIN_ENV = {"SAGEMAKER_PIPELINE": SM_PIPELINE, "ARTIFACTS_BUCKET": "art",
             "HOLDOUT_KEY": "runs/{execution}/preprocess/test/test.csv",
             "EVALUATION_KEY": "runs/{execution}/evaluation/evaluation.json"}
DEPLOY_ENV = {"STAGING_ENDPOINT": "mlref-mlops-staging", "PRODUCTION_ENDPOINT": "mlref-mlops-prod",
              "MODEL_ROLE_ARN": "arn:aws:iam::123456789012:role/model", "SERVERLESS_MEMORY_MB": "2048",
              "SERVERLESS_MAX_CONCURRENCY": "2", "PRODUCTION_KIND": "instances", "INSTANCE_TYPE": "ml.t2.medium",
              "INSTANCE_COUNT": "2", "STRATEGY": "canary", "BAKE_SECONDS": "300",
              "ROLLBACK_ALARM": "mlref-mlops-prod-errors",
              "KEY_ARN": "arn:aws:kms:us-east-1:123456789012:key/k", "CODE_PIPELINE": "mlref-mlops",
              "APPROVE_ACTION": "Approve/ApproveModel", "VARIANT": "AllTraffic", "LAB_TAGS": '{"lab": "mlops"}'}
TAGS = [{"Key": "lab", "Value": "mlops"}]
STATUS_DETAILS = {"ValidationStatuses": [], "ImageScanStatuses": []}
MODEL_ARN, CONFIG_ARN = "arn:aws:sagemaker:us-east-1:1:model/m", "arn:aws:sagemaker:us-east-1:1:endpoint-config/c"


def job(parameters: dict, token: dict | None = None) -> dict:
    data = {"actionConfiguration": {"configuration": {"UserParameters": json.dumps(parameters)}},
            "artifactCredentials": {"secretAccessKey": "never logged"}}
    if token is not None:
        data["continuationToken"] = json.dumps(token, sort_keys=True)
    return {"CodePipeline.job": {"id": "job-1", "data": data}}


TRAIN_PARAMETERS = {"parameters": {"CodeUri": f"s3://art/code/{CP_EXECUTION}/", "RunReason": "drift: alarm (x)",
                                   "CodePipelineExecutionId": CP_EXECUTION},
                    "runReason": "drift: alarm (x)", "executionId": CP_EXECUTION, "sourceRevision": "v3sIoN2"}


@pytest.fixture
def clients():
    with stubbed_clients(("sagemaker", "s3", "codepipeline")) as pair:
        yield pair


def succeeded(stubs, *, token: dict | None = None, variables: dict | None = None, summary: str, external: str) -> None:
    request = {"jobId": "job-1", "executionDetails": {"summary": summary, "externalExecutionId": external}}
    if token is not None:
        request["continuationToken"] = json.dumps(token, sort_keys=True)
    if variables:
        request["outputVariables"] = variables
    stubs["codepipeline"].add_response("put_job_success_result", {}, request)


def failed(stubs, message: str, external: str | None = None) -> None:
    details = {"type": "JobFailed", "message": message}
    if external:
        details["externalExecutionId"] = external
    stubs["codepipeline"].add_response("put_job_failure_result", {}, {"jobId": "job-1", "failureDetails": details})


def steps(stubs, listed: list[dict]) -> None:
    stubs["sagemaker"].add_response("list_pipeline_execution_steps", {"PipelineExecutionSteps": listed},
                                    {"PipelineExecutionArn": EXECUTION, "SortOrder": "Ascending"})


def described(stubs, status: str, reason: str = "") -> None:
    answer = {"PipelineExecutionArn": EXECUTION, "PipelineExecutionStatus": status}
    if reason:
        answer["FailureReason"] = reason
    stubs["sagemaker"].add_response("describe_pipeline_execution", answer, {"PipelineExecutionArn": EXECUTION})


# -- Train -------------------------------------------------------------------------------------------

def test_the_first_invocation_starts_the_sagemaker_pipeline_and_answers_in_progress(clients, monkeypatch):
    monkeypatch.setattr(train.os, "environ", TRAIN_ENV)
    made, stubs = clients
    stubs["sagemaker"].add_response("start_pipeline_execution", {"PipelineExecutionArn": EXECUTION}, {
        "PipelineName": SM_PIPELINE, "PipelineExecutionDisplayName": f"cp-{CP_EXECUTION}",
        "PipelineExecutionDescription": f"drift: alarm (x); CodePipeline execution {CP_EXECUTION}; source v3sIoN2",
        "PipelineParameters": [{"Name": "CodeUri", "Value": f"s3://art/code/{CP_EXECUTION}/"},
                               {"Name": "RunReason", "Value": "drift: alarm (x)"},
                               {"Name": "CodePipelineExecutionId", "Value": CP_EXECUTION}],
        "ClientRequestToken": train.hashlib.sha256(b"job-1").hexdigest()})
    succeeded(stubs, token={"arn": EXECUTION}, summary="started SageMaker execution q1w2e3r4t5y6 (drift: alarm (x))",
              external=EXECUTION)
    sent = train.handler(job(TRAIN_PARAMETERS), None, clients=made)
    assert sent["result"] == "in progress" and "never logged" not in json.dumps(sent)


def test_a_running_execution_keeps_the_token_and_shows_its_steps(clients, monkeypatch):
    monkeypatch.setattr(train.os, "environ", TRAIN_ENV)
    made, stubs = clients
    described(stubs, "Executing")
    steps(stubs, [{"StepName": "PreprocessData", "StepStatus": "Succeeded"},
                  {"StepName": "TrainModel", "StepStatus": "Executing"}])
    succeeded(stubs, token={"arn": EXECUTION}, summary="PreprocessData Succeeded, TrainModel Executing",
              external=EXECUTION)
    train.handler(job(TRAIN_PARAMETERS, {"arn": EXECUTION}), None, clients=made)


def test_a_registered_version_gets_its_reason_and_the_action_emits_it(clients, monkeypatch):
    monkeypatch.setattr(train.os, "environ", TRAIN_ENV)
    made, stubs = clients
    described(stubs, "Succeeded")
    steps(stubs, [{"StepName": "RegisterModel", "StepStatus": "Succeeded", "Metadata": {"RegisterModel": {
        "Arn": PACKAGE}}}])
    stubs["sagemaker"].add_response("describe_model_package", {
        "ModelPackageName": GROUP, "ModelPackageArn": PACKAGE, "ModelPackageVersion": 3, "CreationTime": WHEN,
        "ModelPackageStatus": "Completed",
        "ModelPackageStatusDetails": STATUS_DETAILS}, {"ModelPackageName": PACKAGE})
    report = json.dumps({"binary_classification_metrics": {"auc": {"value": 0.87123}}}).encode()
    stubs["s3"].add_response("get_object", {"Body": StreamingBody(io.BytesIO(report), len(report))},
                             {"Bucket": "art", "Key": "runs/q1w2e3r4t5y6/evaluation/evaluation.json"})
    stubs["sagemaker"].add_response("update_model_package", {"ModelPackageArn": PACKAGE}, {
        "ModelPackageArn": PACKAGE, "CustomerMetadataProperties": {
            "RunReason": "drift: alarm  x", "CodePipelineExecutionId": CP_EXECUTION, "SourceRevision": "v3sIoN2"}})
    succeeded(stubs, summary="registered version 3 (AUC 0.8712), pending approval", external=EXECUTION, variables={
        "ModelPackageArn": PACKAGE, "ModelPackageVersion": "3", "Auc": "0.8712",
        "HoldoutUri": "s3://art/runs/q1w2e3r4t5y6/preprocess/test/test.csv", "SageMakerExecutionArn": EXECUTION})
    assert train.handler(job(TRAIN_PARAMETERS, {"arn": EXECUTION}), None, clients=made)["result"] == "succeeded"


def test_the_fail_step_fails_the_action_with_its_message(clients, monkeypatch):
    monkeypatch.setattr(train.os, "environ", TRAIN_ENV)
    made, stubs = clients
    message = "AUC 0.61 is below the threshold 0.75: no model was registered"
    described(stubs, "Failed", "Step failure: One or multiple steps failed.")
    steps(stubs, [{"StepName": "AucBelowThreshold", "StepStatus": "Failed", "Metadata": {"Fail": {
        "ErrorMessage": message}}}])
    failed(stubs, f"SageMaker pipeline Failed: step AucBelowThreshold: {message}", EXECUTION)
    train.handler(job(TRAIN_PARAMETERS, {"arn": EXECUTION}), None, clients=made)


def test_an_error_fails_the_job_at_once_instead_of_letting_it_time_out(clients, monkeypatch):
    monkeypatch.setattr(train.os, "environ", TRAIN_ENV)
    made, stubs = clients
    stubs["sagemaker"].add_client_error("start_pipeline_execution", "AccessDeniedException", "not allowed")
    failed(stubs, "ClientError: An error occurred (AccessDeniedException) when calling the StartPipelineExecution "
                  "operation: not allowed")
    assert train.handler(job(TRAIN_PARAMETERS), None, clients=made)["result"] == "failed"


def test_a_run_reason_that_breaks_the_parameters_json_fails_the_job_at_once(clients, monkeypatch):
    """CodePipeline pastes #{variables.RunReason} into UserParameters as it is: a reason typed by hand with a
    quote in it must fail the action now, not leave it waiting 20 minutes for an answer."""
    monkeypatch.setattr(train.os, "environ", TRAIN_ENV)
    made, stubs = clients
    event = job(TRAIN_PARAMETERS)
    event["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]["UserParameters"] = (
        '{"runReason": "manual: "quoted" retrain"}')
    stubs["codepipeline"].add_response("put_job_failure_result", {}, {"jobId": "job-1", "failureDetails": {
        "type": "JobFailed", "message": "the action's UserParameters or continuation token is not JSON: "
                                        "Expecting ',' delimiter: line 1 column 25 (char 24)"}})
    assert train.handler(event, None, clients=made)["result"] == "failed"


# -- Deploy ------------------------------------------------------------------------------------------

def deploy_job(target: str, token: dict | None = None) -> dict:
    return job({"target": target, "packageArn": PACKAGE, "version": "3", "executionId": CP_EXECUTION}, token)


def missing(stubs, operation: str, params: dict) -> None:
    stubs["sagemaker"].add_client_error(operation, "ValidationException", "Could not find it", expected_params=params)


def endpoint(name: str, status: str, config: str, pending: bool = False) -> dict:
    answer = {"EndpointName": name, "EndpointArn": f"arn:aws:sagemaker:us-east-1:1:endpoint/{name}",
              "EndpointConfigName": config, "EndpointStatus": status, "CreationTime": WHEN, "LastModifiedTime": WHEN}
    if pending:
        answer["PendingDeploymentSummary"] = {"EndpointConfigName": "mlref-mlops-prod-v3"}
    return answer


def run_deploy(made, event: dict, now: float = 100) -> dict:
    """What the handler does, with a fixed clock for the rollout's start time."""
    action = deploy.Deploy(made["sagemaker"], made["codepipeline"], deploy.Settings.from_environment(DEPLOY_ENV),
                           clock=lambda: now)
    return deploy.answer(made["codepipeline"], event, action.handle)


def test_staging_records_the_approval_then_creates_model_config_and_endpoint(clients):
    made, stubs = clients
    name = "mlref-mlops-staging-v3"
    stubs["sagemaker"].add_response("describe_model_package", {
        "ModelPackageName": GROUP, "ModelPackageArn": PACKAGE, "ModelApprovalStatus": "PendingManualApproval",
        "CreationTime": WHEN, "ModelPackageStatus": "Completed",
        "ModelPackageStatusDetails": STATUS_DETAILS}, {"ModelPackageName": PACKAGE})
    stubs["codepipeline"].add_response("list_action_executions", {"actionExecutionDetails": [{
        "pipelineExecutionId": CP_EXECUTION, "stageName": "Approve", "actionName": "ApproveModel",
        "status": "Succeeded", "updatedBy": "arn:aws:sts::1:assumed-role/Admin/alice",
        "output": {"executionResult": {"externalExecutionSummary": "looks good"}}}]},
        {"pipelineName": "mlref-mlops", "filter": {"pipelineExecutionId": CP_EXECUTION}})
    stubs["sagemaker"].add_response("update_model_package", {"ModelPackageArn": PACKAGE}, {
        "ModelPackageArn": PACKAGE, "ModelApprovalStatus": "Approved",
        "ApprovalDescription": f"approved in CodePipeline execution {CP_EXECUTION} by "
                               "arn:aws:sts::1:assumed-role/Admin/alice (looks good)"})
    missing(stubs, "describe_model", {"ModelName": name})
    stubs["sagemaker"].add_response("create_model", {"ModelArn": MODEL_ARN}, {
        "ModelName": name, "ExecutionRoleArn": DEPLOY_ENV["MODEL_ROLE_ARN"],
        "PrimaryContainer": {"ModelPackageName": PACKAGE}, "Tags": TAGS})
    missing(stubs, "describe_endpoint_config", {"EndpointConfigName": name})
    stubs["sagemaker"].add_response("create_endpoint_config", {"EndpointConfigArn": CONFIG_ARN}, {
        "EndpointConfigName": name, "Tags": TAGS, "ProductionVariants": [{
            "VariantName": "AllTraffic", "ModelName": name,
            "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 2}}]})
    missing(stubs, "describe_endpoint", {"EndpointName": "mlref-mlops-staging"})
    stubs["sagemaker"].add_response("create_endpoint", {"EndpointArn": "arn:aws:sagemaker:us-east-1:1:endpoint/e"}, {
        "EndpointName": "mlref-mlops-staging", "EndpointConfigName": name, "Tags": TAGS})
    succeeded(stubs, token={"original": "", "target": name, "started": 100},
              summary=f"creating mlref-mlops-staging with {name}", external="mlref-mlops-staging")
    assert run_deploy(made, deploy_job("staging"))["result"] == "in progress"


def existing(stubs, name: str) -> None:
    stubs["sagemaker"].add_response("describe_model", {"ModelName": name, "ModelArn": MODEL_ARN, "CreationTime": WHEN,
                                                       "ExecutionRoleArn": "arn:aws:iam::123456789012:role/r"},
                                    {"ModelName": name})
    stubs["sagemaker"].add_response("describe_endpoint_config", {
        "EndpointConfigName": name, "EndpointConfigArn": CONFIG_ARN, "CreationTime": WHEN,
        "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": name}]}, {"EndpointConfigName": name})


def test_production_rolls_out_blue_green_with_the_rollback_alarm(clients):
    made, stubs = clients
    name = "mlref-mlops-prod-v3"
    existing(stubs, name)
    stubs["sagemaker"].add_response("describe_endpoint", endpoint("mlref-mlops-prod", "InService",
                                                                  "mlref-mlops-prod-v2"),
                                    {"EndpointName": "mlref-mlops-prod"})
    stubs["sagemaker"].add_response("update_endpoint", {"EndpointArn": "arn:aws:sagemaker:us-east-1:1:endpoint/e"}, {
        "EndpointName": "mlref-mlops-prod", "EndpointConfigName": name,
        "DeploymentConfig": deployment_config("canary", alarms=["mlref-mlops-prod-errors"], bake_seconds=300)})
    succeeded(stubs, token={"original": "mlref-mlops-prod-v2", "target": name, "started": 100},
              summary=f"blue/green canary: mlref-mlops-prod-v2 -> {name}", external="mlref-mlops-prod")
    run_deploy(made, deploy_job("production"))


def test_an_endpoint_busy_with_an_earlier_rollout_is_waited_for(clients):
    made, stubs = clients
    existing(stubs, "mlref-mlops-prod-v3")
    stubs["sagemaker"].add_response("describe_endpoint", endpoint("mlref-mlops-prod", "RollingBack",
                                                                  "mlref-mlops-prod-v2"),
                                    {"EndpointName": "mlref-mlops-prod"})
    stubs["codepipeline"].add_response("put_job_success_result", {}, {
        "jobId": "job-1", "continuationToken": json.dumps({"waiting": True}),
        "executionDetails": {"summary": "mlref-mlops-prod is RollingBack; waiting to roll out mlref-mlops-prod-v3"}})
    run_deploy(made, deploy_job("production"))


ROLLOUT = {"original": "mlref-mlops-prod-v2", "target": "mlref-mlops-prod-v3", "started": 100}


def test_a_finished_rollout_emits_the_config(clients):
    made, stubs = clients
    stubs["sagemaker"].add_response("describe_endpoint", endpoint("mlref-mlops-prod", "InService",
                                                                  "mlref-mlops-prod-v3"),
                                    {"EndpointName": "mlref-mlops-prod"})
    succeeded(stubs, summary="mlref-mlops-prod serves mlref-mlops-prod-v3 (20 min)", external="mlref-mlops-prod",
              variables={"EndpointConfig": "mlref-mlops-prod-v3", "Result": "deployed"})
    run_deploy(made, deploy_job("production", ROLLOUT), now=100 + 20 * 60)


def test_a_rolled_back_rollout_rejects_the_version_and_fails_the_action(clients):
    made, stubs = clients
    answer = endpoint("mlref-mlops-prod", "InService", "mlref-mlops-prod-v2")
    answer["FailureReason"] = "alarm mlref-mlops-prod-errors in ALARM"
    stubs["sagemaker"].add_response("describe_endpoint", answer, {"EndpointName": "mlref-mlops-prod"})
    stubs["sagemaker"].add_response("update_model_package", {"ModelPackageArn": PACKAGE}, {
        "ModelPackageArn": PACKAGE, "ModelApprovalStatus": "Rejected",
        "ApprovalDescription": "rolled back in production (alarm mlref-mlops-prod-errors in ALARM)"})
    failed(stubs, "rolled back: alarm mlref-mlops-prod-errors in ALARM; mlref-mlops-prod still serves "
                  "mlref-mlops-prod-v2", "mlref-mlops-prod")
    assert run_deploy(made, deploy_job("production", ROLLOUT))["result"] == "failed"


def test_a_rollout_under_way_keeps_its_token_and_says_its_phase(clients):
    made, stubs = clients
    stubs["sagemaker"].add_response("describe_endpoint", endpoint("mlref-mlops-prod", "Updating",
                                                                  "mlref-mlops-prod-v2", pending=True),
                                    {"EndpointName": "mlref-mlops-prod"})
    succeeded(stubs, token=ROLLOUT, summary="Updating:  (3 min)", external="mlref-mlops-prod")
    run_deploy(made, deploy_job("production", ROLLOUT), now=100 + 3 * 60)
