"""A sweep's report says what is true (issue 24): a delete counts when a read shows the thing gone;
refused objects, throttled reads and accepted-but-running deletes are "not yet", never "gone"; one
service that does not answer costs one timeout and one line."""

from __future__ import annotations

from datetime import datetime

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.stub import Stubber

from lambdas.lab_sweep import index
from lambdas.lab_sweep.sweep import Sweeper
from tests.fakes import FakeClock
from tests.lambdas.conftest import REGION
from tests.lambdas.test_lab_sweep import LAB, QUIET, bucket, tag_list

ARN = "arn:aws:sagemaker:us-east-1:123456789012"
WHEN = datetime(2026, 1, 1)


def test_objects_s3_refused_are_not_reported_deleted(session):
    """DeleteObjects answers 200 with per-key Errors (here a legal hold)."""
    s3 = session.client("s3")
    s3.create_bucket(Bucket="mlref-data-lake-models", ObjectLockEnabledForBucket=True)
    s3.put_bucket_tagging(Bucket="mlref-data-lake-models", Tagging={"TagSet": tag_list(LAB)})
    s3.put_object(Bucket="mlref-data-lake-models", Key="jobs/fit/output/model.tar.gz", Body=b"x",
                  ObjectLockLegalHoldStatus="ON")
    session.client("sagemaker").create_training_job(
        TrainingJobName="fit", RoleArn="arn:aws:iam::123456789012:role/sm", Tags=tag_list(LAB),
        AlgorithmSpecification={"TrainingImage": "123.dkr.ecr.us-east-1.amazonaws.com/x:1",
                                "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": "s3://mlref-data-lake-models/jobs"},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
        ResourceConfig={"InstanceType": "ml.g5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10})

    report = Sweeper(session, "data-lake", kinds=["training_jobs"], **QUIET).run()

    assert report.deleted == [] and not report.clean
    assert [str(i) for i in report.failed] == [
        "training artifacts s3://mlref-data-lake-models/jobs/fit/ (S3 refused 1 of 1 object version(s): "
        "jobs/fit/output/model.tar.gz (AccessDenied))"]


def test_a_throttled_key_lookup_is_not_counted_as_gone(session):
    key = f"{ARN.replace('sagemaker', 'kms')}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    tagging, kms = boto3.client("resourcegroupstaggingapi", region_name=REGION), boto3.client("kms", region_name=REGION)
    tagging_stub, kms_stub = Stubber(tagging), Stubber(kms)
    tagging_stub.add_response("get_resources", {"ResourceTagMappingList": [{"ResourceARN": key, "Tags": [
        {"Key": "lab", "Value": "data-lake"}]}]})
    kms_stub.add_client_error("describe_key", "ThrottlingException", "Rate exceeded", expected_params={"KeyId": key})
    tagging_stub.activate()
    kms_stub.activate()

    report = Sweeper(session, "data-lake", kinds=(), dry_run=True,
                     clients={"resourcegroupstaggingapi": tagging, "kms": kms}, **QUIET).run()

    assert not report.clean and [(u.kind, u.reason) for u in report.unchecked] == [
        ("remaining tagged", "ThrottlingException")]


def test_an_endpoint_whose_delete_is_accepted_but_still_deleting_is_not_gone(session):
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    stub = Stubber(sagemaker)
    endpoint = f"{ARN}:endpoint/churn"
    stub.add_response("list_endpoints", {"Endpoints": [{"EndpointName": "churn", "EndpointArn": endpoint,
                                                        "EndpointStatus": "InService", "CreationTime": WHEN,
                                                        "LastModifiedTime": WHEN}]}, {})
    stub.add_response("list_tags", {"Tags": tag_list(LAB)}, {"ResourceArn": endpoint})
    stub.add_response("delete_endpoint", {}, {"EndpointName": "churn"})
    stub.add_response("describe_endpoint", {
        "EndpointName": "churn", "EndpointArn": endpoint, "EndpointConfigName": "churn-config",
        "EndpointStatus": "Deleting", "CreationTime": WHEN, "LastModifiedTime": WHEN}, {"EndpointName": "churn"})
    stub.activate()

    report = Sweeper(session, "data-lake", kinds=["endpoints"], clients={"sagemaker": sagemaker}, **QUIET).run()

    stub.assert_no_pending_responses()
    assert report.deleted == [] and not report.clean
    assert report.lines()[0] == ("not gone yet, sweep again later: endpoint churn (delete accepted, still there: "
                                 "deleted within minutes, or next round)")
    assert report.closing_line(REGION) == "data-lake: 1 item(s) left: see above"


def test_a_listing_throttled_after_a_delete_does_not_say_nothing_was_swept(session, monkeypatch):
    logs = session.client("logs")
    for name in ("/aws/lambda/mlref-data-lake-a", "/aws/lambda/mlref-data-lake-b"):
        logs.create_log_group(logGroupName=name, tags=LAB)
    sweeper = Sweeper(session, "data-lake", kinds=["log_groups"], **QUIET)
    client, asked = sweeper.client("logs"), []
    real = client.list_tags_for_resource

    def throttled_second_time(**kwargs):
        asked.append(kwargs)
        if len(asked) == 2:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}},
                              "ListTagsForResource")
        return real(**kwargs)

    monkeypatch.setattr(client, "list_tags_for_resource", throttled_second_time)
    lines = sweeper.run().lines()
    assert lines[0] == "deleted log group /aws/lambda/mlref-data-lake-a"
    assert lines[1] == ("could not check log groups (ThrottlingException): only what is listed above of it was swept; "
                        "rerun the sweep (`labs destroy data-lake`) later, or look in the console")


def test_one_service_that_never_answers_costs_one_timeout_and_one_line(session):
    """Issue 24 measured 194 s: each SageMaker kind waited out its own timeouts and retries."""
    clock = FakeClock()
    sagemaker = boto3.client("sagemaker", region_name=REGION,
                             config=Config(retries={"mode": "standard", "total_max_attempts": 3}))

    def never_answers(request, **_):
        clock.sleep(8)  # the labs' read timeout
        raise ReadTimeoutError(endpoint_url=request.url)

    sweeper = Sweeper(session, "data-lake", clients={"sagemaker": sagemaker}, clock=clock, sleep=clock.sleep,
                      deadline=clock() + 25, **QUIET)
    sagemaker.meta.events.register_first("before-send", never_answers)  # after the sweep's guard, before moto
    report = sweeper.run()

    assert clock() == 8  # one timeout, then SageMaker is asked nothing more
    (line,) = [line for line in report.lines() if line.startswith("could not")]
    assert line.startswith("could not check monitoring schedules, endpoints, endpoint configs, models, pipelines, "
                           "model packages, feature groups, tuning jobs, training jobs, transform jobs, "
                           "processing jobs (https://api.sagemaker.us-east-1.amazonaws.com/ did not answer "
                           "(ReadTimeoutError)): "
                           "nothing of those kinds was swept")
    assert {u.kind for u in report.unchecked} == {"monitoring schedules", "endpoints", "endpoint configs", "models",
                                                  "pipelines", "model packages", "feature groups", "tuning jobs",
                                                  "training jobs", "transform jobs", "processing jobs"}


def test_no_request_is_sent_after_the_deadline(session):
    clock = FakeClock()
    bucket(session, "mlref-data-lake-raw", LAB)
    report = Sweeper(session, "data-lake", kinds=["log_groups", "buckets"], clock=clock, deadline=clock() - 1,
                     **QUIET).run()
    assert report.refused.startswith("could not tell whether a stack of data-lake still exists (OutOfTime)")


def test_a_classroom_copys_failed_delete_names_the_instructors_command(session):
    """Its DELETE_FAILED record must not send the student to `labs destroy`, which cannot remove it."""
    stack_id = f"arn:aws:cloudformation:us-east-1:123456789012:stack/{'StackSet-mlref-feature-store-' + '0' * 8}" \
               "-1b2a-4c3d-8e9f-0a1b2c3d4e5f/guid"
    event = {"detail": {"stack-id": stack_id, "status-details": {"status": "DELETE_FAILED"}}}
    result = index.handler(event, None, session=session, topic_arn="", sleep=lambda _s: None)
    assert result["lab"] == "feature-store" and result["state"] == "stack-exists"
    assert "`labs classroom destroy feature-store` from the admin account" in result["error"]
    assert "labs destroy" not in result["error"].replace("labs classroom destroy", "")
