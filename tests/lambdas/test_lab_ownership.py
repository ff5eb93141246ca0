"""The sweep's proof of ownership (issue 24): nothing tagged for a lab is deleted while any stack of the
lab lives (a classroom's copy included), a live stack's resource is never touched, and data is deleted
only in a bucket the lab owns. moto, with botocore's Stubber where moto lacks the API."""

from __future__ import annotations

import json
from datetime import datetime

import boto3
from botocore.stub import Stubber

from lambdas.lab_sweep import index
from lambdas.lab_sweep.record import read_record
from lambdas.lab_sweep.sweep import Sweeper
from tests.lambdas.conftest import REGION, new_session
from tests.lambdas.test_lab_sweep import LAB, QUIET, bucket, bucket_names, tag_list

FEATURE_STORE = {"lab": "feature-store", "profile": "sandbox"}
COPY = "StackSet-mlref-feature-store-0f5d2c9e-1b2a-4c3d-8e9f-0a1b2c3d4e5f"
QUEUE = json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}})


def classroom_copy_with_its_bucket(session):
    """A student's account: a live classroom copy of feature-store and its bucket, tagged like the
    student's own deployment's would be."""
    session.client("cloudformation").create_stack(StackName=COPY, TemplateBody=QUEUE)
    bucket(session, "mlref-feature-store-offline-copy", FEATURE_STORE)


def test_a_live_classroom_copy_refuses_the_sweep_of_its_lab(session):
    classroom_copy_with_its_bucket(session)
    report = Sweeper(session, "feature-store", kinds=["buckets"], **QUIET).run()
    assert bucket_names(session) == {"mlref-feature-store-offline-copy"} and report.deleted == []
    assert report.refused.startswith(f"stack {COPY}, a classroom's copy of feature-store, exists (CREATE_COMPLETE)")
    assert "`labs classroom destroy feature-store`" in report.refused


def test_the_janitor_after_the_students_own_stack_leaves_the_classroom_copy(session):
    classroom_copy_with_its_bucket(session)
    cloudformation = session.client("cloudformation")
    own = cloudformation.create_stack(StackName="mlref-feature-store", TemplateBody=QUEUE)["StackId"]
    cloudformation.delete_stack(StackName="mlref-feature-store")
    event = {"detail": {"stack-id": own, "status-details": {"status": "DELETE_COMPLETE"}}}
    result = index.handler(event, None, session=session, topic_arn="", kinds=["buckets"], sleep=lambda _s: None)
    assert bucket_names(session) == {"mlref-feature-store-offline-copy"}
    assert result["state"] == "stack-exists" and COPY in read_record(session, "feature-store").error


def test_a_second_deployment_in_another_region_is_not_touched(session):
    west = new_session("us-west-2")
    west.client("cloudformation").create_stack(StackName="mlref-data-lake", TemplateBody=QUEUE)
    west.client("s3").create_bucket(Bucket="mlref-data-lake-west",
                                    CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    west.client("s3").put_bucket_tagging(Bucket="mlref-data-lake-west", Tagging={"TagSet": tag_list(LAB)})
    bucket(session, "mlref-data-lake-east", LAB)  # the leftover of the deleted us-east-1 deployment

    report = Sweeper(session, "data-lake", kinds=["buckets"], **QUIET).run()

    assert [str(i) for i in report.deleted] == ["bucket mlref-data-lake-east"] and report.clean
    assert "mlref-data-lake-west" in bucket_names(west)
    assert Sweeper(west, "data-lake", kinds=["buckets"], **QUIET).run().refused  # its own stack lives there


def test_a_resource_a_live_stack_holds_is_kept_whatever_its_tags(session):
    """Its stack-id tag, or CloudFormation asked by physical id, names the live stack that holds it."""
    logs = session.client("logs")
    live = session.client("cloudformation").create_stack(StackName="team-pipeline", TemplateBody=QUEUE)["StackId"]
    logs.create_log_group(logGroupName="/team/pipeline", tags={**LAB, "aws:cloudformation:stack-id": live})
    bucket(session, "team-bucket", LAB)
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    stub = Stubber(cloudformation)
    statuses = [s for s in cloudformation.meta.service_model.shape_for("StackStatus").enum if s != "DELETE_COMPLETE"]
    stub.add_response("list_stacks", {"StackSummaries": [{"StackName": "team-pipeline", "StackId": live,
                                                          "StackStatus": "UPDATE_COMPLETE",
                                                          "CreationTime": datetime(2026, 1, 1)}]},
                      {"StackStatusFilter": statuses})
    stub.add_response("describe_stack_resources", {"StackResources": [{
        "StackName": "team-pipeline", "StackId": live, "LogicalResourceId": "Bucket",
        "PhysicalResourceId": "team-bucket", "ResourceType": "AWS::S3::Bucket", "ResourceStatus": "CREATE_COMPLETE",
        "Timestamp": datetime(2026, 1, 1)}]},
        {"PhysicalResourceId": "team-bucket"})
    stub.activate()

    report = Sweeper(session, "data-lake", kinds=["log_groups", "buckets"], clients={"cloudformation": cloudformation},
                     **QUIET).run()

    assert report.deleted == [] and bucket_names(session) == {"team-bucket"}
    assert [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]] == ["/team/pipeline"]
    assert sorted(str(i) for i in report.kept) == [
        "bucket team-bucket (held by live stack team-pipeline (UPDATE_COMPLETE): never touched)",
        "log group /team/pipeline (held by live stack team-pipeline (UPDATE_COMPLETE): never touched)"]


def feature_group_in(bucket_uri, resolved=None):
    """A stubbed SageMaker with one tagged feature group whose offline store is ``bucket_uri``."""
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    stub = Stubber(sagemaker)
    arn = "arn:aws:sagemaker:us-east-1:123456789012:feature-group/customers"
    stub.add_response("list_feature_groups", {"FeatureGroupSummaries": [{
        "FeatureGroupName": "customers", "FeatureGroupArn": arn, "FeatureGroupStatus": "Created",
        "CreationTime": datetime(2026, 1, 1)}]}, {})
    stub.add_response("list_tags", {"Tags": tag_list(LAB)}, {"ResourceArn": arn})
    storage = {"S3Uri": bucket_uri, **({"ResolvedOutputS3Uri": resolved} if resolved else {})}
    stub.add_response("describe_feature_group", {
        "FeatureGroupArn": arn, "FeatureGroupName": "customers", "RecordIdentifierFeatureName": "id",
        "EventTimeFeatureName": "ts", "CreationTime": datetime(2026, 1, 1), "NextToken": "",
        "FeatureDefinitions": [{"FeatureName": "id", "FeatureType": "String"}],
        "OfflineStoreConfig": {"S3StorageConfig": storage}}, {"FeatureGroupName": "customers"})
    stub.add_response("delete_feature_group", {}, {"FeatureGroupName": "customers"})
    stub.add_client_error("describe_feature_group", "ResourceNotFound", "Resource Not Found",
                          expected_params={"FeatureGroupName": "customers"})
    stub.activate()
    return sagemaker


def test_a_feature_groups_offline_store_in_a_users_own_bucket_is_never_emptied(session):
    """Data loss of issue 24: the offline store's S3Uri named the user's bucket (no resolved URI yet)."""
    bucket(session, "team-data", objects=("raw/2026/orders.csv", "models/churn.tar.gz"))
    report = Sweeper(session, "data-lake", kinds=["feature_groups"],
                     clients={"sagemaker": feature_group_in("s3://team-data")}, **QUIET).run()
    keys = {o["Key"] for o in session.client("s3").list_objects_v2(Bucket="team-data")["Contents"]}
    assert keys == {"raw/2026/orders.csv", "models/churn.tar.gz"}
    assert [str(i) for i in report.deleted] == ["feature group customers"]
    assert [str(i) for i in report.kept] == [
        "offline store data s3://team-data/ (bucket team-data is not the lab's own: its data is never deleted)"]
