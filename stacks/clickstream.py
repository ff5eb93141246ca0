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

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk.region_info import RegionInfo
from constructs import Construct

from catalog import clickstream as contract
from catalog.base import ConfigError
from catalog.clickstream import EVENTS_RELATION as TABLE
from catalog.clickstream import REDSHIFT_BASE_RPU, SCHEMA, ClickstreamOptions
from cdk_constructs.clickstream.redshift import RedshiftSql, ServerlessWarehouse, WarehouseOptions
from cdk_constructs.clickstream.streaming import FirehoseToRedshift, allow_stream_read, click_stream
from cdk_constructs.core.acknowledge import (
    acknowledge,
    acknowledge_iam5,
    acknowledge_lab_buckets_nist,
    acknowledge_lambda_nist,
    objects_finding,
)
from cdk_constructs.core.budget import lab_budget
from cdk_constructs.core.encryption import LabKey
from cdk_constructs.core.outputs import emit_outputs
from cdk_constructs.core.profile import apply_lab_profile
from cdk_constructs.core.roles import LabRole
from cdk_constructs.core.settings import LabSettings
from cdk_constructs.core.storage import LabBucket, access_log_bucket, empty_logs_last
from cdk_constructs.services.network import LabNetwork

# Columns Firehose COPYs, in the order of the transform's JSON keys; loaded_at defaults to load time.
COLUMNS = ("event_id", "run_id", "user_id", "session_id", "event_type", "page", "device", "referrer", "event_time")


def firehose_cidr(region: str) -> str:
    """Firehose's published CIDR for ``region`` (aws-cdk-lib's region table); a one-line
    ConfigError for a region without one (the app prints it like any bad context value)."""
    cidr = RegionInfo.get(region).firehose_cidr_block
    if not cidr:
        raise ConfigError(f"region {region} has no published Firehose CIDR to allow into Redshift; "
                          "use -c clickstream_delivery=streaming or another region")
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


DEFAULT_OPTIONS = ClickstreamOptions()


class ClickstreamStack(Stack):
    """A Kinesis stream, Redshift Serverless, and Firehose (or streaming ingestion) between them."""

    def __init__(
        self, scope: Construct, id_: str, *, settings: LabSettings,
        options: ClickstreamOptions = DEFAULT_OPTIONS, **kwargs,
    ) -> None:
        super().__init__(scope, id_, description="mlref-labs clickstream: Kinesis clickstream into Redshift", **kwargs)
        self.settings, self.options = settings, options
        firehose_delivery = options.firehose

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
            self.access_logs = access_log_bucket(self, settings)
            self.delivery_bucket = LabBucket(
                self, "Delivery", settings=settings, encryption_key=self.key,
                access_logs_bucket=self.access_logs.bucket,
                lifecycle_rules=[
                    s3.LifecycleRule(id="StagingExpires", prefix="staging/", expiration=Duration.days(7)),
                    s3.LifecycleRule(id="NoncurrentExpire", noncurrent_version_expiration=Duration.days(7)),
                ],
            )
            empty_logs_last(self.access_logs, self.delivery_bucket)
            self.delivery = FirehoseToRedshift(
                self, "Firehose", settings=settings, key=self.key, stream=self.stream,
                bucket=self.delivery_bucket.bucket, warehouse=self.warehouse, table=TABLE, columns=COLUMNS,
            )
            # The table must exist before the first COPY.
            self.delivery.delivery_stream.node.add_dependency(self.schema.resource)

        self.budget = lab_budget(self, settings, contract.cost(options))
        self._outputs()
        self._acknowledge_findings()

    def _outputs(self) -> None:
        values = {
            contract.DELIVERY_METHOD: self.options.delivery.value,
            contract.STREAM_NAME: self.stream.stream_name,
            contract.STREAM_ARN: self.stream.stream_arn,
            contract.WORKGROUP: self.warehouse.workgroup_name,
            contract.DATABASE: self.warehouse.database,
            contract.ADMIN_SECRET: self.warehouse.secret.secret_arn,
            contract.EVENTS: TABLE,
            contract.KEY: self.key.key_arn,
        }
        if self.delivery is not None:
            values[contract.DELIVERY_STREAM] = self.delivery.delivery_stream.ref
            values[contract.DELIVERY_BUCKET] = self.delivery_bucket.bucket.bucket_name
        emit_outputs(self, contract.CONTRACT, self.options, values)

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
            acknowledge_iam5(self.delivery.role.policy, [objects_finding(self.delivery_bucket.bucket)],
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
