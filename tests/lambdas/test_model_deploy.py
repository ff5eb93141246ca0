"""The approval function: moto's SageMaker for what it keeps (models, configs, endpoints, tags),
botocore Stubber for the exact requests where moto has no UpdateEndpoint."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from lambdas.ml_pipeline_model_deploy import index

GROUP, ENDPOINT = "mlref-ml-pipeline-models", "mlref-ml-pipeline"
ROLE = "arn:aws:iam::123456789012:role/mlref-ml-pipeline-ModelRole"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
TAGS = {"lab": "ml-pipeline", "profile": "sandbox", "owner": "tester"}
SETTINGS = index.Settings(endpoint_name=ENDPOINT, model_package_group=GROUP, model_role_arn=ROLE, memory_mb=2048,
                          max_concurrency=2, tags=TAGS)


def event(arn: str, status: str = "Approved", group: str = GROUP) -> dict:
    return {"version": "0", "id": "e1", "detail-type": "SageMaker Model Package State Change",
            "source": "aws.sagemaker", "account": "123456789012", "region": "us-east-1", "resources": [arn],
            "detail": {"ModelPackageGroupName": group, "ModelPackageArn": arn, "ModelApprovalStatus": status,
                       "ModelPackageVersion": int(arn.rsplit("/", 1)[-1])}}


@pytest.fixture
def sagemaker():
    with mock_aws():
        client = boto3.client("sagemaker", region_name="us-east-1")
        client.create_model_package_group(ModelPackageGroupName=GROUP)
        yield client


def register(client, status="PendingManualApproval") -> str:
    return client.create_model_package(
        ModelPackageGroupName=GROUP, ModelApprovalStatus=status,
        InferenceSpecification={"Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://artifacts/runs/x/model.tar.gz"}],
                                "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
    )["ModelPackageArn"]


def approve(client, arn: str) -> dict:
    client.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    return index.Deployer(client, SETTINGS).handle(event(arn), seconds_left=600)


def tags_of(client, arn: str) -> dict:
    return {t["Key"]: t["Value"] for t in client.list_tags(ResourceArn=arn)["Tags"]}


def test_the_first_approval_creates_a_tagged_model_serverless_config_and_endpoint(sagemaker):
    arn = register(sagemaker)
    result = approve(sagemaker, arn)
    assert result["action"] == "created" and result["created"] == ["model", "endpoint config"]
    model = sagemaker.describe_model(ModelName=f"{ENDPOINT}-v1")
    assert model["PrimaryContainer"]["ModelPackageName"] == arn and model["ExecutionRoleArn"] == ROLE
    config = sagemaker.describe_endpoint_config(EndpointConfigName=f"{ENDPOINT}-v1")
    (variant,) = config["ProductionVariants"]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 2}
    assert "InstanceType" not in variant  # nothing provisioned, nothing billed while idle
    endpoint = sagemaker.describe_endpoint(EndpointName=ENDPOINT)
    assert endpoint["EndpointConfigName"] == f"{ENDPOINT}-v1"
    for resource in (model["ModelArn"], config["EndpointConfigArn"], endpoint["EndpointArn"]):
        assert tags_of(sagemaker, resource) == TAGS


def test_a_repeated_event_changes_nothing(sagemaker):
    arn = register(sagemaker)
    approve(sagemaker, arn)
    again = index.Deployer(sagemaker, SETTINGS).handle(event(arn), seconds_left=600)
    assert again["action"].startswith("unchanged") and again["created"] == []
    assert [m["ModelName"] for m in sagemaker.list_models()["Models"]] == [f"{ENDPOINT}-v1"]


def test_a_rejected_or_foreign_event_and_a_package_no_longer_approved_do_nothing(sagemaker):
    arn = register(sagemaker)
    deployer = index.Deployer(sagemaker, SETTINGS)
    assert deployer.handle(event(arn, status="Rejected"), 600)["action"] == "ignored"
    assert deployer.handle(event(arn, group="someone-elses-group"), 600)["action"] == "ignored"
    # the event says Approved, but the package was rejected again before the function ran
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected")
    assert deployer.handle(event(arn), 600)["reason"] == "now Rejected"
    assert sagemaker.list_models()["Models"] == [] and sagemaker.list_endpoints()["Endpoints"] == []


def test_an_older_version_approved_later_does_not_replace_a_newer_one(sagemaker):
    first, second = register(sagemaker), register(sagemaker)
    sagemaker.update_model_package(ModelPackageArn=first, ModelApprovalStatus="Approved")
    approve(sagemaker, second)
    result = index.Deployer(sagemaker, SETTINGS).handle(event(first), 600)
    assert result["action"] == f"unchanged (serves {ENDPOINT}-v2)"


def stubbed_describe(stub: Stubber, operation: str, key: str, name: str, response: dict | None) -> None:
    if response is None:
        stub.add_client_error(operation, "ValidationException", f"Could not find {name}", http_status_code=400,
                              expected_params={key: name})
    else:
        stub.add_response(operation, response, {key: name})


def test_a_later_approval_creates_version_two_and_updates_the_endpoint_to_it():
    client = boto3.client("sagemaker", region_name="us-east-1")
    arn = f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/2"
    tags = [{"Key": k, "Value": v} for k, v in TAGS.items()]
    with Stubber(client) as stub:
        stub.add_response("describe_model_package", {
            "ModelPackageName": GROUP, "ModelPackageArn": arn, "ModelPackageVersion": 2,
            "ModelApprovalStatus": "Approved", "CreationTime": "2026-01-15T10:00:00Z",
            "ModelPackageStatus": "Completed",
            "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []}},
            {"ModelPackageName": arn})
        stubbed_describe(stub, "describe_model", "ModelName", f"{ENDPOINT}-v2", None)
        stub.add_response("create_model", {"ModelArn": "arn:aws:sagemaker:us-east-1:123456789012:model/x"}, {
            "ModelName": f"{ENDPOINT}-v2", "ExecutionRoleArn": ROLE, "PrimaryContainer": {"ModelPackageName": arn},
            "Tags": tags})
        stubbed_describe(stub, "describe_endpoint_config", "EndpointConfigName", f"{ENDPOINT}-v2", None)
        config_arn = "arn:aws:sagemaker:us-east-1:1:endpoint-config/x"
        stub.add_response("create_endpoint_config", {"EndpointConfigArn": config_arn}, {
            "EndpointConfigName": f"{ENDPOINT}-v2", "Tags": tags, "ProductionVariants": [{
                "VariantName": "AllTraffic", "ModelName": f"{ENDPOINT}-v2",
                "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 2}}]})
        endpoint = {"EndpointName": ENDPOINT, "EndpointArn": "arn:aws:sagemaker:us-east-1:1:endpoint/x",
                    "EndpointConfigName": f"{ENDPOINT}-v1", "CreationTime": "2026-01-15T10:00:00Z",
                    "LastModifiedTime": "2026-01-15T10:00:00Z"}
        # still updating to v1 when v2 is approved: waited for, then updated
        stub.add_response("describe_endpoint", {**endpoint, "EndpointStatus": "Updating"}, {"EndpointName": ENDPOINT})
        stub.add_response("describe_endpoint", {**endpoint, "EndpointStatus": "InService"}, {"EndpointName": ENDPOINT})
        stub.add_response("update_endpoint", {"EndpointArn": endpoint["EndpointArn"]},
                          {"EndpointName": ENDPOINT, "EndpointConfigName": f"{ENDPOINT}-v2"})
        result = index.Deployer(client, SETTINGS, waiter_delay=1).handle(event(arn), seconds_left=600)
        stub.assert_no_pending_responses()
    assert result["action"] == f"updated (was {ENDPOINT}-v1)" and result["version"] == 2


def test_the_handler_reads_its_settings_from_the_environment(monkeypatch, sagemaker):
    environment = {"ENDPOINT_NAME": ENDPOINT, "MODEL_PACKAGE_GROUP": GROUP, "MODEL_ROLE_ARN": ROLE,
                   "SERVERLESS_MEMORY_MB": "2048", "SERVERLESS_MAX_CONCURRENCY": "2", "LAB_TAGS": json.dumps(TAGS)}
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    arn = register(sagemaker, status="Approved")
    assert index.handler(event(arn), None, client=sagemaker)["action"] == "created"
