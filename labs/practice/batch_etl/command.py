"""Practice on the batch-etl lab.

1. ``upload batch``: generate ``--rows`` messy customer records, ``--defect-rate`` of them with
   one known defect each, and upload them to the raw zone under
   ``incoming/customers/dt=<today>/``, tagged for the lab. The upload itself starts the workflow
   (S3 -> EventBridge -> Step Functions); if no execution for the file shows up in time, the
   step starts one.
2. ``follow workflow``: follow the execution live: every state as it ends, with its duration;
   polling loops (crawlers, data-quality run, waiting for an earlier execution) summed up per phase.
3. ``check results``: print, per defect kind, how many were injected and how many the workflow
   handled, what it standardized, the data-quality rules' results and the split sizes; then
   query this batch in the curated table through Athena.

Each step is announced with the MLA-C01 task statements it exercises (``step_line``).

``--dry-run`` prints every request (PutObject, ListExecutions, DescribeExecution, the
fallback StartExecution, GetExecutionHistory, the Athena queries) and sends none.
"""

from __future__ import annotations

import json
import random
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from catalog import batch_etl as contract
from catalog.batch_etl import POLL_CALLS, is_polling, phase_of
from labs.engine.deployed import deployed_stack
from labs.engine.errors import LabError
from labs.practice.batch_etl.data import DEFECTS, MAX_DEFECT_RATE, MAX_ROWS, MIN_ROWS, Batch, generate, reported
from labs.practice.common.athena import athena_query
from labs.practice.common.polling import Poll, WaitTimedOut
from labs.practice.common.steps import step_line
from lambdas.shared.lab_names import LAB_TAG, OWNER_TAG, PROFILE_TAG

REQUIRED_OUTPUTS = (contract.STATE_MACHINE, contract.RAW_BUCKET, contract.UPLOAD_PREFIX_OUTPUT,
                    contract.CURATED_DATABASE,
                    contract.CURATED_TABLE_OUTPUT, contract.WORKGROUP, contract.ENGINE)
PLACEHOLDERS = {
    contract.STATE_MACHINE: "arn:aws:states:us-east-1:111122223333:stateMachine:mlref-batch-etl-workflow",
    contract.RAW_BUCKET: "raw-bucket-name-from-the-stack-outputs",
    contract.UPLOAD_PREFIX_OUTPUT: contract.UPLOAD_PREFIX,
    contract.CURATED_DATABASE: f"{contract.DATABASE_PREFIX}_curated",
    contract.CURATED_TABLE_OUTPUT: contract.CURATED_TABLE,
    contract.WORKGROUP: "mlref-batch-etl-Queries", contract.ENGINE: "glue",
}
TAG_KEYS = (LAB_TAG, PROFILE_TAG, OWNER_TAG)
TRIGGER_SLACK = timedelta(seconds=60)  # executions started this long before the upload may still be ours


@dataclass(frozen=True)
class Request:
    """One call the practice makes: service, boto3 operation name, parameters, and why."""

    service: str
    operation: str
    params: dict[str, Any]
    why: str


def upload_request(outputs: dict[str, str], key: str, body: bytes, tags: dict[str, str]) -> Request:
    tagging = urllib.parse.urlencode({k: tags[k] for k in TAG_KEYS if k in tags})
    return Request("s3", "put_object", {"Bucket": outputs[contract.RAW_BUCKET], "Key": key, "Body": body,
                                        "ContentType": "text/csv", "Tagging": tagging},
                   "upload the batch; its arrival starts the workflow")


def list_request(outputs: dict[str, str]) -> Request:
    return Request("stepfunctions", "list_executions", {"stateMachineArn": outputs[contract.STATE_MACHINE],
                                                        "maxResults": 20}, "find the execution the upload started")


def describe_request(execution_arn: str) -> Request:
    return Request("stepfunctions", "describe_execution", {"executionArn": execution_arn},
                   "its input (which file started it), status and output")


def start_request(outputs: dict[str, str], run_id: str, key: str) -> Request:
    body = {"trigger": "practice", "detail": {"object": {"key": key}}}
    return Request("stepfunctions", "start_execution", {"stateMachineArn": outputs[contract.STATE_MACHINE],
                                                        "name": f"practice-{run_id}", "input": json.dumps(body)},
                   "only if no execution for the file showed up (EventBridge notifications off?)")


def describe_stack_requests() -> list[Request]:
    name = contract.CONTRACT.stack_name
    return [Request("cloudformation", "describe_stacks", {"StackName": name}, "the stack's outputs"),
            Request("cloudformation", "list_stacks", {},
                    f"only without {name}: a classroom's copy of it in this account and region")]


def stop_request(execution_arn: str) -> Request:
    return Request("stepfunctions", "stop_execution", {
        "executionArn": execution_arn, "error": "PracticeInterrupted", "cause": "stopped by labs practice (Ctrl-C)"},
        "only on Ctrl-C")


def history_request(execution_arn: str, token: str | None = None) -> Request:
    params: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    if token:
        params["nextToken"] = token
    return Request("stepfunctions", "get_execution_history", params, "follow the states as they run")


def split_sql(outputs: dict[str, str], batch_id: str) -> str:
    return (f'SELECT split, count(*) AS customers, round(avg(churned), 3) AS churn_rate, '
            f'round(avg(monthly_data_gb), 2) AS avg_monthly_gb '
            f'FROM "{outputs[contract.CURATED_DATABASE]}"."{outputs[contract.CURATED_TABLE_OUTPUT]}" '
            f"WHERE batch = '{batch_id}' GROUP BY split ORDER BY split")


def sample_sql(outputs: dict[str, str], batch_id: str) -> str:
    return (f"SELECT customer_id, signup_date, country, plan, monthly_data_gb, age, churned, split "
            f'FROM "{outputs[contract.CURATED_DATABASE]}"."{outputs[contract.CURATED_TABLE_OUTPUT]}" '
            f"WHERE batch = '{batch_id}' ORDER BY customer_id LIMIT 5")


def query_requests(outputs: dict[str, str], batch_id: str) -> list[Request]:
    return [Request("athena", "start_query_execution", {"QueryString": sql, "WorkGroup": outputs[contract.WORKGROUP]},
                    "query this batch in the curated table") for sql in (split_sql(outputs, batch_id),
                                                                         sample_sql(outputs, batch_id))]


def started_by(execution: dict[str, Any], key: str) -> bool:
    try:
        return json.loads(execution.get("input") or "{}").get("detail", {}).get("object", {}).get("key") == key
    except (ValueError, AttributeError):
        return False


@dataclass
class Follower:
    """Prints each state of an execution as it ends; loop states are summed up per phase."""

    out: Callable[[str], None]
    seen: int = 0
    entered: dict[str, datetime] = field(default_factory=dict)
    phase: str = ""
    phase_started: datetime | None = None
    polls: int = 0

    def feed(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            if event["id"] <= self.seen:
                continue
            self.seen = event["id"]
            if details := event.get("stateEnteredEventDetails"):
                self._enter(details["name"], event["timestamp"])
            elif details := event.get("stateExitedEventDetails"):
                self._exit(details["name"], event["timestamp"])
            elif event["type"] in {"ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"}:
                self._close_phase(event["timestamp"])
                self.out(f"  {event['type'].removeprefix('Execution').lower()}")

    def _enter(self, name: str, at: datetime) -> None:
        self.entered[name] = at
        phase = phase_of(name)
        if phase != self.phase:
            self._close_phase(at)
            self.phase, self.phase_started, self.polls = phase, at, 0
            self.out(f"> {phase}")

    def _exit(self, name: str, at: datetime) -> None:
        took = (at - self.entered.get(name, at)).total_seconds()
        if is_polling(name):
            self.polls += name in POLL_CALLS
        else:
            self.out(f"  {name:<28} {took:7.1f} s")

    def _close_phase(self, at: datetime) -> None:
        if self.phase and self.phase_started is not None:
            polled = f", {self.polls} polls" if self.polls else ""
            self.out(f"  = {self.phase}: {(at - self.phase_started).total_seconds():.0f} s{polled}")
        self.phase = ""


@dataclass
class PracticeReport:
    batch: Batch
    key: str
    execution_arn: str
    output: dict[str, Any]
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


class BatchEtlPractice:
    def __init__(self, session: Any, *, rows: int = contract.PRACTICE_ROWS,
                 defect_rate: float = contract.PRACTICE_DEFECT_RATE, dry_run: bool = False,
                 out: Callable[[str], None] = print, seed: int | None = None, now: datetime | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 poll_seconds: float = 10, trigger_timeout_seconds: float = 90, run_timeout_seconds: float = 45 * 60,
                 outputs: dict[str, str] | None = None, tags: dict[str, str] | None = None) -> None:
        if not MIN_ROWS <= rows <= MAX_ROWS:
            raise LabError(f"--rows {rows} is out of range; use {MIN_ROWS} to {MAX_ROWS} (e.g. --rows 500)")
        if not 0 <= defect_rate <= MAX_DEFECT_RATE:
            raise LabError(f"--defect-rate {defect_rate} is out of range; use 0 to {MAX_DEFECT_RATE} "
                           "(e.g. --defect-rate 0.1)")
        self.session, self.rows, self.defect_rate, self.dry_run, self.out = session, rows, defect_rate, dry_run, out
        self.seed, self.now, self.clock, self.sleep = seed, now, clock, sleep
        self.poll_seconds, self.trigger_timeout = poll_seconds, trigger_timeout_seconds
        self.run_timeout = run_timeout_seconds
        self.outputs, self.tags = outputs, tags

    def plan(self) -> tuple[str, str, Batch, str]:
        rng = random.Random(self.seed)
        run_id = f"{rng.getrandbits(24):06x}"
        now = (self.now or datetime.now(UTC)).replace(microsecond=0)
        batch = generate(self.rows, self.defect_rate, seed=self.seed, run_id=run_id, now=now)
        prefix = (self.outputs or PLACEHOLDERS)[contract.UPLOAD_PREFIX_OUTPUT]
        return run_id, f"{prefix}dt={now.date().isoformat()}/{run_id}.csv", batch, now.isoformat()

    def dry_run_requests(self) -> list[Request]:
        return [request for _step, requests in self.dry_run_steps() for request in requests]

    def dry_run_steps(self) -> list[tuple[str, list[Request]]]:
        """(step, its requests) in the order a run sends them; the stack's outputs come before the first."""
        run_id, key, batch, _ = self.plan()
        execution = PLACEHOLDERS[contract.STATE_MACHINE].replace(":stateMachine:", ":execution:") + ":<execution name>"
        tags = {LAB_TAG: contract.CONTRACT.name, PROFILE_TAG: "sandbox", OWNER_TAG: "<owner tag of the stack>"}
        query = {"QueryExecutionId": "<QueryExecutionId>"}
        return [("", describe_stack_requests()),
                (contract.STEP_UPLOAD, [upload_request(PLACEHOLDERS, key, batch.csv_bytes(), tags),
                                        list_request(PLACEHOLDERS), describe_request(execution),
                                        start_request(PLACEHOLDERS, run_id, key)]),
                (contract.STEP_FOLLOW, [history_request(execution), stop_request(execution)]),
                (contract.STEP_RESULTS, [
                    *query_requests(PLACEHOLDERS, "<execution name>"),
                    Request("athena", "get_query_execution", query, "until each query has finished"),
                    Request("athena", "get_query_results", query, "its rows"),
                    Request("athena", "stop_query_execution", query, "only if a query overruns")])]

    @staticmethod
    def dry_run_outputs(_region: str) -> dict[str, str]:
        """The stack outputs as the dry run writes them (``labs permissions`` puts the template's in)."""
        return dict(PLACEHOLDERS)

    def print_dry_run(self) -> None:
        for step, requests in self.dry_run_steps():
            if step:
                self.step(step)
            for request in requests:
                params = {k: (f"<{len(v)} bytes of CSV>" if isinstance(v, bytes) else v)
                          for k, v in request.params.items()}
                self.out(f"# {request.service} {request.operation}: {request.why}")
                self.out(json.dumps(params, indent=1))

    def step(self, name: str) -> None:
        self.out(step_line(contract.CONTRACT, name))

    def call(self, request: Request) -> dict[str, Any]:
        return getattr(self.session.client(request.service), request.operation)(**request.params)

    def run(self) -> PracticeReport | None:
        if self.dry_run:
            self.print_dry_run()
            return None
        if self.outputs is None:
            self.outputs, self.tags = deployed_stack(self.session, contract.CONTRACT.stack_name, REQUIRED_OUTPUTS)
        run_id, key, batch, generated = self.plan()
        self.step(contract.STEP_UPLOAD)
        self.call(upload_request(self.outputs, key, batch.csv_bytes(), self.tags or {}))
        self.out(f"uploaded {self.rows} rows ({sum(batch.defects.values())} with a defect) to "
                 f"s3://{self.outputs[contract.RAW_BUCKET]}/{key}")
        execution_arn = self.find_execution(run_id, key, datetime.fromisoformat(generated))
        self.step(contract.STEP_FOLLOW)
        described = self.follow(execution_arn)
        if described["status"] != "SUCCEEDED":
            raise LabError(f"the workflow {described['status'].lower()}: {described.get('error', '')}: "
                           f"{(described.get('cause') or '')[:400]} (execution {execution_arn})")
        report = PracticeReport(batch=batch, key=key, execution_arn=execution_arn,
                                output=json.loads(described["output"]))
        self.step(contract.STEP_RESULTS)
        self.print_results(report)
        if report.output.get("status") == "curated":
            self.query(report)
        return report

    def find_execution(self, run_id: str, key: str, uploaded: datetime) -> str:
        def triggered() -> str | None:
            for execution in self.call(list_request(self.outputs))["executions"]:
                if execution["startDate"] >= uploaded - TRIGGER_SLACK and \
                        started_by(self.call(describe_request(execution["executionArn"])), key):
                    return execution["executionArn"]
            return None

        try:
            arn = Poll("an execution started by the upload", self.trigger_timeout, min(self.poll_seconds, 5),
                       clock=self.clock, sleep=self.sleep).until(triggered, lambda _arn: True)
            self.out(f"the arrival started execution {arn.rsplit(':', 1)[-1]}")
            return arn
        except WaitTimedOut:
            arn = self.call(start_request(self.outputs, run_id, key))["executionArn"]
            self.out(f"no execution appeared for the upload in {self.trigger_timeout:.0f} s (are the raw bucket's "
                     f"EventBridge notifications on?); started {arn.rsplit(':', 1)[-1]}")
            return arn

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        events, token = [], None
        while True:
            page = self.call(history_request(execution_arn, token))
            events += page["events"]
            token = page.get("nextToken")
            if not token:
                return events

    def follow(self, execution_arn: str) -> dict[str, Any]:
        follower = Follower(self.out)

        def finished() -> dict[str, Any] | None:
            described = self.call(describe_request(execution_arn))
            follower.feed(self.history(execution_arn))
            return None if described["status"] == "RUNNING" else described

        try:
            return Poll("the workflow", self.run_timeout, self.poll_seconds, clock=self.clock, sleep=self.sleep,
                        fix=f"it is still running; watch it in the Step Functions console ({execution_arn})").until(
                finished, lambda _described: True)
        except KeyboardInterrupt:
            self.session.client("stepfunctions").stop_execution(**stop_request(execution_arn).params)
            self.out("stopped the execution (its running job is stopped with it)")
            raise

    def print_results(self, report: PracticeReport) -> None:
        counts = report.output.get("counts", {})
        self.out(f"batch {report.output.get('batch_id')}: {counts.get('input_rows', 0)} rows in, "
                 f"{counts.get('curated_rows', 0)} curated, {counts.get('rejected_rows', 0)} rejected to "
                 f"{contract.REJECTED_PREFIX}, {counts.get('duplicates_removed', 0)} duplicates removed")
        self.out(f"  {'defect':<26} {'injected':>8} {'handled':>8}  how")
        for kind, where in DEFECTS.items():
            self.out(f"  {kind:<26} {report.batch.defects[kind]:>8} {reported(counts, kind):>8}  {' '.join(where)}")
        standardized = ", ".join(f"{column} {n}" for column, n in counts.get("standardized", {}).items())
        self.out(f"  standardized: {standardized}")
        if report.output.get("status") != "curated":
            self.out(f"nothing curated: {report.output.get('status')}")
            return
        quality = report.output.get("data_quality", {})
        self.out(f"data quality: score {quality.get('score')}")
        for rule in quality.get("rules", []):
            self.out(f"  {rule.get('Result', '?'):<5} {rule.get('Description', rule.get('Name', ''))}")
        total = max(1, counts.get("curated_rows", 0))
        self.out("split: " + ", ".join(f"{name} {n} ({n / total:.0%})" for name, n in counts.get("splits", {}).items()))

    def query(self, report: PracticeReport) -> None:
        athena = self.session.client("athena")
        batch_id = report.output["batch_id"]
        for request in query_requests(self.outputs, batch_id):
            columns, rows = athena_query(athena, request.params["QueryString"], request.params["WorkGroup"],
                                         clock=self.clock, sleep=self.sleep)
            report.columns, report.rows = columns, rows
            self.out("  " + " | ".join(columns))
            for row in rows:
                self.out("  " + " | ".join(row))
