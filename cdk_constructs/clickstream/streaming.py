"""Kinesis Data Streams and an Amazon Data Firehose delivery into Redshift."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Aws, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_constructs.clickstream.redshift import ServerlessWarehouse
from cdk_constructs.core.access import allow_key_use
from cdk_constructs.core.functions import LabFunction
from cdk_constructs.core.roles import LabRole
from cdk_constructs.core.settings import LabSettings

# Shared-throughput reads (Firehose's stream source, Redshift streaming ingestion). No
# kinesis:SubscribeToShard: it acts on an enhanced fan-out consumer's ARN only, and neither reader
# registers a consumer, so on the stream's ARN it matched nothing (service authorization reference).
STREAM_READ_ACTIONS = [
    "kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetShardIterator",
    "kinesis:GetRecords", "kinesis:ListShards",
]


def click_stream(
    scope: Construct, id_: str, *, settings: LabSettings, key: kms.IKey, on_demand: bool,
) -> kinesis.Stream:
    """A KMS-encrypted stream: one provisioned shard, or on-demand capacity."""
    return kinesis.Stream(
        scope, id_,
        stream_mode=kinesis.StreamMode.ON_DEMAND if on_demand else kinesis.StreamMode.PROVISIONED,
        shard_count=None if on_demand else 1,
        encryption=kinesis.StreamEncryption.KMS,
        encryption_key=key,
        retention_period=Duration.hours(24),
        removal_policy=settings.removal_policy,
    )


def allow_stream_read(grantee: LabRole, stream: kinesis.IStream, key: kms.IKey) -> None:
    grantee.add_to_principal_policy(iam.PolicyStatement(actions=STREAM_READ_ACTIONS, resources=[stream.stream_arn]))
    grantee.add_to_principal_policy(iam.PolicyStatement(
        actions=["kms:Decrypt"], resources=[key.key_arn],
        conditions={"StringEquals": {"kms:ViaService": f"kinesis.{Stack.of(grantee).region}.amazonaws.com"}},
    ))


class FirehoseToRedshift(Construct):
    """Firehose reading a Kinesis stream, transforming each record, COPYing into Redshift.

    - Source: the stream (its own KMS encryption covers the data in transit through
      Firehose; Firehose server-side encryption is not available with a stream source).
    - Transform: ``lambdas/clickstream_transform`` validates and normalizes every record;
      failures are written under ``errors/processing-failed/`` in the bucket.
    - Staging: the KMS-encrypted bucket under ``staging/`` (GZIP), COPY with the
      credentials in the warehouse's secret, every source record also backed up
      under ``backup/``; small buffers (1 MB or 60 s) so data lands in minutes.
    - Logging: a stack-owned log group with a stream per destination.

    Attributes:
        delivery_stream: the ``AWS::KinesisFirehose::DeliveryStream``.
        transform: the transform LabFunction.
        role: the role Firehose assumes.
        log_group: delivery error logs.
    """

    def __init__(
        self, scope: Construct, id_: str, *, settings: LabSettings, key: kms.IKey, stream: kinesis.IStream,
        bucket: s3.IBucket, warehouse: ServerlessWarehouse, table: str, columns: Sequence[str],
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        self.transform = LabFunction(
            self, "Transform", settings=settings, handler_dir="clickstream_transform",
            description="Validates and normalizes click events for Redshift (Firehose transform)",
            timeout=Duration.minutes(1), log_key=key,
        )
        self.log_group = logs.LogGroup(self, "Logs", retention=settings.log_retention,
                                       removal_policy=settings.removal_policy, encryption_key=key)
        streams = {name: logs.LogStream(self, f"{name}Stream", log_group=self.log_group, log_stream_name=name,
                                        removal_policy=settings.removal_policy)
                   for name in ("DestinationDelivery", "BackupDelivery")}
        self.role = LabRole(
            self, "Role",
            assumed_by=iam.ServicePrincipal("firehose.amazonaws.com",
                                            conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}),
            description="Firehose reads the click stream, stages in S3 and COPYs into Redshift",
        )
        allow_stream_read(self.role, stream, key)
        self.role.add_to_principal_policy(iam.PolicyStatement(
            actions=["s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket",
                     "s3:ListBucketMultipartUploads", "s3:PutObject"],
            resources=[bucket.bucket_arn, bucket.arn_for_objects("*")],
        ))
        allow_key_use(self.role, key)  # staging objects, the stream's records and the admin secret
        self.role.add_to_principal_policy(iam.PolicyStatement(
            actions=["lambda:InvokeFunction", "lambda:GetFunctionConfiguration"],
            resources=[self.transform.function.function_arn],
        ))
        self.role.add_to_principal_policy(iam.PolicyStatement(
            actions=["logs:PutLogEvents"],
            resources=[stack.format_arn(service="logs", resource="log-group",
                                        resource_name=f"{self.log_group.log_group_name}:log-stream:{name}",
                                        arn_format=ArnFormat.COLON_RESOURCE_NAME)
                       for name in streams],
        ))
        self.role.add_to_principal_policy(iam.PolicyStatement(
            actions=["secretsmanager:GetSecretValue"], resources=[warehouse.secret.secret_arn]))

        def logging(stream_name: str) -> firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty:
            return firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty(
                enabled=True, log_group_name=self.log_group.log_group_name, log_stream_name=stream_name)

        def s3_destination(
            prefix: str, stream_name: str, *, errors: bool,
        ) -> firehose.CfnDeliveryStream.S3DestinationConfigurationProperty:
            return firehose.CfnDeliveryStream.S3DestinationConfigurationProperty(
                bucket_arn=bucket.bucket_arn, role_arn=self.role.role_arn, prefix=prefix,
                error_output_prefix="errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/" if errors else None,
                compression_format="GZIP",
                buffering_hints=firehose.CfnDeliveryStream.BufferingHintsProperty(interval_in_seconds=60,
                                                                                  size_in_m_bs=1),
                encryption_configuration=firehose.CfnDeliveryStream.EncryptionConfigurationProperty(
                    kms_encryption_config=firehose.CfnDeliveryStream.KMSEncryptionConfigProperty(awskms_key_arn=key.key_arn)),
                cloud_watch_logging_options=logging(stream_name),
            )

        self.delivery_stream = firehose.CfnDeliveryStream(
            self, "DeliveryStream",
            delivery_stream_type="KinesisStreamAsSource",
            kinesis_stream_source_configuration=firehose.CfnDeliveryStream.KinesisStreamSourceConfigurationProperty(
                kinesis_stream_arn=stream.stream_arn, role_arn=self.role.role_arn),
            redshift_destination_configuration=firehose.CfnDeliveryStream.RedshiftDestinationConfigurationProperty(
                cluster_jdbcurl=warehouse.jdbc_url,
                role_arn=self.role.role_arn,
                copy_command=firehose.CfnDeliveryStream.CopyCommandProperty(
                    data_table_name=table, data_table_columns=",".join(columns),
                    copy_options="FORMAT AS JSON 'auto' TIMEFORMAT 'auto' GZIP",
                ),
                secrets_manager_configuration=firehose.CfnDeliveryStream.SecretsManagerConfigurationProperty(
                    enabled=True, secret_arn=warehouse.secret.secret_arn, role_arn=self.role.role_arn),
                s3_configuration=s3_destination("staging/", "DestinationDelivery", errors=True),
                s3_backup_mode="Enabled",
                s3_backup_configuration=s3_destination("backup/", "BackupDelivery", errors=False),
                processing_configuration=firehose.CfnDeliveryStream.ProcessingConfigurationProperty(
                    enabled=True,
                    processors=[firehose.CfnDeliveryStream.ProcessorProperty(type="Lambda", parameters=[
                        firehose.CfnDeliveryStream.ProcessorParameterProperty(parameter_name=name,
                                                                              parameter_value=value)
                        for name, value in (("LambdaArn", self.transform.function.function_arn),
                                            ("NumberOfRetries", "3"), ("BufferSizeInMBs", "1"),
                                            ("BufferIntervalInSeconds", "60"))
                    ])],
                ),
                retry_options=firehose.CfnDeliveryStream.RedshiftRetryOptionsProperty(duration_in_seconds=300),
                cloud_watch_logging_options=logging("DestinationDelivery"),
            ),
        )
        self.delivery_stream.node.add_dependency(self.role.policy)
        for log_stream in streams.values():
            self.delivery_stream.node.add_dependency(log_stream)

