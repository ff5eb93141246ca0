"""Prices from pricing/prices.toml and what each lab is expected to cost."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PRICE_TABLE = Path(__file__).resolve().parent.parent / "pricing" / "prices.toml"
HOURS_PER_MONTH = 730


@dataclass(frozen=True)
class Price:
    key: str
    usd: float
    unit: str
    source: str
    checked: str
    note: str = ""


@cache
def prices(path: Path = PRICE_TABLE) -> dict[str, Price]:
    table = tomllib.loads(path.read_text())
    return {key: Price(key=key, **entry) for key, entry in table.items()}


def price(key: str) -> float:
    return prices()[key].usd


@dataclass(frozen=True)
class LabCost:
    """What a lab costs: idle per hour while deployed, and one practice run.

    Attributes:
        idle_per_hour: USD per hour with nothing running.
        per_practice_run: USD for one run of the lab's practice step.
    """

    idle_per_hour: float
    per_practice_run: float

    def expected(self, hours: float, runs: int = 1) -> float:
        """Expected cost of keeping the lab ``hours`` and practising ``runs`` times."""
        return self.idle_per_hour * hours + self.per_practice_run * runs


def data_lake_cost() -> LabCost:
    """One KMS key while idle; per run one crawl (10-minute minimum, ~2 DPU), three
    Athena queries at the 10 MB minimum, and a few KB in S3."""
    crawl = price("glue_crawler_dpu_hour") * 2 * (10 / 60)
    queries = price("athena_tb_scanned") * 3 * (10 / 1024**2)
    return LabCost(idle_per_hour=price("kms_key_month") / HOURS_PER_MONTH, per_practice_run=crawl + queries)


# The clickstream lab's assumptions, shared by its stack, README and `labs list`.
REDSHIFT_BASE_RPU = 4
PUBLIC_ENDPOINT_ADDRESSES = 3  # one per workgroup subnet (unverified: AWS does not document the count)
PRACTICE_EVENTS = 1000
PRACTICE_ACTIVE_MINUTES = 10  # COPY runs and polling queries keep the workgroup busy about this long


def clickstream_cost(*, on_demand: bool = False, streaming: bool = False) -> LabCost:
    """Idle: the stream, one key, one secret and (Firehose delivery) the public endpoint's
    addresses; Redshift Serverless bills compute only while it runs queries. Per run:
    the workgroup at base capacity for about ten minutes, and 1000 events through
    Firehose at 5 KB each."""
    stream = price("kinesis_on_demand_stream_hour") if on_demand else price("kinesis_shard_hour")
    fixed = (price("kms_key_month") + price("secrets_manager_secret_month")) / HOURS_PER_MONTH
    addresses = 0 if streaming else PUBLIC_ENDPOINT_ADDRESSES * price("public_ipv4_hour")
    compute = REDSHIFT_BASE_RPU * price("redshift_serverless_rpu_hour") * PRACTICE_ACTIVE_MINUTES / 60
    delivery = 0 if streaming else price("firehose_gb") * PRACTICE_EVENTS * 5 / 1024**2
    return LabCost(idle_per_hour=stream + fixed + addresses, per_practice_run=compute + delivery)


# The fsx-training lab's assumptions.
FSX_SCRATCH_GIB = 1200
PRACTICE_JOBS = 2
PRACTICE_JOB_MINUTES = 10  # billable minutes per job: start-up, reading the small set, a few epochs
SPOT_DISCOUNT = 0.7  # managed spot typically bills ~70% less (AWS says up to 90%)


def fsx_training_cost(*, efs: bool = False, instance_hour_key: str = "sagemaker_ml_p3_2xlarge_hour",
                      spot: bool = True) -> LabCost:
    """Idle: the file system (SCRATCH_2 1200 GiB, or EFS storing a few MB) and one key. Per run:
    two jobs of about ten billable minutes each, on managed spot unless ``spot`` is False."""
    file_system = 0.0 if efs else price("fsx_lustre_scratch2_gb_month") * FSX_SCRATCH_GIB / HOURS_PER_MONTH
    key = price("kms_key_month") / HOURS_PER_MONTH
    jobs = price(instance_hour_key) * PRACTICE_JOBS * PRACTICE_JOB_MINUTES / 60 * ((1 - SPOT_DISCOUNT) if spot else 1)
    return LabCost(idle_per_hour=file_system + key, per_practice_run=jobs)


# The feature-store lab's assumptions.
PRACTICE_CUSTOMERS = 200
RECORDS_PER_CUSTOMER = 3  # one profile, two activity snapshots
PRACTICE_READS = 20
PRACTICE_QUERIES = 3


def feature_store_cost() -> LabCost:
    """Idle: one key (online storage of a few hundred 1 KB records and the offline Parquet
    files are fractions of a cent). Per run: PutRecord of every record (one write unit
    each), a few GetRecord calls, and three Athena queries at the 10 MB minimum."""
    writes = price("sagemaker_feature_store_write_million") * PRACTICE_CUSTOMERS * RECORDS_PER_CUSTOMER / 1e6
    reads = price("sagemaker_feature_store_read_million") * PRACTICE_READS / 1e6
    queries = price("athena_tb_scanned") * PRACTICE_QUERIES * (10 / 1024**2)
    return LabCost(idle_per_hour=price("kms_key_month") / HOURS_PER_MONTH, per_practice_run=writes + reads + queries)
