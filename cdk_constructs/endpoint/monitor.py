"""SageMaker Model Monitor: a data-quality job definition on an endpoint's captured data, its
hourly schedule, and the role its jobs (and a baseline job) run as.

The job definition reads the baseline ``statistics.json`` and ``constraints.json`` from fixed
S3 URIs that a baseline job writes (the lab's practice step runs one); until they exist the
scheduled executions fail, as they do for every hour without captured data ("Job inputs had
no data"). Every property of a job definition forces its replacement, so it has no fixed
name; the schedule (whose name CloudFormation requires) refers to it by the name in its ARN.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Fn
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from cdk_constructs.core.access import BUCKET_READ, S3_READ, allow_key_use
from cdk_constructs.core.roles import LabRole
from cdk_constructs.services.sagemaker_hosting import (
    LabEndpoint,
    SageMakerImages,
    allow_image_pull,
    allow_metrics,
    allow_service_logs,
    sagemaker_principal,
)

CONTAINER_ENDPOINT_INPUT = "/opt/ml/processing/input/endpoint"
CONTAINER_OUTPUT = "/opt/ml/processing/output"


class MonitorRole(LabRole):
    """The role of the baseline job and the monitoring executions, limited to: reading the
    captured data and the baseline, writing reports and baseline results under their prefixes
    with the lab key, pulling the analyzer image, its processing-job logs and data metrics."""

    def __init__(self, scope: Construct, id_: str, *, bucket: s3.IBucket, key: kms.IKey, images: SageMakerImages,
                 read_prefixes: Sequence[str], write_prefixes: Sequence[str], log_group_name: str,
                 metric_namespaces: Sequence[str]) -> None:
        super().__init__(scope, id_, assumed_by=sagemaker_principal(),
                         description="SageMaker Model Monitor jobs of the endpoint lab")
        self.add_to_principal_policy(iam.PolicyStatement(
            sid="ReadCaptureAndBaseline", actions=S3_READ,
            resources=[bucket.arn_for_objects(f"{prefix}/*") for prefix in read_prefixes]))
        self.add_to_principal_policy(iam.PolicyStatement(
            sid="WriteReportsAndBaselineResults", actions=["s3:PutObject", "s3:AbortMultipartUpload"],
            resources=[bucket.arn_for_objects(f"{prefix}/*") for prefix in write_prefixes]))
        listing = iam.PolicyStatement(sid="ListLabPrefixes", actions=["s3:ListBucket"], resources=[bucket.bucket_arn])
        listing.add_condition("StringLike", {"s3:prefix": [f"{p}/*" for p in (*read_prefixes, *write_prefixes)]})
        self.add_to_principal_policy(listing)
        # s3:GetBucketLocation carries no s3:prefix: beside the listing it was never allowed.
        self.add_to_principal_policy(iam.PolicyStatement(sid="LocateBucket", actions=BUCKET_READ,
                                                         resources=[bucket.bucket_arn]))
        allow_image_pull(self, images.monitor_repository_arn)
        allow_service_logs(self, log_group_name, sid="ProcessingJobLogs")
        allow_metrics(self, metric_namespaces)
        allow_key_use(self, key)
        self.add_to_principal_policy(iam.PolicyStatement(  # the encrypted volumes of scheduled executions
            sid="VolumeGrantsForSageMaker", actions=["kms:CreateGrant"], resources=[key.key_arn],
            conditions={"Bool": {"kms:GrantIsForAWSResource": True}}))


class DataQualityMonitor(Construct):
    """Data-quality monitoring of one endpoint: the job definition and an hourly schedule.

    Attributes:
        job_definition: the ``AWS::SageMaker::DataQualityJobDefinition`` (no fixed name).
        job_definition_name: its generated name (from its ARN).
        schedule: the ``AWS::SageMaker::MonitoringSchedule``; depends on the endpoint (creation
            checks that the endpoint exists and is InService).
    """

    def __init__(self, scope: Construct, id_: str, *, endpoint: LabEndpoint, role: MonitorRole,
                 images: SageMakerImages, key: kms.IKey, statistics_uri: str, constraints_uri: str, output_uri: str,
                 instance_type: str, volume_gb: int, max_runtime_seconds: int, schedule_name: str,
                 schedule_expression: str) -> None:
        super().__init__(scope, id_)
        job = sagemaker.CfnDataQualityJobDefinition
        self.job_definition = job(
            self, "JobDefinition", role_arn=role.role_arn, endpoint_name=endpoint.endpoint.attr_endpoint_name,
            data_quality_app_specification=job.DataQualityAppSpecificationProperty(image_uri=images.monitor_uri),
            data_quality_baseline_config=job.DataQualityBaselineConfigProperty(
                constraints_resource=job.ConstraintsResourceProperty(s3_uri=constraints_uri),
                statistics_resource=job.StatisticsResourceProperty(s3_uri=statistics_uri)),
            data_quality_job_input=job.DataQualityJobInputProperty(endpoint_input=job.EndpointInputProperty(
                endpoint_name=endpoint.endpoint.attr_endpoint_name, local_path=CONTAINER_ENDPOINT_INPUT,
                s3_data_distribution_type="FullyReplicated", s3_input_mode="File")),
            data_quality_job_output_config=job.MonitoringOutputConfigProperty(
                kms_key_id=key.key_arn,
                monitoring_outputs=[job.MonitoringOutputProperty(s3_output=job.S3OutputProperty(
                    local_path=CONTAINER_OUTPUT, s3_uri=output_uri, s3_upload_mode="EndOfJob"))]),
            job_resources=job.MonitoringResourcesProperty(cluster_config=job.ClusterConfigProperty(
                instance_count=1, instance_type=instance_type, volume_size_in_gb=volume_gb,
                volume_kms_key_id=key.key_arn)),
            network_config=job.NetworkConfigProperty(enable_inter_container_traffic_encryption=True),
            stopping_condition=job.StoppingConditionProperty(max_runtime_in_seconds=max_runtime_seconds),
        )
        self.job_definition.node.add_dependency(endpoint.endpoint)
        self.job_definition.node.add_dependency(role)
        self.job_definition_name = Fn.select(1, Fn.split("/", self.job_definition.attr_job_definition_arn))
        self.schedule = sagemaker.CfnMonitoringSchedule(
            self, "Schedule", monitoring_schedule_name=schedule_name,
            endpoint_name=endpoint.endpoint.attr_endpoint_name,
            monitoring_schedule_config=sagemaker.CfnMonitoringSchedule.MonitoringScheduleConfigProperty(
                monitoring_job_definition_name=self.job_definition_name, monitoring_type="DataQuality",
                schedule_config=sagemaker.CfnMonitoringSchedule.ScheduleConfigProperty(
                    schedule_expression=schedule_expression)),
        )
        self.schedule.node.add_dependency(endpoint.endpoint)
