"""SageMaker leftovers: what aws-nuke cannot delete (feature groups, pipelines, model package
groups) and what bills by the hour (endpoints, running training jobs).

Order matters and ``Sweeper.KINDS`` keeps it: monitoring schedules before their endpoint
(an endpoint with schedules cannot be deleted), endpoints before their configs and models,
running pipeline executions stopped before their pipeline, packages before their group, tuning
jobs stopped before the training jobs they launched are looked at.
Each delete is read back: SageMaker deletes endpoints, feature groups and schedules
asynchronously, so an accepted delete is "not gone yet" until a Describe says otherwise.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from botocore.exceptions import ClientError

try:  # in the Lambda asset the modules sit side by side
    from lab_names import (
        ENDPOINT_LOG_GROUP_PREFIX,
        LAB_TAG,
        PROCESSING_LOG_GROUP,
        PROFILE_TAG,
        SHADOW_ENDPOINT_PREFIXES,
        TRAINING_LOG_GROUP,
        TRANSFORM_LOG_GROUP,
    )
    from sweep_base import Leftover, error_code, split_s3_uri, tags_of
except ImportError:  # imported as a package (tests, the labs command)
    from lambdas.lab_sweep.sweep_base import Leftover, error_code, split_s3_uri, tags_of
    from lambdas.shared.lab_names import (
        ENDPOINT_LOG_GROUP_PREFIX,
        LAB_TAG,
        PROCESSING_LOG_GROUP,
        PROFILE_TAG,
        SHADOW_ENDPOINT_PREFIXES,
        TRAINING_LOG_GROUP,
        TRANSFORM_LOG_GROUP,
    )

BUSY_ENDPOINT = {"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"}


def _token() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class JobKind:
    """A SageMaker job type the labs start outside CloudFormation (``api``: its name in the API,
    ``TrainingJob``): its log group shared by all jobs (one stream prefix per job; None: it writes none)
    and where its outputs are (``per_job_folder``: SageMaker adds a folder named after the job; no
    ``output``: nothing of it is left once it has stopped); ``waiting``: why a running one waits."""

    label: str
    api: str
    log_group: str | None
    output: Callable[[dict], str | list[str] | None] | None
    output_kind: str
    per_job_folder: bool = False
    waiting: str = "its logs and output go once it has stopped"


class SageMakerKinds:
    """Mixed into ``Sweeper``; uses ``SweepBase``'s client, scope, tags, proof and ``attempt``."""

    def tagged(self, operation: str, key: str, arn_key: str, **params: object) -> Iterator[tuple[dict, dict]]:
        """Summaries (and their tags) from a SageMaker List call whose resource is in scope and
        tagged for the lab."""
        sagemaker = self.client("sagemaker")
        for page in sagemaker.get_paginator(operation).paginate(**params):
            for summary in page[key]:
                arn = summary[arn_key]
                if not self.owns_arn(arn):
                    continue
                tags = tags_of(sagemaker.list_tags(ResourceArn=arn).get("Tags"))
                if self.carries_tag(tags):
                    yield summary, tags

    def monitoring_schedules(self) -> None:
        sagemaker = self.client("sagemaker")
        for summary, tags in self.tagged("list_monitoring_schedules", "MonitoringScheduleSummaries",
                                         "MonitoringScheduleArn"):
            name, arn = summary["MonitoringScheduleName"], summary["MonitoringScheduleArn"]
            item = Leftover("monitoring schedule", name, arn=arn)
            if not self.proven(item, tags, arn):
                continue
            if summary["MonitoringScheduleStatus"] == "Pending":
                self.wait(item, "Pending", "DeleteMonitoringSchedule fails until it is scheduled")
                continue
            self.attempt(item, lambda n=name: sagemaker.delete_monitoring_schedule(MonitoringScheduleName=n),
                         lambda n=name: self.absent(lambda: sagemaker.describe_monitoring_schedule(
                             MonitoringScheduleName=n)))

    def endpoint_exists(self, name: str) -> bool:
        return not self.absent(lambda: self.client("sagemaker").describe_endpoint(EndpointName=name))

    def endpoints(self) -> None:
        """Tagged endpoints (their log groups are tagged first, and go once the endpoint is
        gone, see ``log_groups``), then the log groups of the deleted stack's endpoints."""
        sagemaker = self.client("sagemaker")
        for summary, tags in self.tagged("list_endpoints", "Endpoints", "EndpointArn"):
            name, status = summary["EndpointName"], summary["EndpointStatus"]
            item = Leftover("endpoint", name, arn=summary["EndpointArn"])
            if not self.proven(item, tags, item.arn):
                continue
            if not self.dry_run:  # even while busy: the group outlives the endpoint, and its tag finds it
                self._tag_endpoint_log_group(name)
            if status in BUSY_ENDPOINT:
                why = "being deleted" if status == "Deleting" else "DeleteEndpoint fails until it settles"
                self.wait(item, status, why)
                continue
            self.attempt(item, lambda n=name: sagemaker.delete_endpoint(EndpointName=n),
                         lambda n=name: not self.endpoint_exists(n))
        self._shadow_endpoints()
        self._stack_endpoint_log_groups()

    def _shadow_endpoints(self) -> None:
        """Untagged endpoints the lab's jobs made (Clarify's shadow endpoint), named with the lab's prefix:
        deleted, with their config, only when every model they host is tagged for the lab and proven its own.
        Those models stay while such an endpoint does (``models``): they are its only proof. Clarify deletes
        its endpoint itself after its job, so one listed may be Deleting, its config (or itself) already gone."""
        self.shadow_models: set[str] = set()
        prefix = SHADOW_ENDPOINT_PREFIXES.get(self.lab)
        if prefix is None:
            return
        sagemaker = self.client("sagemaker")
        for page in sagemaker.get_paginator("list_endpoints").paginate(NameContains=prefix):
            for summary in page["Endpoints"]:
                name, arn = summary["EndpointName"], summary["EndpointArn"]
                if not name.startswith(prefix) or not self.owns_arn(arn):
                    continue
                tags = tags_of(sagemaker.list_tags(ResourceArn=arn).get("Tags"))
                if self.carries_tag(tags):
                    continue  # tagged: the pass above has dealt with it
                item = Leftover("endpoint", name, "a shadow endpoint of the lab's jobs", arn)
                endpoint: dict = {}
                if self.absent(lambda n=name, into=endpoint: into.update(sagemaker.describe_endpoint(EndpointName=n))):
                    continue  # gone since the listing
                config: dict = {}
                if self.absent(lambda c=endpoint["EndpointConfigName"], into=config: into.update(
                        sagemaker.describe_endpoint_config(EndpointConfigName=c))):
                    if endpoint["EndpointStatus"] == "Deleting":
                        self.wait(item, "Deleting", "being deleted, its config already gone")
                    else:
                        self.report.left.append(item.but("not proven the lab's: its endpoint config is gone, so "
                                                         "nothing shows which model it hosts"))
                    continue
                doubt = self._not_all_lab_models(config["ProductionVariants"])
                if doubt:
                    self.report.left.append(item.but(f"not proven the lab's: {doubt}"))
                    continue
                if not self.proven(item, tags, arn):
                    continue
                if not self.dry_run:  # even while busy: the group outlives the endpoint, and its tag finds it
                    self._tag_endpoint_log_group(name)
                status, failed = endpoint["EndpointStatus"], len(self.report.failed)
                if status in BUSY_ENDPOINT:
                    self.wait(item, status, "being deleted" if status == "Deleting"
                              else "DeleteEndpoint fails until it settles")
                    gone_now, going = False, status == "Deleting"
                else:
                    gone_now = self.attempt(item, lambda n=name: sagemaker.delete_endpoint(EndpointName=n),
                                            lambda n=name: not self.endpoint_exists(n))
                    going = gone_now or len(self.report.failed) == failed  # accepted, if not yet done
                if not gone_now:  # its models stay while it does: they are its proof in the next round
                    self.shadow_models |= {variant["ModelName"] for variant in config["ProductionVariants"]}
                if not going or self.dry_run:
                    continue
                # Once the endpoint is going, its config can go too: no later listing would name it.
                config_name = config["EndpointConfigName"]
                self.attempt(Leftover("endpoint config", config_name, f"of shadow endpoint {name}"),
                             lambda c=config_name: sagemaker.delete_endpoint_config(EndpointConfigName=c),
                             lambda c=config_name: self.absent(lambda: sagemaker.describe_endpoint_config(
                                 EndpointConfigName=c)))

    def _not_all_lab_models(self, variants: list[dict]) -> str:
        """Why the models ``variants`` host do not prove their endpoint the lab's; '' when they do."""
        sagemaker = self.client("sagemaker")
        for variant in variants:
            model = variant["ModelName"]
            found: dict = {}
            if self.absent(lambda m=model, into=found: into.update(sagemaker.describe_model(ModelName=m))):
                return f"its model {model} is gone, so nothing shows whose it was"
            if not self.carries_tag(sagemaker.list_tags(ResourceArn=found["ModelArn"]).get("Tags")):
                return f"it hosts model {model}, which is not tagged for the lab"
        return ""

    def _endpoint_log_group_arn(self, name: str) -> str | None:
        group = f"{ENDPOINT_LOG_GROUP_PREFIX}{name}"
        for found in self.client("logs").describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
            if found["logGroupName"] == group:
                return found["arn"].removesuffix(":*")
        return None

    def _tag_endpoint_log_group(self, name: str) -> None:
        """SageMaker creates the group untagged; the lab's tags let a later sweep find it."""
        arn = self._endpoint_log_group_arn(name)
        if arn is None:
            return
        tags = {LAB_TAG: self.lab, **({PROFILE_TAG: self.profile} if self.profile else {})}
        try:
            self.client("logs").tag_resource(resourceArn=arn, tags=tags)
        except ClientError as error:
            self.log(f"could not tag log group of endpoint {name}: {error_code(error)}")

    def _stack_endpoint_log_groups(self) -> None:
        names = {pid.rsplit("endpoint/", 1)[-1].lower() for pid in self.stack_ids_of("AWS::SageMaker::Endpoint")}
        if not names:
            return
        logs = self.client("logs")
        for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=ENDPOINT_LOG_GROUP_PREFIX):
            for group in page["logGroups"]:
                endpoint = group["logGroupName"].removeprefix(ENDPOINT_LOG_GROUP_PREFIX)
                if endpoint.lower() not in names or self.endpoint_exists(endpoint):
                    continue  # not the stack's, or an endpoint of that name is (still or again) there
                name = group["logGroupName"]
                self.attempt(Leftover("log group", name, f"of endpoint {endpoint} of the deleted stack"),
                             lambda n=name: logs.delete_log_group(logGroupName=n),
                             lambda n=name: not self.log_group_exists(n))

    def endpoint_configs(self) -> None:
        sagemaker = self.client("sagemaker")
        for summary, tags in self.tagged("list_endpoint_configs", "EndpointConfigs", "EndpointConfigArn"):
            name = summary["EndpointConfigName"]
            item = Leftover("endpoint config", name, arn=summary["EndpointConfigArn"])
            if self.proven(item, tags, item.arn):
                self.attempt(item, lambda n=name: sagemaker.delete_endpoint_config(EndpointConfigName=n),
                             lambda n=name: self.absent(lambda: sagemaker.describe_endpoint_config(
                                 EndpointConfigName=n)))

    def models(self) -> None:
        sagemaker = self.client("sagemaker")
        for summary, tags in self.tagged("list_models", "Models", "ModelArn"):
            name = summary["ModelName"]
            item = Leftover("model", name, arn=summary["ModelArn"])
            if name in getattr(self, "shadow_models", ()):
                self.wait(item, "in use", "hosted by a shadow endpoint still there, which only it proves the lab's")
                continue
            if self.proven(item, tags, item.arn):
                self.attempt(item, lambda n=name: sagemaker.delete_model(ModelName=n),
                             lambda n=name: self.absent(lambda: sagemaker.describe_model(ModelName=n)))

    def pipelines(self) -> None:
        """Running executions are stopped; the pipeline goes once none is executing or stopping."""
        sagemaker = self.client("sagemaker")
        for summary, tags in self.tagged("list_pipelines", "PipelineSummaries", "PipelineArn"):
            name = summary["PipelineName"]
            item = Leftover("pipeline", name, arn=summary["PipelineArn"])
            if not self.proven(item, tags, name):
                continue
            pages = sagemaker.get_paginator("list_pipeline_executions").paginate(PipelineName=name)
            executions = [e for page in pages for e in page["PipelineExecutionSummaries"]]
            running = [e["PipelineExecutionArn"] for e in executions if e.get("PipelineExecutionStatus") == "Executing"]
            stopping = [e for e in executions if e.get("PipelineExecutionStatus") == "Stopping"]
            for arn in running:
                self.stop(Leftover("pipeline execution", arn.rsplit("/", 1)[-1], f"of {name}", arn),
                          lambda a=arn: sagemaker.stop_pipeline_execution(PipelineExecutionArn=a,
                                                                          ClientRequestToken=_token()))
            if running or stopping:
                self.wait(item, "executions stopping", "DeletePipeline fails while an execution runs")
                continue
            self.attempt(item, lambda n=name: sagemaker.delete_pipeline(PipelineName=n, ClientRequestToken=_token()),
                         lambda n=name: self.absent(lambda: sagemaker.describe_pipeline(PipelineName=n)))

    def model_packages(self) -> None:
        """Every package of a tagged group (tagged or not: it lives in the lab's group), then the group."""
        sagemaker = self.client("sagemaker")
        for summary, tags in self.tagged("list_model_package_groups", "ModelPackageGroupSummaryList",
                                         "ModelPackageGroupArn"):
            name = summary["ModelPackageGroupName"]
            item = Leftover("model package group", name, arn=summary["ModelPackageGroupArn"])
            if not self.proven(item, tags, item.arn):
                continue
            if summary.get("ModelPackageGroupStatus") == "Deleting":
                self.wait(item, "Deleting", "being deleted")
                continue
            pages = sagemaker.get_paginator("list_model_packages").paginate(ModelPackageGroupName=name)
            packages = [p["ModelPackageArn"] for page in pages for p in page["ModelPackageSummaryList"]]
            gone = [self.attempt(Leftover("model package", arn.split("model-package/", 1)[-1], arn=arn),
                                 lambda a=arn: sagemaker.delete_model_package(ModelPackageName=a),
                                 lambda a=arn: self.absent(lambda: sagemaker.describe_model_package(
                                     ModelPackageName=a))) for arn in packages]
            if all(gone):
                self.attempt(item, lambda n=name: sagemaker.delete_model_package_group(ModelPackageGroupName=n),
                             lambda n=name: self.absent(lambda: sagemaker.describe_model_package_group(
                                 ModelPackageGroupName=n)))

    def feature_groups(self) -> None:
        """The group, its offline data (only in a bucket the lab owns) and its Glue table."""
        sagemaker, glue = self.client("sagemaker"), self.client("glue")
        for summary, tags in self.tagged("list_feature_groups", "FeatureGroupSummaries", "FeatureGroupArn"):
            name = summary["FeatureGroupName"]
            item = Leftover("feature group", name, arn=summary["FeatureGroupArn"])
            if not self.proven(item, tags, name):
                continue
            offline = sagemaker.describe_feature_group(FeatureGroupName=name).get("OfflineStoreConfig", {})
            self.attempt(item, lambda n=name: sagemaker.delete_feature_group(FeatureGroupName=n),
                         lambda n=name: self.absent(lambda: sagemaker.describe_feature_group(FeatureGroupName=n)))
            storage = offline.get("S3StorageConfig", {})
            uri = storage.get("ResolvedOutputS3Uri") or storage.get("S3Uri")
            if uri:
                self.delete_prefix("offline store data", uri.rstrip("/") + "/")
            catalog = offline.get("DataCatalogConfig")
            if catalog:
                self.attempt(Leftover("glue table", f"{catalog['Database']}.{catalog['TableName']}"),
                             lambda c=catalog: glue.delete_table(DatabaseName=c["Database"], Name=c["TableName"]),
                             lambda c=catalog: self.absent(lambda: glue.get_table(DatabaseName=c["Database"],
                                                                                   Name=c["TableName"])))

    def training_jobs(self) -> None:
        """Running jobs are stopped (they bill by the second) and wait; a finished job's log streams
        and output go (the job record itself cannot be deleted and bills nothing)."""
        self._jobs(JobKind("training job", "TrainingJob", TRAINING_LOG_GROUP,
                           lambda job: job.get("OutputDataConfig", {}).get("S3OutputPath"), "training artifacts",
                           per_job_folder=True))

    def transform_jobs(self) -> None:
        """Batch transform jobs (the inference lab's practice starts them), as training jobs: running ones
        stopped, a finished one's log streams and predictions deleted."""
        self._jobs(JobKind("transform job", "TransformJob", TRANSFORM_LOG_GROUP,
                           lambda job: job.get("TransformOutput", {}).get("S3OutputPath"), "batch predictions"))

    def tuning_jobs(self) -> None:
        """Running tuning jobs are stopped, which stops the training jobs they launched (those carry the tuning
        job's tags and go with ``training_jobs``). A finished tuning job is a record that cannot be deleted and
        bills nothing."""
        self._jobs(JobKind("tuning job", "HyperParameterTuningJob", None, None, "",
                           waiting="its training jobs stop with it"))

    def processing_jobs(self) -> None:
        """Processing jobs (the model-development lab's bias step), as training jobs: running ones stopped, a
        finished one's log streams and outputs deleted (outputs only in a bucket the lab owns)."""
        self._jobs(JobKind("processing job", "ProcessingJob", PROCESSING_LOG_GROUP,
                           lambda job: [o["S3Output"]["S3Uri"] for o in job.get("ProcessingOutputConfig", {}).get(
                               "Outputs", []) if "S3Output" in o], "processing output",
                           waiting="its logs and outputs go once it has stopped"))

    def _jobs(self, kind: JobKind) -> None:
        sagemaker, logs, group = self.client("sagemaker"), self.client("logs"), kind.log_group
        api = kind.api
        snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in api).lstrip("_")
        for summary, tags in self.tagged(f"list_{snake}s", f"{api}Summaries", f"{api}Arn"):
            name, status = summary[f"{api}Name"], summary[f"{api}Status"]
            item = Leftover(kind.label, name, arn=summary[f"{api}Arn"])
            if not self.proven(item, tags):
                continue
            if status == "InProgress":
                self.stop(item, lambda n=name: getattr(sagemaker, f"stop_{snake}")(**{f"{api}Name": n}))
            if status in {"InProgress", "Stopping"}:
                self.wait(item, status, kind.waiting)
                continue
            for stream in self.log_streams(group, f"{name}/") if group else []:
                self.attempt(Leftover("log stream", f"{group}/{stream}"),
                             lambda s=stream: logs.delete_log_stream(logGroupName=group, logStreamName=s),
                             lambda s=stream: s not in self.log_streams(group, s))
            outputs = kind.output(getattr(sagemaker, f"describe_{snake}")(**{f"{api}Name": name})) \
                if kind.output else None
            for output in [outputs] if isinstance(outputs, str) else outputs or []:
                self.delete_prefix(kind.output_kind, output.rstrip("/") + (f"/{name}/" if kind.per_job_folder
                                                                            else "/"))

    def delete_prefix(self, kind: str, uri: str) -> None:
        """Deletes every object version under an s3:// prefix, only in a bucket the lab owns: of this
        account and region, tagged for the lab and proven its own. Data in anyone else's bucket (a
        user's own, named by a lab resource) is never deleted: it is reported as kept."""
        bucket, prefix = split_s3_uri(uri)
        if not self.bucket_in_scope(bucket):
            return
        if not self.lab_owns_bucket(bucket):
            self.report.kept.append(Leftover(kind, f"s3://{bucket}/{prefix}", f"bucket {bucket} is not the lab's own: "
                                                                              "its data is never deleted"))
            return
        if self.has_objects(bucket, prefix):
            self.attempt(Leftover(kind, f"s3://{bucket}/{prefix}"), lambda: self.delete_objects(bucket, prefix),
                         lambda: not self.has_objects(bucket, prefix))
