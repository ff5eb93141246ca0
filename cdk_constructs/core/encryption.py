"""The lab's customer-managed KMS key."""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from cdk_constructs.core.settings import LabSettings


class LabKey(Construct):
    """A symmetric KMS key with yearly rotation for one lab's data.

    Defaults: rotation on, the profile's deletion window (7 days in sandbox),
    and a key policy that lets CloudWatch Logs in this account and region use the
    key only for log groups (encryption context ``aws:logs:arn``).

    The key policy also denies ``kms:CreateGrant`` to every principal unless the
    grant is for an AWS resource (``kms:GrantIsForAWSResource``: an integrated
    service such as SageMaker, Redshift Serverless, Firehose, FSx, EFS or Secrets
    Manager creates it on the caller's behalf) or the caller is an AWS service
    (Control Tower control CT.KMS.PR.3). The account keeps ``kms:*`` otherwise
    (aws-cdk-lib's default statement), so it can still administer the key and grant
    IAM principals its use; nobody can hand out the key by a grant of their own.

    Attributes:
        key: the KMS key.
    """

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings, description: str) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        self.key = kms.Key(
            self,
            "Key",
            description=description,
            enable_key_rotation=True,
            pending_window=settings.kms_pending_window,
            removal_policy=settings.removal_policy,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsForThisAccountLogGroups",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                # No kms:Describe*: neither DescribeKey nor DescribeCustomKeyStores carries the encryption
                # context this statement is conditioned on, so for them it granted nothing.
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                            service="logs", resource="log-group", resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    }
                },
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DenyGrantsNotForAwsResources",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["kms:CreateGrant"],
                resources=["*"],
                conditions={"BoolIfExists": {"kms:GrantIsForAWSResource": "false",
                                             "aws:PrincipalIsAWSService": "false"}},
            )
        )

