"""The account-level janitor stack: one per account and region, shared by every lab.

Why the sweep lives here and not in the lab stacks: a lab's leftovers exist only
after its stack is gone (FSx, Redshift and VPC deletion takes many minutes), and
a function inside the stack being deleted is deleted with it. This stack owns
no data: a rule, a function, its log group, a dead-letter queue, the KMS key of
that log group (the one thing that bills while idle, $1 per month) and, with
alert_email, an SNS topic. Each lab's teardown record is an SSM Standard parameter
the function writes (free).

Where IAM cannot scope the sweep to this region (see ``_acknowledge_findings`` and
``cdk_constructs.janitor.sweeper.in_region``): S3 bucket ARNs carry no region or account, so the
bucket statements rely on aws:RequestedRegion (the region a request is signed for) and
s3:ResourceAccount; s3:ListAllMyBuckets and tag:GetResources have no resource at all. The
sweep's code checks each bucket's location and owner before it touches it.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from cdk_constructs.core.acknowledge import acknowledge, acknowledge_iam5
from cdk_constructs.core.profile import apply_profile
from cdk_constructs.core.settings import LabSettings
from cdk_constructs.janitor.sweeper import LabJanitor
from lambdas.lab_sweep.record import RECORD_PREFIX
from lambdas.lab_sweep.sweep_services import GLUE_LOG_GROUP, GLUE_LOG_SUFFIXES
from lambdas.shared.lab_names import (
    ENDPOINT_LOG_GROUP_PREFIX,
    LAB_STACK_RESOURCES,
    PROCESSING_LOG_GROUP,
    SHADOW_ENDPOINT_PREFIXES,
    TRAINING_LOG_GROUP,
    TRANSFORM_LOG_GROUP,
)


def _resource(service: str, resource: str) -> str:
    """How cdk-nag names a wildcard resource of this account and region in an IAM5 finding."""
    return f"Resource::arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>:{resource}"


def _streams(group: str) -> list[str]:
    return [_resource("logs", f"log-group:{group}:*"), _resource("logs", f"log-group:{group}:log-stream:*")]


# Every wildcard of the sweep role's policies, with why the sweep needs it.
_OWN_POLICY_WILDCARDS = [
    (["Resource::*"],
     "List*/Describe* calls, s3:ListAllMyBuckets, cloudformation:ListStacks and tag:GetResources have no resource "
     "type; the sweep lists every log group, bucket, job, endpoint and interface to find those tagged for a lab, and "
     "asks CloudFormation (DescribeStackResources by physical id) which stack, if any, holds each before deleting it"),
    ([_resource("cloudformation", resource) for resource in LAB_STACK_RESOURCES],
     "the lab's stacks, its own mlref-* and a classroom's StackSet-mlref-* copies: the sweep reads the deleted "
     "stack's resources by id; describe and list only, stack ids are random"),
    ([_resource("logs", "log-group:*")],
     "log groups created at run time by services have unknown names; tags are read on any group and DeleteLogGroup "
     "is allowed only on groups tagged lab=* and profile=sandbox"),
    ([_resource("logs", f"log-group:{ENDPOINT_LOG_GROUP_PREFIX}*"), _resource("logs", f"log-group:{GLUE_LOG_GROUP}-*")],
     "SageMaker and Glue create these groups untagged, named after an endpoint or a security configuration; the "
     "sweep deletes only those of the lab's tagged endpoints and of its deleted stack's own resources"),
    (_streams(TRAINING_LOG_GROUP) + _streams(TRANSFORM_LOG_GROUP)
     + [f for suffix in GLUE_LOG_SUFFIXES for f in _streams(f"{GLUE_LOG_GROUP}/{suffix}")]
     + _streams(f"{GLUE_LOG_GROUP}-*") + _streams(PROCESSING_LOG_GROUP),
     "SageMaker and Glue write every job's streams into these service-named groups; the sweep deletes only the "
     "streams named by the runs of jobs tagged for the lab, never the shared groups"),
    (["Resource::arn:<AWS::Partition>:s3:::mlref-*", "Resource::arn:<AWS::Partition>:s3:::mlref-*/*"],
     "S3 has no tag condition for DeleteBucket or DeleteObjectVersion and bucket ARNs carry no region; limited to "
     "the labs' mlref-* names, requests in this region and buckets of this account, tags checked in code"),
    ([_resource("ec2", "network-interface/*")],
     "interfaces that SageMaker and FSx leave detached carry no tags to condition on; the sweep deletes only "
     "available interfaces in a security group tagged for the lab"),
    ([_resource("kms", "key/*")],
     "DescribeKey to skip tagged keys pending deletion; GenerateDataKey and Decrypt only through SNS (kms:ViaService) "
     "for the alerts topic, whose AWS managed key has no ARN known at synth"),
    ([_resource("ssm", f"parameter{RECORD_PREFIX}*")],
     "one teardown record per lab, named after the lab; PutParameter and AddTagsToResource under this path only"),
]
_SERVICES_POLICY_WILDCARDS = [
    ([_resource("sagemaker", f"{kind}/*") for kind in (
        "training-job", "feature-group", "endpoint", "endpoint-config", "model", "pipeline", "model-package-group",
        "monitoring-schedule", "transform-job", "hyper-parameter-tuning-job", "processing-job")],
     "these are named at practice time; tags and descriptions are read unconditioned so the sweep can check them, "
     "and every delete or stop requires tags lab=* and profile=sandbox"),
    ([_resource("sagemaker", "model-package/*"), _resource("sagemaker", "pipeline/*/execution/*")],
     "model packages and pipeline executions carry no tags of their own; the sweep deletes only packages of a "
     "tagged group and stops only executions of a tagged pipeline"),
    ([_resource("glue", "database/*"), _resource("glue", "database/mlref_*"), _resource("glue", "table/mlref_*/*"),
      _resource("glue", "userDefinedFunction/mlref_*/*")],
     "GetDatabases lists every database to read its tags; deletes are limited to the labs' mlref_* databases and "
     "their tables and functions, which DeleteDatabase requires as resources (Feature Store offline tables have "
     "generated names)"),
    ([_resource("glue", "job/*")],
     "Glue jobs are named by each lab; run history and tags are read unconditioned, stopping runs and deleting a "
     "job require tags lab=* and profile=sandbox"),
    ([_resource("sagemaker", f"{kind}/{prefix}*") for prefix in sorted(SHADOW_ENDPOINT_PREFIXES.values())
      for kind in ("endpoint", "endpoint-config")],
     "SageMaker Clarify creates its shadow endpoint untagged, named from the lab's endpoint_name_prefix; the sweep "
     "deletes one (and its config) only when every model it hosts is tagged for the lab and proven its own"),
    ([_resource("emr-serverless", "/applications/*"), _resource("emr-serverless", "/applications/*/jobruns/*")],
     "application ids are random; stop and delete require tags lab=* and profile=sandbox, and only the runs of "
     "such an application are cancelled"),
]

_DELIVERY_POLICY_WILDCARDS = [
    (["Resource::*"],
     "codebuild:ListBuilds and cloudtrail:DescribeTrails have no resource type; builds are stopped only in the "
     "deleted stack's own projects, and trails are only read, to keep a bucket a trail writes to"),
    ([_resource("codepipeline", "*")],
     "pipelines are named by each lab; runs are listed unconditioned, stopping runs and deleting a pipeline "
     "require tags lab=* and profile=sandbox"),
    ([_resource("codebuild", "project/mlref-*")],
     "builds carry no tags; the sweep stops only builds of the labs' mlref-* projects named by the deleted stack"),
]

class JanitorStack(Stack):
    """Sweeps each mlref lab after CloudFormation reports its stack deleted.

    Attributes:
        janitor: the LabJanitor (rule, sweep function, dead-letter queue, log-group key).
        settings: the settings it was built with.
    """

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings, **kwargs) -> None:
        super().__init__(
            scope, id_,
            description="mlref-labs janitor: sweeps what deleted lab stacks leave behind (idle: one KMS key)",
            **kwargs,
        )
        self.settings = settings
        apply_profile(self, settings)
        self.janitor = LabJanitor(self, "Janitor", settings=settings)
        CfnOutput(self, "SweepFunctionName", value=self.janitor.function.function.function_name,
                  description="Invoke with a stack-status event to sweep a lab by hand")
        CfnOutput(self, "DeadLetterQueueUrl", value=self.janitor.dead_letter_queue.queue_url,
                  description="Stack events whose sweep could not run")
        self._acknowledge_findings()

    def _acknowledge_findings(self) -> None:
        for findings, reason in _OWN_POLICY_WILDCARDS:
            acknowledge_iam5(self.janitor.function.role.policy, findings, reason)
        for findings, reason in _SERVICES_POLICY_WILDCARDS:
            acknowledge_iam5(self.janitor.services_policy, findings, reason)
        for findings, reason in _DELIVERY_POLICY_WILDCARDS:
            acknowledge_iam5(self.janitor.delivery_policy, findings, reason)
        if not self.settings.is_sandbox:
            function = self.janitor.function.function
            acknowledge(function, "NIST.800.53.R5-LambdaConcurrency",
                        "one invocation per deleted lab stack; reserving concurrency fails in new accounts "
                        "whose limit is 10")
            acknowledge(function, "NIST.800.53.R5-LambdaInsideVPC",
                        "calls only AWS APIs and reaches no VPC resource; a VPC would need NAT or many interface "
                        "endpoints, which bill while idle")
