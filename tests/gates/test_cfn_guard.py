"""The cfn-guard gate: AWS Control Tower proactive controls on every stack, profile and variant."""

from __future__ import annotations

import json
import re

import pytest

from gates import cfn_guard
from gates.cfn_guard import Ack, Failure
from gates.reasons import reason_problem
from tests.conftest import CLASSROOMS, ROOT, once_per_run

ACKS = ROOT / "gates" / "cfn-guard-acks.toml"
FIXED = {"kms_create_grant_aws_service_check", "cloudwatch_log_group_encrypted_check"}


@pytest.fixture(scope="session")
def guard():
    binary, rules_dir = cfn_guard.bundle()
    return binary, cfn_guard.rule_files(rules_dir)


@pytest.fixture(scope="session")
def guard_report(guard, request, tmp_path_factory) -> cfn_guard.Report:
    """One cfn-guard run (one per test run, whichever worker gets there first) over the stacks the
    other gates see, named "<variant>/<lab>", and the classrooms' StackSet members."""

    def run() -> str:
        binary, files = guard
        variants, directory = request.getfixturevalue("variants"), request.getfixturevalue("template_dir")
        templates = {f"{variant}/{lab}": directory / f"{variant}-{lab}.template.json"
                     for variant, synth in variants.items() for lab in synth.templates}
        # Each classroom's StackSet members, as the sandbox stacks they are in every student's account.
        for name, (_, context) in CLASSROOMS.items():
            templates[f"sandbox-{name}/{context['classroom']}"] = directory / f"{name}-classroom-member.template.json"
        templates["sandbox-classroom/janitor"] = directory / "classroom-janitor-member.template.json"
        return cfn_guard.run(binary, files, templates).to_json()

    return cfn_guard.Report.from_json(once_per_run(tmp_path_factory, "cfn-guard", run))


def known_rules(files) -> set[str]:
    return {rule for f in files for rule in f.rules}


def test_the_bundle_is_cfn_guard_3_with_the_control_tower_rules(guard):
    _, files = guard
    assert len(files) > 200 and all(f.rules and f.control.startswith("CT.") for f in files)
    assert len(known_rules(files)) == sum(len(f.rules) for f in files), "a rule name occurs in two files"


def test_cfn_guard_has_no_unacknowledged_failure_stale_or_weak_acknowledgment(guard, guard_report):
    _, files = guard
    assert len(guard_report.passed) >= 18, "cfn-guard evaluated fewer stacks than the gates synthesize"
    assert cfn_guard.problems(guard_report.failures, cfn_guard.load_acks(ACKS), known_rules(files),
                              reason_problem) == []


def test_the_create_grant_and_log_group_encryption_controls_are_met_not_acknowledged(guard_report):
    assert not FIXED & {ack.rule for ack in cfn_guard.load_acks(ACKS)}
    with_key = {s for s, rules in guard_report.passed.items() if "kms_create_grant_aws_service_check" in rules}
    assert {"sandbox/janitor", "production/janitor", "sandbox/data-lake", "production/clickstream",
            "sandbox-efs/fsx-training", "production/feature-store"} <= with_key
    assert "cloudwatch_log_group_encrypted_check" in guard_report.passed["sandbox/janitor"]


def test_the_sandbox_accounts_page_lists_each_labs_controls_to_exempt(guard, guard_report):
    """The "Managed sandbox accounts" page's table says what the acknowledgments say."""
    _, files = guard
    exempt = cfn_guard.controls_to_exempt(guard_report.failures, files)
    section = (ROOT / "docs" / "sandbox-accounts.md").read_text().split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| `([a-z0-9-]+)` \| ([^|]*) \|", section, flags=re.MULTILINE))
    for lab in sorted({stack.split("/")[1] for stack in guard_report.passed}):
        row = "mlref-janitor" if lab == "janitor" else lab
        expected = cfn_guard.exemption_cell(exempt.get(lab, {}))
        assert row in rows, f"docs/sandbox-accounts.md: no row for {row} (expected: {expected})"
        assert rows[row].strip() == expected, f"docs/sandbox-accounts.md: the row for {row}"


def test_the_bucket_events_reason_names_every_lab_whose_buckets_send_events(guard, variants):
    """CT.S3.PR.4 is acknowledged for the buckets nothing reacts to: the acknowledgment's reason and the page's
    row name each lab with a bucket that sends its events to EventBridge (and so passes)."""
    rule = "s3_event_notifications_enabled_check"
    _, files = guard
    (control,) = {f.control for f in files if rule in f.rules}
    sending = {lab for synth in variants.values() for lab, template in synth.templates.items()
               for resource in template.get("Resources", {}).values() if resource["Type"] == "AWS::S3::Bucket"
               and resource.get("Properties", {}).get("NotificationConfiguration", {})
               .get("EventBridgeConfiguration", {}).get("EventBridgeEnabled") is True}
    assert {"batch-etl", "mlops"} <= sending
    (ack,) = [a for a in cfn_guard.load_acks(ACKS) if a.rule == rule]
    page = (ROOT / "docs" / "sandbox-accounts.md").read_text()
    (row,) = re.findall(rf"^\| {re.escape(control)} \| [^|]* \| ([^|]*) \|$", page, flags=re.MULTILINE)
    for lab in sorted(sending):
        assert lab in ack.reason, f"{ACKS.name}: the {rule} reason does not name {lab}"
        assert lab in row, f"docs/sandbox-accounts.md: the {control} row does not name {lab}"


# The gate's own logic, on small inputs.

BUCKET = {"Type": "AWS::S3::Bucket", "Properties": {}}
LOGGED = {"Type": "AWS::S3::Bucket", "Properties": {"LoggingConfiguration": {"DestinationBucketName": {"Ref": "Logs"}}}}


def one_rule(files, name: str):
    (found,) = [f for f in files if name in f.rules]
    return found


def test_a_real_run_reports_the_failing_resource_and_passes_the_compliant_one(guard, tmp_path):
    binary, files = guard
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({"Resources": {"Plain": BUCKET}}))
    b.write_text(json.dumps({"Resources": {"Logged": LOGGED, "Logs": BUCKET}}))
    logging_rule = one_rule(files, "s3_bucket_logging_enabled_check")
    report = cfn_guard.run(binary, [logging_rule], {"sandbox/a": a, "sandbox/b": b})
    assert report.failures == [
        Failure("sandbox/a", "s3_bucket_logging_enabled_check", "AWS::S3::Bucket.Plain"),
        Failure("sandbox/b", "s3_bucket_logging_enabled_check", "AWS::S3::Bucket.Logs"),
    ]
    assert report.passed == {"sandbox/a": set(), "sandbox/b": set()}


def test_identical_templates_are_evaluated_once_and_reported_for_each_stack(guard, tmp_path):
    binary, files = guard
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    for path in (a, b):
        path.write_text(json.dumps({"Resources": {"Plain": BUCKET}}))
    report = cfn_guard.run(binary, [one_rule(files, "s3_bucket_logging_enabled_check")],
                           {"sandbox/x": a, "production/x": b})
    assert {f.stack for f in report.failures} == {"sandbox/x", "production/x"}


def test_only_rule_files_that_can_apply_are_run(guard, tmp_path):
    _, files = guard
    selected = cfn_guard.applicable(files, [{"Resources": {"Plain": BUCKET}}])
    assert one_rule(files, "s3_bucket_logging_enabled_check") in selected
    assert one_rule(files, "kms_create_grant_aws_service_check") not in selected
    untyped = tmp_path / "untyped.guard"
    untyped.write_text("rule any_template_check when Resources exists {\n    Resources not empty\n}\n")
    (rule_file,) = cfn_guard.rule_files(tmp_path)
    assert rule_file.rules == {"any_template_check"}
    assert cfn_guard.applicable([rule_file], [{"Resources": {}}]) == [rule_file]


FAILURE = Failure("sandbox-streaming/clickstream", "sqs_dlq_check", "AWS::SQS::Queue.Dlq12AB")
GOOD_REASON = "This queue is the dead-letter queue of the target; a dead-letter queue of it has nothing to catch."


@pytest.mark.parametrize("ack,expected", [
    (Ack("sqs_dlq_check", "sandbox*/*", "AWS::SQS::Queue.Dlq*", GOOD_REASON), []),
    (Ack("sqs_dlq_check", "production*/*", "AWS::SQS::Queue.Dlq*", GOOD_REASON),
     [f"not acknowledged: {FAILURE}", "stale (acknowledges nothing that fails now; remove it): "
      "sqs_dlq_check stack=production*/* resource=AWS::SQS::Queue.Dlq*"]),
    (Ack("sqs_dlq_check", "*/*", "AWS::SQS::Queue.Other*", GOOD_REASON),
     [f"not acknowledged: {FAILURE}", "stale (acknowledges nothing that fails now; remove it): "
      "sqs_dlq_check stack=*/* resource=AWS::SQS::Queue.Other*"]),
    (Ack("sqs_dlq_check", "*/*", "*", "by design"),
     ["reason is generic: sqs_dlq_check stack=*/* resource=*"]),
    (Ack("sqs_dlq_check", "*/*", "*", ""), ["reason is empty: sqs_dlq_check stack=*/* resource=*"]),
    (Ack("sqs_dlq_chek", "*/*", "*", GOOD_REASON),
     [f"not acknowledged: {FAILURE}",
      "unknown rule (not a Control Tower rule name): sqs_dlq_chek stack=*/* resource=*"]),
])
def test_problems_finds_unacknowledged_stale_unknown_and_weak(ack, expected):
    assert cfn_guard.problems([FAILURE], [ack], {"sqs_dlq_check"}, reason_problem) == expected


def test_an_acknowledgment_without_a_reason_or_with_an_unknown_key_is_refused(tmp_path):
    path = tmp_path / "acks.toml"
    path.write_text('[[ack]]\nrule = "sqs_dlq_check"\nstack = "*/*"\nresource = "*"\n')
    with pytest.raises(ValueError, match="needs exactly the keys"):
        cfn_guard.load_acks(path)
    path.write_text('[[ack]]\nrule = "x"\nstack = "*/*"\nresource = "*"\nreason = "r"\nscope = "all"\n')
    with pytest.raises(ValueError, match="needs exactly the keys"):
        cfn_guard.load_acks(path)


def test_controls_to_exempt_names_the_profile_when_only_one_fails(guard):
    _, files = guard
    failures = [Failure("sandbox/data-lake", "cloudwatch_log_group_retention_period_check", "x"),
                Failure("sandbox-efs/fsx-training", "lambda_inside_vpc_check", "y"),
                Failure("production/fsx-training", "lambda_inside_vpc_check", "z"),
                Failure("production/fsx-training", "s3_bucket_default_encryption_kms_check", "z"),
                Failure("production/fsx-training", "s3_bucket_logging_enabled_check", "z")]
    exempt = cfn_guard.controls_to_exempt(failures, files)
    assert exempt == {
        "data-lake": {"CT.CLOUDWATCH.PR.2": {"sandbox"}},
        "fsx-training": {"CT.LAMBDA.PR.3": {"sandbox", "production"}, "CT.S3.PR.10": {"production"},
                         "CT.S3.PR.2": {"production"}},
    }
    assert cfn_guard.exemption_cell(exempt["fsx-training"]) == (
        "CT.LAMBDA.PR.3, CT.S3.PR.2 (production), CT.S3.PR.10 (production)")
    assert cfn_guard.exemption_cell({}) == "yes"
