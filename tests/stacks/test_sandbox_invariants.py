"""What the sandbox profile promises: everything goes away on destroy."""

from __future__ import annotations

from tests.conftest import resources_of


def test_no_retain_or_snapshot_policy_anywhere(sandbox):
    for lab, template in sandbox.templates.items():
        kept = {
            name: (r.get("DeletionPolicy"), r.get("UpdateReplacePolicy"))
            for name, r in template["Resources"].items()
            if {r.get("DeletionPolicy"), r.get("UpdateReplacePolicy")} & {"Retain", "Snapshot", "RetainExceptOnCreate"}
        }
        assert kept == {}, f"{lab} keeps resources on delete"


def test_every_bucket_is_emptied_on_delete(sandbox):
    checked = 0
    for lab, template in sandbox.templates.items():
        buckets = resources_of(template, "AWS::S3::Bucket")
        emptied = {
            r["Properties"]["BucketName"]["Ref"]
            for r in resources_of(template, "Custom::S3AutoDeleteObjects").values()
        }
        assert set(buckets) == emptied, f"{lab}: buckets not emptied: {set(buckets) - emptied}"
        checked += len(buckets)
    assert checked, "no bucket to check"


def test_every_lambda_logs_to_a_stack_owned_group_with_retention(sandbox):
    for lab, template in sandbox.templates.items():
        groups = resources_of(template, "AWS::Logs::LogGroup")
        functions = resources_of(template, "AWS::Lambda::Function")
        assert functions, f"{lab} has no function to check"
        for name, function in functions.items():
            group_ref = function["Properties"].get("LoggingConfig", {}).get("LogGroup", {}).get("Ref")
            assert group_ref in groups, f"{lab}/{name} logs to a group the stack does not own"
            assert groups[group_ref]["Properties"].get("RetentionInDays"), f"{lab}/{name}: no retention"
            assert groups[group_ref]["DeletionPolicy"] == "Delete"


def test_every_log_group_has_retention_and_is_deleted(sandbox):
    for template in sandbox.templates.values():
        for name, group in resources_of(template, "AWS::Logs::LogGroup").items():
            assert group["Properties"]["RetentionInDays"] <= 7, name
            assert group["DeletionPolicy"] == "Delete", name


def test_kms_keys_use_the_minimum_pending_window(sandbox):
    for template in sandbox.templates.values():
        for name, key in resources_of(template, "AWS::KMS::Key").items():
            assert key["Properties"]["PendingWindowInDays"] == 7, name


def test_every_resource_is_tagged_for_the_lab(sandbox):
    for lab, template in sandbox.templates.items():
        tagged = [r for r in template["Resources"].values() if isinstance(r["Properties"].get("Tags"), list)]
        assert tagged
        for resource in tagged:
            tags = {t["Key"]: t["Value"] for t in resource["Properties"]["Tags"]}
            assert tags["lab"] == lab and tags["profile"] == "sandbox" and tags["owner"] == "tester"
            if lab == "janitor":  # account-level, shared by the labs: it never expires
                assert "expires-at" not in tags
            else:
                assert tags["expires-at"] == "2026-01-15T13:30:00Z"


def test_production_retains_stateful_resources_and_has_no_expiry(production):
    for template in production.templates.values():
        for resource_type in ("AWS::S3::Bucket", "AWS::KMS::Key"):
            for name, resource in resources_of(template, resource_type).items():
                assert resource["DeletionPolicy"] == "Retain", name
        assert resources_of(template, "Custom::S3AutoDeleteObjects") == {}
        for resource in template["Resources"].values():
            tags = resource["Properties"].get("Tags")
            if isinstance(tags, list):
                assert "expires-at" not in {t["Key"] for t in tags}
