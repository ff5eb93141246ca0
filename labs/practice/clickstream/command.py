"""Practice on the clickstream lab.

1. ``send events``: generate N synthetic click events (users, sessions, pages, event types,
   timestamps), tagged with a run id, and send them to the Kinesis stream with PutRecords in
   batches (at most 500 records and 5 MiB each). A throttled or failed call is retried whole by
   botocore's standard retry mode; records a successful call reports as failed are sent again,
   alone, after an exponential backoff with jitter.
2. ``query in redshift``: wait until all of them are queryable in Redshift (through Firehose, or
   through the streaming-ingestion view), polling a count through the Redshift Data API; print
   counts per event type and the top pages, and the end-to-end latency.

Each step is announced with the MLA-C01 task statements it exercises (``step_line``).

``--dry-run`` prints the PutRecords requests and the SQL statements without calling AWS.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from catalog import clickstream as contract
from catalog.clickstream import EVENTS_RELATION, MAX_EVENTS, PRACTICE_EVENTS
from labs.engine.deployed import stack_outputs
from labs.engine.errors import LabError
from labs.engine.session import patient
from labs.practice.clickstream.backoff import Backoff
from labs.practice.common.dry_run import show_request, show_stack_outputs
from labs.practice.common.polling import Poll
from labs.practice.common.steps import step_line

REQUIRED_OUTPUTS = (contract.STREAM_NAME, contract.WORKGROUP, contract.DATABASE, contract.ADMIN_SECRET,
                    contract.EVENTS, contract.DELIVERY_METHOD)
MAX_RECORDS_PER_CALL = 500
MAX_BYTES_PER_CALL = 5 * 1024 * 1024
# Whole-call failures botocore's standard mode has already retried when they reach the Producer.
GAVE_UP = {"ProvisionedThroughputExceededException", "ThrottlingException", "LimitExceededException",
           "KMSThrottlingException", "InternalFailure", "ServiceUnavailable"}
PAGES = ["/", "/search", "/products", "/products/{id}", "/cart", "/checkout", "/account", "/help"]
EVENT_WEIGHTS = {"page_view": 60, "click": 25, "search": 8, "add_to_cart": 5, "purchase": 2}
DEVICES = ["desktop", "mobile", "tablet"]


def synthetic_events(count: int, *, run_id: str, seed: int | None = None,
                     now: datetime | None = None) -> list[dict[str, str]]:
    """``count`` click events from about count/10 users, each in sessions of a few clicks."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
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
    """Sends records with PutRecords: the client retries whole calls (botocore's standard mode);
    records a call reports as failed are sent again with ``backoff``."""

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
        from botocore.exceptions import ClientError

        for attempt in range(self.backoff.max_attempts):
            report.calls += 1
            try:
                response = self.kinesis.put_records(StreamName=self.stream_name, Records=pending)
            except ClientError as error:
                if error.response["Error"]["Code"] not in GAVE_UP:
                    raise
                report.throttled_calls += 1 + error.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
                break
            report.throttled_calls += response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
            failed = [entry for entry, result in zip(pending, response["Records"], strict=False)
                      if result.get("ErrorCode")]
            report.sent += len(pending) - len(failed)
            if not failed:
                return
            report.retried_records += len(failed)
            pending = failed
            if attempt + 1 < self.backoff.max_attempts:
                self.backoff.wait(attempt)
        report.failed.extend(pending)


class DataApi:
    """Runs SQL on the lab's workgroup through the Redshift Data API."""

    def __init__(self, client: Any, outputs: dict[str, str], *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, timeout_seconds: float = 120) -> None:
        self.client, self.outputs, self.sleep, self.clock, self.timeout = client, outputs, sleep, clock, timeout_seconds

    def request(self, sql: str, parameters: dict[str, str] | None = None) -> dict[str, Any]:
        request = {"WorkgroupName": self.outputs[contract.WORKGROUP], "Database": self.outputs[contract.DATABASE],
                   "SecretArn": self.outputs[contract.ADMIN_SECRET], "Sql": sql}
        if parameters:
            request["Parameters"] = [{"name": k, "value": v} for k, v in parameters.items()]
        return request

    def query(self, sql: str, parameters: dict[str, str] | None = None) -> list[list[Any]]:
        statement_id = self.client.execute_statement(**self.request(sql, parameters))["Id"]

        def described() -> dict[str, Any]:
            statement = self.client.describe_statement(Id=statement_id)
            if statement["Status"] in {"FAILED", "ABORTED"}:
                raise LabError(f"query failed in Redshift: {statement.get('Error', statement['Status'])}")
            return statement

        statement = Poll(f"Redshift statement {statement_id}", self.timeout, 1, clock=self.clock, sleep=self.sleep,
                         fix="the workgroup may be resuming; retry").until(
            described, lambda current: current["Status"] == "FINISHED")
        if not statement.get("HasResultSet"):
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
    def __init__(self, session: Any, *, events: int = PRACTICE_EVENTS, dry_run: bool = False,
                 out: Callable[[str], None] = print, poll_seconds: float = 15, wait_timeout_seconds: float = 1200,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 backoff: Backoff | None = None, seed: int | None = None) -> None:
        if not 1 <= events <= MAX_EVENTS:
            raise LabError(f"--events {events} is out of range; send 1 to {MAX_EVENTS} events (e.g. --events 1000)")
        self.session, self.count, self.dry_run, self.out = session, events, dry_run, out
        self.poll_seconds, self.wait_timeout = poll_seconds, wait_timeout_seconds
        self.clock, self.sleep, self.backoff, self.seed = clock, sleep, backoff, seed

    def print_dry_run(self, events: list[dict]) -> None:
        show_stack_outputs(self.out, contract.CONTRACT.stack_name)
        self.out(step_line(contract.CONTRACT, contract.STEP_SEND))
        calls = batches(to_records(events))
        for number, call in enumerate(calls, start=1):
            request = {"StreamName": f"<{contract.STREAM_NAME}>",
                       "Records": [{"PartitionKey": r["PartitionKey"], "Data": r["Data"].decode()} for r in call]}
            show_request(self.out, "kinesis", "PutRecords", request,
                         f"call {number} of {len(calls)}: {len(call)} records")
        self.out(step_line(contract.CONTRACT, contract.STEP_QUERY))
        data_api = DataApi(None, self.dry_run_outputs(""))
        for sql in (count_sql(EVENTS_RELATION), by_type_sql(EVENTS_RELATION), top_pages_sql(EVENTS_RELATION)):
            show_request(self.out, "redshift-data", "ExecuteStatement",
                         data_api.request(sql, {"run_id": events[0]["run_id"]}))
        statement = {"Id": "<statement id>"}
        show_request(self.out, "redshift-data", "DescribeStatement", statement, "until each statement has finished")
        show_request(self.out, "redshift-data", "GetStatementResult", statement, "its rows")

    @staticmethod
    def dry_run_outputs(_region: str) -> dict[str, str]:
        """The stack outputs as the dry run writes them (``labs permissions`` puts the template's in)."""
        return {output: f"<{output}>" for output in REQUIRED_OUTPUTS}

    def run(self) -> PracticeReport | None:
        run_id = f"run-{uuid.uuid4().hex[:8]}" if self.seed is None else f"run-{self.seed}"
        events = synthetic_events(self.count, run_id=run_id, seed=self.seed)
        if self.dry_run:
            self.print_dry_run(events)
            return None
        outputs = stack_outputs(self.session, contract.CONTRACT.stack_name, REQUIRED_OUTPUTS)
        self.out(step_line(contract.CONTRACT, contract.STEP_SEND))
        producer = Producer(self.session.client("kinesis", config=patient()), outputs[contract.STREAM_NAME],
                            self.backoff)
        started = self.clock()
        sent = producer.send(to_records(events))
        self.out(f"sent {sent.sent} of {len(events)} events in {sent.calls} PutRecords calls "
                 f"({sent.retried_records} records retried, {sent.throttled_calls} throttled calls)")
        if sent.failed:
            raise LabError(f"{len(sent.failed)} records could not be sent after every retry: the stream is "
                           "throttling; retry later or use -c clickstream_stream_mode=on_demand")
        report = PracticeReport(run_id=run_id, sent=sent)
        self.out(step_line(contract.CONTRACT, contract.STEP_QUERY))
        data_api = DataApi(self.session.client("redshift-data"), outputs, sleep=self.sleep, clock=self.clock)
        relation, parameters = outputs[contract.EVENTS], {"run_id": run_id}
        self.out(f"waiting for {len(events)} events in {relation} ({outputs[contract.DELIVERY_METHOD]} delivery; "
                 "Firehose buffers up to 60 s, then COPYs)")

        def arrived() -> int:
            rows = data_api.query(count_sql(relation), parameters)
            count = int(rows[0][0] or 0) if rows else 0
            if count > 0 and report.first_visible_seconds is None:
                report.first_visible_seconds = self.clock() - started
            return count

        Poll(f"the arrival of {len(events)} events in {relation}", self.wait_timeout, self.poll_seconds,
             fix="check the delivery stream's errors/ prefix and its log group", clock=self.clock,
             sleep=self.sleep).until(arrived, lambda count: count >= len(events))
        report.all_visible_seconds = self.clock() - started
        report.by_type = data_api.query(by_type_sql(relation), parameters)
        report.top_pages = data_api.query(top_pages_sql(relation), parameters)
        self.out(f"end-to-end latency: first events queryable after {report.first_visible_seconds:.0f} s, "
                 f"all {len(events)} after {report.all_visible_seconds:.0f} s")
        self.out("events by type: " + ", ".join(f"{t}={n}" for t, n in report.by_type))
        self.out("top pages: " + ", ".join(f"{p} ({n})" for p, n in report.top_pages))
        return report
