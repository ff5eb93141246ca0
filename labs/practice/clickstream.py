"""Practice on the clickstream lab.

1. Generate N synthetic click events (users, sessions, pages, event types,
   timestamps), tagged with a run id.
2. Send them to the Kinesis stream with PutRecords in batches (at most 500 records
   and 5 MiB each), retrying only the records that failed: partial failures and
   throttled calls back off exponentially with jitter.
3. Wait until all of them are queryable in Redshift (through Firehose, or through
   the streaming-ingestion view), polling a count through the Redshift Data API.
4. Print counts per event type and the top pages, and the end-to-end latency.

``--dry-run`` prints the PutRecords requests and the SQL without calling AWS.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from botocore.exceptions import ClientError

from labs.aws import stack_outputs
from labs.errors import LabError
from labs.practice.backoff import Backoff

STACK_NAME = "mlref-clickstream"
REQUIRED_OUTPUTS = frozenset({"StreamName", "WorkgroupName", "DatabaseName", "AdminSecretArn", "EventsRelation",
                              "DeliveryMethod"})
MAX_RECORDS_PER_CALL = 500
MAX_BYTES_PER_CALL = 5 * 1024 * 1024
MAX_EVENTS = 100_000
RETRYABLE_CALL_ERRORS = {"ProvisionedThroughputExceededException", "ThrottlingException", "LimitExceededException",
                         "KMSThrottlingException", "InternalFailure", "ServiceUnavailable"}
PAGES = ["/", "/search", "/products", "/products/{id}", "/cart", "/checkout", "/account", "/help"]
EVENT_WEIGHTS = {"page_view": 60, "click": 25, "search": 8, "add_to_cart": 5, "purchase": 2}
DEVICES = ["desktop", "mobile", "tablet"]


def synthetic_events(count: int, *, run_id: str, seed: int | None = None,
                     now: datetime | None = None) -> list[dict[str, str]]:
    """``count`` click events from about count/10 users, each in sessions of a few clicks."""
    rng = random.Random(seed)
    now = now or datetime.now(timezone.utc)
    users = [f"u-{n:05d}" for n in range(max(1, count // 10))]
    events: list[dict[str, str]] = []
    while len(events) < count:
        user, session = rng.choice(users), f"s-{uuid.UUID(int=rng.getrandbits(128)).hex[:12]}"
        moment = now - timedelta(minutes=rng.uniform(0, 30))
        device = rng.choice(DEVICES)
        for _ in range(min(rng.randint(1, 8), count - len(events))):
            page = rng.choice(PAGES).replace("{id}", str(rng.randint(1, 200)))
            event_type = rng.choices(list(EVENT_WEIGHTS), weights=list(EVENT_WEIGHTS.values()))[0]
            events.append({
                "event_id": uuid.UUID(int=rng.getrandbits(128)).hex, "run_id": run_id, "user_id": user,
                "session_id": session, "page": page, "event_type": event_type,
                "event_time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"), "device": device,
            })
            moment += timedelta(seconds=rng.uniform(1, 40))
    return events


def to_records(events: Iterable[dict]) -> list[dict[str, Any]]:
    """PutRecords entries: one JSON event each, partitioned by session (a session stays in order)."""
    return [{"Data": json.dumps(e, separators=(",", ":")).encode(), "PartitionKey": e["session_id"]} for e in events]


def batches(records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Splits records into PutRecords calls within the per-call record and size limits."""
    calls: list[list[dict[str, Any]]] = [[]]
    size = 0
    for entry in records:
        entry_size = len(entry["Data"]) + len(entry["PartitionKey"].encode())
        if len(calls[-1]) == MAX_RECORDS_PER_CALL or size + entry_size > MAX_BYTES_PER_CALL:
            calls.append([])
            size = 0
        calls[-1].append(entry)
        size += entry_size
    return [call for call in calls if call]


@dataclass
class SendReport:
    sent: int = 0
    calls: int = 0
    retried_records: int = 0
    throttled_calls: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)


class Producer:
    """Sends records with PutRecords, retrying only what failed."""

    def __init__(self, kinesis: Any, stream_name: str, backoff: Backoff | None = None) -> None:
        self.kinesis = kinesis
        self.stream_name = stream_name
        self.backoff = backoff or Backoff()

    def send(self, records: list[dict[str, Any]]) -> SendReport:
        report = SendReport()
        for call in batches(records):
            self._send_call(call, report)
        return report

    def _send_call(self, pending: list[dict[str, Any]], report: SendReport) -> None:
        for attempt in range(self.backoff.max_attempts):
            report.calls += 1
            try:
                response = self.kinesis.put_records(StreamName=self.stream_name, Records=pending)
            except ClientError as error:
                if error.response["Error"]["Code"] not in RETRYABLE_CALL_ERRORS:
                    raise
                report.throttled_calls += 1
                self.backoff.wait(attempt)
                continue
            results = response["Records"]
            failed = [entry for entry, result in zip(pending, results) if result.get("ErrorCode")]
            report.sent += len(pending) - len(failed)
            if not failed:
                return
            report.retried_records += len(failed)
            pending = failed
            self.backoff.wait(attempt)
        report.failed.extend(pending)


class DataApi:
    """Runs SQL on the lab's workgroup through the Redshift Data API."""

    def __init__(self, client: Any, outputs: dict[str, str], *, sleep: Callable[[float], None] = time.sleep,
                 timeout_seconds: float = 120) -> None:
        self.client, self.outputs, self.sleep, self.timeout = client, outputs, sleep, timeout_seconds

    def query(self, sql: str, parameters: dict[str, str] | None = None) -> list[list[Any]]:
        request = {"WorkgroupName": self.outputs["WorkgroupName"], "Database": self.outputs["DatabaseName"],
                   "SecretArn": self.outputs["AdminSecretArn"], "Sql": sql}
        if parameters:
            request["Parameters"] = [{"name": k, "value": v} for k, v in parameters.items()]
        statement_id = self.client.execute_statement(**request)["Id"]
        waited = 0.0
        while True:
            described = self.client.describe_statement(Id=statement_id)
            if described["Status"] == "FINISHED":
                break
            if described["Status"] in {"FAILED", "ABORTED"}:
                raise LabError(f"query failed in Redshift: {described.get('Error', described['Status'])}")
            if waited >= self.timeout:
                raise LabError(f"query still {described['Status']} after {self.timeout:.0f} s")
            self.sleep(1)
            waited += 1
        if not described.get("HasResultSet"):
            return []
        result = self.client.get_statement_result(Id=statement_id)
        return [[next(iter(cell.values())) if not cell.get("isNull") else None for cell in row]
                for row in result["Records"]]


def count_sql(relation: str) -> str:
    return f"SELECT COUNT(DISTINCT event_id) FROM {relation} WHERE run_id = :run_id"


def by_type_sql(relation: str) -> str:
    return (f"SELECT event_type, COUNT(*) AS events FROM {relation} WHERE run_id = :run_id "
            "GROUP BY event_type ORDER BY events DESC")


def top_pages_sql(relation: str) -> str:
    return (f"SELECT page, COUNT(*) AS views FROM {relation} WHERE run_id = :run_id AND event_type = 'page_view' "
            "GROUP BY page ORDER BY views DESC, page LIMIT 5")


@dataclass
class PracticeReport:
    run_id: str
    sent: SendReport
    first_visible_seconds: float | None = None
    all_visible_seconds: float | None = None
    by_type: list[list[Any]] = field(default_factory=list)
    top_pages: list[list[Any]] = field(default_factory=list)


class ClickstreamPractice:
    def __init__(self, session: Any, *, events: int = 1000, dry_run: bool = False, out: Callable[[str], None] = print,
                 poll_seconds: float = 15, wait_timeout_seconds: float = 1200,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 backoff: Backoff | None = None, seed: int | None = None) -> None:
        if not 1 <= events <= MAX_EVENTS:
            raise LabError(f"--events {events} is out of range; send 1 to {MAX_EVENTS} events (e.g. --events 1000)")
        self.session, self.count, self.dry_run, self.out = session, events, dry_run, out
        self.poll_seconds, self.wait_timeout = poll_seconds, wait_timeout_seconds
        self.clock, self.sleep, self.backoff, self.seed = clock, sleep, backoff, seed

    def print_dry_run(self, events: list[dict], relation: str = "clickstream.events") -> None:
        for number, call in enumerate(batches(to_records(events)), start=1):
            request = {"StreamName": "<StreamName output of mlref-clickstream>",
                       "Records": [{"PartitionKey": r["PartitionKey"], "Data": r["Data"].decode()} for r in call]}
            self.out(f"# PutRecords request {number}: {len(call)} records")
            self.out(json.dumps(request, indent=1))
        for sql in (count_sql(relation), by_type_sql(relation), top_pages_sql(relation)):
            self.out(f"# Redshift Data API ExecuteStatement (run_id={events[0]['run_id']}): {sql}")

    def run(self) -> PracticeReport | None:
        run_id = f"run-{uuid.uuid4().hex[:8]}" if self.seed is None else f"run-{self.seed}"
        events = synthetic_events(self.count, run_id=run_id, seed=self.seed)
        if self.dry_run:
            self.print_dry_run(events)
            return None
        outputs = stack_outputs(self.session, STACK_NAME, REQUIRED_OUTPUTS)
        producer = Producer(self.session.client("kinesis"), outputs["StreamName"], self.backoff)
        started = self.clock()
        sent = producer.send(to_records(events))
        self.out(f"sent {sent.sent} of {len(events)} events in {sent.calls} PutRecords calls "
                 f"({sent.retried_records} records retried, {sent.throttled_calls} throttled calls)")
        if sent.failed:
            raise LabError(f"{len(sent.failed)} records could not be sent after {producer.backoff.max_attempts} "
                           "attempts: the stream is throttling; retry later or use -c clickstream_stream_mode=on_demand")
        report = PracticeReport(run_id=run_id, sent=sent)
        data_api = DataApi(self.session.client("redshift-data"), outputs, sleep=self.sleep)
        relation, parameters = outputs["EventsRelation"], {"run_id": run_id}
        self.out(f"waiting for {len(events)} events in {relation} ({outputs['DeliveryMethod']} delivery; "
                 "Firehose buffers up to 60 s, then COPYs)")
        while True:
            rows = data_api.query(count_sql(relation), parameters)
            count = int(rows[0][0] or 0) if rows else 0
            elapsed = self.clock() - started
            if count > 0 and report.first_visible_seconds is None:
                report.first_visible_seconds = elapsed
            if count >= len(events):
                report.all_visible_seconds = elapsed
                break
            if elapsed >= self.wait_timeout:
                raise LabError(f"only {count} of {len(events)} events arrived in {elapsed:.0f} s: check the "
                               "delivery stream's errors/ prefix and its log group")
            self.sleep(self.poll_seconds)
        report.by_type = data_api.query(by_type_sql(relation), parameters)
        report.top_pages = data_api.query(top_pages_sql(relation), parameters)
        self.out(f"end-to-end latency: first events queryable after {report.first_visible_seconds:.0f} s, "
                 f"all {len(events)} after {report.all_visible_seconds:.0f} s")
        self.out("events by type: " + ", ".join(f"{t}={n}" for t, n in report.by_type))
        self.out("top pages: " + ", ".join(f"{p} ({n})" for p, n in report.top_pages))
        return report
