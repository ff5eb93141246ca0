"""The classroom (StackSets): its context, its admin-account stacks, and the member templates,
which must be StackSet-ready and pass the same gates as the lab's own stack. One synthesis."""

from __future__ import annotations

import json

import pytest

from catalog import classroom
from catalog.base import ConfigError
from tests.conftest import CLASSROOM_CONTEXT, CLASSROOMS, classroom_templates, resources_of

ACCOUNTS = tuple(CLASSROOM_CONTEXT["classroom_accounts"].split(","))
REGIONS = tuple(CLASSROOM_CONTEXT["classroom_regions"].split(","))


@pytest.fixture(scope="session")
def room(classroom):
    return classroom


@pytest.fixture(scope="session")
def members(room) -> dict[str, dict]:
    templates = classroom_templates(room)
    return {role: templates[f"{role}-member"] for role in ("classroom", "janitor")}


def stack_set(template: dict) -> dict:
    (found,) = resources_of(template, "AWS::CloudFormation::StackSet").values()
    return found["Properties"]


# -- context -------------------------------------------------------------------------------

@pytest.mark.parametrize("context,message", [
    ({"classroom_accounts": "11111111111"}, "'11111111111' is not a 12-digit account id"),
    ({"classroom_ous": "ou-12"}, "'ou-12' is not an OU id"),
    ({"classroom_accounts": "111111111111", "classroom_regions": "us-east"}, "'us-east' is not a region name"),
    ({"classroom_accounts": "111111111111", "classroom_permissions": "org"}, "classroom_permissions='org'"),
    ({"classroom_accounts": "111111111111", "classroom_ous": "ou-ab12-cd34ef56"}, "either accounts or OUs"),
    ({}, "either accounts or OUs"),
    ({"classroom_ous": "ou-ab12-cd34ef56", "classroom_permissions": "self-managed"}, "not OUs"),
    ({"classroom_accounts": "111111111111", "classroom_permissions": "service-managed"}, "create instances by OU"),
    ({"classroom_ous": "ou-ab12-cd34ef56"}, "need the organization id"),
    ({"classroom_accounts": "111111111111,111111111111"}, "lists 111111111111 twice"),
    ({"classroom": "data-lake", "classroom_accounts": "111111111111"}, "Lake Formation data lake settings"),
    ({"classroom": "clickstream", "classroom_accounts": "111111111111"}, "Firehose's address range"),
    ({"classroom": "feature-stor", "classroom_accounts": "111111111111"}, "is not a lab"),
    ({"classroom": "model-development", "classroom_accounts": "111111111111",
      "classroom_regions": "us-east-1,il-central-1"}, "classroom region il-central-1: model-development: "),
    ({"classroom": "inference", "classroom_accounts": "111111111111",
      "classroom_regions": "eu-west-1,ap-southeast-4"}, "classroom region ap-southeast-4: region ap-southeast-4 has"),
    ({"classroom": "mlops", "classroom_accounts": "111111111111", "mlops_source": "github",
      "mlops_repository": "you/churn-model",
      "mlops_connection_arn": "arn:aws:codeconnections:us-east-1:111122223333:connection/0a1b2c3d-4e5f-4a1b-8c2d-"
                              "3e4f5a6b7c8d"}, "classroom=mlops: mlops_source=github needs a CodeConnections"),
])
def test_bad_classroom_context_is_one_line(context, message):
    with pytest.raises(ConfigError) as raised:
        classroom.parse({"classroom": "feature-store", **context}, "us-east-1")
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_classroom_keys_are_known_and_a_typo_is_named():
    from catalog.config import check_keys

    check_keys(dict.fromkeys(classroom.KEY_NAMES, "x"))
    with pytest.raises(ConfigError, match="did you mean -c classroom_accounts"):
        check_keys({"classroom_acounts": "111111111111"})


def test_ous_default_to_service_managed_and_regions_to_the_apps():
    options = classroom.parse({"classroom": "feature-store", "classroom_ous": "ou-ab12-cd34ef56",
                               "classroom_org": "o-a1b2c3d4e5", "classroom_call_as": "delegated_admin"}, "eu-west-1")
    assert (options.permissions, options.regions, options.call_as) == ("service-managed", ("eu-west-1",),
                                                                       "DELEGATED_ADMIN")


def test_class_cost_is_the_labs_times_accounts_times_regions():
    from catalog import LABS

    lab = LABS["feature-store"].cost(LABS["feature-store"].default_options())
    whole = classroom.class_cost(lab, accounts=30, regions=2)
    assert whole.idle_per_hour == pytest.approx(lab.idle_per_hour * 60)
    assert whole.per_practice_run == pytest.approx(lab.per_practice_run * 60)


# -- the admin account's stacks ----------------------------------------------------------------

def test_classroom_builds_only_admin_stacks(room):
    assert sorted(room.stacks) == ["assets-eu-west-1", "assets-us-east-1", "classroom", "janitor"]
    assert room.stacks["assets-eu-west-1"].region == "eu-west-1"


def test_lab_stack_set_rolls_out_with_tolerance_queueing_and_capabilities(room):
    properties = stack_set(room.templates["classroom"])
    assert properties["StackSetName"] == "mlref-feature-store"
    assert properties["PermissionModel"] == "SELF_MANAGED"
    assert properties["ExecutionRoleName"] == "AWSCloudFormationStackSetExecutionRole"
    assert properties["ManagedExecution"] == {"Active": True}
    assert properties["Capabilities"] == ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
    assert properties["OperationPreferences"] == {
        "ConcurrencyMode": "SOFT_FAILURE_TOLERANCE", "FailureTolerancePercentage": 10, "MaxConcurrentPercentage": 100,
        "RegionConcurrencyType": "PARALLEL", "RegionOrder": list(REGIONS)}
    assert properties["StackInstancesGroup"] == [{"DeploymentTargets": {"Accounts": list(ACCOUNTS)},
                                                  "Regions": list(REGIONS)}]
    tags = {tag["Key"]: tag["Value"] for tag in properties["Tags"]}
    assert tags["lab"] == "feature-store" and tags["expires-at"] == "2026-01-15T13:30:00Z"
    assert "AutoDeployment" not in properties  # self-managed: targets are the listed accounts


def test_self_managed_admin_role_may_assume_only_the_targets_execution_role(room):
    template = room.templates["classroom"]
    (policy,) = [p for p in resources_of(template, "AWS::IAM::ManagedPolicy").values()
                 if "sts:AssumeRole" in json.dumps(p)]
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRole"
    assert [part for resource in statement["Resource"] for part in resource["Fn::Join"][1]
            if isinstance(part, str) and "AWSCloudFormationStackSetExecutionRole" in part] == [
        f":iam::{account}:role/AWSCloudFormationStackSetExecutionRole" for account in ACCOUNTS]


def test_service_managed_auto_deploys_to_ous_without_retaining_stacks():
    from aws_cdk import Stack
    from aws_cdk.assertions import Template

    from app import new_app
    from cdk_constructs.classroom.stackset import ClassroomStackSet

    options = classroom.parse({"classroom": "feature-store", "classroom_ous": "ou-ab12-cd34ef56",
                               "classroom_org": "o-a1b2c3d4e5"}, "us-east-1")
    stack = Stack(new_app(), "Org")
    ClassroomStackSet(stack, "Lab", options=options, stack_set_name="mlref-feature-store", description="d",
                      template_url="https://example.com/t.json", parameters={}, tags={"lab": "feature-store"})
    properties = stack_set(Template.from_stack(stack).to_json())
    assert properties["PermissionModel"] == "SERVICE_MANAGED" and properties["CallAs"] == "SELF"
    assert properties["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": False}
    assert properties["StackInstancesGroup"][0]["DeploymentTargets"] == {"OrganizationalUnitIds": ["ou-ab12-cd34ef56"]}
    assert "AdministrationRoleARN" not in properties and "ExecutionRoleName" not in properties


def test_the_class_expires_from_the_admin_side_and_the_janitor_never(room, members):
    assert resources_of(room.templates["classroom"], "AWS::Scheduler::Schedule")
    assert not resources_of(room.templates["janitor"], "AWS::Scheduler::Schedule")
    assert not resources_of(members["classroom"], "AWS::Scheduler::Schedule")  # no member deletes itself
    manifest = json.loads((room.outdir / "manifest.json").read_text())["artifacts"]
    assert "mlref-classroom-feature-store-janitor" in manifest["mlref-classroom-feature-store"]["dependencies"]


def test_janitor_stack_set_targets_the_same_accounts_and_regions(room):
    lab, janitor = stack_set(room.templates["classroom"]), stack_set(room.templates["janitor"])
    assert janitor["StackSetName"] == "mlref-janitor-feature-store"
    assert janitor["StackInstancesGroup"] == lab["StackInstancesGroup"]


# -- the member templates ---------------------------------------------------------------------

def test_members_are_not_deployable_stacks_of_the_app(room):
    artifacts = json.loads((room.outdir / "manifest.json").read_text())["artifacts"]
    assert not [name for name in artifacts if name.endswith("-member")]


@pytest.mark.parametrize("role", ["classroom", "janitor"])
@pytest.mark.parametrize("name", list(CLASSROOMS))
def test_member_has_no_bootstrap_rule_and_reads_code_only_from_the_shelves(classrooms, name, role):
    room = classrooms[name]
    member = room.members[f"{role}-member"]
    assert "Rules" not in member and "hnb659fds" not in json.dumps(member)  # no bootstrap rule, bucket or role
    functions = resources_of(member, "AWS::Lambda::Function")
    assert functions
    shelved = {region: {o["Key"] for o in next(iter(resources_of(room.templates[f"assets-{region}"],
                                                                   "Custom::StackSetAssets").values()))
                        ["Properties"]["Objects"]} for region in REGIONS}
    for function in functions.values():
        code = function["Properties"]["Code"]
        assert code["S3Bucket"] == {"Fn::Join": ["-", [{"Ref": "AssetBucketPrefix"}, {"Ref": "AWS::Region"}]]}
        assert all(code["S3Key"] in keys for keys in shelved.values())


def test_shelf_is_readable_by_the_targets_only(room):
    template = room.templates["assets-us-east-1"]
    grants = [s for p in resources_of(template, "AWS::S3::BucketPolicy").values()
              for s in p["Properties"]["PolicyDocument"]["Statement"] if s.get("Sid") == "StackSetTargetsReadCode"]
    assert [(g["Action"], g["Principal"]) for g in grants] == [
        ("s3:GetObject", {"AWS": [f"arn:aws:iam::{a}:root" for a in ACCOUNTS]})]
    (bucket,) = [b for name, b in resources_of(template, "AWS::S3::Bucket").items() if name.startswith("ShelfCode")]
    assert bucket["Properties"]["BucketName"] == {"Fn::Join": ["", ["mlref-classroom-assets-",
                                                                    {"Ref": "AWS::AccountId"}, "-",
                                                                    {"Ref": "AWS::Region"}]]}
    stack_set_prefix = stack_set(room.templates["classroom"])["Parameters"][0]["ParameterValue"]
    assert stack_set_prefix == {"Fn::Join": ["", ["mlref-classroom-assets-", {"Ref": "AWS::AccountId"}]]}


# -- the gates (tests/gates) judge these templates with every lab's: cdk-nag, cfn-lint, checkov, cfn-guard --

def test_every_lab_that_can_run_as_a_stack_set_is_gated_as_one():
    from catalog import LABS

    gated = {context["classroom"] for _, context in CLASSROOMS.values()}
    assert gated == set(LABS) - set(classroom.NOT_STACKSET_READY) and len(gated) >= 4


def test_gates_scan_the_member_templates(room):
    assert {"classroom-member", "janitor-member", "classroom", "janitor"} <= set(classroom_templates(room))


# -- the janitor recognises a classroom's member stacks -----------------------------------------

@pytest.mark.parametrize("stack,lab", [
    ("StackSet-mlref-feature-store-0f5d2c9e-1b2a-4c3d-8e9f-0a1b2c3d4e5f", "feature-store"),
    ("StackSet-mlref-janitor-feature-store-0f5d2c9e-1b2a-4c3d-8e9f-0a1b2c3d4e5f", None),
    ("mlref-feature-store", "feature-store"),
    ("StackSet-someone-else-0f5d2c9e-1b2a-4c3d-8e9f-0a1b2c3d4e5f", None),
])
def test_janitor_names_the_lab_of_a_member_stack(stack, lab):
    from lambdas.lab_sweep.index import lab_of

    event = {"detail": {"stack-id": f"arn:aws:cloudformation:us-east-1:111111111111:stack/{stack}/guid"}}
    assert lab_of(event) == lab


def test_janitor_rule_matches_member_stacks_too(members):
    (rule,) = resources_of(members["janitor"], "AWS::Events::Rule").values()
    prefixes = [json.dumps(p) for p in rule["Properties"]["EventPattern"]["detail"]["stack-id"]]
    assert len(prefixes) == 2 and any("stack/StackSet-mlref-" in p for p in prefixes)


def test_a_member_looks_up_the_algorithm_images_of_the_region_it_lands_in(classrooms):
    """ml-pipeline's one StackSet template serves every region: its images come from a mapping."""
    from catalog import ml_pipeline

    member = classrooms["classroom-ml-pipeline"].members["classroom-member"]
    accounts = member["Mappings"]["AlgorithmImageAccounts"]
    assert {region: row["account"] for region, row in accounts.items()} == ml_pipeline.ALGORITHM_IMAGE_ACCOUNTS
    (pipeline,) = resources_of(member, "AWS::SageMaker::Pipeline").values()
    body = json.dumps(pipeline["Properties"]["PipelineDefinition"])
    assert '{"Fn::FindInMap": ["AlgorithmImageAccounts", {"Ref": "AWS::Region"}, "account"]}' in body
    assert ml_pipeline.ALGORITHM_IMAGE_ACCOUNTS["us-east-1"] not in body  # no region's registry written in


# -- a class of any size (issue 24): batched within IAM's and S3's policy limits ---------------------

def longest(value):
    """A template value as the longest text it can deploy as: the longest partition, a 14-character
    region, a role name of 64 characters for any other reference."""
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(longest(part) for part in parts)
    if isinstance(value, dict) and set(value) & {"Ref", "Fn::GetAtt"}:
        pseudo = {"AWS::Partition": classroom.LONGEST_PARTITION, "AWS::Region": "ap-southeast-7",
                  "AWS::AccountId": "0" * 12}
        return pseudo.get(value.get("Ref"), f"arn:{classroom.LONGEST_PARTITION}:iam::{'0' * 12}:role/{'r' * 64}")
    if isinstance(value, dict):
        return {key: longest(item) for key, item in value.items()}
    if isinstance(value, list):
        return [longest(item) for item in value]
    return value


def compact(document) -> int:
    return len(json.dumps(longest(document), separators=(",", ":")))


def large_class(accounts: int):
    from aws_cdk import Stack
    from aws_cdk.assertions import Template

    from app import new_app
    from cdk_constructs.classroom.stackset import ASSET_BUCKET_PARAMETER, AssetShelf, ClassroomStackSet, shelf_prefix
    from cdk_constructs.core.settings import LabSettings, Profile
    from tests.conftest import FIXED_SYNTH_TIME

    ids = [f"{n:012d}" for n in range(100000000000, 100000000000 + accounts)]
    options = classroom.parse({"classroom": "feature-store", "classroom_accounts": ",".join(ids)}, "us-east-1")
    stack = Stack(new_app(), "Admin")
    ClassroomStackSet(stack, "Lab", options=options, stack_set_name="mlref-feature-store", description="d",
                      template_url="https://example.com/t.json",
                      parameters={ASSET_BUCKET_PARAMETER: shelf_prefix(classroom.shelf_base())}, tags={})
    settings = LabSettings(lab="classroom-assets", profile=Profile.SANDBOX, owner="tester", ttl_hours=0,
                           synth_time=FIXED_SYNTH_TIME)
    for batch, readers in enumerate(options.shelf_batches):
        AssetShelf(stack, f"Shelf{batch}", settings=settings, bucket_name=f"shelf-{batch}", reader_accounts=readers)
    return ids, Template.from_stack(stack).to_json()


def test_a_large_self_managed_class_is_batched_within_the_policy_limits():
    ids, template = large_class(classroom.ACCOUNTS_PER_SHELF + 95)
    policies = [p["Properties"] for p in resources_of(template, "AWS::IAM::ManagedPolicy").values()
                if "sts:AssumeRole" in json.dumps(p)]
    assert len(policies) == -(-len(ids) // classroom.ACCOUNTS_PER_ADMIN_POLICY)
    assert all(compact(p["PolicyDocument"]) <= classroom.IAM_MANAGED_POLICY_CHARS for p in policies)
    named = [longest(r).split(":")[4]
             for p in policies for s in p["PolicyDocument"]["Statement"] for r in s["Resource"]]
    assert sorted(named) == ids  # every account's execution role, once
    bucket_policies = [p["Properties"]["PolicyDocument"]
                       for p in resources_of(template, "AWS::S3::BucketPolicy").values()]
    assert len(bucket_policies) == 2 and all(compact(p) <= classroom.S3_BUCKET_POLICY_BYTES for p in bucket_policies)
    groups = stack_set(template)["StackInstancesGroup"]
    assert [len(g["DeploymentTargets"]["Accounts"]) for g in groups] == [classroom.ACCOUNTS_PER_SHELF, 95]
    assert "ParameterOverrides" not in groups[0]
    assert groups[1]["ParameterOverrides"] == [{"ParameterKey": "AssetBucketPrefix", "ParameterValue": {
        "Fn::Join": ["", ["mlref-classroom-assets2-", {"Ref": "AWS::AccountId"}]]}}]


def test_the_shelf_reserve_covers_its_bucket_policys_other_statements(room):
    (policy,) = [p for p in resources_of(room.templates["assets-us-east-1"], "AWS::S3::BucketPolicy").values()
                 if classroom.READERS_SID in json.dumps(p)]
    others = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s.get("Sid") != classroom.READERS_SID]
    assert others and compact({"Version": "2012-10-17", "Statement": others}) < classroom.SHELF_POLICY_RESERVE


def test_a_class_too_large_for_self_managed_is_refused_with_the_way_out():
    ids = ",".join(f"{n:012d}" for n in range(100000000000, 100000000000 + classroom.LARGEST_SELF_MANAGED_CLASS + 1))
    with pytest.raises(ConfigError) as raised:
        classroom.parse({"classroom": "feature-store", "classroom_accounts": ids}, "us-east-1")
    assert str(raised.value).startswith(f"{classroom.LARGEST_SELF_MANAGED_CLASS + 1} accounts exceed the largest "
                                        f"self-managed class, {classroom.LARGEST_SELF_MANAGED_CLASS}")
    assert "--ous" in str(raised.value)


@pytest.mark.parametrize("key,value,message", [
    # ARABIC-INDIC DIGIT ONE (U+0661), which looks like a 1 and which \d takes
    ("classroom_accounts", "\u0661" * 12, "is not a 12-digit account id"),
    ("classroom_regions", "us-east-\u0661", "is not a region name"),
])
def test_ids_are_ascii_digits_only(key, value, message):
    context = {"classroom": "feature-store", "classroom_accounts": "111111111111", key: value}
    with pytest.raises(ConfigError, match=message):
        classroom.parse(context, "us-east-1")


def test_a_members_budget_covers_every_copy_the_class_puts_in_an_account(members):
    """AWS Budgets filters the whole account by the lab's tag: with two regions, each region's budget sees two
    copies, so it is sized for two."""
    from datetime import UTC, datetime

    from catalog import LABS
    from cdk_constructs.core.budget import expected_cost
    from cdk_constructs.core.settings import LabSettings, Profile

    lab = LABS[CLASSROOM_CONTEXT["classroom"]]
    (budget,) = resources_of(members["classroom"], "AWS::Budgets::Budget").values()
    settings = LabSettings(lab=lab.name, profile=Profile.SANDBOX, owner="tester", ttl_hours=4,
                           synth_time=datetime(2026, 1, 15, tzinfo=UTC), copies_per_account=len(REGIONS))
    one_copy = expected_cost(LabSettings(**{**settings.__dict__, "copies_per_account": 1}), lab.cost(
        lab.default_options()))
    both = expected_cost(settings, lab.cost(lab.default_options()))
    assert len(REGIONS) == 2 and both > one_copy
    assert budget["Properties"]["Budget"]["BudgetLimit"] == {"Amount": round(2 * both, 2), "Unit": "USD"}
