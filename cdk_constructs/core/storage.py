"""The one factory for S3 buckets in every lab."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_constructs.core.settings import LabSettings


class LabBucket(Construct):
    """An S3 bucket with the controls every lab bucket needs.

    Defaults:
    - public access blocked explicitly (all four settings), ACLs disabled
      (bucket owner enforced);
    - a bucket policy that denies any request not made over TLS 1.2 or later;
    - SSE-KMS with the given key and S3 Bucket Keys, or SSE-S3 when no key is
      given (server access log targets accept only SSE-S3);
    - server access logs to ``access_logs_bucket`` under ``<id>/`` when given;
    - versioning as requested (on by default);
    - with ``event_bridge``, S3 sends every event of the bucket to EventBridge (set on the
      bucket itself, so no notification custom resource is needed);
    - in sandbox, DESTROY and emptied on delete; in production, RETAIN.

    Attributes:
        bucket: the S3 bucket.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        settings: LabSettings,
        encryption_key: kms.IKey | None,
        access_logs_bucket: s3.IBucket | None = None,
        versioned: bool = True,
        lifecycle_rules: Sequence[s3.LifecycleRule] = (),
        event_bridge: bool = False,
    ) -> None:
        super().__init__(scope, id_)
        encryption = s3.BucketEncryption.KMS if encryption_key else s3.BucketEncryption.S3_MANAGED
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            encryption=encryption,
            encryption_key=encryption_key,
            bucket_key_enabled=encryption_key is not None,
            versioned=versioned,
            server_access_logs_bucket=access_logs_bucket,
            server_access_logs_prefix=f"{id_}/" if access_logs_bucket else None,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="AbortIncompleteMultipartUploads",
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                ),
                *lifecycle_rules,
            ],
            removal_policy=settings.removal_policy,
            auto_delete_objects=settings.is_sandbox,
        )
        if event_bridge:
            cfn_bucket: s3.CfnBucket = self.bucket.node.default_child
            cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
                event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True)
            )


def access_log_bucket(scope: Construct, settings: LabSettings, id_: str = "AccessLogs") -> LabBucket:
    """The lab's server access log target: SSE-S3 (log delivery accepts nothing else), logs kept
    90 days. Pass it as ``access_logs_bucket`` and call ``empty_logs_last`` once the buckets exist."""
    return LabBucket(
        scope, id_, settings=settings, encryption_key=None,
        lifecycle_rules=[s3.LifecycleRule(id="AccessLogsExpire", expiration=Duration.days(90),
                                          noncurrent_version_expiration=Duration.days(1))],
    )


def empty_logs_last(access_logs: LabBucket, *buckets: LabBucket) -> None:
    """The access-log bucket is emptied only after every bucket logging into it is gone
    (it keeps receiving logs while they are emptied)."""
    log_emptier = access_logs.bucket.node.try_find_child("AutoDeleteObjectsCustomResource")
    if log_emptier is not None:
        for bucket in buckets:
            log_emptier.node.add_dependency(bucket.bucket)
