"""The account-level janitor: sweeps a lab after CloudFormation has deleted its stack."""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk_constructs.core.encryption import LabKey
from cdk_constructs.core.functions import LabFunction
from cdk_constructs.core.settings import LabSettings
from lambdas.lab_sweep.record import ALERT_TOPIC_ENV, RECORD_PREFIX
from lambdas.lab_sweep.sweep_services import EMR_SYNC_RULE, GLUE_LOG_GROUP, GLUE_LOG_SUFFIXES
from lambdas.shared.lab_names import (
    ENDPOINT_LOG_GROUP_PREFIX,
    LAB_STACK_RESOURCES,
    LAB_TAG,
    PROCESSING_LOG_GROUP,
    PROFILE_TAG,
    SHADOW_ENDPOINT_PREFIXES,
    STACK_PREFIX,
    SWEPT_PROFILE,
    TRAINING_LOG_GROUP,
    TRANSFORM_LOG_GROUP,
)

# DELETE_FAILED too: the janitor then records and reports the failure, and deletes nothing.
SWEPT_STATUSES = ("DELETE_COMPLETE", "DELETE_FAILED")
# The AWS managed key for SNS: it bills nothing, unlike a customer managed key ($1 a month).
SNS_MANAGED_KEY = "alias/aws/sns"


def _arn(service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
    return (f"arn:{Aws.PARTITION}:{service}:{Aws.REGION if region else ''}:"
            f"{Aws.ACCOUNT_ID if account else ''}:{resource}")


def swept_tags_condition() -> dict:
    """IAM condition: the resource is tagged for some lab and for the sandbox profile."""
    return {
        "Null": {f"aws:ResourceTag/{LAB_TAG}": "false"},
        "StringEquals": {f"aws:ResourceTag/{PROFILE_TAG}": SWEPT_PROFILE},
    }


def in_region(conditions: dict | None = None, *, s3: bool = False) -> dict:
    """``conditions`` plus: the request is made in this region; for S3, to a bucket of this account.

    aws:RequestedRegion is the region a request is signed for. Regional ARNs already name the
    region and account; S3 bucket ARNs name neither, so for S3 these conditions are all IAM has:
    S3 refuses a bucket request signed for another region than the bucket's and botocore re-sends
    it signed for the bucket's region, which the condition then denies (SigV4 behaviour, not
    verified against AWS here); s3:ResourceAccount is the bucket owner's account. Not scoped by
    region at all: s3:ListAllMyBuckets and GetBucketLocation answer for every region's buckets
    (the sweep then keeps only BucketRegion and GetBucketLocation matches), and tag:GetResources.
    """
    merged = {key: dict(value) for key, value in (conditions or {}).items()}
    equals = merged.setdefault("StringEquals", {})
    equals["aws:RequestedRegion"] = Aws.REGION
    if s3:
        equals["s3:ResourceAccount"] = Aws.ACCOUNT_ID
    return merged


class LabJanitor(Construct):
    """Runs the teardown sweep (``lambdas/lab_sweep``) whenever a lab stack is deleted.

    An EventBridge rule matches "CloudFormation Stack Status Change" events of this
    account and region of the labs' stacks (``mlref-*``, and a classroom's copies
    ``StackSet-mlref-*``: ``lab_names.LAB_STACK_RESOURCES``) whose status is
    DELETE_COMPLETE or DELETE_FAILED, and invokes the sweep function with the event.
    Events that cannot be delivered, and invocations that fail every retry, land
    in one dead-letter queue. The function's log group is encrypted with the
    janitor's own customer managed key (a LabKey): the one thing here that bills
    while idle, $1 per month (pricing/prices.toml ``kms_key_month``).

    The sweep deletes only resources tagged ``lab=<lab>`` and ``profile=sandbox`` that
    no live stack holds (checked in code, asking CloudFormation), only in this account
    and region, and never while any stack of the lab exists (a DELETE_FAILED event is
    recorded, nothing is deleted). Where the
    service supports it the IAM policy enforces the same tags, and elsewhere it is
    limited to the labs' ``mlref-`` names or to service-named log groups. Every
    statement requires this region (``in_region``); S3 statements also this account.

    The function records each lab's result in the SSM parameter ``/mlref/janitor/<lab>``
    (Standard tier: free). With ``settings.alert_email`` an SNS topic (the AWS managed
    key, SSL enforced) e-mails whatever is left after the janitor's rounds; the
    recipient must confirm the subscription from the first e-mail.

    Attributes:
        function: the sweep LabFunction.
        rule: the EventBridge rule.
        dead_letter_queue: failed deliveries and invocations.
        alert_topic: the alerts topic, None without ``alert_email``.
        services_policy: the second managed policy of the function's role (SageMaker, Glue
            jobs, EMR Serverless); the first is ``function.role.policy``.
        key: the KMS key of the sweep's log group.
    """

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings) -> None:
        super().__init__(scope, id_)
        self.dead_letter_queue = sqs.Queue(
            self, "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.key = LabKey(self, "Key", settings=settings, description="mlref janitor: the sweep's log group").key
        self.function = LabFunction(
            self, "Sweep", settings=settings, handler_dir="lab_sweep", shared_modules=["lab_names"],
            description="Sweeps what a deleted mlref lab stack left behind",
            timeout=Duration.minutes(15), dead_letter_queue=self.dead_letter_queue, log_key=self.key,
        )
        self.alert_topic = self._alert_topic(settings.alert_email) if settings.alert_email else None
        if self.alert_topic is not None:
            self.function.function.add_environment(ALERT_TOPIC_ENV, self.alert_topic.topic_arn)
        self._grant_sweep(self.function, self.alert_topic)
        self.rule = events.Rule(
            self, "StackDeleted",
            description="A mlref lab stack finished deleting (or failed to): sweep what it left",
            event_pattern=events.EventPattern(
                source=["aws.cloudformation"],
                detail_type=["CloudFormation Stack Status Change"],
                detail={
                    # A lab's own stack, or its copy from a classroom StackSet (StackSet-mlref-<lab>-<id>).
                    "stack-id": events.Match.any_of(
                        *(events.Match.prefix(_arn("cloudformation", resource.removesuffix("*/*")))
                          for resource in LAB_STACK_RESOURCES)),
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

    def _alert_topic(self, email: str) -> sns.Topic:
        topic = sns.Topic(
            self, "Alerts", display_name="mlref janitor: lab leftovers",
            master_key=kms.Alias.from_alias_name(self, "AwsManagedSnsKey", SNS_MANAGED_KEY), enforce_ssl=True,
        )
        topic.add_subscription(subscriptions.EmailSubscription(email))
        return topic

    def _grant_sweep(self, function: LabFunction, alert_topic: sns.ITopic | None) -> None:
        """The role's own policy (listing, logs, buckets, interfaces, record, alerts) and
        ``services_policy`` (SageMaker, Glue, EMR Serverless): one managed policy holds 6,144 characters."""
        self.services_policy = iam.ManagedPolicy(
            self, "SweepServicesPolicy",
            description="Permissions of the janitor's sweep: SageMaker, Glue, EMR Serverless")
        self.services_policy.attach_to_role(function.role.role)
        own = function.role.policy
        self._grant_listing(own)
        self._grant_logs(own)
        self._grant_buckets_and_interfaces(own)
        self._grant_record_and_alerts(own, alert_topic)
        self._grant_sagemaker(self.services_policy)
        self._grant_glue_and_emr(self.services_policy)
        # A third policy for delivery pipelines (the mlops lab): each managed policy holds 6,144 characters.
        self.delivery_policy = iam.ManagedPolicy(
            self, "SweepDeliveryPolicy",
            description="Permissions of the janitor's sweep: CodePipeline runs, CodeBuild builds, trails' buckets")
        self.delivery_policy.attach_to_role(function.role.role)
        self._grant_delivery(self.delivery_policy)

    @staticmethod
    def _allow(policy: iam.ManagedPolicy, sid: str, actions: list[str], resources: list[str],
               conditions: dict | None = None, *, s3: bool = False) -> None:
        policy.add_statements(iam.PolicyStatement(sid=sid, actions=actions, resources=resources,
                                                  conditions=in_region(conditions, s3=s3)))

    def _grant_listing(self, policy: iam.ManagedPolicy) -> None:
        self._allow(policy, "ListWhatMayBeLeft", [
            "logs:DescribeLogGroups", "s3:ListAllMyBuckets", "sagemaker:ListTrainingJobs",
            "sagemaker:ListFeatureGroups", "sagemaker:ListEndpoints", "sagemaker:ListEndpointConfigs",
            "sagemaker:ListModels", "sagemaker:ListPipelines", "sagemaker:ListModelPackageGroups",
            "sagemaker:ListMonitoringSchedules", "sagemaker:ListTransformJobs", "ec2:DescribeSecurityGroups",
            "ec2:DescribeNetworkInterfaces", "sagemaker:ListHyperParameterTuningJobs", "sagemaker:ListProcessingJobs",
            "tag:GetResources", "glue:ListJobs", "emr-serverless:ListApplications", "cloudformation:ListStacks",
            # Which stack holds a resource, asked by its physical id: the stack is the unknown.
            "cloudformation:DescribeStackResources",
        ], ["*"])
        # The lab's stacks, its own and a classroom's copies: what the deleted one had (kept 90 days).
        self._allow(policy, "DescribeLabStacks", ["cloudformation:DescribeStacks", "cloudformation:ListStackResources"],
                    [_arn("cloudformation", resource) for resource in LAB_STACK_RESOURCES])
        # Whether a tagged key is already pending deletion.
        self._allow(policy, "DescribeKeys", ["kms:DescribeKey"], [_arn("kms", "key/*")])

    def _grant_logs(self, policy: iam.ManagedPolicy) -> None:
        # Log groups: tags read on any group, deletion only of swept-tagged ones.
        log_groups = _arn("logs", "log-group:*")
        self._allow(policy, "ReadLogGroupTags", ["logs:ListTagsForResource"], [log_groups])
        self._allow(policy, "DeleteTaggedLogGroups", ["logs:DeleteLogGroup"], [log_groups], swept_tags_condition())
        # Service-named groups: of the lab's endpoints (tagged first, deleted once the endpoint is
        # gone) and of the deleted stack's Glue security configurations.
        endpoint_logs = _arn("logs", f"log-group:{ENDPOINT_LOG_GROUP_PREFIX}*")
        self._allow(policy, "TagEndpointLogGroups", ["logs:TagResource"], [endpoint_logs],
                    {"Null": {f"aws:RequestTag/{LAB_TAG}": "false"}})
        glue_encrypted_logs = _arn("logs", f"log-group:{GLUE_LOG_GROUP}-*")
        self._allow(policy, "DeleteServiceNamedLogGroups", ["logs:DeleteLogGroup"],
                    [endpoint_logs, glue_encrypted_logs])
        # Streams of the lab's training jobs and Glue job runs in the groups those services share.
        shared = [TRAINING_LOG_GROUP, TRANSFORM_LOG_GROUP,
                  *(f"{GLUE_LOG_GROUP}/{suffix}" for suffix in GLUE_LOG_SUFFIXES), PROCESSING_LOG_GROUP]
        run_groups = [_arn("logs", f"log-group:{group}") for group in shared] + [glue_encrypted_logs]
        self._allow(policy, "DeleteRunLogStreams", ["logs:DescribeLogStreams", "logs:DeleteLogStream"],
                    [f"{group}:*" for group in run_groups] + [f"{group}:log-stream:*" for group in run_groups])

    def _grant_buckets_and_interfaces(self, policy: iam.ManagedPolicy) -> None:
        # Buckets: S3 has no tag conditions for these actions; limited to the labs' bucket names,
        # to requests in this region and to buckets this account owns.
        buckets = f"arn:{Aws.PARTITION}:s3:::{STACK_PREFIX}*"
        self._allow(policy, "EmptyAndDeleteLabBuckets", [
            "s3:GetBucketLocation", "s3:GetBucketTagging", "s3:ListBucket", "s3:ListBucketVersions",
            "s3:DeleteBucket",
        ], [buckets], s3=True)
        self._allow(policy, "DeleteLabObjects", ["s3:DeleteObject", "s3:DeleteObjectVersion"], [f"{buckets}/*"],
                    s3=True)
        # Interfaces that SageMaker or FSx left detached in a lab security group.
        self._allow(policy, "DeleteDetachedInterfaces", ["ec2:DeleteNetworkInterface"],
                    [_arn("ec2", "network-interface/*")])

    def _grant_record_and_alerts(self, policy: iam.ManagedPolicy, alert_topic: sns.ITopic | None) -> None:
        self._allow(policy, "WriteTeardownRecords", ["ssm:PutParameter", "ssm:AddTagsToResource"],
                    [_arn("ssm", f"parameter{RECORD_PREFIX}*")])
        if alert_topic is not None:
            self._allow(policy, "PublishAlerts", ["sns:Publish"], [alert_topic.topic_arn])
            # The topic's AWS managed key, used only through SNS.
            self._allow(policy, "EncryptAlertsThroughSns", ["kms:GenerateDataKey", "kms:Decrypt"],
                        [_arn("kms", "key/*")], {"StringEquals": {"kms:ViaService": f"sns.{Aws.REGION}.amazonaws.com"}})

    def _grant_sagemaker(self, policy: iam.ManagedPolicy) -> None:
        def arns(*types: str) -> list[str]:
            return [_arn("sagemaker", f"{t}/*") for t in types]

        tagged_types = ("training-job", "feature-group", "endpoint", "endpoint-config", "model", "pipeline",
                        "model-package-group", "monitoring-schedule", "transform-job", "hyper-parameter-tuning-job",
                        "processing-job")
        self._allow(policy, "ReadSageMakerTags", ["sagemaker:ListTags"], arns(*tagged_types, "model-package"))
        # Descriptions: what to delete, and the read-back that shows a delete done.
        self._allow(policy, "DescribeSageMaker", [
            "sagemaker:DescribeTrainingJob", "sagemaker:DescribeFeatureGroup", "sagemaker:DescribeEndpoint",
            "sagemaker:ListPipelineExecutions", "sagemaker:ListModelPackages", "sagemaker:DescribeEndpointConfig",
            "sagemaker:DescribeModel", "sagemaker:DescribePipeline", "sagemaker:DescribeModelPackage",
            "sagemaker:DescribeModelPackageGroup", "sagemaker:DescribeMonitoringSchedule",
            "sagemaker:DescribeTransformJob", "sagemaker:DescribeProcessingJob",
        ], arns(*tagged_types, "model-package"))
        self._allow(policy, "DeleteTaggedSageMaker", [
            "sagemaker:DeleteFeatureGroup", "sagemaker:DeleteEndpoint", "sagemaker:DeleteEndpointConfig",
            "sagemaker:DeleteModel", "sagemaker:DeletePipeline", "sagemaker:DeleteModelPackageGroup",
            "sagemaker:DeleteMonitoringSchedule", "sagemaker:StopTrainingJob", "sagemaker:StopTransformJob",
            "sagemaker:StopHyperParameterTuningJob", "sagemaker:StopProcessingJob",
        ], arns(*tagged_types), swept_tags_condition())
        # Endpoints a lab's jobs make untagged (Clarify's shadow endpoint): limited to their names; the sweep
        # deletes one only when every model it hosts is tagged for the lab.
        shadows = sorted(SHADOW_ENDPOINT_PREFIXES.values())
        self._allow(policy, "DeleteShadowEndpoints", ["sagemaker:DeleteEndpoint", "sagemaker:DeleteEndpointConfig"],
                    [_arn("sagemaker", f"{kind}/{prefix}*") for prefix in shadows
                     for kind in ("endpoint", "endpoint-config")])
        # Executions and packages carry no tags of their own: the sweep acts on those of tagged
        # pipelines and groups only.
        self._allow(policy, "StopLabPipelineExecutions", ["sagemaker:StopPipelineExecution"],
                    [_arn("sagemaker", "pipeline/*/execution/*")])
        self._allow(policy, "DeletePackagesOfLabGroups", ["sagemaker:DeleteModelPackage"], arns("model-package"))

    def _grant_delivery(self, policy: iam.ManagedPolicy) -> None:
        # Pipelines: tagged ones stopped and deleted; their runs listed. Builds carry no tags: those of the
        # labs' projects (mlref-* names) only. Trails are read to keep a bucket a trail writes to.
        pipelines = _arn("codepipeline", "*")
        self._allow(policy, "ListLabPipelineRuns", ["codepipeline:ListPipelineExecutions", "codepipeline:GetPipeline"],
                    [pipelines])
        self._allow(policy, "StopAndDeleteTaggedPipelines",
                    ["codepipeline:StopPipelineExecution", "codepipeline:DeletePipeline"], [pipelines],
                    swept_tags_condition())
        self._allow(policy, "ListBuildsAndTrails", ["codebuild:ListBuilds", "cloudtrail:DescribeTrails"], ["*"])
        self._allow(policy, "StopBuildsOfLabProjects", ["codebuild:BatchGetBuilds", "codebuild:StopBuild"],
                    [_arn("codebuild", f"project/{STACK_PREFIX}*")])

    def _grant_glue_and_emr(self, policy: iam.ManagedPolicy) -> None:
        # Glue: the labs' databases and their tables only (names start with mlref_); tagged jobs.
        jobs = _arn("glue", "job/*")
        self._allow(policy, "ReadGlue", ["glue:GetDatabases", "glue:GetTags", "glue:GetJobRuns", "glue:GetJob"],
                    [_arn("glue", "catalog"), _arn("glue", "database/*"), jobs])
        # DeleteDatabase deletes the database's tables and functions with it: it requires the catalog,
        # database, table and userDefinedFunction resources (service authorization reference).
        self._allow(policy, "DeleteLabGlueCatalog", ["glue:DeleteDatabase", "glue:DeleteTable", "glue:GetDatabase",
                                                     "glue:GetTable"],
                    [_arn("glue", "catalog"), _arn("glue", "database/mlref_*"), _arn("glue", "table/mlref_*/*"),
                     _arn("glue", "userDefinedFunction/mlref_*/*")])
        self._allow(policy, "StopAndDeleteTaggedGlueJobs", ["glue:BatchStopJobRun", "glue:DeleteJob"], [jobs],
                    swept_tags_condition())
        # EMR Serverless: tagged applications stopped and deleted, their runs cancelled first.
        applications = _arn("emr-serverless", "/applications/*")
        self._allow(policy, "ReadEmrServerless", ["emr-serverless:GetApplication", "emr-serverless:ListJobRuns"],
                    [applications])
        self._allow(policy, "StopAndDeleteTaggedEmrServerless",
                    ["emr-serverless:StopApplication", "emr-serverless:DeleteApplication"], [applications],
                    swept_tags_condition())
        self._allow(policy, "CancelEmrServerlessRuns", ["emr-serverless:CancelJobRun"], [f"{applications}/jobruns/*"])
        # The rule Step Functions shares for EMR Serverless .sync: only ever described, never deleted.
        self._allow(policy, "DescribeEmrSyncRule", ["events:DescribeRule"], [_arn("events", f"rule/{EMR_SYNC_RULE}")])
