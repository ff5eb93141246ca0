"""cdk-nag over a live app, as plain data: what the gates (tests/gates/test_cdk_nag.py) judge.

The process that synthesizes an app for the whole test run (tests/conftest.py) records these facts
beside the templates, so that no other process has to build the app again only to walk its tree."""

from __future__ import annotations

import re

from aws_cdk import CfnResource, Validations
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks

PACKS = {"AwsSolutions": AwsSolutionsChecks, "NIST.800.53.R5": NIST80053R5Checks}


def violations(pack, app) -> list[str]:
    report = pack.validate_scope(app)
    return [
        f"{v.rule_name} at {[r.construct_path for r in v.violating_resources]}" for v in report.violations
    ]


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


def tree_facts(app, profile: str) -> dict:
    """Each pack's unacknowledged findings (NIST 800-53 R5 in production only), and every
    acknowledgment as {path, rule, reason, one_resource}."""
    packs = ["AwsSolutions", *(["NIST.800.53.R5"] if profile == "production" else [])]
    return {
        "violations": {name: violations(PACKS[name](), app) for name in packs},
        "acknowledgments": [{"path": c.node.path, "rule": rule, "reason": reason, "one_resource": is_one_resource(c)}
                            for c, rule, reason in acknowledgments(app)],
    }
