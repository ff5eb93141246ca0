"""How to find each entry of ``pricing/prices.toml`` in the AWS Price List Query API.

One ``PriceQuery`` per table entry, in ``QUERIES``, in the table's order (tests/unit/test_prices.py
checks both). They live here, not in the TOML: ``catalog.prices`` builds its ``Price``
from every field of an entry, so lookup fields there would break every reader of the table,
and they are not a price's description but how to find it. ``labs.pricing.command.refresh`` sends them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The prices asked for are us-east-1's (the Price List API answers for every region).
REGION_CODE = "us-east-1"
PAGE_SIZE = 100


@dataclass(frozen=True)
class PriceQuery:
    """How to find one table entry in the Price List API.

    Attributes:
        service: the Price List service code (``AmazonS3``, ``awskms``, ...).
        filters: (field, value) pairs sent as TERM_MATCH filters, besides ``regionCode``.
        unit: the price dimension's unit to accept ("GB-Mo", "Hrs"); None accepts any.
        scale: what the per-unit price is multiplied by to give the table's unit (1e6 for
            a per-request price kept per million requests).
        confirmed: whether the filter values were seen matching real us-east-1 Price List data;
            an unconfirmed query that matches nothing is reported, never fatal.
        evidence: where the values come from, in a few words.
    """

    service: str
    filters: tuple[tuple[str, str], ...]
    unit: str | None = None
    scale: int = 1
    confirmed: bool = False
    evidence: str = ""

    def request(self) -> dict[str, Any]:
        """The GetProducts parameters (without NextToken)."""
        filters = [("regionCode", REGION_CODE), *self.filters]
        return {
            "ServiceCode": self.service,
            "Filters": [{"Type": "TERM_MATCH", "Field": field, "Value": value} for field, value in filters],
            "FormatVersion": "aws_v1",
            "MaxResults": PAGE_SIZE,
        }


# One query per entry of pricing/prices.toml. us-east-1 usage types carry no region prefix for the
# older services (S3, Kinesis Data Streams), "USE1-" for most others, and "us-east-1-" for KMS.
QUERIES: dict[str, PriceQuery] = {
    "kms_key_month": PriceQuery(
        "awskms", (("productFamily", "Encryption Key"), ("usagetype", "us-east-1-KMS-Keys")),
        confirmed=True, evidence="usage type matched in a us-east-1 offer file by public code; family as Infracost"),
    "glue_crawler_dpu_hour": PriceQuery(
        "AWSGlue", (("usagetype", "USE1-Crawler-DPU-Hour"),),
        confirmed=True, evidence="usage type matched in a us-east-1 offer file by public code"),
    "athena_tb_scanned": PriceQuery(
        "AmazonAthena", (("usagetype", "USE1-DataScannedInTB"),), unit="Terabytes",
        confirmed=True, evidence="usage type matched in a us-east-1 offer file; unit from public code"),
    "s3_standard_gb_month": PriceQuery(
        "AmazonS3", (("usagetype", "TimedStorage-ByteHrs"), ("volumeType", "Standard")), unit="GB-Mo",
        confirmed=True, evidence="usage type and volumeType matched in a us-east-1 offer file; tiered: first tier"),
    "kinesis_shard_hour": PriceQuery(
        "AmazonKinesis", (("usagetype", "Storage-ShardHour"), ("operation", "shardHourStorage")),
        confirmed=True, evidence="usage type matched in a us-east-1 offer file; operation as Infracost"),
    # Unconfirmed: the unprefixed us-east-1 usage type and the operation are from public code and
    # test fixtures, not from a run against Price List data.
    "kinesis_on_demand_stream_hour": PriceQuery(
        "AmazonKinesis", (("usagetype", "OnDemand-StreamHour"), ("operation", "OnDemandStreamHr")),
        evidence="Infracost's filter (prefix-tolerant) and public fixtures"),
    # Unconfirmed: "<prefix>-BilledBytes" was checked against the API for us-east-2 (USE2-) only.
    # Two products (PutRecord, PutRecordBatch) share the tiered rate; equal prices are not ambiguous.
    "firehose_gb": PriceQuery(
        "AmazonKinesisFirehose", (("usagetype", "USE1-BilledBytes"),), unit="GB",
        evidence="published Price List filter notes for us-east-2; tiered: first tier"),
    "redshift_serverless_rpu_hour": PriceQuery(
        "AmazonRedshift", (("usagetype", "USE1-Redshift:ServerlessUsage"),), unit="RPU-Hr",
        confirmed=True, evidence="usage type matched in a us-east-1 offer file; the -CR- reservations differ"),
    "secrets_manager_secret_month": PriceQuery(
        "AWSSecretsManager", (("productFamily", "Secret"), ("usagetype", "USE1-AWSSecretsManager-Secrets")),
        confirmed=True, evidence="usage type matched in a us-east-1 offer file; family as Infracost"),
    "public_ipv4_hour": PriceQuery(
        "AmazonVPC", (("usagetype", "USE1-PublicIPv4:InUseAddress"),),
        confirmed=True, evidence="usage type matched in the us-east-1 AmazonVPC offer file by public code"),
    # Unconfirmed: SCRATCH_2 storage was seen as "USW2-Storage" (us-west-2, CreateFileSystem:Lustre);
    # the USE1- prefix is inferred.
    "fsx_lustre_scratch2_gb_month": PriceQuery(
        "AmazonFSx", (("fileSystemType", "Lustre"), ("usagetype", "USE1-Storage")), unit="GB-Mo",
        evidence="a us-west-2 Price List check in public notes; prefix inferred"),
    "sagemaker_ml_p3_2xlarge_hour": PriceQuery(
        "AmazonSageMaker", (("usagetype", "USE1-Train:ml.p3.2xlarge"),), unit="Hrs",
        confirmed=True, evidence="USE1-Train:<type> queried with get-products in public notes"),
    "sagemaker_ml_g5_xlarge_hour": PriceQuery(
        "AmazonSageMaker", (("usagetype", "USE1-Train:ml.g5.xlarge"),), unit="Hrs",
        confirmed=True, evidence="USE1-Train:<type> queried with get-products in public notes"),
    "sagemaker_ml_m5_large_hour": PriceQuery(
        "AmazonSageMaker", (("usagetype", "USE1-Train:ml.m5.large"),), unit="Hrs",
        evidence="the same USE1-Train:<type> usage type as the GPU entries, not seen for this type here"),
    # Unconfirmed: the EFS usage types are inferred from the service's billing names, not seen in Price List data.
    "efs_standard_gb_month": PriceQuery(
        "AmazonEFS", (("usagetype", "USE1-TimedStorage-ByteHrs"),), unit="GB-Mo",
        evidence="usage type inferred (S3's storage name with the USE1- prefix); not seen here"),
    "efs_elastic_read_gb": PriceQuery(
        "AmazonEFS", (("usagetype", "USE1-ElasticThroughput-Read-Bytes"),), unit="GB",
        evidence="usage type inferred from the Elastic Throughput billing dimension; not seen here"),
    "efs_elastic_write_gb": PriceQuery(
        "AmazonEFS", (("usagetype", "USE1-ElasticThroughput-Write-Bytes"),), unit="GB",
        evidence="usage type inferred from the Elastic Throughput billing dimension; not seen here"),
    # Unconfirmed: the FeatureStore usage types are from Cost Explorer usage-type groups; the USE1-
    # prefix and a per-request-unit price (hence scale) are inferred.
    "sagemaker_feature_store_write_million": PriceQuery(
        "AmazonSageMaker", (("usagetype", "USE1-FeatureStore:WriteRequestUnits"),), scale=1_000_000,
        evidence="usage type from Cost Explorer groups; prefix and unit inferred"),
    "sagemaker_feature_store_read_million": PriceQuery(
        "AmazonSageMaker", (("usagetype", "USE1-FeatureStore:ReadRequestUnits"),), scale=1_000_000,
        evidence="usage type from Cost Explorer groups; prefix and unit inferred"),
    # Unconfirmed: hosting, processing and serverless usage types follow the USE1-Train:<type> pattern
    # of the training entries; not seen in Price List data here.
    "sagemaker_hosting_ml_c5_large_hour": PriceQuery(
        "AmazonSageMaker", (("usagetype", "USE1-Host:ml.c5.large"),), unit="Hrs",
        evidence="the Host:<type> usage type of SageMaker hosting, by analogy with Train:<type>"),
    "sagemaker_processing_ml_m5_large_hour": PriceQuery(
        "AmazonSageMaker", (("usagetype", "USE1-Processing:ml.m5.large"),), unit="Hrs",
        evidence="the Processing:<type> usage type, by analogy with Train:<type>"),
    "sagemaker_serverless_gb_hour": PriceQuery(
        "AmazonSageMaker", (("usagetype", "USE1-ServerlessInf:Mem-1GB"),), scale=3600,
        evidence="the 1 GB memory size's per-second price is the GB-second price (x3600 per hour); inferred"),
    # Unconfirmed (batch-etl): usage types from public Price List notes and Cost Explorer groups, not seen here.
    "glue_etl_dpu_hour": PriceQuery(
        "AWSGlue", (("usagetype", "USE1-ETL-DPU-Hour"),),
        evidence="the crawler's USE1- pattern with the ETL job usage type"),
    "emr_serverless_arm_vcpu_hour": PriceQuery(
        "ElasticMapReduce", (("usagetype", "USE1-EMR-SERVERLESS-ARM-vCPUHours"),),
        evidence="EMR Serverless usage type as Cost Explorer names it; service code inferred"),
    "emr_serverless_arm_gb_hour": PriceQuery(
        "ElasticMapReduce", (("usagetype", "USE1-EMR-SERVERLESS-ARM-MemoryGBHours"),),
        evidence="EMR Serverless usage type as Cost Explorer names it; service code inferred"),
    "step_functions_transition_thousand": PriceQuery(
        "AmazonStates", (("usagetype", "USE1-StateTransition"),), scale=1000,
        evidence="Step Functions usage type from public code; a per-transition price, hence the scale"),
    # Unconfirmed (inference): SageMaker's hosting, asynchronous and batch transform usage types as public
    # Price List notes name them (Host:, AsyncInf:, Tsform:), not seen for us-east-1 here.
    "sagemaker_hosting_ml_m5_large_hour": PriceQuery(
        "AmazonSageMaker", (("usagetype", "USE1-Host:ml.m5.large"),), unit="Hrs",
        evidence="the Host:<type> usage type of SageMaker hosting, by analogy with Train:<type>"),
    "sagemaker_async_ml_m5_large_hour": PriceQuery(
        "AmazonSageMaker", (("usagetype", "USE1-AsyncInf:ml.m5.large"),), unit="Hrs",
        evidence="AsyncInf:<type> seen in a eu-west-3 Price List note; prefix inferred"),
    "sagemaker_transform_ml_m5_large_hour": PriceQuery(
        "AmazonSageMaker", (("usagetype", "USE1-Tsform:ml.m5.large"),), unit="Hrs",
        evidence="Tsform:<type> seen in a eu-west-3 Price List note; prefix inferred"),
    "sagemaker_serverless_pc_gb_hour": PriceQuery(
        "AmazonSageMaker", (("usagetype", "USE1-ProvisionedConcurrency:Mem-1GB"),), scale=3600,
        evidence="usage type from public cost-estimator code; a per-second price per GB, hence the scale"),
    "cloudwatch_alarm_metric_month": PriceQuery(
        "AmazonCloudWatch", (("usagetype", "USE1-CW:AlarmMonitorUsage"),),
        evidence="the standard alarm usage type as billing reports name it; not seen in Price List data here"),
    # Unconfirmed: Comprehend's and Bedrock's usage types were not seen here; the USE1- pattern is inferred.
    "comprehend_unit": PriceQuery(
        "comprehend", (("usagetype", "USE1-DetectSentiment"),),
        evidence="usage type inferred from the API name; not seen in Price List data here"),
    "bedrock_nova_micro_input_1k": PriceQuery(
        "AmazonBedrock", (("usagetype", "USE1-NovaMicro-input-tokens"),), scale=1000,
        evidence="usage type inferred; not seen in Price List data here (a per-token price, hence the scale)"),
    "bedrock_nova_micro_output_1k": PriceQuery(
        "AmazonBedrock", (("usagetype", "USE1-NovaMicro-output-tokens"),), scale=1000,
        evidence="usage type inferred; not seen in Price List data here (a per-token price, hence the scale)"),
    # Unconfirmed (mlops): usage types inferred from each service's billing names, not seen in Price List data.
    "codepipeline_v2_action_minute": PriceQuery(
        "AWSCodePipeline", (("usagetype", "USE1-ActionExecutionMinute"),),
        evidence="inferred from the V2 billing dimension's name; not seen here"),
    "codebuild_general1_small_minute": PriceQuery(
        "CodeBuild", (("usagetype", "USE1-Build-Min:Linux:g1.small"),),
        evidence="CodeBuild's usage type as Cost Explorer names it; not seen in Price List data here"),
    "sagemaker_hosting_ml_t2_medium_hour": PriceQuery(
        "AmazonSageMaker", (("usagetype", "USE1-Host:ml.t2.medium"),), unit="Hrs",
        evidence="the Host:<type> usage type of SageMaker hosting, by analogy with Train:<type>"),
    "cloudtrail_paid_management_events_100k": PriceQuery(
        "AWSCloudTrail", (("usagetype", "USE1-PaidEventsRecorded"),), scale=100_000,
        evidence="CloudTrail's paid-events usage type as Cost Explorer names it; a per-event price, hence the scale"),
}


def unconfirmed_keys() -> list[str]:
    """The entries whose query is a best guess (see ``PriceQuery.confirmed``)."""
    return [key for key, query in QUERIES.items() if not query.confirmed]
