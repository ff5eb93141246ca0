"""The clickstream lab's contract: click events through Kinesis into Redshift Serverless."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from catalog.base import ConfigError, ContextKey, Flag, LabContract, Output, Variant, choice, is_zone_of, listed
from catalog.calls import acting_as, assumed, refused, via
from catalog.exam import MLS_DATA_ENGINEERING, ExamDomains, Exercise
from catalog.prices import LabCost, per_month_as_hourly, price

SCHEMA = "clickstream"
EVENTS_RELATION = f"{SCHEMA}.events"
REDSHIFT_BASE_RPU = 4
PUBLIC_ENDPOINT_ADDRESSES = 3  # one per workgroup subnet (unverified: AWS does not document the count)
PRACTICE_EVENTS = 1000
MAX_EVENTS = 100_000
PRACTICE_ACTIVE_MINUTES = 10  # COPY runs and polling queries keep the workgroup busy about this long
FIREHOSE_RECORD_KB = 5  # Firehose rounds each record up to 5 KB


class Delivery(str, enum.Enum):  # noqa: UP042 - StrEnum would change what str() and f-strings print
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

    @property
    def firehose(self) -> bool:
        return self.delivery is Delivery.FIREHOSE


CONTEXT_KEYS = (
    ContextKey("clickstream_delivery", "firehose", "firehose, streaming (Redshift streaming ingestion)"),
    ContextKey("clickstream_stream_mode", "provisioned", "provisioned (one shard), on_demand"),
    ContextKey("clickstream_azs", "first three of the region",
               "three zones for the Redshift subnets, e.g. us-east-1a,us-east-1b,us-east-1d"),
)


def parse(context: Mapping[str, object], region: str) -> ClickstreamOptions:
    delivery = Delivery(choice(context, "clickstream_delivery", [d.value for d in Delivery], Delivery.FIREHOSE.value))
    mode = choice(context, "clickstream_stream_mode", ["provisioned", "on_demand"], "provisioned")
    zones = listed(context.get("clickstream_azs"))
    if zones and (len(zones) != 3 or len(set(zones)) != 3 or not all(is_zone_of(z, region) for z in zones)):
        raise ConfigError(f"clickstream_azs={','.join(zones)!r}: give three different zones of {region} "
                          f"(e.g. -c clickstream_azs={region}a,{region}b,{region}c)")
    return ClickstreamOptions(delivery=delivery, on_demand=mode == "on_demand", availability_zones=zones)


def _firehose(options: ClickstreamOptions) -> bool:
    return options.firehose


DELIVERY_METHOD = Output("DeliveryMethod", "firehose or streaming")
STREAM_NAME = Output("StreamName", "the Kinesis data stream")
STREAM_ARN = Output("StreamArn", "the stream's ARN")
WORKGROUP = Output("WorkgroupName", "the Redshift Serverless workgroup")
DATABASE = Output("DatabaseName", "the Redshift database")
ADMIN_SECRET = Output("AdminSecretArn", "the Redshift admin secret in Secrets Manager")
EVENTS = Output("EventsRelation", "the table or view holding the events")
KEY = Output("KeyArn", "the lab's KMS key")
DELIVERY_STREAM = Output("DeliveryStreamName", "the Firehose delivery stream", when=_firehose)
DELIVERY_BUCKET = Output("DeliveryBucketName", "Firehose's staging bucket", when=_firehose)
OUTPUTS = (DELIVERY_METHOD, STREAM_NAME, STREAM_ARN, WORKGROUP, DATABASE, ADMIN_SECRET, EVENTS, KEY,
           DELIVERY_STREAM, DELIVERY_BUCKET)


def cost(options: ClickstreamOptions, *, events: int = PRACTICE_EVENTS) -> LabCost:
    """Idle: the stream, one key, one secret and (Firehose delivery) the public endpoint's
    addresses; Redshift Serverless bills compute only while it runs queries. Per run: the
    workgroup at base capacity for about ten minutes, and the events through Firehose at 5 KB each."""
    stream = price("kinesis_on_demand_stream_hour") if options.on_demand else price("kinesis_shard_hour")
    fixed = per_month_as_hourly("kms_key_month") + per_month_as_hourly("secrets_manager_secret_month")
    addresses = PUBLIC_ENDPOINT_ADDRESSES * price("public_ipv4_hour") if options.firehose else 0.0
    compute = REDSHIFT_BASE_RPU * price("redshift_serverless_rpu_hour") * PRACTICE_ACTIVE_MINUTES / 60
    delivery = price("firehose_gb") * events * FIREHOSE_RECORD_KB / 1024**2 if options.firehose else 0.0
    return LabCost(idle_per_hour=stream + fixed + addresses, per_practice_run=compute + delivery,
                   run_note=f"{REDSHIFT_BASE_RPU} RPU for about {PRACTICE_ACTIVE_MINUTES} minutes, {events} events")



# -- what AWS does with the lab's roles, and what must be refused (labs permissions) ----------------
FIREHOSE_ROLE = "https://docs.aws.amazon.com/firehose/latest/dev/controlling-access.html"
STREAMING_INGESTION = ("https://docs.aws.amazon.com/redshift/latest/dg/"
                       "materialized-view-streaming-ingestion-getting-started.html")
_FIREHOSE = "FirehoseRole*"
CALLS = (
    assumed(_FIREHOSE, "firehose.amazonaws.com", FIREHOSE_ROLE, present=_FIREHOSE),
    *acting_as(_FIREHOSE, FIREHOSE_ROLE, [
        ("kinesis:DescribeStream", "${ClickStream*.Arn}"), ("kinesis:GetShardIterator", "${ClickStream*.Arn}"),
        ("kinesis:GetRecords", "${ClickStream*.Arn}"), ("kinesis:ListShards", "${ClickStream*.Arn}"),
        ("kms:Decrypt", "${ClickstreamKey*.Arn}", via("kinesis")),
        ("lambda:InvokeFunction", "${FirehoseTransformFunction*.Arn}"),
        ("s3:PutObject", "${DeliveryBucket*.Arn}/staging/2026/12/01/12/x.gz"),
        ("kms:GenerateDataKey", "${ClickstreamKey*.Arn}", via("s3")),
        ("secretsmanager:GetSecretValue", "${WarehouseAdminSecret*}"),
    ], present=_FIREHOSE, purpose="Firehose reads the stream, transforms, stages and COPYs"),
    assumed("StreamingIngestionRole*", "redshift.amazonaws.com", STREAMING_INGESTION,
            present="StreamingIngestionRole*"),
    *acting_as("StreamingIngestionRole*", STREAMING_INGESTION, [
        ("kinesis:DescribeStreamSummary", "${ClickStream*.Arn}"), ("kinesis:GetShardIterator", "${ClickStream*.Arn}"),
        ("kinesis:GetRecords", "${ClickStream*.Arn}"), ("kinesis:ListShards", "${ClickStream*.Arn}"),
        ("kms:Decrypt", "${ClickstreamKey*.Arn}", via("kinesis")),
    ], present="StreamingIngestionRole*", purpose="Redshift streaming ingestion reads the stream"),
    refused(_FIREHOSE, "kinesis:PutRecord", "${ClickStream*.Arn}", "Firehose reads the stream and writes none",
            when=lambda o: o.delivery.value == "firehose"),
)

# The practice's steps, as it announces them, and what of MLA-C01 each exercises (catalog/exam.py).
STEP_SEND = "send events"
STEP_QUERY = "query in redshift"
EXERCISES = (
    Exercise(STEP_SEND, ("1.1",), (
        "How to use AWS streaming data sources to ingest data",  # PutRecords into a Kinesis stream
        # partial failures and throttling retried, counted, and what to change when they persist
        "Troubleshooting and debugging data ingestion and storage issues that involve capacity and scalability",
    )),
    Exercise(STEP_QUERY, ("1.1",)),  # waits until delivery makes them queryable in Redshift, then counts them
)

CONTRACT = LabContract(
    name="clickstream",
    stack_name="mlref-clickstream",
    demonstrates="Kinesis clickstream into Redshift Serverless: Firehose with a Lambda transform, or streaming "
                 "ingestion",
    exams=ExamDomains(MLS_DATA_ENGINEERING),
    options_type=ClickstreamOptions,
    parse=parse,
    outputs=OUTPUTS,
    cost=cost,
    stack="stacks.clickstream:ClickstreamStack",
    practice="labs.practice.clickstream.command:ClickstreamPractice",
    context_keys=CONTEXT_KEYS,
    practice_flags=(Flag("events", f"how many click events to send (1 to {MAX_EVENTS})", int, PRACTICE_EVENTS),),
    variants=(Variant("streaming", {"clickstream_delivery": "streaming", "clickstream_stream_mode": "on_demand"},
                      note="streaming ingestion, on-demand stream"),),
    exercises=EXERCISES,
    calls=CALLS,
)
