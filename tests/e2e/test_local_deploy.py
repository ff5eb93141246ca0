"""End to end: CDK bootstrap, ``labs deploy``, ``labs status`` and ``labs destroy`` (with its sweep),
run as a user runs them (the pinned CDK CLI and the ``labs`` command as processes) against moto's
server on 127.0.0.1.

moto runs from ``moto_launcher.py``, which patches gaps in moto 5.2.5's CloudFormation
(KMS key tags and key policy, and managed policies that are never detached on delete) and
nothing else. Each lab was tried: data-lake and feature-store get as far as each other (data-lake
with twice the resources); clickstream's first deploy fails (moto does not know Redshift
Serverless, and its cleanup fails on the VPC moto cannot delete); fsx-training deploys, but its
stack cannot be deleted (moto refuses to delete the VPC, whose route table it never deletes).
The lab here is feature-store, the smallest. What moto does with its template:

- Really created (each checked below through its own service's API, then checked gone after
  the destroy): the 3 S3 buckets, the KMS key, the 6 IAM roles and 5 managed policies, the 2
  Lambda functions (expiry, and aws-cdk-lib's bucket-emptying provider) and the 2 log groups.
- Only recorded (the stack lists them as CREATE_COMPLETE, but their service has nothing): the 2
  SageMaker feature groups, the Glue database and its 2 tables, the Athena workgroup, the
  EventBridge Scheduler expiry schedule, the 3 bucket policies, and the 3
  ``Custom::S3AutoDeleteObjects``: moto invokes their Lambda handler, which cannot run without
  Docker (its log says "error running docker"), and moto's change-set execution marks the
  stack complete anyway.

What the labs command therefore does, and this test asserts:

- ``labs deploy`` refuses to call the deployment done: moto executes a CDK change set without
  ever evaluating the template's Outputs (the stack is created with an empty template, and its
  outputs are never rebuilt), so the stack is CREATE_COMPLETE with none of the 10 outputs the
  lab declares. The deploy exits 1 naming each missing output and saves no record.
- ``labs status`` shows the lab deployed, with the expiry from the stack's own tag. (Its cost
  note says the options are not recorded: moto returns the template's Metadata as a Python
  repr, not JSON.)
- ``labs destroy`` removes the stack and every resource moto created, then sweeps. The sweep
  is not clean and says so: moto has no ListFeatureGroups, and the sweep reports a listing it
  could not make as a failure (exit 1). Besides the CDK bootstrap, all that is left is the log group
  moto itself wrote the Docker error into, which is neither tagged nor the stack's.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from catalog import contract
from tests.e2e.local_aws import ACCOUNT, CDK, REGION, LocalAws

LAB = "feature-store"
STACK = contract(LAB).stack_name
REALLY_CREATED = {"AWS::S3::Bucket": 3, "AWS::KMS::Key": 1, "AWS::IAM::Role": 6, "AWS::IAM::ManagedPolicy": 5,
                  "AWS::Lambda::Function": 2, "AWS::Logs::LogGroup": 2}
RECORDED_ONLY = {"AWS::SageMaker::FeatureGroup": 2, "AWS::Glue::Database": 1, "AWS::Glue::Table": 2,
                 "AWS::Athena::WorkGroup": 1, "AWS::Scheduler::Schedule": 1, "AWS::S3::BucketPolicy": 3,
                 "Custom::S3AutoDeleteObjects": 3, "AWS::CDK::Metadata": 1}
TTL_HOURS = 1


NOT_FOUND = {"404", "NoSuchBucket", "NoSuchEntity", "NotFoundException", "ResourceNotFoundException",
             "ResourceNotFound", "EntityNotFoundException", "NoSuchBucketPolicy"}


def missing(call) -> bool:
    """Whether the call fails because what it asks for is not there (any other failure is raised)."""
    try:
        call()
    except ClientError as error:
        if error.response["Error"]["Code"] in NOT_FOUND:
            return True
        raise
    return False


def exists(aws: LocalAws, resource_type: str, physical_id: str) -> bool:
    """Whether the resource is there, asked of its own service (not of CloudFormation)."""
    if resource_type == "AWS::KMS::Key":
        kms = aws.client("kms")
        return not missing(lambda: kms.describe_key(KeyId=physical_id)) and kms.describe_key(
            KeyId=physical_id)["KeyMetadata"]["KeyState"] not in {"PendingDeletion", "PendingReplicaDeletion"}
    if resource_type == "AWS::Logs::LogGroup":
        groups = aws.client("logs").describe_log_groups(logGroupNamePrefix=physical_id)["logGroups"]
        return any(group["logGroupName"] == physical_id for group in groups)
    iam = aws.client("iam")
    return not missing({
        "AWS::S3::Bucket": lambda: aws.client("s3").head_bucket(Bucket=physical_id),
        "AWS::IAM::Role": lambda: iam.get_role(RoleName=physical_id),
        "AWS::IAM::ManagedPolicy": lambda: iam.get_policy(PolicyArn=physical_id),
        "AWS::Lambda::Function": lambda: aws.client("lambda").get_function(FunctionName=physical_id),
    }[resource_type])


def assert_only_recorded(aws: LocalAws, template: dict, buckets: list[str]) -> None:
    """The recorded-only resources: listed by the stack, unknown to their services."""
    resources = template["Resources"].values()
    props = {kind: [r["Properties"] for r in resources if r["Type"] == kind] for kind in RECORDED_ONLY}
    sagemaker, glue, s3 = aws.client("sagemaker"), aws.client("glue"), aws.client("s3")
    for group in props["AWS::SageMaker::FeatureGroup"]:
        # moto answers 500 for a feature group it does not have (a KeyError on the group's ARN)
        with pytest.raises(ClientError, match=r"\(500\)"):
            sagemaker.describe_feature_group(FeatureGroupName=group["FeatureGroupName"])
        assert aws.logged(f"KeyError: 'arn:aws:sagemaker:{REGION}:{ACCOUNT}:feature-group/"
                          f"{group['FeatureGroupName'].lower()}'"), aws.log_tail()
    databases = [db["Name"] for db in glue.get_databases()["DatabaseList"]]
    assert props["AWS::Glue::Database"][0]["DatabaseInput"]["Name"] not in databases
    for table in props["AWS::Glue::Table"]:
        assert missing(lambda t=table: glue.get_table(DatabaseName=t["DatabaseName"], Name=t["TableInput"]["Name"]))
    workgroups = [w["Name"] for w in aws.client("athena").list_work_groups()["WorkGroups"]]
    assert props["AWS::Athena::WorkGroup"][0]["Name"] not in workgroups
    assert aws.client("scheduler").list_schedules()["Schedules"] == []
    assert all(missing(lambda b=bucket: s3.get_bucket_policy(Bucket=b)) for bucket in buckets)


def custom_resource_attempts(aws: LocalAws, function: str, expected: int) -> list[str]:
    """What moto logged when it invoked the custom resources' handler (it writes to the default
    /aws/lambda/<function> group); waits, bounded, for the invocations moto runs in threads."""
    logs, group = aws.client("logs"), f"/aws/lambda/{function}"
    deadline, messages = time.monotonic() + 10, []
    while time.monotonic() < deadline:
        if logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
            streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
            messages = [event["message"] for stream in streams for event in logs.get_log_events(
                logGroupName=group, logStreamName=stream["logStreamName"])["events"]]
            if len(messages) >= expected:
                break
        time.sleep(0.2)
    return messages


def test_bootstrap_deploy_status_destroy_against_moto(moto_aws: LocalAws, tmp_path):
    aws = moto_aws
    # -- CDK bootstrap, from an empty folder: with no cdk.json it does not synthesize the app first
    bootstrap = aws.run(str(CDK), "bootstrap", f"aws://{ACCOUNT}/{REGION}", "--no-notices", cwd=tmp_path)
    assert bootstrap.code == 0, bootstrap
    version = aws.client("ssm").get_parameter(Name="/cdk-bootstrap/hnb659fds/version")["Parameter"]["Value"]
    assert int(version) >= 6

    # -- labs deploy: the CLI deploys, moto reports CREATE_COMPLETE without outputs, deploy refuses
    deploy = aws.labs("deploy", LAB, "--yes", "-c", f"ttl_hours={TTL_HOURS}", "-c", "owner=e2e")
    declared = [str(output) for output in contract(LAB).outputs_for(contract(LAB).default_options())]
    assert deploy.code == 1, deploy
    assert f"account {ACCOUNT}, region {REGION}" in deploy.lines
    assert f"CDK bootstrap: version {version}" in deploy.lines
    assert "Traceback" not in deploy.stderr
    last = deploy.stderr.strip().splitlines()[-1]
    missing = re.fullmatch(rf"error: {STACK} is CREATE_COMPLETE but lacks the outputs (.+?): the practice needs "
                           r"them; .*", last)
    assert missing, deploy
    assert missing.group(1).split(", ") == declared
    assert not list(aws.state.glob("*.json")), "a deployment without its outputs must not be saved"

    cloudformation = aws.client("cloudformation")
    stack = cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE" and not stack.get("Outputs")  # moto's gap, not the lab's
    tags = {tag["Key"]: tag["Value"] for tag in stack["Tags"]}
    assert {k: tags[k] for k in ("lab", "profile", "owner")} == {"lab": LAB, "profile": "sandbox", "owner": "e2e"}
    expires = datetime.fromisoformat(tags["expires-at"].replace("Z", "+00:00"))
    now = datetime.now(UTC)
    assert now < expires <= now + timedelta(hours=TTL_HOURS)

    template = json.loads((aws.state / "assembly" / "sandbox" / LAB / f"{STACK}.template.json").read_text())
    assert Counter(r["Type"] for r in template["Resources"].values()) == {**REALLY_CREATED, **RECORDED_ONLY}, \
        "the lab's resource types changed: sort each new one into REALLY_CREATED or RECORDED_ONLY (and the docstring)"
    physical = {r["LogicalResourceId"]: (r["ResourceType"], r["PhysicalResourceId"]) for r in
                cloudformation.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
                if r.get("LogicalResourceId")}
    created = [(kind, pid) for logical, (kind, pid) in physical.items() if kind in REALLY_CREATED]
    assert Counter(kind for kind, _ in created) == REALLY_CREATED
    assert [item for item in created if not exists(aws, *item)] == []
    buckets = [pid for kind, pid in created if kind == "AWS::S3::Bucket"]
    assert_only_recorded(aws, template, buckets)
    handler = next(pid for logical, (kind, pid) in physical.items()
                   if kind == "AWS::Lambda::Function" and logical.startswith("CustomS3AutoDeleteObjects"))
    attempts = custom_resource_attempts(aws, handler, RECORDED_ONLY["Custom::S3AutoDeleteObjects"])
    assert len(attempts) == RECORDED_ONLY["Custom::S3AutoDeleteObjects"]
    assert all(message.startswith("error running docker") for message in attempts), attempts

    # -- labs status: the lab is there, with the expiry of its own tag
    status = aws.labs("status")
    assert status.code == 0, status
    line = next((line for line in status.lines if line.startswith(LAB)), "")
    left_hours = re.search(r"CREATE_COMPLETE +age [\d.]+ h, expires in ([\d.]+) h", line)
    assert left_hours and 0 < float(left_hours.group(1)) <= TTL_HOURS, status

    # -- labs destroy: the stack and what moto created are gone; the sweep says what it could not do
    destroy = aws.labs("destroy", LAB, "--yes")
    assert destroy.code == 1, destroy
    assert "Traceback" not in destroy.stderr
    assert f"{STACK}: destroyed" in destroy.stdout, destroy
    with pytest.raises(ClientError, match="does not exist"):
        cloudformation.describe_stacks(StackName=STACK)
    assert [item for item in created if exists(aws, *item)] == []
    problems = sorted(line for line in destroy.lines if line.startswith("could not"))
    # what moto cannot answer is reported as such, never as clean: it has no ListFeatureGroups and no
    # ListMonitoringSchedules (it answers its own 404 web page, which the command refuses to read as AWS's)
    assert [re.match(r"could not check ([a-z ]+) \(", line).group(1) for line in problems] == [
        "feature groups", "monitoring schedules"], destroy
    assert all("rerun the sweep (`labs destroy feature-store`) later" in line for line in problems), destroy
    # moto's CloudFormation deletes a stack's KMS key without scheduling its deletion, so the Tagging API
    # still lists it: the sweep reports it as left, never deletes a key itself
    left = [line for line in destroy.lines if line.startswith("left, delete by hand:")]
    assert all(":kms:" in line for line in left), destroy
    assert destroy.lines[-1] == f"{LAB}: {len(left)} item(s) left, {len(problems)} kind(s) not checked: see above", \
        destroy
    logs = aws.client("logs")
    left = [group["logGroupName"] for group in logs.describe_log_groups()["logGroups"]]
    # moto's own logs of the Docker error (one per handler moto started): untagged, never the stack's
    assert f"/aws/lambda/{handler}" in left, left
    assert all(name.startswith(f"/aws/lambda/{handler.rsplit('-', 1)[0]}") for name in left), left
    assert all(logs.list_tags_log_group(logGroupName=name)["tags"] == {} for name in left)
