"""The account-level janitor stack: when it sweeps, and what it may delete."""

from __future__ import annotations

import json

import pytest
from moto.events.models import EventPattern  # moto's implementation of EventBridge matching

from cdk_constructs import janitor as janitor_construct
from lambdas.lab_sweep import sweep as sweep_module
from tests.conftest import resources_of

ACCOUNT, REGION = "123456789012", "us-east-1"


def resolve(value):
    """Resolves the pseudo-parameter joins of an event pattern for one account and region."""
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(resolve(p) for p in parts)
    if isinstance(value, dict) and "Ref" in value:
        return {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}[value["Ref"]]
    if isinstance(value, dict):
        return {k: resolve(v) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v) for v in value]
    return value


def stack_event(stack: str, status: str, *, account: str = ACCOUNT) -> dict:
    stack_id = f"arn:aws:cloudformation:{REGION}:{account}:stack/{stack}/0f1e2d3c-aaaa-bbbb-cccc-123456789012"
    return {
        "version": "0", "id": "7e1f", "detail-type": "CloudFormation Stack Status Change",
        "source": "aws.cloudformation", "account": account, "time": "2026-01-15T13:45:00Z", "region": REGION,
        "resources": [stack_id],
        "detail": {"stack-id": stack_id, "status-details": {"status": status, "status-reason": ""}},
    }


@pytest.fixture(scope="module")
def janitor(sandbox):
    return sandbox.templates["janitor"]


@pytest.fixture(scope="module")
def sweep_policy(janitor):
    (policy,) = resources_of(janitor, "AWS::IAM::ManagedPolicy").values()
    return {s.get("Sid", f"#{i}"): s for i, s in enumerate(policy["Properties"]["PolicyDocument"]["Statement"])}


def test_the_rule_fires_only_when_a_lab_stack_of_this_account_is_deleted(janitor):
    (rule,) = resources_of(janitor, "AWS::Events::Rule").values()
    pattern = EventPattern.load(json.dumps(resolve(rule["Properties"]["EventPattern"])))
    assert pattern.matches_event(stack_event("mlref-data-lake", "DELETE_COMPLETE"))
    assert pattern.matches_event(stack_event("mlref-fsx-training", "DELETE_FAILED"))
    assert not pattern.matches_event(stack_event("mlref-data-lake", "UPDATE_COMPLETE"))
    assert not pattern.matches_event(stack_event("mlref-data-lake", "DELETE_IN_PROGRESS"))
    assert not pattern.matches_event(stack_event("someone-elses-stack", "DELETE_COMPLETE"))
    assert not pattern.matches_event(stack_event("mlref-data-lake", "DELETE_COMPLETE", account="210987654321"))


def test_the_rule_invokes_the_sweep_with_retries_and_a_dead_letter_queue(janitor):
    (rule,) = resources_of(janitor, "AWS::Events::Rule").values()
    (target,) = rule["Properties"]["Targets"]
    (function_id,) = resources_of(janitor, "AWS::Lambda::Function")
    (queue_id,) = resources_of(janitor, "AWS::SQS::Queue")
    assert target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 7200}
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    function = janitor["Resources"][function_id]["Properties"]
    assert function["Handler"] == "index.handler" and function["Timeout"] == 900
    assert function["DeadLetterConfig"]["TargetArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    (queue_policy,) = resources_of(janitor, "AWS::SQS::QueuePolicy").values()
    by_sid = {s.get("Sid"): s for s in queue_policy["Properties"]["PolicyDocument"]["Statement"]}
    (rule_id,) = resources_of(janitor, "AWS::Events::Rule")
    assert by_sid["UndeliveredStackEvents"]["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}}


def test_the_janitor_bills_while_idle_only_for_the_key_of_its_log_group(janitor):
    idle_free = {
        "AWS::Events::Rule", "AWS::Lambda::Function", "AWS::Lambda::Permission", "AWS::Logs::LogGroup",
        "AWS::IAM::Role", "AWS::IAM::ManagedPolicy", "AWS::SQS::Queue", "AWS::SQS::QueuePolicy",
    }
    assert {r["Type"] for r in janitor["Resources"].values()} <= idle_free | {"AWS::KMS::Key"}
    (key_id,) = resources_of(janitor, "AWS::KMS::Key")  # $1 per month (pricing/prices.toml kms_key_month)
    (log_group,) = resources_of(janitor, "AWS::Logs::LogGroup").values()
    assert log_group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}


def test_deletes_are_tag_conditioned_or_limited_to_lab_names(sweep_policy):
    tagged = {"Null": {"aws:ResourceTag/lab": "false"}, "StringEquals": {"aws:ResourceTag/profile": "sandbox"}}
    assert sweep_policy["DeleteTaggedLogGroups"]["Condition"] == tagged
    assert sweep_policy["DeleteTaggedFeatureGroups"]["Condition"] == tagged
    for sid in ("EmptyAndDeleteLabBuckets", "DeleteLabObjects"):
        resources = sweep_policy[sid]["Resource"]
        resources = resources if isinstance(resources, list) else [resources]
        assert all(json.dumps(r).count(":s3:::mlref-*") == 1 for r in resources), sid
    for statement in sweep_policy.values():
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if statement["Resource"] == "*":
            assert all(":List" in a or ":Describe" in a or a == "tag:GetResources" for a in actions), statement["Sid"]


def test_the_policy_and_the_sweep_agree_on_which_tags_may_be_swept():
    assert (janitor_construct.LAB_TAG, janitor_construct.PROFILE_TAG, janitor_construct.SWEPT_PROFILE) == (
        sweep_module.TAG_KEY, sweep_module.PROFILE_TAG_KEY, sweep_module.SWEPT_PROFILE)
    assert janitor_construct.TRAINING_LOG_GROUP == sweep_module.TRAINING_LOG_GROUP


def test_lab_buckets_and_databases_carry_the_names_the_janitor_may_delete(sandbox):
    """Bucket names are generated from the stack name (mlref-...) and Glue databases start mlref_."""
    for lab, stack in sandbox.stacks.items():
        assert stack.stack_name.startswith("mlref-")
        template = sandbox.templates[lab]
        for name, bucket in resources_of(template, "AWS::S3::Bucket").items():
            assert "BucketName" not in bucket["Properties"], f"{lab}/{name} fixes its bucket name"
        for name, database in resources_of(template, "AWS::Glue::Database").items():
            assert database["Properties"]["DatabaseInput"]["Name"].startswith("mlref_"), f"{lab}/{name}"
