"""Least-privilege IAM statements with explicit actions (no action wildcards).

aws-cdk-lib's ``grant_*`` helpers use action wildcards (``s3:GetObject*``,
``kms:GenerateDataKey*``) that cdk-nag rightly flags; these name each action.
"""

from __future__ import annotations

from typing import Protocol

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3


class Grantee(Protocol):
    """Anything that can take a policy statement: an iam.Role or a LabRole."""

    def add_to_principal_policy(self, statement: iam.PolicyStatement) -> object: ...


S3_READ = ["s3:GetObject", "s3:GetObjectVersion"]
S3_WRITE = ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
# Bucket-level actions that carry no s3:prefix (service authorization reference): never in a
# statement conditioned on it.
BUCKET_READ = ["s3:GetBucketLocation"]
BUCKET_WRITE = ["s3:ListBucketMultipartUploads"]


def allow_objects(role: Grantee, bucket: s3.IBucket, *, prefix: str = "", write: bool = False) -> None:
    """Lets ``role`` read (and optionally write) objects under ``prefix`` of ``bucket``."""
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=S3_READ + (S3_WRITE if write else []),
            resources=[bucket.arn_for_objects(f"{prefix}*")],
        )
    )
    list_statement = iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn])
    if prefix:  # only s3:ListBucket carries s3:prefix: a statement conditioned on it grants no other action
        list_statement.add_condition("StringLike", {"s3:prefix": [f"{prefix}*"]})
    role.add_to_principal_policy(list_statement)
    role.add_to_principal_policy(iam.PolicyStatement(actions=BUCKET_READ + (BUCKET_WRITE if write else []),
                                                     resources=[bucket.bucket_arn]))


def allow_prefixes(role: Grantee, bucket: s3.IBucket, prefixes: list[str], *, write: bool = False) -> None:
    """Lets ``role`` read (and optionally write) objects whose keys start with one of ``prefixes`` and
    list the bucket: what Spark needs, whose S3 file systems also probe the prefix itself
    (``incoming``, not only ``incoming/...``) and list the bucket to find directories."""
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=S3_READ + (S3_WRITE if write else []),
                            resources=[bucket.arn_for_objects(f"{prefix}*") for prefix in prefixes])
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["s3:ListBucket", *BUCKET_READ, *(BUCKET_WRITE if write else [])],
            resources=[bucket.bucket_arn],
        )
    )


def allow_key_use(role: Grantee, key: kms.IKey, *, encrypt: bool = True) -> None:
    """Lets ``role`` decrypt with ``key`` and, if ``encrypt``, create data keys for new objects."""
    actions = ["kms:Decrypt", "kms:DescribeKey"] + (["kms:Encrypt", "kms:GenerateDataKey"] if encrypt else [])
    role.add_to_principal_policy(iam.PolicyStatement(actions=actions, resources=[key.key_arn]))


def glue_catalog_arns(database_name: str) -> list[str]:
    """ARNs of the Data Catalog, one database and all its tables.

    Built from pseudo parameters (not the synth-time region) so a template, and
    any acknowledgment naming these ARNs, is the same in every region.
    """
    prefix = f"arn:{Aws.PARTITION}:glue:{Aws.REGION}:{Aws.ACCOUNT_ID}"
    return [f"{prefix}:catalog", f"{prefix}:database/{database_name}", f"{prefix}:table/{database_name}/*"]


def glue_tables_finding(database_name: str) -> str:
    """The AwsSolutions-IAM5 finding for the table wildcard of ``glue_catalog_arns``."""
    return f"Resource::arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:table/{database_name}/*"
