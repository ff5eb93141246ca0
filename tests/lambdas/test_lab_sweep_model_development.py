"""The sweep's kinds for the model-development lab: running tuning and processing jobs stopped, a finished
processing job's streams and outputs removed, and Clarify's untagged shadow endpoints deleted only when every
model they host is proven the lab's. moto for logs, S3 and CloudFormation; the botocore Stubber for SageMaker."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from lambdas.lab_sweep.sweep import Sweeper
from lambdas.shared.lab_names import PROCESSING_LOG_GROUP, SHADOW_ENDPOINT_PREFIXES
from tests.lambdas.conftest import REGION, new_session
from tests.lambdas.test_lab_sweep import QUIET, bucket
from tests.lambdas.test_lab_sweep_kinds import WHEN, arn, gone, tags

LAB_NAME = "model-development"
MD = {"lab": LAB_NAME, "profile": "sandbox"}
SHADOW = SHADOW_ENDPOINT_PREFIXES[LAB_NAME]


@pytest.fixture
def moto_session():
    with mock_aws():
        yield new_session()


def run(session, kinds, **clients):
    return Sweeper(session, LAB_NAME, kinds=kinds, clients=clients, **QUIET).run()


def stubbed():
    client = boto3.client("sagemaker", region_name=REGION)
    return client, Stubber(client)


def test_a_running_tuning_job_is_stopped_and_a_finished_one_left_as_the_record_it_is(moto_session):
    sagemaker, stub = stubbed()
    summaries = [{"HyperParameterTuningJobName": name,
                  "HyperParameterTuningJobArn": arn(f"hyper-parameter-tuning-job/{name}"),
                  "HyperParameterTuningJobStatus": status, "Strategy": "Bayesian", "CreationTime": WHEN,
                  "TrainingJobStatusCounters": {}, "ObjectiveStatusCounters": {}}
                 for name, status in (("mlref-md-tune-1", "InProgress"), ("mlref-md-tune-0", "Completed"),
                                      ("theirs", "InProgress"))]
    stub.add_response("list_hyper_parameter_tuning_jobs", {"HyperParameterTuningJobSummaries": summaries}, {})
    tags(stub, arn("hyper-parameter-tuning-job/mlref-md-tune-1"), MD)
    stub.add_response("stop_hyper_parameter_tuning_job", {}, {"HyperParameterTuningJobName": "mlref-md-tune-1"})
    tags(stub, arn("hyper-parameter-tuning-job/mlref-md-tune-0"), MD)
    tags(stub, arn("hyper-parameter-tuning-job/theirs"), {"lab": "endpoint", "profile": "sandbox"})
    stub.activate()
    report = run(moto_session, ["tuning_jobs"], sagemaker=sagemaker)
    stub.assert_no_pending_responses()
    assert [str(i) for i in report.stopped] == ["tuning job mlref-md-tune-1"]
    assert [str(i) for i in report.waiting] == [
        "tuning job mlref-md-tune-1 (InProgress: its training jobs stop with it)"]
    assert report.deleted == [] and not report.clean


def processing_summary(name: str, status: str) -> dict:
    return {"ProcessingJobName": name, "ProcessingJobArn": arn(f"processing-job/{name}"), "CreationTime": WHEN,
            "ProcessingJobStatus": status}


def test_processing_jobs_running_are_stopped_and_finished_ones_lose_their_streams_and_outputs(moto_session):
    lab_bucket = "mlref-model-development-labbucket1a2b"
    bucket(moto_session, lab_bucket, MD, objects=("runs/1/bias/output/analysis.json", "runs/1/tune/model.tar.gz"))
    logs = moto_session.client("logs")
    logs.create_log_group(logGroupName=PROCESSING_LOG_GROUP)
    for stream in ("mlref-md-bias-script-1/algo-1-1700000000", "someone-else/algo-1-1700000000"):
        logs.create_log_stream(logGroupName=PROCESSING_LOG_GROUP, logStreamName=stream)
    sagemaker, stub = stubbed()
    stub.add_response("list_processing_jobs", {"ProcessingJobSummaries": [
        processing_summary("mlref-md-bias-clarify-2", "InProgress"),
        processing_summary("mlref-md-bias-script-1", "Completed")]}, {})
    tags(stub, arn("processing-job/mlref-md-bias-clarify-2"), MD)
    stub.add_response("stop_processing_job", {}, {"ProcessingJobName": "mlref-md-bias-clarify-2"})
    tags(stub, arn("processing-job/mlref-md-bias-script-1"), MD)
    stub.add_response("describe_processing_job", {
        "ProcessingJobName": "mlref-md-bias-script-1",
        "ProcessingJobArn": arn("processing-job/mlref-md-bias-script-1"),
        "ProcessingJobStatus": "Completed", "CreationTime": WHEN, "AppSpecification": {"ImageUri": "x"},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                                                  "VolumeSizeInGB": 20}},
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": "analysis_result", "S3Output": {
            "S3Uri": f"s3://{lab_bucket}/runs/1/bias/output", "LocalPath": "/opt/ml/processing/output",
            "S3UploadMode": "EndOfJob"}}]}}, {"ProcessingJobName": "mlref-md-bias-script-1"})
    stub.activate()
    report = run(moto_session, ["processing_jobs"], sagemaker=sagemaker)
    stub.assert_no_pending_responses()
    assert [str(i) for i in report.stopped] == ["processing job mlref-md-bias-clarify-2"]
    assert {str(i) for i in report.deleted} == {
        f"log stream {PROCESSING_LOG_GROUP}/mlref-md-bias-script-1/algo-1-1700000000",
        f"processing output s3://{lab_bucket}/runs/1/bias/output/"}
    streams = logs.describe_log_streams(logGroupName=PROCESSING_LOG_GROUP)["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["someone-else/algo-1-1700000000"]
    left = moto_session.client("s3").list_object_versions(Bucket=lab_bucket).get("Versions", [])
    assert {v["Key"] for v in left} == {"runs/1/tune/model.tar.gz"}


def endpoint(name: str) -> dict:
    return {"EndpointName": name, "EndpointArn": arn(f"endpoint/{name}"), "EndpointStatus": "InService",
            "CreationTime": WHEN, "LastModifiedTime": WHEN}


def test_a_shadow_endpoint_goes_only_when_every_model_it_hosts_is_the_labs(moto_session):
    moto_session.client("logs").create_log_group(logGroupName=f"/aws/sagemaker/Endpoints/{SHADOW}-a")
    proven, gone_model, foreign = f"{SHADOW}-a", f"{SHADOW}-b", f"{SHADOW}-c"
    models = {proven: "mlref-md-tuned-1", gone_model: "mlref-md-tuned-0", foreign: "someones-model"}
    sagemaker, stub = stubbed()
    stub.add_response("list_endpoints", {"Endpoints": [endpoint(name) for name in models]}, {})  # the tagged pass
    for name in models:
        tags(stub, arn(f"endpoint/{name}"), {})
    stub.add_response("list_endpoints", {"Endpoints": [endpoint(name) for name in models]}, {"NameContains": SHADOW})
    for name, model in models.items():
        tags(stub, arn(f"endpoint/{name}"), {})
        stub.add_response("describe_endpoint", {**endpoint(name), "EndpointConfigName": name}, {"EndpointName": name})
        stub.add_response("describe_endpoint_config", {
            "EndpointConfigName": name, "EndpointConfigArn": arn(f"endpoint-config/{name}"), "CreationTime": WHEN,
            "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": model}]}, {"EndpointConfigName": name})
        if name == gone_model:
            gone(stub, "describe_model", ModelName=model)
            continue
        stub.add_response("describe_model", {"ModelName": model, "ModelArn": arn(f"model/{model}"),
                                             "CreationTime": WHEN}, {"ModelName": model})
        tags(stub, arn(f"model/{model}"), MD if name == proven else {"lab": "endpoint", "profile": "sandbox"})
        if name == proven:
            stub.add_response("delete_endpoint", {}, {"EndpointName": name})
            gone(stub, "describe_endpoint", EndpointName=name)
            stub.add_response("delete_endpoint_config", {}, {"EndpointConfigName": name})
            gone(stub, "describe_endpoint_config", EndpointConfigName=name)
    stub.activate()
    report = run(moto_session, ["endpoints"], sagemaker=sagemaker)
    stub.assert_no_pending_responses()
    assert [str(i) for i in report.deleted] == [f"endpoint {proven} (a shadow endpoint of the lab's jobs)",
                                                f"endpoint config {proven} (of shadow endpoint {proven})"]
    assert [str(i) for i in report.left] == [
        f"endpoint {gone_model} (not proven the lab's: its model mlref-md-tuned-0 is gone, so nothing shows whose "
        "it was)",
        f"endpoint {foreign} (not proven the lab's: it hosts model someones-model, which is not tagged for the lab)"]
    group = moto_session.client("logs").list_tags_log_group(logGroupName=f"/aws/sagemaker/Endpoints/{proven}")["tags"]
    assert group == {"lab": LAB_NAME, "profile": "sandbox"}  # tagged first, so the log groups kind removes it


def test_labs_without_a_shadow_prefix_never_look_for_one(moto_session):
    sagemaker, stub = stubbed()
    stub.add_response("list_endpoints", {"Endpoints": []}, {})
    stub.activate()
    Sweeper(moto_session, "endpoint", kinds=["endpoints"], clients={"sagemaker": sagemaker}, **QUIET).run()
    stub.assert_no_pending_responses()  # one listing for tagged endpoints, none by a shadow prefix


def test_a_busy_shadow_endpoint_keeps_the_model_that_proves_it_and_one_clarify_is_removing_is_waited_for(
        moto_session):
    """Review of issue 29: the models kind deleted the tuned model while its shadow endpoint was still Creating,
    so the next round could no longer prove the endpoint the lab's and left it billing; and an endpoint Clarify
    was deleting, its config already gone, made the whole endpoints step unchecked."""
    busy, deleting, model = f"{SHADOW}-busy", f"{SHADOW}-deleting", "mlref-md-tuned-1"
    moto_session.client("logs").create_log_group(logGroupName=f"/aws/sagemaker/Endpoints/{busy}")
    listed = [{**endpoint(busy), "EndpointStatus": "Creating"}, {**endpoint(deleting), "EndpointStatus": "Deleting"}]
    sagemaker, stub = stubbed()
    stub.add_response("list_endpoints", {"Endpoints": listed}, {})  # the tagged pass
    for name in (busy, deleting):
        tags(stub, arn(f"endpoint/{name}"), {})
    stub.add_response("list_endpoints", {"Endpoints": listed}, {"NameContains": SHADOW})
    tags(stub, arn(f"endpoint/{busy}"), {})
    stub.add_response("describe_endpoint", {**listed[0], "EndpointConfigName": busy}, {"EndpointName": busy})
    stub.add_response("describe_endpoint_config", {
        "EndpointConfigName": busy, "EndpointConfigArn": arn(f"endpoint-config/{busy}"), "CreationTime": WHEN,
        "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": model}]}, {"EndpointConfigName": busy})
    stub.add_response("describe_model", {"ModelName": model, "ModelArn": arn(f"model/{model}"), "CreationTime": WHEN},
                      {"ModelName": model})
    tags(stub, arn(f"model/{model}"), MD)
    tags(stub, arn(f"endpoint/{deleting}"), {})
    stub.add_response("describe_endpoint", {**listed[1], "EndpointConfigName": deleting}, {"EndpointName": deleting})
    stub.add_client_error("describe_endpoint_config", "ValidationException",
                          f'Could not find endpoint configuration "{deleting}".',
                          expected_params={"EndpointConfigName": deleting})
    stub.add_response("list_models", {"Models": [{"ModelName": model, "ModelArn": arn(f"model/{model}"),
                                                  "CreationTime": WHEN}]}, {})
    tags(stub, arn(f"model/{model}"), MD)
    stub.activate()
    report = run(moto_session, ["endpoints", "models"], sagemaker=sagemaker)
    stub.assert_no_pending_responses()
    assert report.deleted == [] and report.failed == [] and report.left == []
    assert [str(i) for i in report.waiting] == [
        f"endpoint {busy} (Creating: DeleteEndpoint fails until it settles)",
        f"endpoint {deleting} (Deleting: being deleted, its config already gone)",
        f"model {model} (in use: hosted by a shadow endpoint still there, which only it proves the lab's)"]
    group = moto_session.client("logs").list_tags_log_group(logGroupName=f"/aws/sagemaker/Endpoints/{busy}")["tags"]
    assert group == {"lab": LAB_NAME, "profile": "sandbox"}  # tagged while busy: the group outlives the endpoint
