"""Quality gates on every synthesized template: cdk-nag, cfn-lint, checkov."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from aws_cdk import CfnResource, Validations
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks

from tests.conftest import ROOT, VARIANT_CONTEXT, classroom_templates

PROFILES = ["sandbox", "production"]
VARIANTS = [*PROFILES, *(f"{p}-{v}" for v in VARIANT_CONTEXT for p in PROFILES)]
GENERIC_REASONS = re.compile(
    r"^(n/?a|none|todo|tbd|ok|fine|false positive|not needed|not applicable|suppress(ed)?|ignore(d)?|"
    r"by design|intended|expected|acknowledged|known issue|lab|sandbox|wildcard( needed)?)\.?$",
    re.IGNORECASE,
)


def violations(pack, app) -> list[str]:
    report = pack.validate_scope(app)
    return [
        f"{v.rule_name} at {[r.construct_path for r in v.violating_resources]}" for v in report.violations
    ]


@pytest.mark.parametrize("variant", VARIANTS)
def test_aws_solutions_has_no_unacknowledged_finding(variants, variant):
    assert violations(AwsSolutionsChecks(), variants[variant].app) == []


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v.startswith("production")])
def test_nist_800_53_r5_has_no_unacknowledged_finding_in_production(variants, variant):
    assert violations(NIST80053R5Checks(), variants[variant].app) == []


def acknowledgments(app) -> list[tuple[object, str, str]]:
    """(construct, rule id, reason) for every acknowledgment in the app."""
    found = []
    for construct in app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                for rule, reason in entry.data.items():
                    if rule.startswith("CloudFormation-Validate::"):
                        continue  # aws-cdk-lib's own, for its schema validator (which the labs turn off)
                    found.append((construct, re.sub(r"^annotation::", "", rule, flags=re.I), reason))
    return found


def is_one_resource(construct) -> bool:
    """A CloudFormation resource, or a construct whose own resource is its default child."""
    return isinstance(construct, CfnResource) or isinstance(construct.node.default_child, CfnResource)


def reason_problem(reason: str) -> str | None:
    words = re.findall(r"[A-Za-z0-9:/._*-]+", reason or "")
    if not reason or not reason.strip():
        return "empty"
    if GENERIC_REASONS.match(reason.strip()):
        return "generic"
    if len(words) < 8:
        return "too short to say why (fewer than 8 words)"
    return None


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_acknowledgment_names_one_rule_with_a_specific_reason(variants, variant):
    acks = acknowledgments(variants[variant].app)
    assert acks, "expected the labs to carry acknowledgments"
    problems = []
    for construct, rule, reason in acks:
        path = construct.node.path
        if not re.fullmatch(r"(AwsSolutions|NIST\.800\.53\.R5)-[A-Za-z0-9]+(\[[^\]]+\])?", rule):
            problems.append(f"{path}: {rule!r} is not one rule id")
        if "*" in rule and not rule.startswith("AwsSolutions-IAM5["):
            problems.append(f"{path}: {rule!r} uses a wildcard")
        if problem := reason_problem(reason):
            problems.append(f"{path} {rule}: reason is {problem}: {reason!r}")
        if not is_one_resource(construct):
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


@pytest.fixture(scope="session")
def template_dir(variants, classroom, tmp_path_factory) -> Path:
    """Every template of every profile and variant, named <variant>-<lab>.template.json, and the
    classroom's (StackSet members included) as classroom-<role>.template.json."""
    directory = tmp_path_factory.mktemp("templates")
    for profile, synth in variants.items():
        for lab, template in synth.templates.items():
            (directory / f"{profile}-{lab}.template.json").write_text(json.dumps(template, indent=1))
    for role, template in classroom_templates(classroom).items():
        (directory / f"classroom-{role}.template.json").write_text(json.dumps(template, indent=1))
    return directory


@pytest.fixture(scope="session")
def unique_template_dir(template_dir, tmp_path_factory) -> Path:
    """``template_dir`` with each distinct template once (the janitor, for one, is in every variant's
    synthesis): cfn-lint and checkov judge a template by its content, not by where it came from."""
    import hashlib

    directory, seen = tmp_path_factory.mktemp("unique-templates"), set()
    for path in sorted(template_dir.glob("*.template.json")):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            (directory / path.name).write_bytes(path.read_bytes())
    return directory


def test_cfn_lint_reports_no_error_or_warning(unique_template_dir):
    templates = sorted(str(p) for p in unique_template_dir.glob("*.template.json"))
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "--config-file", str(ROOT / ".cfnlintrc.yaml"), "--format", "parseable",
         "--", *templates],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.stdout.strip() == "" and result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_ignores_are_each_explained():
    config = (ROOT / ".cfnlintrc.yaml").read_text().splitlines()
    for index, line in enumerate(config):
        if re.match(r"\s*-\s*[EWI]\d{4}", line):
            comments = [c for c in config[max(0, index - 4):index] if c.strip().startswith("#")]
            assert len(" ".join(comments).split()) >= 10, f"ignored rule without a reason: {line.strip()}"


def load_checkov_skips() -> list[dict]:
    return tomllib.loads((ROOT / "gates" / "checkov-skips.toml").read_text())["skip"]


def checkov_binary() -> str:
    candidate = os.environ.get("CHECKOV", str(ROOT / ".venv-checkov" / "bin" / "checkov"))
    assert Path(candidate).exists(), f"checkov not installed at {candidate}: run `make test` (it installs it)"
    return candidate


@pytest.fixture(scope="session")
def checkov_failures(unique_template_dir) -> list[dict]:
    result = subprocess.run(
        [checkov_binary(), "-d", str(unique_template_dir), "--framework", "cloudformation", "--quiet", "--compact",
         "-o", "json"],
        capture_output=True, text=True,
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    assert sum(r["summary"]["passed"] for r in reports) > 50, "checkov scanned nothing"
    return [failed for r in reports for failed in r["results"]["failed_checks"]]


def skip_for(failure: dict, skips: list[dict]) -> dict | None:
    for skip in skips:
        if skip["check"] == failure["check_id"] and fnmatch.fnmatchcase(failure["resource"], skip["resource"]):
            return skip
    return None


def test_checkov_has_no_failed_check_outside_the_skip_list(checkov_failures):
    skips = load_checkov_skips()
    unlisted = [
        f"{f['check_id']} {f['resource']} ({Path(f['file_path']).name}): {f['check_name']}"
        for f in checkov_failures if skip_for(f, skips) is None
    ]
    assert unlisted == []


def test_every_checkov_skip_has_a_reason_and_is_still_used(checkov_failures):
    skips = load_checkov_skips()
    used = {id(skip_for(f, skips)) for f in checkov_failures}
    for skip in skips:
        assert reason_problem(skip.get("reason", "")) is None, f"{skip['check']}: weak reason"
        assert id(skip) in used, f"stale checkov skip {skip['check']} {skip['resource']}: remove it"
