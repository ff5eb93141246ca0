"""The data-lake lab's contract: a Lake Formation governed data lake on S3."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from catalog.base import LabContract, Output
from catalog.calls import GLUE_CRAWLER, Call, acting_as, arn, assumed, refused, via
from catalog.exam import MLS_DATA_ENGINEERING, ExamDomains, Exercise
from catalog.prices import LabCost, athena_minimum_queries, per_month_as_hourly, price

SAMPLE_PREFIX = "sales/"
CURATED_PREFIX = "sales/"
CRAWLER_DPUS = 2
CRAWL_MINIMUM_MINUTES = 10
PRACTICE_QUERIES = 3  # the CTAS, the analyst's query and the refused one


@dataclass(frozen=True)
class DataLakeOptions:
    """Options of the data-lake lab.

    Attributes:
        database_prefix: prefix of the Glue database names (``<prefix>_raw`` ...).
        bytes_scanned_cutoff: Athena per-query scan limit in bytes (default 1 GiB).
    """

    database_prefix: str = "mlref_data_lake"
    bytes_scanned_cutoff: int = 1024**3


def parse(_context: Mapping[str, object], _region: str) -> DataLakeOptions:
    return DataLakeOptions()


RAW_BUCKET = Output("RawBucketName", "the raw zone bucket")
CURATED_BUCKET = Output("CuratedBucketName", "the curated zone bucket")
ARCHIVE_BUCKET = Output("ArchiveBucketName", "the archive zone bucket")
QUERY_RESULTS_BUCKET = Output("QueryResultsBucketName", "Athena query results")
RAW_DATABASE = Output("RawDatabaseName", "Glue database of the raw zone")
CURATED_DATABASE = Output("CuratedDatabaseName", "Glue database of the curated zone")
ARCHIVE_DATABASE = Output("ArchiveDatabaseName", "Glue database of the archive zone")
CRAWLER = Output("CrawlerName", "the raw zone's Glue crawler")
SAMPLE_PREFIX_OUTPUT = Output("SamplePrefix", "where the sample orders go in the raw zone")
CURATED_PREFIX_OUTPUT = Output("CuratedPrefix", "where the curated Parquet goes")
WORKGROUP = Output("WorkgroupName", "the Athena workgroup")
ENGINEER_ROLE = Output("DataEngineerRoleArn", "the data engineer (Lake Formation admin of the lab)")
ANALYST_ROLE = Output("AnalystRoleArn", "the read-only analyst")
KEY = Output("KeyArn", "the lab's KMS key")
OUTPUTS = (RAW_BUCKET, CURATED_BUCKET, ARCHIVE_BUCKET, QUERY_RESULTS_BUCKET, RAW_DATABASE, CURATED_DATABASE,
           ARCHIVE_DATABASE, CRAWLER, SAMPLE_PREFIX_OUTPUT, CURATED_PREFIX_OUTPUT, WORKGROUP, ENGINEER_ROLE,
           ANALYST_ROLE, KEY)


def cost(_options: DataLakeOptions) -> LabCost:
    """One KMS key while idle; per run one crawl (10-minute minimum, ~2 DPU), three Athena
    queries at the 10 MB minimum, and a few KB in S3."""
    crawl = price("glue_crawler_dpu_hour") * CRAWLER_DPUS * CRAWL_MINIMUM_MINUTES / 60
    return LabCost(idle_per_hour=per_month_as_hourly("kms_key_month"),
                   per_practice_run=crawl + athena_minimum_queries(PRACTICE_QUERIES),
                   run_note="one crawl at its 10-minute minimum, three Athena queries")



# -- what AWS does with the lab's roles, and what must be refused (labs permissions) ----------------
_RAW_OBJECT = "${RawZoneBucket*.Arn}/sales/dt=2026-01-05/orders.csv"
LAKE_FORMATION_LOCATION = "https://docs.aws.amazon.com/lake-formation/latest/dg/registration-role.html"
SERVER_ACCESS_LOGS = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html"
CALLS = (
    assumed("RawCrawlerAccessRole*", "glue.amazonaws.com", GLUE_CRAWLER),
    *acting_as("RawCrawlerAccessRole*", GLUE_CRAWLER, [
        ("s3:ListBucket", "${RawZoneBucket*.Arn}", {"s3:prefix": SAMPLE_PREFIX}),
        ("s3:GetBucketLocation", "${RawZoneBucket*.Arn}"),
        ("s3:GetObject", _RAW_OBJECT),
        ("kms:Decrypt", "${DataLakeKey*.Arn}", via("s3")),
        ("glue:GetDatabase", arn("glue", "database/mlref_data_lake_raw")),
        ("glue:CreateTable", arn("glue", "table/mlref_data_lake_raw/sales")),
        ("glue:UpdateTable", arn("glue", "table/mlref_data_lake_raw/sales")),
        ("glue:BatchCreatePartition", arn("glue", "table/mlref_data_lake_raw/sales")),
        ("lakeformation:GetDataAccess", "*"),
    ], purpose="the raw-zone crawler"),
    assumed("RawLocationAccessRole*", "lakeformation.amazonaws.com", LAKE_FORMATION_LOCATION,
            source_arn=arn("lakeformation", "*")),
    *acting_as("RawLocationAccessRole*", LAKE_FORMATION_LOCATION, [
        ("s3:GetObject", _RAW_OBJECT), ("s3:ListBucket", "${RawZoneBucket*.Arn}"),
        ("kms:Decrypt", "${DataLakeKey*.Arn}", via("s3"))], purpose="Lake Formation vends the raw zone"),
    assumed("CuratedLocationAccessRole*", "lakeformation.amazonaws.com", LAKE_FORMATION_LOCATION,
            source_arn=arn("lakeformation", "*")),
    *acting_as("CuratedLocationAccessRole*", LAKE_FORMATION_LOCATION, [
        ("s3:GetObject", "${CuratedZoneBucket*.Arn}/sales/dt=2026-01-05/part-0.parquet"),
        ("s3:PutObject", "${CuratedZoneBucket*.Arn}/sales/dt=2026-01-05/part-0.parquet"),
        ("s3:ListBucket", "${CuratedZoneBucket*.Arn}"),
        ("kms:GenerateDataKey", "${DataLakeKey*.Arn}", via("s3"))], purpose="Lake Formation vends the curated zone"),
    *(Call("logging.s3.amazonaws.com", "s3:PutObject", f"${{AccessLogsBucket*.Arn}}/{zone}Zone/2026-12-01-12-00-00-x",
           SERVER_ACCESS_LOGS,
           {"aws:SourceArn": f"${{{zone}ZoneBucket*.Arn}}", "aws:SourceAccount": "${AWS::AccountId}"},
           purpose=f"S3 delivers the {zone.lower()} zone's access logs") for zone in ("Raw", "Curated")),
    refused("AnalystRole*", "s3:GetObject", _RAW_OBJECT, "the analyst reads no zone's files directly, the raw "
            "zone least of all"),
    refused("AnalystRole*", "s3:PutObject", "${CuratedZoneBucket*.Arn}/sales/x.parquet", "the analyst is read-only"),
    refused("RawCrawlerAccessRole*", "s3:PutObject", _RAW_OBJECT, "the crawler only reads the raw zone"),
)

# The practice's steps, as it announces them, and what of MLA-C01 each exercises (catalog/exam.py).
STEP_UPLOAD = "upload sample"
STEP_CRAWL = "crawl raw zone"
STEP_CURATE = "curate to parquet"
STEP_QUERY = "query as analyst"
EXERCISES = (
    Exercise(STEP_UPLOAD, ("1.1",)),
    Exercise(STEP_CRAWL, ("1.1",)),
    Exercise(STEP_CURATE, ("1.1", "1.2"), (
        "Choosing appropriate data formats based on data access patterns",  # CSV in, Parquet by dt out
        "Transforming data by using AWS tools",  # an Athena CTAS casts each column
    )),
    Exercise(STEP_QUERY, ("4.3",), (
        "Configuring least privilege access to ML artifacts",  # the analyst reads curated, is refused raw
    )),
)

CONTRACT = LabContract(
    name="data-lake",
    stack_name="mlref-data-lake",
    demonstrates="Lake Formation governed data lake on S3: zones, KMS, lifecycle tiers, Glue crawler, Athena",
    exams=ExamDomains(MLS_DATA_ENGINEERING),
    options_type=DataLakeOptions,
    parse=parse,
    outputs=OUTPUTS,
    cost=cost,
    stack="stacks.data_lake:DataLakeStack",
    practice="labs.practice.data_lake.command:DataLakePractice",
    exercises=EXERCISES,
    calls=CALLS,
)
