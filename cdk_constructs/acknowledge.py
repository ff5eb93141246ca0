"""Acknowledging a cdk-nag finding on one construct, with its reason."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledges one rule (plain id, e.g. ``AwsSolutions-S1``) on ``construct`` and its children."""
    Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def acknowledge_iam5(construct: IConstruct, findings: list[str], reason: str) -> None:
    """Acknowledges named AwsSolutions-IAM5 wildcard findings, one acknowledgment each.

    ``findings`` are the bracketed parts, e.g. ``"Action::s3:GetObject*"`` or
    ``"Resource::*"``; every finding needs its own acknowledgment.
    """
    for finding in findings:
        acknowledge(construct, f"AwsSolutions-IAM5[{finding}]", reason)
