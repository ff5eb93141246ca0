"""The teardown sweep and verification, against moto's API mocks."""

from __future__ import annotations

import json
from datetime import datetime

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from lambdas.lab_sweep import index
from lambdas.lab_sweep.sweep import TRAINING_LOG_GROUP, Sweeper, sweep, verify
from tests.lambdas.conftest import REGION, new_session

# moto has no ListFeatureGroups or ListMonitoringSchedules: those kinds are tested with Stubber.
MOTO_KINDS = tuple(k for k in Sweeper.KINDS if k not in {"feature_groups", "monitoring_schedules"})
LAB = {"lab": "data-lake", "profile": "sandbox"}
OTHER = {"lab": "clickstream", "profile": "sandbox"}
RETAINED = {"lab": "data-lake", "profile": "production"}


def tag_list(tags):
    return [{"Key": k, "Value": v} for k, v in tags.items()]


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
    assert {str(i) for i in report.deleted} >= {"bucket lab-leftover-bucket",
                                                "log group /aws/lambda/mlref-data-lake-fn"}
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
    bucket(session, "lab-output", LAB, objects=("jobs/lab-job/output/model.tar.gz",
                                                "jobs/foreign-job/output/model.tar.gz"))
    sagemaker, logs = session.client("sagemaker"), session.client("logs")
    logs.create_log_group(logGroupName=TRAINING_LOG_GROUP)
    for job, tags in (("lab-job", LAB), ("foreign-job", {})):
        sagemaker.create_training_job(
            TrainingJobName=job,
            AlgorithmSpecification={"TrainingImage": "123.dkr.ecr.us-east-1.amazonaws.com/x:1",
                                    "TrainingInputMode": "File"},
            RoleArn="arn:aws:iam::123456789012:role/sm", OutputDataConfig={"S3OutputPath": "s3://lab-output/jobs"},
            ResourceConfig={"InstanceType": "ml.g5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
            StoppingCondition={"MaxRuntimeInSeconds": 600}, Tags=tag_list(tags) if tags else [],
        )
        logs.create_log_stream(logGroupName=TRAINING_LOG_GROUP, logStreamName=f"{job}/algo-1-1700000000")

    report = sweep(session, "data-lake", log=lambda _: None, kinds=["training_jobs"])

    streams = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=TRAINING_LOG_GROUP)["logStreams"]]
    assert streams == ["foreign-job/algo-1-1700000000"]
    keys = [o["Key"] for o in session.client("s3").list_objects_v2(Bucket="lab-output")["Contents"]]
    assert keys == ["jobs/foreign-job/output/model.tar.gz"]
    assert any(str(i).startswith("training artifacts s3://lab-output/jobs/lab-job/") for i in report.deleted)


def test_feature_group_offline_data_and_glue_table_are_removed(session):
    bucket(session, "offline-store", LAB, objects=("fg/123/sagemaker/us-east-1/offline-store/customers/part-0.parquet",
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
    stub.add_client_error("describe_feature_group", "ResourceNotFound", "Resource Not Found",
                          expected_params={"FeatureGroupName": "customers"})
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
    lab_sg = ec2.create_security_group(
        GroupName="lab", Description="lab", VpcId=vpc,
        TagSpecifications=[{"ResourceType": "security-group", "Tags": tag_list(LAB)}])["GroupId"]
    other_sg = ec2.create_security_group(GroupName="other", Description="other", VpcId=vpc)["GroupId"]

    def interface_in(group: str) -> str:
        return ec2.create_network_interface(SubnetId=subnet, Groups=[group])["NetworkInterface"]["NetworkInterfaceId"]

    lab_eni, other_eni = interface_in(lab_sg), interface_in(other_sg)

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
    result = index.handler(event, None, session=session, kinds=MOTO_KINDS, sleep=lambda _s: None)
    assert result["lab"] == "data-lake" and result["clean"] is True
    assert "deleted bucket janitor-test-bucket" in result["lines"]
    assert index.handler({"detail": {"stack-id": "arn:aws:cloudformation:us-east-1:1:stack/other/x"}}, None,
                         session=session, kinds=MOTO_KINDS) == {"lab": None}


# -- scope: one account, one region, no live stack (issue 13) -----------------------------

QUIET = {"log": lambda _line: None}


def test_a_sweep_in_one_region_leaves_the_same_labs_bucket_in_another_region(session):
    """The data loss of issue 13: ListBuckets lists every region's buckets."""
    bucket(session, "mlref-data-lake-east", LAB)
    west = new_session("us-west-2")
    west.client("s3").create_bucket(Bucket="mlref-data-lake-west",
                                    CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    west.client("s3").put_bucket_tagging(Bucket="mlref-data-lake-west", Tagging={"TagSet": tag_list(LAB)})
    west.client("s3").put_object(Bucket="mlref-data-lake-west", Key="live.parquet", Body=b"x")

    report = sweep(session, "data-lake", kinds=["buckets"], **QUIET)

    assert bucket_names(session) == {"mlref-data-lake-west"}
    assert [str(i) for i in report.deleted] == ["bucket mlref-data-lake-east"] and report.clean
    assert west.client("s3").get_object(Bucket="mlref-data-lake-west", Key="live.parquet")["Body"].read() == b"x"
    assert verify(session, "data-lake") == []  # the Tagging API lists the other region's bucket too
    assert verify(west, "data-lake") == ["arn:aws:s3:::mlref-data-lake-west"]


def other_account(account="210987654321", region=REGION):
    credentials = boto3.client("sts", region_name=region).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/other-team", RoleSessionName="other-team")["Credentials"]
    return new_session(region, aws_access_key_id=credentials["AccessKeyId"],
                       aws_secret_access_key=credentials["SecretAccessKey"],
                       aws_session_token=credentials["SessionToken"])


def test_the_same_names_and_tags_in_another_account_are_not_touched(session):
    other = other_account()
    assert other.client("sts").get_caller_identity()["Account"] == "210987654321"
    bucket(other, "mlref-data-lake-theirs", LAB)
    other.client("logs").create_log_group(logGroupName="/aws/lambda/mlref-data-lake-fn", tags=LAB)

    assert sweep(session, "data-lake", kinds=["buckets", "log_groups"], **QUIET).deleted == []
    assert bucket_names(other) == {"mlref-data-lake-theirs"}
    assert verify(session, "data-lake") == []
    # the other account's own sweep does remove them: the tags and names were sweepable
    deleted = sweep(other, "data-lake", kinds=["buckets", "log_groups"], **QUIET).deleted
    assert {i.kind for i in deleted} == {"bucket", "log group"} and bucket_names(other) == set()


def test_an_arn_of_another_account_or_region_is_never_looked_at(session):
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    stub = Stubber(sagemaker)
    summary = {"EndpointStatus": "InService", "CreationTime": datetime(2026, 1, 1),
               "LastModifiedTime": datetime(2026, 1, 1)}
    stub.add_response("list_endpoints", {"Endpoints": [
        {"EndpointName": "theirs", "EndpointArn": "arn:aws:sagemaker:us-east-1:210987654321:endpoint/theirs",
         **summary},
        {"EndpointName": "west", "EndpointArn": "arn:aws:sagemaker:us-west-2:123456789012:endpoint/west",
         **summary}]}, {})
    stub.activate()  # no ListTags, DescribeEndpoint or DeleteEndpoint may follow
    report = Sweeper(session, "data-lake", kinds=["endpoints"], clients={"sagemaker": sagemaker}, **QUIET).run()
    stub.assert_no_pending_responses()
    assert report.deleted == [] and report.failed == []


def test_an_output_bucket_of_another_account_is_refused_by_expected_bucket_owner(session):
    s3 = boto3.client("s3", region_name=REGION)
    stub = Stubber(s3)
    stub.add_client_error("get_bucket_location", "AccessDenied", "Access Denied", 403,
                          expected_params={"Bucket": "shared-bucket", "ExpectedBucketOwner": "123456789012"})
    stub.activate()
    sweeper = Sweeper(session, "data-lake", clients={"s3": s3}, **QUIET)
    sweeper.delete_prefix("training artifacts", "s3://shared-bucket/jobs/lab-job/")
    stub.assert_no_pending_responses()  # no ListObjectVersions, no DeleteObjects
    assert sweeper.report.deleted == [] and sweeper.report.failed == []


def stack_template(tags):
    return json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"Tags": tag_list(tags)}}}})


def test_nothing_is_deleted_while_the_labs_stack_exists(session):
    bucket(session, "mlref-data-lake-raw", LAB)
    session.client("logs").create_log_group(logGroupName="/aws/lambda/mlref-data-lake-fn", tags=LAB)
    cloudformation = session.client("cloudformation")
    cloudformation.create_stack(StackName="mlref-data-lake", TemplateBody=stack_template(LAB))

    report = sweep(session, "data-lake", kinds=["buckets", "log_groups"], **QUIET)

    assert report.deleted == [] and not report.clean and bucket_names(session) == {"mlref-data-lake-raw"}
    assert report.lines() == ["refused: stack mlref-data-lake still exists (CREATE_COMPLETE) in 123456789012 "
                              "us-east-1: nothing deleted; delete the stack first (`labs destroy data-lake`)"]
    cloudformation.delete_stack(StackName="mlref-data-lake")
    assert {i.kind for i in sweep(session, "data-lake", kinds=["buckets", "log_groups"], **QUIET).deleted} == {
        "bucket", "log group"}


def live_stacks(stub, *stacks, error=None):
    """The sweep's one ListStacks of every stack that is not deleted (its filter: every other status)."""
    statuses = [s for s in boto3.client("cloudformation", region_name=REGION).meta.service_model.shape_for(
        "StackStatus").enum if s != "DELETE_COMPLETE"]
    if error:
        stub.add_client_error("list_stacks", error, "User is not authorized to perform ListStacks",
                              expected_params={"StackStatusFilter": statuses})
    else:
        stub.add_response("list_stacks", {"StackSummaries": [
            {"StackName": name, "StackId": f"arn:aws:cloudformation:us-east-1:123456789012:stack/{name}/1",
             "StackStatus": status, "CreationTime": datetime(2026, 1, 1)} for name, status in stacks]},
            {"StackStatusFilter": statuses})


@pytest.mark.parametrize("status,error,reason", [
    ("DELETE_FAILED", None, "still exists (DELETE_FAILED)"),
    ("DELETE_IN_PROGRESS", None, "still exists (DELETE_IN_PROGRESS)"),
    (None, "AccessDenied", "could not tell whether a stack of data-lake still exists (AccessDenied)"),
])
def test_a_failed_or_unknown_stack_state_refuses_the_whole_sweep(session, status, error, reason):
    bucket(session, "mlref-data-lake-raw", LAB)
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    stub = Stubber(cloudformation)
    live_stacks(stub, *([("mlref-data-lake", status)] if status else []), error=error)
    stub.activate()
    report = Sweeper(session, "data-lake", kinds=["buckets"], clients={"cloudformation": cloudformation}, **QUIET).run()
    assert reason in report.refused and report.deleted == [] and bucket_names(session) == {"mlref-data-lake-raw"}


def test_what_the_deleted_stack_retained_is_named_in_the_report(session):
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    stub = Stubber(cloudformation)
    stack_id = "arn:aws:cloudformation:us-east-1:123456789012:stack/mlref-data-lake/2"
    live_stacks(stub, ("mlref-data-lake-2", "CREATE_COMPLETE"))  # another stack, of no lab here
    stub.add_response("list_stacks", {"StackSummaries": [
        {"StackName": "mlref-data-lake", "StackId": stack_id.replace("/2", "/1"), "StackStatus": "DELETE_COMPLETE",
         "CreationTime": datetime(2025, 1, 1), "DeletionTime": datetime(2025, 2, 1)},
        {"StackName": "mlref-data-lake", "StackId": stack_id, "StackStatus": "DELETE_COMPLETE",
         "CreationTime": datetime(2026, 1, 1), "DeletionTime": datetime(2026, 1, 2)}]},
        {"StackStatusFilter": ["DELETE_COMPLETE"]})
    stub.add_response("list_stack_resources", {"StackResourceSummaries": [
        {"LogicalResourceId": "Raw", "PhysicalResourceId": "mlref-data-lake-raw-1", "ResourceType": "AWS::S3::Bucket",
         "ResourceStatus": "DELETE_SKIPPED", "LastUpdatedTimestamp": datetime(2026, 1, 2)},
        {"LogicalResourceId": "Key", "PhysicalResourceId": "k-1", "ResourceType": "AWS::KMS::Key",
         "ResourceStatus": "DELETE_COMPLETE", "LastUpdatedTimestamp": datetime(2026, 1, 2)}]}, {"StackName": stack_id})
    stub.activate()
    report = Sweeper(session, "data-lake", kinds=[], clients={"cloudformation": cloudformation}, **QUIET).run()
    stub.assert_no_pending_responses()
    assert report.lines() == ["kept by the stack (Retain): AWS::S3::Bucket mlref-data-lake-raw-1"] and report.clean


def test_the_janitor_deletes_nothing_when_a_stack_failed_to_delete(session):
    bucket(session, "mlref-data-lake-raw", LAB)
    event = {"detail": {"stack-id": "arn:aws:cloudformation:us-east-1:123456789012:stack/mlref-data-lake/abc",
                        "status-details": {"status": "DELETE_FAILED"}}}
    result = index.handler(event, None, session=session, topic_arn="", sleep=lambda _s: None)
    assert bucket_names(session) == {"mlref-data-lake-raw"} and result["lines"] == []
    assert result["state"] == "stack-exists" and "nothing swept" in result["error"]


def test_transform_job_streams_and_predictions_are_removed_only_for_tagged_jobs(session):
    """The inference lab's practice starts batch transform jobs outside its stack: the sweep deletes a
    finished tagged job's log streams and predictions (the job record cannot be deleted and bills nothing)."""
    from lambdas.lab_sweep.sweep_sagemaker import TRANSFORM_LOG_GROUP

    bucket(session, "lab-data", LAB, objects=("transform/output/lab-job/records.csv.out",
                                              "transform/output/foreign-job/records.csv.out"))
    sagemaker, logs = session.client("sagemaker"), session.client("logs")
    logs.create_log_group(logGroupName=TRANSFORM_LOG_GROUP)
    for job, tags in (("lab-job", LAB), ("foreign-job", {})):
        sagemaker.create_transform_job(
            TransformJobName=job, ModelName="model-a",
            TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                            "S3Uri": f"s3://lab-data/transform/input/{job}/"}}},
            TransformOutput={"S3OutputPath": f"s3://lab-data/transform/output/{job}/"},
            TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
            Tags=tag_list(tags) if tags else [])
        logs.create_log_stream(logGroupName=TRANSFORM_LOG_GROUP, logStreamName=f"{job}/i-0123456789abcdef0")

    report = sweep(session, "data-lake", log=lambda _: None, kinds=["transform_jobs"])

    streams = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=TRANSFORM_LOG_GROUP)["logStreams"]]
    assert streams == ["foreign-job/i-0123456789abcdef0"]
    keys = [o["Key"] for o in session.client("s3").list_objects_v2(Bucket="lab-data")["Contents"]]
    assert keys == ["transform/output/foreign-job/records.csv.out"]
    assert any(str(i).startswith("batch predictions s3://lab-data/transform/output/lab-job/") for i in report.deleted)
