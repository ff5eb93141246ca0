"""The teardown sweep and verification, against moto's API mocks."""

from __future__ import annotations

from datetime import datetime

import boto3
import pytest
from botocore.stub import Stubber
from botocore.exceptions import ClientError
from moto import mock_aws

from lambdas.lab_sweep import index
from lambdas.lab_sweep.sweep import TRAINING_LOG_GROUP, Sweeper, sweep, verify

# moto has no ListFeatureGroups: that kind is tested with botocore Stubber below.
MOTO_KINDS = tuple(k for k in Sweeper.KINDS if k != "feature_groups")
LAB = {"lab": "data-lake", "profile": "sandbox"}
OTHER = {"lab": "clickstream", "profile": "sandbox"}
RETAINED = {"lab": "data-lake", "profile": "production"}
REGION = "us-east-1"


def tag_list(tags):
    return [{"Key": k, "Value": v} for k, v in tags.items()]


@pytest.fixture
def session():
    with mock_aws():
        yield boto3.Session(region_name=REGION)


def bucket(session, name, tags=None, objects=("a.txt",)):
    s3 = session.client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    if tags:
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tag_list(tags)})
    for key in objects:
        s3.put_object(Bucket=name, Key=key, Body=b"x")
        s3.put_object(Bucket=name, Key=key, Body=b"y")  # two versions


def bucket_names(session):
    return {b["Name"] for b in session.client("s3").list_buckets()["Buckets"]}


def test_tagged_buckets_and_log_groups_go_untagged_and_other_labs_stay(session):
    bucket(session, "lab-leftover-bucket", LAB)
    bucket(session, "someone-elses-bucket")
    bucket(session, "other-lab-bucket", OTHER)
    logs = session.client("logs")
    logs.create_log_group(logGroupName="/aws/lambda/mlref-data-lake-fn", tags=LAB)
    logs.create_log_group(logGroupName="/aws/lambda/mlref-data-lake-untagged")
    logs.create_log_group(logGroupName="/aws/lambda/other", tags=OTHER)

    report = sweep(session, "data-lake", log=lambda _: None, kinds=MOTO_KINDS)

    assert bucket_names(session) == {"someone-elses-bucket", "other-lab-bucket"}
    groups = {g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]}
    assert groups == {"/aws/lambda/mlref-data-lake-untagged", "/aws/lambda/other"}
    assert {str(i) for i in report.deleted} >= {"bucket lab-leftover-bucket", "log group /aws/lambda/mlref-data-lake-fn"}
    assert report.clean and verify(session, "data-lake") == []


def test_what_a_production_stack_retained_is_reported_never_swept(session):
    bucket(session, "retained-production-bucket", RETAINED)
    session.client("logs").create_log_group(logGroupName="/retained/audit", tags=RETAINED)

    report = sweep(session, "data-lake", log=lambda _: None, kinds=MOTO_KINDS)

    assert bucket_names(session) == {"retained-production-bucket"}
    assert report.deleted == [] and not report.clean
    assert "left, delete by hand: resource arn:aws:s3:::retained-production-bucket" in report.lines()
    # asked for explicitly (profile=None), the same sweep removes it
    assert sweep(session, "data-lake", log=lambda _: None, kinds=MOTO_KINDS, profile=None).clean
    assert bucket_names(session) == set()


def test_training_job_streams_and_artifacts_are_removed_only_for_tagged_jobs(session):
    bucket(session, "lab-output", objects=("jobs/lab-job/output/model.tar.gz", "jobs/foreign-job/output/model.tar.gz"))
    sagemaker, logs = session.client("sagemaker"), session.client("logs")
    logs.create_log_group(logGroupName=TRAINING_LOG_GROUP)
    for job, tags in (("lab-job", LAB), ("foreign-job", {})):
        sagemaker.create_training_job(
            TrainingJobName=job,
            AlgorithmSpecification={"TrainingImage": "123.dkr.ecr.us-east-1.amazonaws.com/x:1", "TrainingInputMode": "File"},
            RoleArn="arn:aws:iam::123456789012:role/sm", OutputDataConfig={"S3OutputPath": "s3://lab-output/jobs"},
            ResourceConfig={"InstanceType": "ml.g5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
            StoppingCondition={"MaxRuntimeInSeconds": 600}, Tags=tag_list(tags) if tags else [],
        )
        logs.create_log_stream(logGroupName=TRAINING_LOG_GROUP, logStreamName=f"{job}/algo-1-1700000000")

    report = sweep(session, "data-lake", log=lambda _: None, kinds=MOTO_KINDS)

    streams = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=TRAINING_LOG_GROUP)["logStreams"]]
    assert streams == ["foreign-job/algo-1-1700000000"]
    keys = [o["Key"] for o in session.client("s3").list_objects_v2(Bucket="lab-output")["Contents"]]
    assert keys == ["jobs/foreign-job/output/model.tar.gz"]
    assert any(str(i).startswith("training artifacts s3://lab-output/jobs/lab-job/") for i in report.deleted)


def test_feature_group_offline_data_and_glue_table_are_removed(session):
    bucket(session, "offline-store", objects=("fg/123/sagemaker/us-east-1/offline-store/customers/part-0.parquet",
                                              "fg/other/part-0.parquet"))
    glue = session.client("glue")
    glue.create_database(DatabaseInput={"Name": "features"})
    glue.create_table(DatabaseName="features", TableInput={"Name": "customers"})
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    stub = Stubber(sagemaker)
    arn = "arn:aws:sagemaker:us-east-1:123456789012:feature-group/customers"
    foreign = "arn:aws:sagemaker:us-east-1:123456789012:feature-group/foreign"
    summary = {"FeatureGroupStatus": "Created", "CreationTime": datetime(2026, 1, 1)}
    stub.add_response("list_feature_groups", {"FeatureGroupSummaries": [
        {"FeatureGroupName": "customers", "FeatureGroupArn": arn, **summary},
        {"FeatureGroupName": "foreign", "FeatureGroupArn": foreign, **summary}]}, {})
    stub.add_response("list_tags", {"Tags": tag_list(LAB)}, {"ResourceArn": arn})
    stub.add_response("describe_feature_group", {
        "FeatureGroupArn": arn, "FeatureGroupName": "customers", "RecordIdentifierFeatureName": "id",
        "EventTimeFeatureName": "ts", "CreationTime": datetime(2026, 1, 1), "NextToken": "",
        "FeatureDefinitions": [{"FeatureName": "id", "FeatureType": "String"}],
        "OfflineStoreConfig": {
            "S3StorageConfig": {"S3Uri": "s3://offline-store/fg",
                                "ResolvedOutputS3Uri": "s3://offline-store/fg/123/sagemaker/us-east-1/offline-store/customers"},
            "DataCatalogConfig": {"TableName": "customers", "Catalog": "AwsDataCatalog", "Database": "features"}},
    }, {"FeatureGroupName": "customers"})
    stub.add_response("delete_feature_group", {}, {"FeatureGroupName": "customers"})
    stub.add_response("list_tags", {"Tags": tag_list(OTHER)}, {"ResourceArn": foreign})
    stub.activate()

    report = Sweeper(session, "data-lake", log=lambda _: None, kinds=["feature_groups"],
                     clients={"sagemaker": sagemaker}).run()

    stub.assert_no_pending_responses()  # the foreign group was looked at, never deleted
    keys = [o["Key"] for o in session.client("s3").list_objects_v2(Bucket="offline-store")["Contents"]]
    assert keys == ["fg/other/part-0.parquet"]
    with pytest.raises(ClientError):
        glue.get_table(DatabaseName="features", Name="customers")
    assert {"feature group customers", "glue table features.customers"} <= {str(i) for i in report.deleted}


def test_detached_interfaces_in_a_lab_security_group_are_deleted(session):
    ec2 = session.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    lab_sg = ec2.create_security_group(GroupName="lab", Description="lab", VpcId=vpc,
                                       TagSpecifications=[{"ResourceType": "security-group", "Tags": tag_list(LAB)}])["GroupId"]
    other_sg = ec2.create_security_group(GroupName="other", Description="other", VpcId=vpc)["GroupId"]
    lab_eni = ec2.create_network_interface(SubnetId=subnet, Groups=[lab_sg])["NetworkInterface"]["NetworkInterfaceId"]
    other_eni = ec2.create_network_interface(SubnetId=subnet, Groups=[other_sg])["NetworkInterface"]["NetworkInterfaceId"]

    report = Sweeper(session, "data-lake", log=lambda _: None, kinds=MOTO_KINDS).run()

    remaining = {e["NetworkInterfaceId"] for e in ec2.describe_network_interfaces()["NetworkInterfaces"]}
    assert lab_eni not in remaining and other_eni in remaining
    assert f"network interface {lab_eni} (detached, in a lab security group)" in {str(i) for i in report.deleted}
    # the tagged security group itself is reported, not deleted
    assert any(lab_sg in str(item) for item in report.left) and not report.clean


def test_a_delete_that_fails_is_reported_and_the_sweep_goes_on(session, monkeypatch):
    bucket(session, "stubborn-bucket", LAB)
    session.client("logs").create_log_group(logGroupName="/lab/group", tags=LAB)
    sweeper = Sweeper(session, "data-lake", log=lambda _: None, kinds=MOTO_KINDS)
    s3 = sweeper.client("s3")

    def refuse(**kwargs):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "explicit deny"}}, "DeleteBucket")

    monkeypatch.setattr(s3, "delete_bucket", refuse)
    report = sweeper.run()
    assert [str(i) for i in report.failed] == ["bucket stubborn-bucket (AccessDenied: explicit deny)"]
    assert "log group /lab/group" in {str(i) for i in report.deleted}
    assert "could not delete bucket stubborn-bucket (AccessDenied: explicit deny)" in report.lines()
    assert not report.clean


def test_verify_ignores_keys_pending_deletion(session):
    kms = session.client("kms")
    pending = kms.create_key(Tags=[{"TagKey": "lab", "TagValue": "data-lake"}])["KeyMetadata"]
    active = kms.create_key(Tags=[{"TagKey": "lab", "TagValue": "data-lake"}])["KeyMetadata"]
    kms.schedule_key_deletion(KeyId=pending["KeyId"], PendingWindowInDays=7)
    assert verify(session, "data-lake") == [active["Arn"]]


def test_janitor_handler_sweeps_the_lab_named_by_the_stack_event(session):
    bucket(session, "janitor-test-bucket", LAB)
    event = {"detail": {"stack-id": "arn:aws:cloudformation:us-east-1:123456789012:stack/mlref-data-lake/abc",
                        "status-details": {"status": "DELETE_COMPLETE"}}}
    result = index.handler(event, None, session=session, kinds=MOTO_KINDS)
    assert result["lab"] == "data-lake" and result["clean"] is True
    assert "deleted bucket janitor-test-bucket" in result["lines"]
    assert index.handler({"detail": {"stack-id": "arn:aws:cloudformation:us-east-1:1:stack/other/x"}}, None,
                         session=session, kinds=MOTO_KINDS) == {"lab": None}
