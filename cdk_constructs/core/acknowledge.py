"""Acknowledging a cdk-nag finding on one construct, with its reason."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stack, Validations
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


def arn_in_finding(construct: IConstruct) -> str:
    """How cdk-nag prints the ARN of ``construct``'s resource in a finding: ``<LogicalId.Arn>``."""
    stack = Stack.of(construct)
    return f"<{stack.resolve(stack.get_logical_id(construct.node.default_child))}.Arn>"


def objects_finding(bucket: IConstruct, prefix: str = "") -> str:
    """The AwsSolutions-IAM5 finding for the objects under ``prefix`` of ``bucket``."""
    return f"Resource::{arn_in_finding(bucket)}/{prefix}*"


# Findings that recur in every lab, with one wording each.

REPLICATION_REASON = (
    "single-region reference lab: the replica region and account are an organisation's choice; versioning, "
    "RETAIN and KMS protect the data in this region"
)
ACCESS_LOG_SSE_S3_REASON = (
    "S3 server access log delivery accepts only SSE-S3 on the target bucket; SSE-KMS would silently stop log delivery"
)
CONCURRENCY_REASON = (
    "invoked a handful of times per deployment or per batch; reserving concurrency fails in new accounts whose "
    "limit is 10"
)
OUT_OF_VPC_REASON = (
    "calls only AWS APIs and reaches no VPC resource; VPC placement would leave ENIs that delay stack deletion "
    "by up to 40 minutes"
)


def acknowledge_lab_buckets_nist(buckets: list[IConstruct], access_logs: IConstruct | None) -> None:
    """NIST 800-53 findings every lab's buckets share: single-region, SSE-S3 access-log target."""
    for bucket in [*buckets, *([access_logs] if access_logs is not None else [])]:
        acknowledge(bucket, "NIST.800.53.R5-S3BucketReplicationEnabled", REPLICATION_REASON)
    if access_logs is not None:
        acknowledge(access_logs, "NIST.800.53.R5-S3DefaultEncryptionKMS", ACCESS_LOG_SSE_S3_REASON)


def acknowledge_lambda_nist(function: IConstruct, *, synchronous_caller: str) -> None:
    """NIST 800-53 Lambda findings for a function that ``synchronous_caller`` invokes and waits on."""
    acknowledge(function, "NIST.800.53.R5-LambdaConcurrency", CONCURRENCY_REASON)
    acknowledge(function, "NIST.800.53.R5-LambdaDLQ",
                f"invoked synchronously by {synchronous_caller}, which retries and records every failure; "
                "there is no asynchronous event to dead-letter")
    acknowledge(function, "NIST.800.53.R5-LambdaInsideVPC", OUT_OF_VPC_REASON)
