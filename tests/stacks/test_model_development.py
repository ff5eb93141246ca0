"""The model-development lab's template: nothing that bills idle (no endpoint, model or job: the practice
starts those), three SageMaker roles trusted by SageMaker of this account only, each naming its prefixes and
images, the Clarify pieces only with Clarify on, and the image accounts as the installed SDK lists them."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from catalog import model_development as lab
from catalog.sagemaker_images import BLAZINGTEXT_ACCOUNTS, CLARIFY_ACCOUNTS
from tests.conftest import resources_of
from tests.stacks.test_ml_pipeline import as_list, statements_of

ROLES = ("JobsTrainingRole", "JobsProcessingRole", "JobsModelRole")


@pytest.fixture(scope="module")
def template(sandbox):
    return sandbox.templates["model-development"]


@pytest.fixture(scope="module")
def without_clarify(variants):
    return variants["sandbox-no-clarify"].templates["model-development"]


def role_id(template, prefix):
    found = [k for k in resources_of(template, "AWS::IAM::Role") if k.startswith(prefix)]
    return found[0] if found else None


def actions_on(statements, resource_text):
    return {a for s in statements for a in as_list(s["Action"])
            if any(resource_text in json.dumps(r) for r in as_list(s["Resource"]))}


def test_nothing_in_the_template_bills_while_idle_but_the_key(template, without_clarify):
    for found in (template, without_clarify):
        types = {r["Type"] for r in found["Resources"].values()}
        assert not {t for t in types if t.startswith("AWS::SageMaker::")}  # jobs and models come from the practice
        assert types & {"AWS::KMS::Key"} and not types & {"AWS::EC2::NatGateway", "AWS::EC2::VPC"}
    assert lab.cost(lab.ModelDevelopmentOptions()).idle_per_hour == pytest.approx(1.0 / 730)


@pytest.mark.parametrize("prefix", ROLES)
def test_each_role_is_assumed_by_sagemaker_of_this_account_only(template, prefix):
    (statement,) = resources_of(template, "AWS::IAM::Role")[role_id(template, prefix)]["Properties"][
        "AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_training_reads_the_data_writes_runs_and_pulls_both_algorithms(template):
    statements = statements_of(template, role_id(template, "JobsTrainingRole"))
    assert "s3:PutObject" in actions_on(statements, "/runs/*")
    assert "s3:PutObject" not in actions_on(statements, "/data/*")
    assert "s3:GetObject" in actions_on(statements, "/data/*")
    pulls = json.dumps([s["Resource"] for s in statements if s.get("Sid") == "PullImages"])
    assert "repository/sagemaker-xgboost" in pulls and "repository/blazingtext" in pulls and "clarify" not in pulls
    assert "sagemaker:CreateEndpoint" not in actions_on(statements, "endpoint")


def test_clarifys_shadow_endpoint_is_allowed_only_by_its_prefix_and_only_with_clarify(template, without_clarify):
    statements = statements_of(template, role_id(template, "JobsProcessingRole"))
    (shadow,) = [s for s in statements if s.get("Sid") == "ClarifyShadowEndpoint"]
    assert all(f"/{lab.SHADOW_ENDPOINT_PREFIX}*" in json.dumps(r) for r in shadow["Resource"])
    assert "sagemaker:CreateEndpoint" in shadow["Action"] and "sagemaker:CreateModel" not in shadow["Action"]
    assert "sagemaker-clarify-processing" in json.dumps(statements)
    plain = statements_of(without_clarify, role_id(without_clarify, "JobsProcessingRole"))
    assert not [s for s in plain if s.get("Sid", "").startswith("Clarify")]
    assert "sagemaker-clarify-processing" not in json.dumps(plain)
    assert role_id(without_clarify, "JobsModelRole") is None and "ModelRoleArn" not in without_clarify["Outputs"]
    assert without_clarify["Outputs"]["ClarifyEnabled"]["Value"] == "off"


def test_the_outputs_are_the_contracts(template):
    assert set(template["Outputs"]) == {str(o) for o in lab.OUTPUTS}
    assert template["Outputs"]["ClarifyEnabled"]["Value"] == "on"


def test_run_outputs_lineage_and_data_expire_within_a_week(template):
    (bucket,) = [b for k, b in resources_of(template, "AWS::S3::Bucket").items() if k.startswith("LabBucket")]
    rules = {r["Id"]: r for r in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}
    for rule, prefix in (("RunsExpire", "runs/"), ("LineageExpire", "lineage/"), ("DataExpire", "data/")):
        assert rules[rule]["Prefix"] == prefix and rules[rule]["ExpirationInDays"] == 7
    assert bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"


def sdk_registries(name: str, *path: str) -> dict[str, str]:
    folder = Path(importlib.util.find_spec("sagemaker").submodule_search_locations[0]) / "core" / "image_uri_config"
    config = json.loads((folder / f"{name}.json").read_text())
    for key in path:
        config = config[key]
    return {region: account for region, account in config["registries"].items()
            if not region.startswith(("us-gov", "us-iso"))}


def test_the_image_accounts_are_the_installed_sdks():
    assert sdk_registries("blazingtext", "versions", "1") == BLAZINGTEXT_ACCOUNTS
    assert sdk_registries("clarify", "processing", "versions", "1.0") == CLARIFY_ACCOUNTS


def test_a_region_without_clarify_needs_clarify_off_in_one_line():
    from catalog.base import ConfigError

    with pytest.raises(ConfigError, match="-c clarify=off") as raised:
        lab.parse({}, "il-central-1")
    assert "\n" not in str(raised.value)
    assert lab.parse({"clarify": "off"}, "il-central-1") == lab.ModelDevelopmentOptions(clarify=False)
    with pytest.raises(ConfigError, match="no SageMaker XGBoost/BlazingText image"):
        lab.parse({}, "cn-north-1")


def test_a_classroom_member_looks_the_image_accounts_up_by_region(classroom_templates_all):
    member = classroom_templates_all
    mappings = member.get("Mappings", {})
    assert {"XGBoostImageAccounts", "BlazingTextImageAccounts", "ClarifyImageAccounts"} <= set(mappings)
    assert mappings["ClarifyImageAccounts"]["eu-west-1"] == {"account": CLARIFY_ACCOUNTS["eu-west-1"]}


@pytest.fixture(scope="module")
def classroom_templates_all(tmp_path_factory):
    from tests.conftest import classroom_templates, shared_syntheses

    (room,) = shared_syntheses(tmp_path_factory, ["classroom-model-development"]).values()
    return classroom_templates(room)["classroom-member"]
