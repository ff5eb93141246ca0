"""Practice on the feature-store lab.

1. ``ingest records``: generate synthetic customers (one profile record each, and two
   click-activity snapshots, 20 days ago and 2 days ago, plus a churn label observed 10 days
   ago) and ingest them with PutRecord as the lab's ingestion role: in concurrent batches;
   botocore's standard retry mode retries throttled and transiently failed records with
   exponential backoff and jitter (eight attempts), and the step counts those retries.
2. ``read online store``: read a few customers back from the online store (GetRecord, as the
   consumer role) and print the read latency.
3. ``point-in-time training set``, with ``--offline`` (Feature Store syncs the offline store
   within about 15 minutes): wait until the records are in the offline tables, then build a
   point-in-time-correct training set through Athena: each label joined with the latest feature
   values observed at or before the label's time, never later ones (no leakage from the future).

Each step is announced with the MLA-C01 task statements it exercises (``step_line``).

``--dry-run`` prints the PutRecord and GetRecord requests and the SQL without calling AWS.
"""

from __future__ import annotations

import json
import random
import statistics
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from catalog import feature_store as contract
from catalog.feature_store import MAX_CUSTOMERS, PRACTICE_CUSTOMERS, PRACTICE_READS
from labs.engine.deployed import assume_role, stack_outputs
from labs.engine.errors import LabError
from labs.engine.session import patient
from labs.practice.common.athena import athena_query
from labs.practice.common.dry_run import example_role_arn
from labs.practice.common.polling import Poll
from labs.practice.common.steps import step_line

REQUIRED_OUTPUTS = (contract.DATABASE, contract.WORKGROUP, contract.INGESTION_ROLE, contract.CONSUMER_ROLE,
                    contract.PROFILE_GROUP, contract.PROFILE_TABLE, contract.ACTIVITY_GROUP, contract.ACTIVITY_TABLE)
# What is still failing after botocore's own retries (throttling and 5xx are retried there).
GAVE_UP = {"ThrottlingException", "ServiceUnavailable", "InternalFailure", "LimitExceededException",
           "KMSThrottlingException"}
SEGMENTS = ["new", "casual", "loyal", "vip"]
REGIONS = ["us", "eu", "apac"]
PAGES = ["/", "/search", "/products", "/cart", "/checkout", "/help"]
SNAPSHOT_DAYS_AGO = (20, 2)
LABEL_DAYS_AGO = 10
PLACEHOLDERS = {output: f"<{output}>" for output in REQUIRED_OUTPUTS} | {contract.DATABASE: contract.DATABASE_NAME} | {
    role: example_role_arn(role) for role in (contract.INGESTION_ROLE, contract.CONSUMER_ROLE)}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class Dataset:
    profiles: list[dict[str, Any]]
    activity: list[dict[str, Any]]
    labels: list[tuple[str, str, int]]  # customer_id, label time (ISO-8601), churned


def synthetic_customers(count: int, *, seed: int | None = None, now: datetime | None = None,
                        run_id: str = "r") -> Dataset:
    rng = random.Random(seed)
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    profiles, activity, labels = [], [], []
    for number in range(count):
        customer = f"c-{run_id}-{number:05d}"
        segment = rng.choice(SEGMENTS)
        profiles.append({"customer_id": customer, "event_time": iso(now - timedelta(days=30)),
                         "age": rng.randint(18, 80), "tenure_months": rng.randint(0, 120), "segment": segment,
                         "region": rng.choice(REGIONS), "lifetime_value": round(rng.uniform(0, 5000), 2)})
        engaged = rng.random()
        for days_ago in SNAPSHOT_DAYS_AGO:
            sessions = max(0, int(rng.gauss(12 * engaged, 3)))
            activity.append({"customer_id": customer, "event_time": iso(now - timedelta(days=days_ago)),
                             "sessions_7d": sessions, "clicks_7d": sessions * rng.randint(3, 12),
                             "avg_session_seconds": round(rng.uniform(20, 900), 1),
                             "purchases_30d": rng.randint(0, 3) if engaged > 0.5 else 0,
                             "last_page": rng.choice(PAGES)})
        labels.append((customer, iso(now - timedelta(days=LABEL_DAYS_AGO)), int(engaged < 0.3)))
    return Dataset(profiles, activity, labels)


def put_record_request(group: str, values: dict[str, Any]) -> dict[str, Any]:
    return {"FeatureGroupName": group,
            "Record": [{"FeatureName": name, "ValueAsString": str(value)} for name, value in values.items()]}


def get_record_request(group: str, customer_id: str) -> dict[str, Any]:
    return {"FeatureGroupName": group, "RecordIdentifierValueAsString": customer_id}


@dataclass
class IngestReport:
    written: int = 0
    retried: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (group/customer, error code)


class Ingestor:
    """PutRecord for each record, ``concurrency`` at a time. The client retries throttled records
    itself (botocore's standard mode, ``labs.engine.session.patient``); what still fails is reported."""

    def __init__(self, runtime: Any, *, concurrency: int = 8) -> None:
        self.runtime, self.concurrency = runtime, concurrency
        self._lock = threading.Lock()

    def put(self, request: dict[str, Any], report: IngestReport) -> None:
        from botocore.exceptions import ClientError

        try:
            response = self.runtime.put_record(**request) or {}
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code not in GAVE_UP:
                raise
            customer = next(r["ValueAsString"] for r in request["Record"] if r["FeatureName"] == "customer_id")
            retried = error.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
            with self._lock:
                report.retried += retried
                report.failed.append((f"{request['FeatureGroupName']}/{customer}", code))
            return
        with self._lock:
            report.written += 1
            report.retried += response.get("ResponseMetadata", {}).get("RetryAttempts", 0)

    def ingest(self, requests: list[dict[str, Any]]) -> IngestReport:
        report = IngestReport()
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            for batch_start in range(0, len(requests), self.concurrency * 4):
                batch = requests[batch_start:batch_start + self.concurrency * 4]
                list(pool.map(lambda request: self.put(request, report), batch))
        return report


def read_latencies(runtime: Any, group: str, customer_ids: Iterable[str],
                   clock: Callable[[], float] = time.perf_counter) -> tuple[list[float], list[dict[str, str]]]:
    """GetRecord for each customer; (latencies in ms, records)."""
    latencies, records = [], []
    for customer in customer_ids:
        started = clock()
        response = runtime.get_record(**get_record_request(group, customer))
        latencies.append((clock() - started) * 1000)
        records.append({f["FeatureName"]: f["ValueAsString"] for f in response.get("Record", [])})
    return latencies, records


def latency_line(latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (f"online store read latency over {len(ordered)} GetRecord calls: median "
            f"{statistics.median(ordered):.1f} ms, p95 {p95:.1f} ms, max {ordered[-1]:.1f} ms (includes the network)")


# -- the offline store ---------------------------------------------------------------------

def count_sql(outputs: dict[str, str], table_output: str, run_prefix: str) -> str:
    return (f'SELECT count(*) FROM "{outputs[contract.DATABASE]}"."{outputs[table_output]}" '
            f"WHERE customer_id LIKE '{run_prefix}%'")


def labels_cte(labels: list[tuple[str, str, int]]) -> str:
    rows = ",\n    ".join(f"('{customer}', from_iso8601_timestamp('{at}'), {churned})"
                           for customer, at, churned in labels)
    return f"labels (customer_id, label_time, churned) AS (VALUES\n    {rows})"


def point_in_time_sql(outputs: dict[str, str], labels: list[tuple[str, str, int]]) -> str:
    """Each label with the latest features observed at or before its time (ties: the latest
    write), deleted records excluded: what the model would have seen then."""
    database = outputs[contract.DATABASE]

    def as_of(name: str, table_output: str, columns: str) -> str:
        return (f"{name} AS (\n  SELECT l.customer_id, l.label_time, {columns},\n"
                f"    row_number() OVER (PARTITION BY l.customer_id, l.label_time\n"
                f"      ORDER BY from_iso8601_timestamp(f.event_time) DESC, f.api_invocation_time DESC) AS rn\n"
                f'  FROM labels l JOIN "{database}"."{outputs[table_output]}" f ON f.customer_id = l.customer_id\n'
                f"  WHERE from_iso8601_timestamp(f.event_time) <= l.label_time AND NOT f.is_deleted)")

    return (
        "WITH " + labels_cte(labels) + ",\n"
        + as_of("profile", contract.PROFILE_TABLE,
                "f.age, f.tenure_months, f.segment, f.region, f.lifetime_value") + ",\n"
        + as_of("activity", contract.ACTIVITY_TABLE,
                "f.event_time AS activity_time, f.sessions_7d, f.clicks_7d, f.avg_session_seconds, "
                "f.purchases_30d") + "\n"
        "SELECT l.customer_id, l.label_time, l.churned, p.age, p.tenure_months, p.segment, p.region,\n"
        "  p.lifetime_value, a.activity_time, a.sessions_7d, a.clicks_7d, a.avg_session_seconds, a.purchases_30d\n"
        "FROM labels l\n"
        "LEFT JOIN profile p ON p.customer_id = l.customer_id AND p.label_time = l.label_time AND p.rn = 1\n"
        "LEFT JOIN activity a ON a.customer_id = l.customer_id AND a.label_time = l.label_time AND a.rn = 1\n"
        "ORDER BY l.customer_id"
    )


def leakage(columns: list[str], rows: list[list[str]]) -> int:
    """Rows whose activity features were observed after the label (must be 0)."""
    label, activity = columns.index("label_time"), columns.index("activity_time")
    late = 0
    for row in rows:
        if row[activity] and _parse(row[activity]) > _parse(row[label]):
            late += 1
    return late


def _parse(value: str) -> datetime:
    value = value.replace("Z", "+00:00").replace(" UTC", "+00:00")
    moment = datetime.fromisoformat(value.replace(" ", "T", 1) if "T" not in value else value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- the practice step -------------------------------------------------------------------

@dataclass
class PracticeReport:
    run_id: str
    ingest: IngestReport
    latencies: list[float]
    training_rows: list[list[str]] | None = None
    leaked_rows: int | None = None


class FeatureStorePractice:
    def __init__(self, session: Any, *, customers: int = PRACTICE_CUSTOMERS, offline: bool = False,
                 dry_run: bool = False, out: Callable[[str], None] = print, seed: int | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 poll_seconds: float = 60, offline_timeout_seconds: float = 30 * 60,
                 role_session: Callable[[Any, str, str], Any] = assume_role,
                 reads: int = PRACTICE_READS, concurrency: int = 8, now: datetime | None = None) -> None:
        if not 1 <= customers <= MAX_CUSTOMERS:
            raise LabError(f"--customers {customers} is out of range; use 1 to {MAX_CUSTOMERS} (e.g. --customers 200)")
        self.session, self.customers, self.offline, self.dry_run, self.out = session, customers, offline, dry_run, out
        self.seed, self.clock, self.sleep = seed, clock, sleep
        self.poll_seconds, self.offline_timeout = poll_seconds, offline_timeout_seconds
        self.role_session, self.reads = role_session, reads
        self.concurrency, self.now = concurrency, now

    def step(self, name: str) -> None:
        self.out(step_line(contract.CONTRACT, name))

    def requests(self, data: Dataset, outputs: dict[str, str]) -> list[dict[str, Any]]:
        return ([put_record_request(outputs[contract.PROFILE_GROUP], p) for p in data.profiles]
                + [put_record_request(outputs[contract.ACTIVITY_GROUP], a) for a in data.activity])

    @staticmethod
    def dry_run_outputs(_region: str) -> dict[str, str]:
        """The stack outputs as the dry run writes them (``labs permissions`` puts the template's in)."""
        return dict(PLACEHOLDERS)

    def print_dry_run(self, data: Dataset) -> None:
        from labs.practice.common.athena import show_query
        from labs.practice.common.dry_run import show_assume_role, show_request, show_stack_outputs

        requests = self.requests(data, PLACEHOLDERS)
        show_stack_outputs(self.out, contract.CONTRACT.stack_name)
        self.step(contract.STEP_INGEST)
        show_assume_role(self.out, PLACEHOLDERS[contract.INGESTION_ROLE], "feature-ingestion")
        show_assume_role(self.out, PLACEHOLDERS[contract.CONSUMER_ROLE], "feature-consumer")
        for request, which in ((requests[0], "customer_profile"), (requests[len(data.profiles)], "click_activity")):
            show_request(self.out, "sagemaker-featurestore-runtime", "PutRecord", request,
                         f"one of {len(requests)} records, e.g. {which}", as_role=contract.INGESTION_ROLE)
        self.step(contract.STEP_READ)
        show_request(self.out, "sagemaker-featurestore-runtime", "GetRecord",
                     get_record_request(PLACEHOLDERS[contract.PROFILE_GROUP], data.profiles[0]["customer_id"]),
                     f"one of {min(self.reads, len(data.profiles))} reads", as_role=contract.CONSUMER_ROLE)
        self.step(contract.STEP_TRAINING_SET)
        show_query(self.out, count_sql(PLACEHOLDERS, contract.PROFILE_TABLE, "c-<run>-"),
                   PLACEHOLDERS[contract.WORKGROUP],
                   "--offline: until the offline store has the records (each table)", as_role=contract.CONSUMER_ROLE)
        show_query(self.out, point_in_time_sql(PLACEHOLDERS, data.labels[:3]), PLACEHOLDERS[contract.WORKGROUP],
                   "--offline: the point-in-time training set (first 3 labels shown)", as_role=contract.CONSUMER_ROLE)

    def run(self) -> PracticeReport | None:
        bits = random.Random(self.seed).getrandbits(24) if self.seed is not None else random.getrandbits(24)
        run_id = f"{bits:06x}"
        data = synthetic_customers(self.customers, seed=self.seed, run_id=run_id, now=self.now)
        if self.dry_run:
            self.print_dry_run(data)
            return None
        outputs = stack_outputs(self.session, contract.CONTRACT.stack_name, REQUIRED_OUTPUTS)
        self.step(contract.STEP_INGEST)
        ingestion = self.role_session(self.session, outputs[contract.INGESTION_ROLE], "feature-ingestion")
        consumer = self.role_session(self.session, outputs[contract.CONSUMER_ROLE], "feature-consumer")

        requests = self.requests(data, outputs)
        started = self.clock()
        ingest = Ingestor(ingestion.client("sagemaker-featurestore-runtime", config=patient()),
                          concurrency=self.concurrency).ingest(requests)
        self.out(f"ingested {ingest.written} of {len(requests)} records into {outputs[contract.PROFILE_GROUP]} and "
                 f"{outputs[contract.ACTIVITY_GROUP]} in {self.clock() - started:.1f} s ({ingest.retried} retries)")
        if ingest.failed:
            raise LabError(f"{len(ingest.failed)} records stayed throttled after every retry; rerun later with "
                           "fewer --customers")

        self.step(contract.STEP_READ)
        sample = [p["customer_id"] for p in data.profiles[: self.reads]]
        latencies, records = read_latencies(consumer.client("sagemaker-featurestore-runtime"),
                                            outputs[contract.PROFILE_GROUP], sample)
        self.out(latency_line(latencies))
        if records:
            self.out(f"e.g. {json.dumps(records[0])}")
        report = PracticeReport(run_id=run_id, ingest=ingest, latencies=latencies)
        if not self.offline:
            self.out("offline store: Feature Store syncs it within about 15 minutes; rerun with --offline to build a "
                     "point-in-time training set from it")
            return report

        self.step(contract.STEP_TRAINING_SET)
        athena = consumer.client("athena")
        self.wait_for_offline(athena, outputs, f"c-{run_id}-", {contract.PROFILE_TABLE: len(data.profiles),
                                                               contract.ACTIVITY_TABLE: len(data.activity)})
        columns, rows = athena_query(athena, point_in_time_sql(outputs, data.labels), outputs[contract.WORKGROUP],
                                     clock=self.clock, sleep=self.sleep)
        report.training_rows, report.leaked_rows = rows, leakage(columns, rows)
        self.out(f"point-in-time training set: {len(rows)} rows ({', '.join(columns)})")
        for row in rows[:3]:
            self.out("  " + ", ".join(row))
        self.out(f"activity snapshots {SNAPSHOT_DAYS_AGO[0]} and {SNAPSHOT_DAYS_AGO[1]} days old, labels "
                 f"{LABEL_DAYS_AGO} days old: rows using features from after their label: {report.leaked_rows}")
        return report

    def wait_for_offline(self, athena: Any, outputs: dict[str, str], run_prefix: str, expected: dict[str, int]) -> None:
        pending = dict(expected)

        def count() -> dict[str, int]:
            for table_output, wanted in list(pending.items()):
                _, rows = athena_query(athena, count_sql(outputs, table_output, run_prefix),
                                       outputs[contract.WORKGROUP],
                                       clock=self.clock, sleep=self.sleep)
                have = int(rows[0][0]) if rows else 0
                self.out(f"  offline {outputs[table_output]}: {have} of {wanted} records")
                if have >= wanted:
                    del pending[table_output]
            return pending

        Poll("the offline store's sync", self.offline_timeout, self.poll_seconds, fix="rerun with --offline later",
             clock=self.clock, sleep=self.sleep).until(count, lambda left: not left)
