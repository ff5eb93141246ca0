"""Least-privilege roles that SageMaker assumes: one per kind of job (or model), each naming the
object prefixes, log group and images it needs, and nothing else. Used by the ml-pipeline,
model-development and mlops labs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Aws, CfnMapping, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from catalog.ml_pipeline import ALGORITHM_IMAGE_ACCOUNTS, image_registry
from cdk_constructs.core.access import allow_key_use, allow_objects
from cdk_constructs.core.acknowledge import acknowledge_iam5
from cdk_constructs.core.roles import LabRole

SAGEMAKER = "sagemaker.amazonaws.com"
LOG_ACTIONS = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
PULL_ACTIONS = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]


def log_group_arn(name: str) -> str:
    """The ARN of a log group by name, from pseudo parameters (region-independent template)."""
    return f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:{name}"


def image_account(scope: Construct, mapping_id: str, accounts: Mapping[str, str]) -> str:
    """The account that publishes an image in the stack's region, from ``accounts`` (region -> account,
    catalog/sagemaker_images.py). A stack with a region gets a literal; a region-independent template (a
    StackSet member, one template for every region) looks it up in a stack-wide mapping ``mapping_id``."""
    stack = Stack.of(scope)
    if not Token.is_unresolved(stack.region):
        return accounts[stack.region]
    mapping = stack.node.try_find_child(mapping_id) or CfnMapping(
        stack, mapping_id, mapping={region: {"account": account} for region, account in accounts.items()})
    return mapping.find_in_map(Aws.REGION, "account")


def image_registry_of(scope: Construct, account: str) -> str:
    """``<account>.dkr.ecr.<region>.<suffix>`` of the stack's region (literal when the stack has one)."""
    stack = Stack.of(scope)
    if not Token.is_unresolved(stack.region):
        return image_registry(stack.region, account)
    return image_registry(Aws.REGION, account, Aws.URL_SUFFIX)


def algorithm_images(scope: Construct) -> tuple[str, str]:
    """(account, registry) of SageMaker's built-in algorithm images (XGBoost, scikit-learn) in the
    stack's region (``image_account``)."""
    account = image_account(scope, "AlgorithmImageAccounts", ALGORITHM_IMAGE_ACCOUNTS)
    return account, image_registry_of(scope, account)


def repository_arn(region: str, account: str, repository: str) -> str:
    return f"arn:{Aws.PARTITION}:ecr:{region}:{account}:repository/{repository}"


def allow_volume_key(role: LabRole | iam.Role, key: kms.IKey) -> None:
    """SageMaker encrypts a job's or an endpoint's volume with ``key`` through a grant it creates on
    the caller's behalf: CreateGrant, only for AWS resources."""
    role.add_to_principal_policy(iam.PolicyStatement(
        sid="VolumeKeyGrants", actions=["kms:CreateGrant"], resources=[key.key_arn],
        conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}}))


class SageMakerJobRole(LabRole):
    """A role assumed by SageMaker of this account only, for one kind of job or model.

    Defaults: no S3 access unless given; ``reads`` and ``writes`` are (bucket, prefix) pairs
    (``prefix`` may hold ``*``, e.g. ``runs/*/model/``); ``objects`` are exact object ARNs to read
    (a script asset); the lab key for data and volumes; the streams of one log group; pull-only
    access to ``images`` ((account, repository) pairs in ``region``); metrics in SageMaker's
    namespaces only.
    """

    def __init__(self, scope: Construct, id_: str, *, description: str, key: kms.IKey, log_group: str,
                 region: str, images: Sequence[tuple[str, str]],
                 reads: Sequence[tuple[s3.IBucket, str]] = (), writes: Sequence[tuple[s3.IBucket, str]] = (),
                 objects: Sequence[str] = ()) -> None:
        super().__init__(scope, id_, description=description, assumed_by=iam.ServicePrincipal(
            SAGEMAKER, conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}))
        for bucket, prefix in reads:
            allow_objects(self, bucket, prefix=prefix)
        for bucket, prefix in writes:
            allow_objects(self, bucket, prefix=prefix, write=True)
        if objects:
            self.add_to_principal_policy(iam.PolicyStatement(
                sid="ReadScripts", actions=["s3:GetObject"], resources=list(objects)))
        allow_key_use(self, key)
        allow_volume_key(self, key)
        self.log_group = log_group
        self.add_to_principal_policy(iam.PolicyStatement(
            sid="OwnLogStreams", actions=LOG_ACTIONS,
            resources=[f"{log_group_arn(log_group)}:*", f"{log_group_arn(log_group)}:log-stream:*"]))
        self.add_to_principal_policy(iam.PolicyStatement(
            sid="PullImages", actions=PULL_ACTIONS,
            resources=sorted({repository_arn(region, account, repository) for account, repository in images})))
        self.add_to_principal_policy(iam.PolicyStatement(
            sid="RegistryLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"]))
        self.add_to_principal_policy(iam.PolicyStatement(
            sid="SageMakerMetrics", actions=["cloudwatch:PutMetricData"], resources=["*"],
            conditions={"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*", "aws/sagemaker/*"]}}))


# How cdk-nag prints the ARNs above in its AwsSolutions-IAM5 findings (pseudo parameters in <>).
ARN_IN_FINDING = "arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>:{resource}"


def log_group_findings(log_group: str) -> list[str]:
    """The two findings of ``OwnLogStreams`` (or of a log-group ARN ending ``:*``)."""
    arn = ARN_IN_FINDING.format(service="logs", resource=f"log-group:{log_group}")
    return [f"Resource::{arn}:*", f"Resource::{arn}:log-stream:*"]


def sagemaker_finding(resource: str) -> str:
    return "Resource::" + ARN_IN_FINDING.format(service="sagemaker", resource=resource)


def acknowledge_job_role(role: SageMakerJobRole) -> None:
    """The findings every SageMakerJobRole has, with their reasons: the no-resource-type actions and the streams
    of its one service-named log group (for the stack's acknowledgment method to call)."""
    acknowledge_iam5(role.policy, ["Resource::*"],
                     "ecr:GetAuthorizationToken has no resource type; cloudwatch:PutMetricData has none "
                     "either and is conditioned on SageMaker's own metric namespaces")
    acknowledge_iam5(role.policy, log_group_findings(role.log_group)[1:],
                     "SageMaker names one log stream per job or endpoint variant and instance inside its "
                     "service-named log group; only that group's streams")
    acknowledge_iam5(role.policy, log_group_findings(role.log_group)[:1],
                     "CreateLogGroup and DescribeLogStreams act on the group ARN ending in :*, which IAM "
                     "requires; only that one service-named group")
