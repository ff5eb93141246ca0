"""The clickstream lab: click events through Kinesis into Redshift Serverless.

Maps to the study notes' clickstream example (Data Engineering / streaming
ingestion): a website sends clicks to Kinesis Data Streams; either Amazon Data
Firehose transforms them with Lambda and COPYs them into Redshift (the notes'
website -> Firehose -> Redshift path), or Redshift reads the stream itself
through streaming ingestion (an external schema over the stream and an
auto-refreshing materialized view). Kinesis Data Analytics for SQL, the notes'
middle step, no longer accepts new applications; the transform Lambda stands in.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk.region_info import RegionInfo
from constructs import Construct

from cdk_constructs.acknowledge import (
    acknowledge,
    acknowledge_iam5,
    acknowledge_lab_buckets_nist,
    acknowledge_lambda_nist,
)
from cdk_constructs.budget import LabBudget
from cdk_constructs.encryption import LabKey
from cdk_constructs.network import LabNetwork
from cdk_constructs.pricing import REDSHIFT_BASE_RPU, clickstream_cost
from cdk_constructs.profile import apply_lab_profile
from cdk_constructs.redshift import RedshiftSql, ServerlessWarehouse, WarehouseOptions
from cdk_constructs.roles import LabRole
from cdk_constructs.settings import LabSettings
from cdk_constructs.storage import LabBucket
from cdk_constructs.streaming import FirehoseToRedshift, allow_stream_read, click_stream

SCHEMA = "clickstream"
TABLE = f"{SCHEMA}.events"
# Columns Firehose COPYs, in the order of the transform's JSON keys; loaded_at defaults to load time.
COLUMNS = ("event_id", "run_id", "user_id", "session_id", "event_type", "page", "device", "referrer", "event_time")


class Delivery(str, enum.Enum):
    """How events reach Redshift."""

    FIREHOSE = "firehose"
    STREAMING = "streaming"


@dataclass(frozen=True)
class ClickstreamOptions:
    """Options of the clickstream lab.

    Attributes:
        delivery: firehose (default; public endpoint open only to Firehose) or
            streaming (Redshift streaming ingestion; no Firehose, no public endpoint).
        on_demand: on-demand stream capacity instead of one provisioned shard.
        availability_zones: the three zones for the workgroup's subnets (default: the
            first three the region lists).
    """

    delivery: Delivery = Delivery.FIREHOSE
    on_demand: bool = False
    availability_zones: tuple[str, ...] = field(default_factory=tuple)


def firehose_cidr(region: str) -> str:
    """Firehose's published CIDR for ``region`` (aws-cdk-lib's region table)."""
    cidr = RegionInfo.get(region).firehose_cidr_block
    if not cidr:
        raise ValueError(f"Firehose publishes no CIDR for region {region!r}")
    return cidr


def table_ddl() -> list[str]:
    return [
        f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
        f"""CREATE TABLE IF NOT EXISTS {TABLE} (
  event_id VARCHAR(64) NOT NULL,
  run_id VARCHAR(64),
  user_id VARCHAR(64) NOT NULL,
  session_id VARCHAR(64) NOT NULL,
  event_type VARCHAR(64) NOT NULL,
  page VARCHAR(512) NOT NULL,
  device VARCHAR(64),
  referrer VARCHAR(512),
  event_time TIMESTAMP NOT NULL,
  loaded_at TIMESTAMP DEFAULT GETDATE()
) DISTSTYLE AUTO SORTKEY (event_time)""",
    ]


def streaming_ddl(stream_name: str, role_arn: str) -> list[str]:
    """External schema over the stream, an auto-refreshing view of parsed records,
    and ``clickstream.events`` with the same columns the Firehose table has."""
    def field_(name: str, width: int = 64) -> str:
        return f"payload.{name}::VARCHAR({width}) AS {name}"
    return [
        f"CREATE EXTERNAL SCHEMA IF NOT EXISTS {SCHEMA}_kinesis FROM KINESIS IAM_ROLE '{role_arn}'",
        f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
        f"""CREATE MATERIALIZED VIEW {SCHEMA}.events_stream AUTO REFRESH YES AS
SELECT approximate_arrival_timestamp AS loaded_at, partition_key, shard_id, sequence_number,
       JSON_PARSE(FROM_VARBYTE(kinesis_data, 'utf-8')) AS payload
FROM {SCHEMA}_kinesis."{stream_name}"
WHERE CAN_JSON_PARSE(FROM_VARBYTE(kinesis_data, 'utf-8'))""",
        f"""CREATE OR REPLACE VIEW {TABLE} AS
SELECT {field_('event_id')}, {field_('run_id')}, {field_('user_id')}, {field_('session_id')},
       LOWER(payload.event_type::VARCHAR(64)) AS event_type, {field_('page', 512)}, {field_('device')},
       {field_('referrer', 512)}, payload.event_time::VARCHAR(64) AS event_time, loaded_at
FROM {SCHEMA}.events_stream""",
    ]


class ClickstreamStack(Stack):
    """A Kinesis stream, Redshift Serverless, and Firehose (or streaming ingestion) between them."""

    def __init__(
        self, scope: Construct, id_: str, *, settings: LabSettings,
        options: ClickstreamOptions = ClickstreamOptions(), **kwargs,
    ) -> None:
        super().__init__(scope, id_, description="mlref-labs clickstream: Kinesis clickstream into Redshift", **kwargs)
        self.settings, self.options = settings, options
        firehose_delivery = options.delivery is Delivery.FIREHOSE

        self.key = LabKey(self, "ClickstreamKey", settings=settings,
                          description="mlref clickstream: stream, staging, Redshift, secret and logs").key
        apply_lab_profile(self, settings, log_key=self.key)
        self.stream = click_stream(self, "ClickStream", settings=settings, key=self.key, on_demand=options.on_demand)
        self.network = LabNetwork(self, "Network", settings=settings, key=self.key, public=firehose_delivery,
                                  availability_zones=options.availability_zones)

        self.ingestion_role: LabRole | None = None
        if not firehose_delivery:
            self.ingestion_role = LabRole(
                self, "StreamingIngestion",
                assumed_by=iam.CompositePrincipal(iam.ServicePrincipal("redshift.amazonaws.com"),
                                                  iam.ServicePrincipal("redshift-serverless.amazonaws.com")),
                description="Redshift streaming ingestion reads the click stream",
            )
            allow_stream_read(self.ingestion_role, self.stream, self.key)
        self.warehouse = ServerlessWarehouse(
            self, "Warehouse", settings=settings, key=self.key,
            options=WarehouseOptions(name=self.stack_name.lower(), base_capacity=REDSHIFT_BASE_RPU),
            vpc=self.network.vpc, subnets=self.network.subnets,
            public_ingress_cidr=firehose_cidr(self.region) if firehose_delivery else None,
            roles=[self.ingestion_role.role] if self.ingestion_role else [],
        )
        statements = table_ddl() if firehose_delivery else streaming_ddl(self.stream.stream_name,
                                                                         self.ingestion_role.role_arn)
        self.schema = RedshiftSql(
            self, "Schema", settings=settings, warehouse=self.warehouse, key=self.key, statements=statements,
            description="Creates the clickstream schema and events relation in Redshift (Data API)",
        )
        if self.ingestion_role is not None:
            self.schema.resource.node.add_dependency(self.ingestion_role.policy)

        self.access_logs: LabBucket | None = None
        self.delivery_bucket: LabBucket | None = None
        self.delivery: FirehoseToRedshift | None = None
        if firehose_delivery:
            self.access_logs = LabBucket(
                self, "AccessLogs", settings=settings, encryption_key=None,
                lifecycle_rules=[s3.LifecycleRule(id="AccessLogsExpire", expiration=Duration.days(90),
                                                  noncurrent_version_expiration=Duration.days(1))],
            )
            self.delivery_bucket = LabBucket(
                self, "Delivery", settings=settings, encryption_key=self.key,
                access_logs_bucket=self.access_logs.bucket,
                lifecycle_rules=[s3.LifecycleRule(id="StagingExpires", prefix="staging/", expiration=Duration.days(7)),
                                 s3.LifecycleRule(id="NoncurrentExpire", noncurrent_version_expiration=Duration.days(7))],
            )
            log_emptier = self.access_logs.bucket.node.try_find_child("AutoDeleteObjectsCustomResource")
            if log_emptier is not None:
                log_emptier.node.add_dependency(self.delivery_bucket.bucket)
            self.delivery = FirehoseToRedshift(
                self, "Firehose", settings=settings, key=self.key, stream=self.stream,
                bucket=self.delivery_bucket.bucket, warehouse=self.warehouse, table=TABLE, columns=COLUMNS,
            )
            # The table must exist before the first COPY.
            self.delivery.delivery_stream.node.add_dependency(self.schema.resource)

        self.budget = (
            LabBudget(self, "CostGuard", settings=settings, email=settings.alert_email,
                      cost=clickstream_cost(on_demand=options.on_demand, streaming=not firehose_delivery))
            if settings.alert_email else None
        )
        self._outputs()
        self._acknowledge_findings()

    def _outputs(self) -> None:
        values = {
            "DeliveryMethod": self.options.delivery.value,
            "StreamName": self.stream.stream_name,
            "StreamArn": self.stream.stream_arn,
            "WorkgroupName": self.warehouse.workgroup_name,
            "DatabaseName": self.warehouse.database,
            "AdminSecretArn": self.warehouse.secret.secret_arn,
            "EventsRelation": TABLE,
            "KeyArn": self.key.key_arn,
        }
        if self.delivery is not None:
            values["DeliveryStreamName"] = self.delivery.delivery_stream.ref
            values["DeliveryBucketName"] = self.delivery_bucket.bucket.bucket_name
        for name, value in values.items():
            CfnOutput(self, name, value=value)

    # -- the one place for this stack's acknowledgments ---------------------------------

    def _log_retention_providers(self) -> list[Construct]:
        """aws-cdk-lib's singleton function that sets the shared Redshift log groups' retention."""
        return [child for child in self.node.children if child.node.id.startswith("LogRetention")]

    def _acknowledge_findings(self) -> None:
        acknowledge(self.warehouse.secret, "AwsSolutions-SMG4",
                    "rotating a Redshift admin password needs a rotation Lambda that reaches the workgroup "
                    "endpoint, i.e. a NAT gateway or interface endpoints billing while idle, and the endpoint admits "
                    "only Firehose; the sandbox lab expires within its TTL and the secret is generated per deploy")
        acknowledge(self.stream, "AwsSolutions-KDS3",
                    "the stream is encrypted with the lab's customer managed key (rotated yearly), which gives more "
                    "control than the aws/kinesis key the rule looks for")
        acknowledge_iam5(self.schema.function.role.policy, ["Resource::*"],
                         "Data API statement ids are not resources; DescribeStatement and CancelStatement are "
                         "limited by condition to statements this role started (statement-owner-iam-userid)")
        for provider in self._log_retention_providers():
            role = provider.node.find_child("ServiceRole")
            acknowledge(role, "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                              "AWSLambdaBasicExecutionRole]",
                        "aws-cdk-lib's log-retention provider logs with the basic execution policy; its own "
                        "log group is owned by the stack (profile aspect)")
            acknowledge(role.node.find_child("DefaultPolicy"), "AwsSolutions-IAM5[Resource::*]",
                        "aws-cdk-lib's log-retention provider sets retention on Redshift Serverless's "
                        "account-wide log groups, whose ARNs it receives at run time")
        if self.delivery is not None:
            acknowledge(self.delivery.delivery_stream, "AwsSolutions-KDF1",
                        "Firehose server-side encryption cannot be enabled with a Kinesis stream source; the records "
                        "are encrypted in the stream and in S3 with the lab key and reach Redshift over TLS")
            bucket_id = self.resolve(self.get_logical_id(self.delivery_bucket.bucket.node.default_child))
            acknowledge_iam5(self.delivery.role.policy, [f"Resource::<{bucket_id}.Arn>/*"],
                             "Firehose writes objects with generated names under staging/, backup/ and errors/ of "
                             "the lab's own delivery bucket")
        if not self.settings.is_sandbox:
            self._acknowledge_nist_findings()

    def _acknowledge_nist_findings(self) -> None:
        acknowledge(self.warehouse.secret, "NIST.800.53.R5-SecretsManagerRotationEnabled",
                    "rotating the Redshift admin password needs a rotation Lambda with a network path to the "
                    "workgroup (NAT or interface endpoints); the password is generated per deployment and read "
                    "only by Firehose and the DDL function")
        acknowledge_lambda_nist(self.schema.function.function, synchronous_caller="CloudFormation")
        for provider in self._log_retention_providers():
            acknowledge(provider.node.find_child("ServiceRole").node.find_child("DefaultPolicy"),
                        "NIST.800.53.R5-IAMNoInlinePolicy",
                        "aws-cdk-lib's log-retention provider creates its role with an inline policy")
        if self.delivery is not None:
            acknowledge_lambda_nist(self.delivery.transform.function, synchronous_caller="Firehose")
            acknowledge_lab_buckets_nist([self.delivery_bucket.bucket], self.access_logs.bucket)
            for subnet in self.network.subnets:
                acknowledge(subnet, "NIST.800.53.R5-VPCNoUnrestrictedRouteToIGW",
                            "the workgroup must be publicly reachable for Firehose; nothing in these subnets gets "
                            "a public IP but the workgroup, whose security group admits only Firehose's CIDR")
