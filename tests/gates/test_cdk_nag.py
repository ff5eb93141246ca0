"""The cdk-nag gate on every profile, every variant and every classroom (admin stacks and StackSet members):
AwsSolutions everywhere, NIST 800-53 R5 in production, and every acknowledgment on one resource, for one
rule, with a reason. (cfn-lint, checkov and cfn-guard judge the same templates: tests/gates/test_cfn_lint.py,
test_checkov.py, test_cfn_guard.py.)"""

from __future__ import annotations

import re

import pytest

from gates.reasons import reason_problem
from tests.conftest import CLASSROOMS, VARIANTS


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_aws_solutions_has_no_unacknowledged_finding(variants, variant):
    assert variants[variant].facts["violations"]["AwsSolutions"] == []


@pytest.mark.parametrize("name", list(CLASSROOMS))
def test_aws_solutions_has_no_unacknowledged_finding_in_the_classroom(classrooms, name):
    assert classrooms[name].facts["violations"]["AwsSolutions"] == []


@pytest.mark.parametrize("name", list(CLASSROOMS))
def test_every_acknowledgment_in_the_classroom_names_one_rule_with_a_reason(classrooms, name):
    assert [(ack["path"], ack["rule"]) for ack in classrooms[name].facts["acknowledgments"]
            if reason_problem(ack["reason"]) or not ack["one_resource"]] == []


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v.startswith("production")])
def test_nist_800_53_r5_has_no_unacknowledged_finding_in_production(variants, variant):
    assert variants[variant].facts["violations"]["NIST.800.53.R5"] == []


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_acknowledgment_names_one_rule_with_a_specific_reason(variants, variant):
    acks = variants[variant].facts["acknowledgments"]
    assert acks, "expected the labs to carry acknowledgments"
    problems = []
    for ack in acks:
        path, rule, reason = ack["path"], ack["rule"], ack["reason"]
        if not re.fullmatch(r"(AwsSolutions|NIST\.800\.53\.R5)-[A-Za-z0-9]+(\[[^\]]+\])?", rule):
            problems.append(f"{path}: {rule!r} is not one rule id")
        if "*" in rule and not rule.startswith("AwsSolutions-IAM5["):
            problems.append(f"{path}: {rule!r} uses a wildcard")
        if problem := reason_problem(reason):
            problems.append(f"{path} {rule}: reason is {problem}: {reason!r}")
        if not ack["one_resource"]:
            problems.append(f"{path} {rule}: acknowledged on a group of resources, not the one that has the finding")
    assert problems == []


@pytest.mark.parametrize(
    "reason,expected",
    [("", "empty"), ("   ", "empty"), ("false positive", "generic"), ("N/A", "generic"),
     ("needed for the lab", "too short to say why (fewer than 8 words)"),
     ("S3 server access log delivery accepts only SSE-S3 on the target bucket", None)],
)
def test_reason_check_rejects_empty_and_generic_reasons(reason, expected):
    assert reason_problem(reason) == expected
