"""The account-level janitor stack: when it sweeps, and what it may delete."""

from __future__ import annotations

import json

import pytest
from moto.events.models import EventPattern  # moto's implementation of EventBridge matching

from cdk_constructs.janitor import sweeper as janitor_construct
from lambdas.lab_sweep import record as record_module
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
    """Every statement of the sweep role's managed policies, by Sid."""
    statements = [s for policy in resources_of(janitor, "AWS::IAM::ManagedPolicy").values()
                  for s in policy["Properties"]["PolicyDocument"]["Statement"]]
    return {s.get("Sid", f"#{i}"): s for i, s in enumerate(statements)}


def as_list(value):
    return value if isinstance(value, list) else [value]


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
    rule_arn = {"Fn::GetAtt": [rule_id, "Arn"]}
    assert by_sid["UndeliveredStackEvents"]["Condition"] == {"ArnEquals": {"aws:SourceArn": rule_arn}}


def test_the_janitor_bills_while_idle_only_for_the_key_of_its_log_group(janitor):
    idle_free = {
        "AWS::Events::Rule", "AWS::Lambda::Function", "AWS::Lambda::Permission", "AWS::Logs::LogGroup",
        "AWS::IAM::Role", "AWS::IAM::ManagedPolicy", "AWS::SQS::Queue", "AWS::SQS::QueuePolicy",
        "AWS::SNS::Topic", "AWS::SNS::Subscription", "AWS::SNS::TopicPolicy",
    }
    assert {r["Type"] for r in janitor["Resources"].values()} <= idle_free | {"AWS::KMS::Key"}
    (key_id,) = resources_of(janitor, "AWS::KMS::Key")  # $1 per month (pricing/prices.toml kms_key_month)
    (log_group,) = resources_of(janitor, "AWS::Logs::LogGroup").values()
    assert log_group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}


TAGGED = {"Null": {"aws:ResourceTag/lab": "false"},
          "StringEquals": {"aws:ResourceTag/profile": "sandbox", "aws:RequestedRegion": {"Ref": "AWS::Region"}}}
# Deletes that cannot be tag-conditioned, and what limits them instead (asserted below).
UNTAGGED_DELETES = {
    "EmptyAndDeleteLabBuckets": ":s3:::mlref-*", "DeleteLabObjects": ":s3:::mlref-*/*",
    "DeleteServiceNamedLogGroups": ":log-group:/a", "DeleteRunLogStreams": ":log-group:/a",
    "DeleteLabGlueCatalog": ("mlref_", ':catalog"'), "DeleteDetachedInterfaces": ":network-interface/*",
    "StopLabPipelineExecutions": ":pipeline/*/execution/*", "DeletePackagesOfLabGroups": ":model-package/*",
    "CancelEmrServerlessRuns": "/jobruns/*", "StopBuildsOfLabProjects": ":project/mlref-*",
    "DeleteShadowEndpoints": "/mlref-md-clarify*",
}


def test_deletes_are_tag_conditioned_or_limited_to_lab_names(sweep_policy):
    for sid in ("DeleteTaggedLogGroups", "DeleteTaggedSageMaker", "StopAndDeleteTaggedGlueJobs",
                "StopAndDeleteTaggedEmrServerless"):
        assert sweep_policy[sid]["Condition"] == TAGGED, sid
    verbs = (":Delete", ":Stop", ":Cancel", ":BatchStop")
    changing = [s for s in sweep_policy.values() if any(verb in a for a in as_list(s["Action"]) for verb in verbs)]
    for statement in changing:
        sid = statement["Sid"]
        if statement["Condition"] != TAGGED:
            assert sid in UNTAGGED_DELETES, f"{sid} deletes without a tag condition"
            limits = UNTAGGED_DELETES[sid] if isinstance(UNTAGGED_DELETES[sid], tuple) else (UNTAGGED_DELETES[sid],)
            assert all(any(limit in json.dumps(r) for limit in limits) for r in as_list(statement["Resource"])), sid
    for statement in sweep_policy.values():
        if statement["Resource"] == "*":
            assert all(":List" in a or ":Describe" in a or a == "tag:GetResources"
                       for a in as_list(statement["Action"])), statement["Sid"]


def test_every_statement_is_limited_to_this_region_and_s3_to_this_account(sweep_policy):
    region, account = {"Ref": "AWS::Region"}, {"Ref": "AWS::AccountId"}
    swept = {sid: s for sid, s in sweep_policy.items() if not sid.startswith("#")}  # not LabFunction's own
    assert len(swept) > 20
    for sid, statement in swept.items():
        assert statement["Condition"]["StringEquals"]["aws:RequestedRegion"] == region, sid
        if any(a.startswith("s3:") and a != "s3:ListAllMyBuckets" for a in as_list(statement["Action"])):
            assert statement["Condition"]["StringEquals"]["s3:ResourceAccount"] == account, sid
    assert json.dumps(sweep_policy["WriteTeardownRecords"]["Resource"]).endswith(
        f':parameter{record_module.RECORD_PREFIX}*"]]}}')


def test_every_managed_policy_is_attached_to_the_sweep_role(janitor):
    (role_id,) = resources_of(janitor, "AWS::IAM::Role")
    policies = resources_of(janitor, "AWS::IAM::ManagedPolicy")
    assert len(policies) == 3  # its own, SageMaker/Glue/EMR, delivery pipelines: 6,144 characters each
    assert all(p["Properties"]["Roles"] == [{"Ref": role_id}] for p in policies.values())


def test_alerts_go_to_an_encrypted_topic_only_with_an_alert_email(janitor, production):
    (topic_id, topic), = resources_of(janitor, "AWS::SNS::Topic").items()
    assert json.dumps(topic["Properties"]["KmsMasterKeyId"]).endswith(':alias/aws/sns"]]}')  # the AWS managed key
    (subscription,) = resources_of(janitor, "AWS::SNS::Subscription").values()
    assert subscription["Properties"] | {"TopicArn": None} == {
        "Protocol": "email", "Endpoint": "ml-team@example.com", "TopicArn": None}
    (topic_policy,) = resources_of(janitor, "AWS::SNS::TopicPolicy").values()
    (deny,) = topic_policy["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    (function,) = resources_of(janitor, "AWS::Lambda::Function").values()
    assert function["Properties"]["Environment"]["Variables"] == {record_module.ALERT_TOPIC_ENV: {"Ref": topic_id}}
    unalerted = production.templates["janitor"]
    assert resources_of(unalerted, "AWS::SNS::Topic") == {}
    (function,) = resources_of(unalerted, "AWS::Lambda::Function").values()
    assert "Environment" not in function["Properties"]


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


@pytest.mark.parametrize("stack", ["mlref-feature-store",
                                   "StackSet-mlref-feature-store-0f5d2c9e-1b2a-4c3d-8e9f-0a1b2c3d4e5f"],
                         ids=["a learner's own", "a classroom's copy"])
def test_the_janitor_may_read_every_stack_the_sweep_counts_as_the_labs(sweep_policy, stack):
    """Issue 24: a member account's janitor could describe only stack/mlref-*/*, so it could never verify
    the classroom copy it is there for."""
    from fnmatch import fnmatchcase

    from lambdas.shared.lab_names import lab_of_stack

    assert lab_of_stack(stack) == "feature-store"
    arn = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{stack}/0f1e2d3c-aaaa-bbbb-cccc-123456789012"
    statement = sweep_policy["DescribeLabStacks"]
    assert set(as_list(statement["Action"])) == {"cloudformation:DescribeStacks", "cloudformation:ListStackResources"}
    assert any(fnmatchcase(arn, resolve(pattern)) for pattern in as_list(statement["Resource"]))
