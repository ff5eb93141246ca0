"""SageMaker leftovers: what aws-nuke cannot delete (feature groups, pipelines, model package
groups) and what bills by the hour (endpoints, running training jobs).

Order matters and ``Sweeper.KINDS`` keeps it: monitoring schedules before their endpoint
(an endpoint with schedules cannot be deleted), endpoints before their configs and models,
running pipeline executions stopped before their pipeline, packages before their group.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from botocore.exceptions import ClientError

try:  # in the Lambda asset the modules sit side by side
    from lab_names import LAB_TAG, PROFILE_TAG, TRAINING_LOG_GROUP
    from sweep_base import Leftover, error_code, split_s3_uri
except ImportError:  # imported as a package (tests, the labs command)
    from lambdas.lab_sweep.sweep_base import Leftover, error_code, split_s3_uri
    from lambdas.shared.lab_names import LAB_TAG, PROFILE_TAG, TRAINING_LOG_GROUP

ENDPOINT_LOG_PREFIX = "/aws/sagemaker/Endpoints/"
BUSY_ENDPOINT = {"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"}


def _token() -> str:
    return uuid.uuid4().hex


class SageMakerKinds:
    """Mixed into ``Sweeper``; uses ``SweepBase``'s client, scope, tags and ``attempt``."""

    def tagged(self, operation: str, key: str, arn_key: str, **params: object) -> Iterator[dict]:
        """Summaries from a SageMaker List call whose resource is in scope and tagged for the lab."""
        sagemaker = self.client("sagemaker")
        for page in sagemaker.get_paginator(operation).paginate(**params):
            for summary in page[key]:
                arn = summary[arn_key]
                if self.owns_arn(arn) and self.carries_tag(sagemaker.list_tags(ResourceArn=arn).get("Tags")):
                    yield summary

    def monitoring_schedules(self) -> None:
        sagemaker = self.client("sagemaker")
        for summary in self.tagged("list_monitoring_schedules", "MonitoringScheduleSummaries", "MonitoringScheduleArn"):
            name = summary["MonitoringScheduleName"]
            item = Leftover("monitoring schedule", name, arn=summary["MonitoringScheduleArn"])
            if summary["MonitoringScheduleStatus"] == "Pending":
                self.wait(item, "Pending", "DeleteMonitoringSchedule fails until it is scheduled")
            else:
                self.attempt(item, lambda n=name: sagemaker.delete_monitoring_schedule(MonitoringScheduleName=n))

    def endpoint_exists(self, name: str) -> bool:
        try:
            self.client("sagemaker").describe_endpoint(EndpointName=name)
        except ClientError as error:
            if error_code(error) == "ValidationException" and "Could not find" in str(error):
                return False
            raise
        return True

    def endpoints(self) -> None:
        """Tagged endpoints (their log groups are tagged first, and go once the endpoint is
        gone, see ``log_groups``), then the log groups of the deleted stack's endpoints."""
        sagemaker = self.client("sagemaker")
        for summary in self.tagged("list_endpoints", "Endpoints", "EndpointArn"):
            name, status = summary["EndpointName"], summary["EndpointStatus"]
            item = Leftover("endpoint", name, arn=summary["EndpointArn"])
            if status in BUSY_ENDPOINT:
                why = "being deleted" if status == "Deleting" else "DeleteEndpoint fails until it settles"
                self.wait(item, status, why)
                continue
            if not self.dry_run:
                self._tag_endpoint_log_group(name)
            self.attempt(item, lambda n=name: sagemaker.delete_endpoint(EndpointName=n))
        self._stack_endpoint_log_groups()

    def _endpoint_log_group_arn(self, name: str) -> str | None:
        group = f"{ENDPOINT_LOG_PREFIX}{name}"
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
        for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=ENDPOINT_LOG_PREFIX):
            for group in page["logGroups"]:
                endpoint = group["logGroupName"].removeprefix(ENDPOINT_LOG_PREFIX)
                if endpoint.lower() not in names or self.endpoint_exists(endpoint):
                    continue  # not the stack's, or an endpoint of that name is (still or again) there
                name = group["logGroupName"]
                self.attempt(Leftover("log group", name, f"of endpoint {endpoint} of the deleted stack"),
                             lambda n=name: logs.delete_log_group(logGroupName=n))

    def endpoint_configs(self) -> None:
        sagemaker = self.client("sagemaker")
        for summary in self.tagged("list_endpoint_configs", "EndpointConfigs", "EndpointConfigArn"):
            name = summary["EndpointConfigName"]
            self.attempt(Leftover("endpoint config", name, arn=summary["EndpointConfigArn"]),
                         lambda n=name: sagemaker.delete_endpoint_config(EndpointConfigName=n))

    def models(self) -> None:
        sagemaker = self.client("sagemaker")
        for summary in self.tagged("list_models", "Models", "ModelArn"):
            name = summary["ModelName"]
            self.attempt(Leftover("model", name, arn=summary["ModelArn"]),
                         lambda n=name: sagemaker.delete_model(ModelName=n))

    def pipelines(self) -> None:
        """Running executions are stopped; the pipeline goes once none is executing or stopping."""
        sagemaker = self.client("sagemaker")
        for summary in self.tagged("list_pipelines", "PipelineSummaries", "PipelineArn"):
            name = summary["PipelineName"]
            item = Leftover("pipeline", name, arn=summary["PipelineArn"])
            pages = sagemaker.get_paginator("list_pipeline_executions").paginate(PipelineName=name)
            executions = [e for page in pages for e in page["PipelineExecutionSummaries"]]
            running = [e["PipelineExecutionArn"] for e in executions if e.get("PipelineExecutionStatus") == "Executing"]
            stopping = [e for e in executions if e.get("PipelineExecutionStatus") == "Stopping"]
            for arn in running:
                self.attempt(Leftover("pipeline execution", arn.rsplit("/", 1)[-1], f"stopped, of {name}", arn),
                             lambda a=arn: sagemaker.stop_pipeline_execution(PipelineExecutionArn=a,
                                                                             ClientRequestToken=_token()))
            if running or stopping:
                self.wait(item, "executions stopping", "DeletePipeline fails while an execution runs")
                continue
            self.attempt(item, lambda n=name: sagemaker.delete_pipeline(PipelineName=n, ClientRequestToken=_token()))

    def model_packages(self) -> None:
        """Every package of a tagged group (tagged or not: it lives in the lab's group), then the group."""
        sagemaker = self.client("sagemaker")
        for summary in self.tagged("list_model_package_groups", "ModelPackageGroupSummaryList", "ModelPackageGroupArn"):
            name = summary["ModelPackageGroupName"]
            item = Leftover("model package group", name, arn=summary["ModelPackageGroupArn"])
            if summary.get("ModelPackageGroupStatus") == "Deleting":
                self.wait(item, "Deleting", "being deleted")
                continue
            pages = sagemaker.get_paginator("list_model_packages").paginate(ModelPackageGroupName=name)
            packages = [p["ModelPackageArn"] for page in pages for p in page["ModelPackageSummaryList"]]
            gone = [self.attempt(Leftover("model package", arn.split("model-package/", 1)[-1], arn=arn),
                                 lambda a=arn: sagemaker.delete_model_package(ModelPackageName=a)) for arn in packages]
            if all(gone):
                self.attempt(item, lambda n=name: sagemaker.delete_model_package_group(ModelPackageGroupName=n))

    def feature_groups(self) -> None:
        sagemaker, glue = self.client("sagemaker"), self.client("glue")
        for summary in self.tagged("list_feature_groups", "FeatureGroupSummaries", "FeatureGroupArn"):
            name = summary["FeatureGroupName"]
            group = sagemaker.describe_feature_group(FeatureGroupName=name)
            offline = group.get("OfflineStoreConfig", {})
            self.attempt(Leftover("feature group", name, arn=summary["FeatureGroupArn"]),
                         lambda n=name: sagemaker.delete_feature_group(FeatureGroupName=n))
            storage = offline.get("S3StorageConfig", {})
            uri = storage.get("ResolvedOutputS3Uri") or storage.get("S3Uri")
            if uri:
                self.delete_prefix("offline store data", uri.rstrip("/") + "/")
            catalog = offline.get("DataCatalogConfig")
            if catalog:
                self.attempt(Leftover("glue table", f"{catalog['Database']}.{catalog['TableName']}"),
                             lambda c=catalog: glue.delete_table(DatabaseName=c["Database"], Name=c["TableName"]))

    def training_jobs(self) -> None:
        """Running jobs are stopped (they bill by the second); a finished job's log streams and
        output go (the job record itself cannot be deleted and bills nothing)."""
        sagemaker, logs = self.client("sagemaker"), self.client("logs")
        for summary in self.tagged("list_training_jobs", "TrainingJobSummaries", "TrainingJobArn"):
            name, status = summary["TrainingJobName"], summary["TrainingJobStatus"]
            item = Leftover("training job", name, arn=summary["TrainingJobArn"])
            if status == "InProgress":
                self.attempt(Leftover("training job", name, "stopped", item.arn),
                             lambda n=name: sagemaker.stop_training_job(TrainingJobName=n))
                continue
            if status == "Stopping":
                self.wait(item, status, "its logs and output go once it has stopped")
                continue
            for stream in self._training_log_streams(name):
                self.attempt(Leftover("log stream", f"{TRAINING_LOG_GROUP}/{stream}"),
                             lambda s=stream: logs.delete_log_stream(logGroupName=TRAINING_LOG_GROUP, logStreamName=s))
            job = sagemaker.describe_training_job(TrainingJobName=name)
            output = job.get("OutputDataConfig", {}).get("S3OutputPath")
            if output:
                self.delete_prefix("training artifacts", output.rstrip("/") + f"/{name}/")

    def _training_log_streams(self, job_name: str) -> list[str]:
        return self.log_streams(TRAINING_LOG_GROUP, f"{job_name}/")

    def delete_prefix(self, kind: str, uri: str) -> None:
        """Deletes every object version under an s3:// prefix, if the bucket is this account's and region's."""
        bucket, prefix = split_s3_uri(uri)
        if self.bucket_in_scope(bucket) and self.has_objects(bucket, prefix):
            self.attempt(Leftover(kind, f"s3://{bucket}/{prefix}"), lambda: self.delete_objects(bucket, prefix))
