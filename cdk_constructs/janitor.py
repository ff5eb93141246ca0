"""The account-level janitor: sweeps a lab after CloudFormation has deleted its stack."""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk_constructs.functions import LabFunction
from cdk_constructs.settings import LabSettings

from lambdas.shared.lab_names import (
    LAB_TAG,
    PROFILE_TAG,
    STACK_PREFIX,
    STACKSET_STACK_PREFIX,
    SWEPT_PROFILE,
    TRAINING_LOG_GROUP,
)

SWEPT_STATUSES = ("DELETE_COMPLETE", "DELETE_FAILED")


def _arn(service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
    return (f"arn:{Aws.PARTITION}:{service}:{Aws.REGION if region else ''}:"
            f"{Aws.ACCOUNT_ID if account else ''}:{resource}")


def swept_tags_condition() -> dict:
    """IAM condition: the resource is tagged for some lab and for the sandbox profile."""
    return {
        "Null": {f"aws:ResourceTag/{LAB_TAG}": "false"},
        "StringEquals": {f"aws:ResourceTag/{PROFILE_TAG}": SWEPT_PROFILE},
    }


class LabJanitor(Construct):
    """Runs the teardown sweep (``lambdas/lab_sweep``) whenever a lab stack is deleted.

    An EventBridge rule matches "CloudFormation Stack Status Change" events of this
    account and region whose stack name starts with ``mlref-`` and whose status is
    DELETE_COMPLETE or DELETE_FAILED, and invokes the sweep function with the event.
    Events that cannot be delivered, and invocations that fail every retry, land
    in one dead-letter queue. Nothing here bills while idle.

    The sweep deletes only resources tagged ``lab=<lab>`` and ``profile=sandbox``
    (checked in code); where the service supports it the IAM policy enforces the
    same tags, and elsewhere it is limited to the labs' ``mlref-`` names.

    Attributes:
        function: the sweep LabFunction.
        rule: the EventBridge rule.
        dead_letter_queue: failed deliveries and invocations.
    """

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings) -> None:
        super().__init__(scope, id_)
        self.dead_letter_queue = sqs.Queue(
            self, "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.function = LabFunction(
            self, "Sweep", settings=settings, handler_dir="lab_sweep", shared_modules=["lab_names"],
            description="Sweeps what a deleted mlref lab stack left behind",
            timeout=Duration.minutes(15), dead_letter_queue=self.dead_letter_queue,
        )
        self._grant_sweep(self.function)
        self.rule = events.Rule(
            self, "StackDeleted",
            description="A mlref lab stack finished deleting (or failed to): sweep what it left",
            event_pattern=events.EventPattern(
                source=["aws.cloudformation"],
                detail_type=["CloudFormation Stack Status Change"],
                detail={
                    # A lab's own stack, or its copy from a classroom StackSet (StackSet-mlref-<lab>-<id>).
                    "stack-id": events.Match.any_of(
                        *(events.Match.prefix(_arn("cloudformation", f"stack/{prefix}{STACK_PREFIX}"))
                          for prefix in ("", STACKSET_STACK_PREFIX))),
                    "status-details": {"status": list(SWEPT_STATUSES)},
                },
            ),
        )
        self.rule.add_target(targets.LambdaFunction(
            self.function.function,
            dead_letter_queue=self.dead_letter_queue,
            retry_attempts=3,
            max_event_age=Duration.hours(2),
        ))
        # EventBridge delivers to the queue with a queue policy: allow only this rule.
        self.dead_letter_queue.add_to_resource_policy(iam.PolicyStatement(
            sid="UndeliveredStackEvents",
            principals=[iam.ServicePrincipal("events.amazonaws.com")],
            actions=["sqs:SendMessage"],
            resources=[self.dead_letter_queue.queue_arn],
            conditions={"ArnEquals": {"aws:SourceArn": self.rule.rule_arn}},
        ))

    @staticmethod
    def _grant_sweep(function: LabFunction) -> None:
        role = function.role
        tagged = swept_tags_condition()

        def allow(sid: str, actions: list[str], resources: list[str], conditions: dict | None = None) -> None:
            role.add_to_principal_policy(iam.PolicyStatement(
                sid=sid, actions=actions, resources=resources, conditions=conditions))

        allow("ListWhatMayBeLeft", [
            "logs:DescribeLogGroups", "s3:ListAllMyBuckets", "sagemaker:ListTrainingJobs",
            "sagemaker:ListFeatureGroups", "ec2:DescribeSecurityGroups", "ec2:DescribeNetworkInterfaces",
            "tag:GetResources",
        ], ["*"])
        # Log groups: tags read on any group, deletion only of swept-tagged ones.
        log_groups = _arn("logs", "log-group:*")
        allow("ReadLogGroupTags", ["logs:ListTagsForResource"], [log_groups])
        allow("DeleteTaggedLogGroups", ["logs:DeleteLogGroup"], [log_groups], tagged)
        training_logs = _arn("logs", f"log-group:{TRAINING_LOG_GROUP}")
        allow("DeleteTrainingJobLogStreams", ["logs:DescribeLogStreams", "logs:DeleteLogStream"],
              [f"{training_logs}:*", f"{training_logs}:log-stream:*"])
        # Buckets: S3 has no tag conditions for these actions; limited to the labs' bucket names.
        buckets = f"arn:{Aws.PARTITION}:s3:::{STACK_PREFIX}*"
        allow("EmptyAndDeleteLabBuckets", [
            "s3:GetBucketTagging", "s3:ListBucket", "s3:ListBucketVersions", "s3:DeleteBucket",
        ], [buckets])
        allow("DeleteLabObjects", ["s3:DeleteObject", "s3:DeleteObjectVersion"], [f"{buckets}/*"])
        # SageMaker: tags and descriptions read, feature groups deleted only when swept-tagged.
        training_jobs, feature_groups = _arn("sagemaker", "training-job/*"), _arn("sagemaker", "feature-group/*")
        allow("ReadSageMakerTags", ["sagemaker:ListTags", "sagemaker:DescribeTrainingJob",
                                    "sagemaker:DescribeFeatureGroup"], [training_jobs, feature_groups])
        allow("DeleteTaggedFeatureGroups", ["sagemaker:DeleteFeatureGroup"], [feature_groups], tagged)
        # Glue: the labs' databases and their tables only (names start with mlref_).
        glue = [_arn("glue", "catalog"), _arn("glue", "database/mlref_*"), _arn("glue", "table/mlref_*/*")]
        allow("ReadGlueDatabases", ["glue:GetDatabases", "glue:GetTags"], [_arn("glue", "catalog"),
                                                                          _arn("glue", "database/*")])
        allow("DeleteLabGlueCatalog", ["glue:DeleteDatabase", "glue:DeleteTable"], glue)
        # Interfaces that SageMaker or FSx left detached in a lab security group.
        allow("DeleteDetachedInterfaces", ["ec2:DeleteNetworkInterface"], [_arn("ec2", "network-interface/*")])
        # Whether a tagged key is already pending deletion.
        allow("DescribeKeys", ["kms:DescribeKey"], [_arn("kms", "key/*")])

