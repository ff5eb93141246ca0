"""The mlops lab's audit trail: a CloudTrail trail of the region's write management events (who started,
approved, rejected or stopped a pipeline run; who changed a model package), delivered encrypted and
validated to the lab's bucket and to a CloudWatch Logs group.

aws-cdk-lib's ``Trail`` adds no ``aws:SourceArn`` to the bucket policy of a single-account trail, no
key policy statements, and an inline policy for the logs role: this is the L1 trail with what the
CloudTrail user guide asks for ("Amazon S3 bucket policy for CloudTrail", "Configure AWS KMS key
policies for CloudTrail", "Role policy document for CloudTrail to use CloudWatch Logs").
"""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from catalog import mlops as lab
from cdk_constructs.core.roles import LabRole
from cdk_constructs.core.settings import LabSettings
from cdk_constructs.core.storage import LabBucket

CLOUDTRAIL = "cloudtrail.amazonaws.com"


def trail_arn(name: str = lab.TRAIL) -> str:
    """The trail's ARN from its fixed name, so the bucket and key policies name it without a cycle."""
    return f"arn:{Aws.PARTITION}:cloudtrail:{Aws.REGION}:{Aws.ACCOUNT_ID}:trail/{name}"


class AuditTrail(Construct):
    """A single-region trail of write management events.

    Defaults: log file validation on (digest files, for ``aws cloudtrail validate-logs``); files encrypted
    with the lab key; the bucket lets CloudTrail read its ACL and write under ``AWSLogs/<account>/``
    only for this trail (``aws:SourceArn``) and with the owner's full control; the key lets CloudTrail
    make data keys only in a trail's encryption context and only for this trail, and describe it; a
    stack-owned log group (retention, lab key) and a role CloudTrail assumes to write to it alone. No
    global service events (IAM, STS), no data events: a trail in an account that already has one
    (an organization's) bills these management events as a second copy (the preflight says so).
    The bucket is emptied only once the trail is gone: a trail keeps writing while it exists.

    Attributes:
        log_group: the trail's CloudWatch Logs group.
        logs_role: the role CloudTrail writes to it with.
        trail: the ``AWS::CloudTrail::Trail``.
    """

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings, key: kms.IKey, bucket: LabBucket) -> None:
        super().__init__(scope, id_)
        arn, target = trail_arn(), bucket.bucket
        this_trail = {"aws:SourceArn": arn}
        target.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudTrailReadsTheAcl", principals=[iam.ServicePrincipal(CLOUDTRAIL)], actions=["s3:GetBucketAcl"],
            resources=[target.bucket_arn], conditions={"StringEquals": this_trail}))
        target.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudTrailWritesThisTrailsLogs", principals=[iam.ServicePrincipal(CLOUDTRAIL)],
            actions=["s3:PutObject"], resources=[target.arn_for_objects(f"AWSLogs/{Aws.ACCOUNT_ID}/*")],
            conditions={"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", **this_trail}}))
        key.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudTrailEncryptsThisTrailsLogs", principals=[iam.ServicePrincipal(CLOUDTRAIL)],
            actions=["kms:GenerateDataKey*"], resources=["*"],
            conditions={"StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn":
                                       f"arn:{Aws.PARTITION}:cloudtrail:*:{Aws.ACCOUNT_ID}:trail/*"},
                        "StringEquals": this_trail}))
        key.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudTrailDescribesTheKey", principals=[iam.ServicePrincipal(CLOUDTRAIL)],
            actions=["kms:DescribeKey"], resources=["*"], conditions={"StringEquals": this_trail}))
        self.log_group = logs.LogGroup(self, "Logs", retention=settings.log_retention, encryption_key=key,
                                       removal_policy=settings.removal_policy)
        # No aws:SourceAccount on this trust: the guide's role has none, and one was reported to stop delivery.
        self.logs_role = LabRole(self, "LogsRole", assumed_by=iam.ServicePrincipal(CLOUDTRAIL),
                                 description=f"CloudTrail: delivers {lab.TRAIL}'s events to its log group")
        self.logs_role.add_to_principal_policy(iam.PolicyStatement(
            sid="WriteTheTrailsStreams", actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[self.log_group.log_group_arn]))  # the group's ARN ends in :*, its streams
        self.trail = cloudtrail.CfnTrail(
            self, "Trail", trail_name=lab.TRAIL, is_logging=True, s3_bucket_name=target.bucket_name,
            kms_key_id=key.key_arn, enable_log_file_validation=True, is_multi_region_trail=False,
            include_global_service_events=False, cloud_watch_logs_log_group_arn=self.log_group.log_group_arn,
            cloud_watch_logs_role_arn=self.logs_role.role_arn,
            event_selectors=[{"readWriteType": "WriteOnly", "includeManagementEvents": True}])
        self.trail.node.add_dependency(self.logs_role.policy)
        if target.policy is not None:
            self.trail.node.add_dependency(target.policy)
        emptier = target.node.try_find_child("AutoDeleteObjectsCustomResource")
        if emptier is not None:  # sandbox: emptied after the trail is deleted, never while it writes
            emptier.node.add_dependency(self.trail)
