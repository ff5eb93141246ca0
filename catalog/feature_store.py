"""The feature-store lab's contract: SageMaker Feature Store online and offline stores.

The feature group definitions live here: the stack builds them, the practice writes records
that fit them, and their names (which carry a fingerprint of the definition) are known
without synthesizing anything.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from catalog.base import Flag, LabContract, Output
from catalog.calls import acting_as, arn, assumed, refused, via
from catalog.exam import MLS_DATA_ENGINEERING, ExamDomains, Exercise
from catalog.prices import LabCost, athena_minimum_queries, per_month_as_hourly, price

DATABASE_NAME = "mlref_feature_store"  # the janitor sweeps only mlref_* databases
OFFLINE_PREFIX = "offline-store"
FEATURE_TYPES = {"String": "string", "Integral": "bigint", "Fractional": "double"}
# Columns Feature Store adds to every offline record (Glue table format).
OFFLINE_COLUMNS = (("write_time", "timestamp"), ("api_invocation_time", "timestamp"), ("is_deleted", "boolean"))
FEATURE_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_")

PRACTICE_CUSTOMERS = 200
MAX_CUSTOMERS = 2000  # the labels travel inline in the query: Athena takes at most 256 KB of SQL
RECORDS_PER_CUSTOMER = 3  # one profile, two activity snapshots
PRACTICE_READS = 10  # GetRecord calls of the read-latency step
PRACTICE_QUERIES = 3


@dataclass(frozen=True)
class Feature:
    name: str
    type: str  # String | Integral | Fractional


@dataclass(frozen=True)
class FeatureGroupSpec:
    """A feature group's definition.

    Attributes:
        id: short name (``customer_profile``): construct id, name prefix and table prefix.
        description: what the features are for.
        record_identifier: the feature that identifies a record (String or Integral).
        event_time: the feature holding when the values were observed (ISO-8601 String).
        features: every feature, identifier and event time included.
        online_ttl_days: online records expire after this many days (None: never).
    """

    id: str
    description: str
    record_identifier: str
    event_time: str
    features: tuple[Feature, ...]
    online_ttl_days: int | None = None

    def __post_init__(self) -> None:
        names = [f.name for f in self.features]
        problems = []
        if len(set(names)) != len(names):
            problems.append("duplicate feature names")
        for feature in self.features:
            if feature.type not in FEATURE_TYPES:
                problems.append(f"{feature.name}: type {feature.type!r} is not one of {', '.join(FEATURE_TYPES)}")
            if not set(feature.name) <= FEATURE_NAME_CHARS or not feature.name[0].isalpha() or len(feature.name) > 64:
                problems.append(f"{feature.name}: use lower-case letters, digits and _ (Athena column names)")
            if feature.name in {c for c, _ in OFFLINE_COLUMNS}:
                problems.append(f"{feature.name}: reserved by the offline store")
        types = {f.name: f.type for f in self.features}
        if types.get(self.record_identifier) not in {"String", "Integral"}:
            problems.append(f"record identifier {self.record_identifier!r} must be a String or Integral feature")
        if types.get(self.event_time) not in {"String", "Fractional"}:
            problems.append(f"event time {self.event_time!r} must be a String (ISO-8601) or Fractional feature")
        if problems:
            raise ValueError(f"feature group {self.id}: " + "; ".join(problems))

    @property
    def fingerprint(self) -> str:
        """8 hex digits of what forces replacement: identifier, event time, features."""
        body = json.dumps([self.record_identifier, self.event_time, [(f.name, f.type) for f in self.features]])
        return hashlib.sha256(body.encode()).hexdigest()[:8]

    @property
    def group_name(self) -> str:
        return f"mlref-{self.id.replace('_', '-')}-{self.fingerprint}"

    @property
    def table_name(self) -> str:
        return f"{self.id}_{self.fingerprint}"

    @property
    def camel_id(self) -> str:
        return "".join(part.capitalize() for part in self.id.split("_"))

    @property
    def group_output(self) -> Output:
        return Output(f"{self.camel_id}GroupName", f"the {self.id} feature group")

    @property
    def table_output(self) -> Output:
        return Output(f"{self.camel_id}TableName", f"the Glue table over {self.id}'s offline store")


CUSTOMER_PROFILE = FeatureGroupSpec(
    id="customer_profile",
    description="Customer attributes shared by the churn and the recommendation models",
    record_identifier="customer_id", event_time="event_time",
    features=(
        Feature("customer_id", "String"), Feature("event_time", "String"), Feature("age", "Integral"),
        Feature("tenure_months", "Integral"), Feature("segment", "String"), Feature("region", "String"),
        Feature("lifetime_value", "Fractional"),
    ),
)
CLICK_ACTIVITY = FeatureGroupSpec(
    id="click_activity",
    description="Clickstream aggregates per customer over the last 7 and 30 days",
    record_identifier="customer_id", event_time="event_time",
    features=(
        Feature("customer_id", "String"), Feature("event_time", "String"), Feature("sessions_7d", "Integral"),
        Feature("clicks_7d", "Integral"), Feature("avg_session_seconds", "Fractional"),
        Feature("purchases_30d", "Integral"), Feature("last_page", "String"),
    ),
    online_ttl_days=30,
)


@dataclass(frozen=True)
class FeatureStoreOptions:
    """Options of the feature-store lab.

    Attributes:
        groups: the feature groups (two models share them).
        bytes_scanned_cutoff: Athena's per-query scan limit.
    """

    groups: tuple[FeatureGroupSpec, ...] = field(default=(CUSTOMER_PROFILE, CLICK_ACTIVITY))
    bytes_scanned_cutoff: int = 1024**3


def parse(_context: Mapping[str, object], _region: str) -> FeatureStoreOptions:
    return FeatureStoreOptions()


DATABASE = Output("DatabaseName", "the Glue database of the offline stores")
WORKGROUP = Output("WorkgroupName", "the Athena workgroup")
INGESTION_ROLE = Output("IngestionRoleArn", "writes records (PutRecord)")
CONSUMER_ROLE = Output("ConsumerRoleArn", "reads the online store and queries the offline store")
OFFLINE_BUCKET = Output("OfflineBucketName", "the offline stores' bucket")
KEY = Output("KeyArn", "the lab's KMS key")
PROFILE_GROUP, PROFILE_TABLE = CUSTOMER_PROFILE.group_output, CUSTOMER_PROFILE.table_output
ACTIVITY_GROUP, ACTIVITY_TABLE = CLICK_ACTIVITY.group_output, CLICK_ACTIVITY.table_output
OUTPUTS = (DATABASE, WORKGROUP, INGESTION_ROLE, CONSUMER_ROLE, OFFLINE_BUCKET, KEY, PROFILE_GROUP, PROFILE_TABLE,
           ACTIVITY_GROUP, ACTIVITY_TABLE)


def cost(_options: FeatureStoreOptions, *, customers: int = PRACTICE_CUSTOMERS) -> LabCost:
    """Idle: one key (online storage of a few hundred 1 KB records and the offline Parquet files are
    fractions of a cent). Per run: PutRecord of every record (one write unit each), the GetRecord
    calls of the latency step, and three Athena queries at the 10 MB minimum."""
    writes = price("sagemaker_feature_store_write_million") * customers * RECORDS_PER_CUSTOMER / 1e6
    reads = price("sagemaker_feature_store_read_million") * PRACTICE_READS / 1e6
    return LabCost(idle_per_hour=per_month_as_hourly("kms_key_month"),
                   per_practice_run=writes + reads + athena_minimum_queries(PRACTICE_QUERIES),
                   run_note=f"{customers * RECORDS_PER_CUSTOMER} writes, {PRACTICE_READS} reads, three Athena "
                            "queries; the free tier covers 10M writes and reads")



# -- what AWS does with the lab's roles, and what must be refused (labs permissions) ----------------
FEATURE_STORE_ROLE = "https://docs.aws.amazon.com/sagemaker/latest/dg/feature-store-adding-policies.html"
_OFFLINE = "${OfflineStoreBucket*.Arn}/offline-store/111122223333/sagemaker/us-east-1/offline-store/x/data/part.parquet"
CALLS = (
    assumed("OfflineStoreWriterRole*", "sagemaker.amazonaws.com", FEATURE_STORE_ROLE),
    *acting_as("OfflineStoreWriterRole*", FEATURE_STORE_ROLE, [
        ("s3:PutObject", _OFFLINE), ("s3:GetBucketAcl", "${OfflineStoreBucket*.Arn}"),
        ("s3:PutObjectAcl", _OFFLINE),
        ("kms:GenerateDataKey", "${FeatureStoreKey*.Arn}", via("s3")),
    ], purpose="Feature Store writes the offline store"),
    refused("IngestionRole*", "sagemaker:GetRecord",
            arn("sagemaker", "feature-group/mlref-customer-profile-x"),
            "the ingestion role writes features and reads none"),
    refused("ConsumerRole*", "sagemaker:PutRecord",
            arn("sagemaker", "feature-group/mlref-customer-profile-x"),
            "the consumer reads features and writes none"),
)

# The practice's steps, as it announces them, and what of MLA-C01 each exercises (catalog/exam.py).
STEP_INGEST = "ingest records"
STEP_READ = "read online store"
STEP_TRAINING_SET = "point-in-time training set"
EXERCISES = (
    Exercise(STEP_INGEST, ("1.1", "1.2"), (
        "Ingesting data into Amazon SageMaker Data Wrangler and SageMaker Feature Store",
        "Creating and managing features by using AWS tools",
    )),
    Exercise(STEP_READ, ("1.2",), ("Creating and managing features by using AWS tools",)),
    # --offline: each label joined with the features observed at or before its time (no leakage)
    Exercise(STEP_TRAINING_SET, ("1.2", "1.3"), ("Creating and managing features by using AWS tools",)),
)

CONTRACT = LabContract(
    name="feature-store",
    stack_name="mlref-feature-store",
    demonstrates="SageMaker Feature Store: shared feature groups, online store reads, point-in-time training "
                 "sets offline",
    exams=ExamDomains(MLS_DATA_ENGINEERING),
    options_type=FeatureStoreOptions,
    parse=parse,
    outputs=OUTPUTS,
    cost=cost,
    stack="stacks.feature_store:FeatureStoreStack",
    practice="labs.practice.feature_store.command:FeatureStorePractice",
    practice_flags=(
        Flag("customers", f"how many customers to ingest (1 to {MAX_CUSTOMERS})", int, PRACTICE_CUSTOMERS),
        Flag("offline", "also wait for the offline store and build a point-in-time training set", bool, False),
    ),
    exercises=EXERCISES,
    calls=CALLS,
)
