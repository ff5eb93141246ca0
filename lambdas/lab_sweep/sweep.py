"""Find and remove what a lab leaves behind after its stack is deleted.

Used by the janitor's sweep Lambda (after CloudFormation reports DELETE_COMPLETE) and by
``labs destroy``. The rules:

- Nothing is deleted while any stack of the lab exists in this account and region, whatever
  its status: its own ``mlref-<lab>`` or a classroom's copy ``StackSet-mlref-<lab>-<UUID>``
  (``ownership.py``); a stack in DELETE_COMPLETE is gone.
- Nothing outside the session's account and region: regional clients only, every ARN checked
  against the account and region, every bucket's own location checked and every S3 call made
  with ``ExpectedBucketOwner``.
- Nothing is deleted unless it carries the lab's tags (``lab=<name>``, ``profile=sandbox``) and
  CloudFormation does not name a live stack, or another lab's, as its holder; or it is an
  artifact named by such a resource (the log streams and output of a tagged training job or Glue
  job, the packages of a tagged model package group, the offline store of a tagged feature group,
  the interfaces left in a tagged security group, the log group of a tagged endpoint), or named by
  a resource of the lab's own deleted stack (the log groups of its endpoints and of its Glue
  security configurations). Objects are deleted only in a bucket the lab owns.
- A delete counts once a read shows the thing gone (``SweepBase.attempt``). The whole sweep is
  bounded by ``deadline``, and a service that does not answer is asked once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

try:  # in the Lambda asset the modules sit side by side
    from lab_names import LAB_TAG, PROFILE_TAG, SWEPT_PROFILE, TRAINING_LOG_GROUP
    from sweep_base import Leftover, SweepBase, SweepReport, Unchecked, error_code, tags_of
    from sweep_delivery import DeliveryKinds
    from sweep_sagemaker import SageMakerKinds
    from sweep_services import EMR_SYNC_RULE, ServiceKinds
except ImportError:  # imported as a package (tests, the labs command)
    from lambdas.lab_sweep.sweep_base import Leftover, SweepBase, SweepReport, Unchecked, error_code, tags_of
    from lambdas.lab_sweep.sweep_delivery import DeliveryKinds
    from lambdas.lab_sweep.sweep_sagemaker import SageMakerKinds
    from lambdas.lab_sweep.sweep_services import EMR_SYNC_RULE, ServiceKinds
    from lambdas.shared.lab_names import LAB_TAG, PROFILE_TAG, SWEPT_PROFILE, TRAINING_LOG_GROUP

TAG_KEY, PROFILE_TAG_KEY = LAB_TAG, PROFILE_TAG
__all__ = [
    "BILLABLE_TYPES",
    "EMR_SYNC_RULE",
    "SWEPT_PROFILE",
    "TRAINING_LOG_GROUP",
    "Leftover",
    "SweepReport",
    "Sweeper",
    "sweep",
    "verify",
]

# Every billable resource type the labs create, as Tagging API resource-type filters. EMR
# Serverless is filtered by service only: its ARNs have no type segment (":/applications/").
BILLABLE_TYPES = (
    "s3", "kms:key", "logs:log-group", "kinesis:stream", "firehose:deliverystream",
    "redshift:cluster", "redshift-serverless:workgroup", "redshift-serverless:namespace",
    "fsx:file-system", "elasticfilesystem:file-system", "sagemaker:feature-group",
    "sagemaker:training-job", "glue:crawler", "athena:workgroup", "secretsmanager:secret",
    "lambda:function", "ec2:natgateway", "ec2:vpc-endpoint", "ec2:network-interface",
    "ec2:vpc", "ec2:security-group",
    "sagemaker:endpoint", "sagemaker:endpoint-config", "sagemaker:model", "sagemaker:pipeline",
    "sagemaker:model-package-group", "sagemaker:model-package", "sagemaker:monitoring-schedule",
    "emr-serverless", "glue:job", "states:stateMachine",
    "sagemaker:transform-job",
    "sagemaker:hyper-parameter-tuning-job", "sagemaker:processing-job",
    "codepipeline", "codebuild:project", "cloudtrail:trail",
)
# How to tell whether a SageMaker resource the Tagging API still lists is really there
# (the Tagging API can list a deleted resource for minutes): the service's own listing.
SAGEMAKER_LISTINGS = {
    "endpoint": ("list_endpoints", "Endpoints", "EndpointArn", {}),
    "endpoint-config": ("list_endpoint_configs", "EndpointConfigs", "EndpointConfigArn", {}),
    "model": ("list_models", "Models", "ModelArn", {}),
    "pipeline": ("list_pipelines", "PipelineSummaries", "PipelineArn", {}),
    "model-package-group": ("list_model_package_groups", "ModelPackageGroupSummaryList", "ModelPackageGroupArn", {}),
    "monitoring-schedule": ("list_monitoring_schedules", "MonitoringScheduleSummaries", "MonitoringScheduleArn", {}),
    "feature-group": ("list_feature_groups", "FeatureGroupSummaries", "FeatureGroupArn", {}),
    # A finished training job cannot be deleted and bills nothing: only running ones count.
    "training-job": ("list_training_jobs", "TrainingJobSummaries", "TrainingJobArn", {"StatusEquals": "InProgress"}),
    "training-job/stopping": ("list_training_jobs", "TrainingJobSummaries", "TrainingJobArn",
                              {"StatusEquals": "Stopping"}),
    # A finished transform job, likewise: only running ones count.
    "transform-job": ("list_transform_jobs", "TransformJobSummaries", "TransformJobArn",
                      {"StatusEquals": "InProgress"}),
    "transform-job/stopping": ("list_transform_jobs", "TransformJobSummaries", "TransformJobArn",
                               {"StatusEquals": "Stopping"}),
    # Tuning and processing jobs likewise: their records stay, only running ones bill.
    "hyper-parameter-tuning-job": ("list_hyper_parameter_tuning_jobs", "HyperParameterTuningJobSummaries",
                                   "HyperParameterTuningJobArn", {"StatusEquals": "InProgress"}),
    "hyper-parameter-tuning-job/stopping": ("list_hyper_parameter_tuning_jobs", "HyperParameterTuningJobSummaries",
                                            "HyperParameterTuningJobArn", {"StatusEquals": "Stopping"}),
    "processing-job": ("list_processing_jobs", "ProcessingJobSummaries", "ProcessingJobArn",
                       {"StatusEquals": "InProgress"}),
    "processing-job/stopping": ("list_processing_jobs", "ProcessingJobSummaries", "ProcessingJobArn",
                                {"StatusEquals": "Stopping"}),
}
# Jobs whose records stay and bill only while they run.
RUN_KINDS = ("training-job", "transform-job", "hyper-parameter-tuning-job", "processing-job")


class Sweeper(SageMakerKinds, ServiceKinds, DeliveryKinds, SweepBase):
    """Sweeps one lab in one account and region, with a boto3 session (see ``SweepBase``)."""

    KINDS = (
        "code_pipelines", "builds",  # runs stopped before what they deploy to is deleted
        "monitoring_schedules", "endpoints", "endpoint_configs", "models", "pipelines", "model_packages",
        "feature_groups", "tuning_jobs", "training_jobs", "transform_jobs", "processing_jobs", "emr_applications",
        "glue_jobs", "glue_databases", "network_interfaces", "log_groups", "buckets",
    )

    def __init__(self, session: Any, lab: str, *, kinds: Iterable[str] = KINDS, **options: Any) -> None:
        super().__init__(session, lab, **options)
        self.kinds = tuple(kinds)
        unknown = set(self.kinds) - set(self.KINDS)
        if unknown:
            raise ValueError(f"unknown leftover kinds {sorted(unknown)}; known: {', '.join(self.KINDS)}")
        self._live: dict[str, set[str]] = {}

    def remaining_tagged(self) -> None:
        """Anything else still tagged for the lab: reported, never deleted blindly (and, when a live
        stack holds it, only as kept)."""
        reported = {i.arn.lower() for i in [*self.report.leftovers(), *self.report.deleted, *self.report.kept] if i.arn}
        for arn, tags in self.tagged_resources():
            if arn.lower() not in reported and self.proven(Leftover("resource", arn, arn=arn), tags):
                self.report.left.append(Leftover("resource", arn, arn=arn))

    def tagged_leftovers(self) -> list[str]:
        """ARNs of billable resources in this account and region still tagged ``lab=<lab>``."""
        return [arn for arn, _ in self.tagged_resources()]

    def tagged_resources(self) -> list[tuple[str, dict[str, str]]]:
        """Billable resources of this account and region still tagged ``lab=<lab>``, with their tags."""
        try:
            found = self._tagged(BILLABLE_TYPES)
        except ClientError as error:
            if error_code(error) != "InvalidParameterException":
                raise
            found = []  # a type this region's Tagging API does not know: ask type by type, skip that one
            for resource_type in BILLABLE_TYPES:
                try:
                    found += self._tagged((resource_type,))
                except ClientError as refused:
                    if error_code(refused) != "InvalidParameterException":
                        raise
                    self.log(f"the Tagging API refuses resource type {resource_type}: not verified through it")
        return [(arn, tags) for arn, tags in found if self._still_there(arn)]

    def _tagged(self, types: tuple[str, ...]) -> list[tuple[str, dict[str, str]]]:
        pages = self.client("resourcegroupstaggingapi").get_paginator("get_resources").paginate(
            TagFilters=[{"Key": LAB_TAG, "Values": [self.lab]}], ResourceTypeFilters=list(types))
        return [(m["ResourceARN"], tags_of(m.get("Tags"))) for page in pages for m in page["ResourceTagMappingList"]]

    def _still_there(self, arn: str) -> bool:
        service = arn.split(":", 3)[2]
        if service == "s3":
            try:
                return self.bucket_region(arn.split(":::", 1)[-1].split("/", 1)[0]) == self.region
            except ClientError:
                return True  # cannot tell where it is: count it
        if not self.owns_arn(arn):
            return False
        resource = arn.split(":", 5)[5]
        if service == "kms":
            try:
                state = self.client("kms").describe_key(KeyId=arn)["KeyMetadata"]["KeyState"]
            except ClientError as error:
                if error_code(error) == "NotFoundException":
                    return False
                raise  # throttled or refused: not known to be gone (the pass is not verified)
            return state not in {"PendingDeletion", "PendingReplicaDeletion"}
        if service == "logs" and resource.startswith("log-group:"):
            name = resource.removeprefix("log-group:").removesuffix(":*")
            groups = self.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
            return any(g["logGroupName"] == name for g in groups)
        if service == "sagemaker":
            kind = resource.split("/", 1)[0]
            if kind in RUN_KINDS:
                return arn.lower() in self._live_arns(kind) | self._live_arns(f"{kind}/stopping")
            if kind in SAGEMAKER_LISTINGS:
                return arn.lower() in self._live_arns(kind)
        return True

    def _live_arns(self, kind: str) -> set[str]:
        if kind not in self._live:
            operation, key, arn_key, params = SAGEMAKER_LISTINGS[kind]
            pages = self.client("sagemaker").get_paginator(operation).paginate(**params)
            self._live[kind] = {s[arn_key].lower() for page in pages for s in page[key]}
        return self._live[kind]

    def run(self) -> SweepReport:
        self.region  # noqa: B018 - a session without a region stops here (ValueError with the fix)
        try:
            if not self.stack_allows_sweep():
                self.log(f"refused: {self.report.refused}")
                return self.report
            for step in [self.stack_resources, *(getattr(self, kind) for kind in self.kinds), self.remaining_tagged]:
                self._step(step)
            return self.report
        finally:
            self.release()

    def _step(self, step: Callable[[], None]) -> None:
        """One kind; a failure to list it to the end is noted with what was already swept of it."""
        acted = len(self.report.deleted) + len(self.report.stopped)
        try:
            step()
        except (ClientError, BotoCoreError) as error:
            reason = error_code(error) if isinstance(error, ClientError) else str(error)
            swept = len(self.report.deleted) + len(self.report.stopped) - acted
            self.report.unchecked.append(Unchecked(step.__name__.strip("_").replace("_", " "), reason, swept))
            self.log(f"could not sweep {step.__name__}: {reason}")


def verify(session: Any, lab: str, *, clients: dict[str, Any] | None = None) -> list[str]:
    """ARNs of billable resources in the session's account and region that still carry
    ``lab=<lab>`` and still exist: empty means clean.

    Not counted: KMS keys already pending deletion (on their way out, unusable), finished
    training jobs (they cannot be deleted and bill nothing), what the Tagging API still lists
    after its service deleted it, and buckets of other regions.
    """
    return Sweeper(session, lab, kinds=(), clients=clients, log=lambda _line: None).tagged_leftovers()


def sweep(session: Any, lab: str, *, log: Callable[[str], None] = print, **options: Any) -> SweepReport:
    return Sweeper(session, lab, log=log, **options).run()
