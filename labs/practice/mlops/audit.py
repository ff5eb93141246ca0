"""Who approved which model version, when: read from the lab's CloudTrail trail, the log files it
delivered to its bucket (``AWSLogs/<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/*.json.gz``), not
from Event history. Each ``PutApprovalResult`` record of the lab's pipeline names the principal, the
time, the decision and the approval token; CodePipeline's ``ListActionExecutions`` ties the token to
the execution (its ApproveModel row) and so to the version the Train action registered. When the token
is not there (a pipeline in QUEUED mode may not expose it), the same principal within two minutes of
the record identifies the row.

The trail's copy is validated (``aws cloudtrail validate-logs``) and kept as long as the bucket keeps it;
CloudTrail delivers a file within minutes of the call.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from catalog import mlops as lab

MATCH_SECONDS = 120
EVENT = ("codepipeline.amazonaws.com", "PutApprovalResult")


@dataclass(frozen=True)
class Approval:
    """One decision at the lab's ApproveModel action, as the trail recorded it."""

    who: str
    when: datetime
    status: str
    summary: str
    token: str
    trail_file: str = ""
    execution_id: str = ""
    version: str = ""
    reason: str = ""

    def line(self) -> str:
        version = f"model version {self.version}" if self.version else "an unknown model version"
        run = f" (run {self.execution_id}" + (f", started because: {self.reason}" if self.reason else "") + ")" \
            if self.execution_id else ""
        said = f", saying {self.summary!r}" if self.summary else ""
        return f"{version} {self.status.lower()} by {self.who} at {self.when:%Y-%m-%d %H:%M:%S} UTC{run}{said}"


def day_prefixes(account: str, region: str, now: datetime, days: int) -> list[str]:
    """The trail's folders of the last ``days`` days, newest first."""
    return [f"AWSLogs/{account}/CloudTrail/{region}/{(now - timedelta(days=back)):%Y/%m/%d}/"
            for back in range(days)]


def approvals_in(records: Iterable[dict[str, Any]], pipeline: str, trail_file: str = "") -> Iterator[Approval]:
    for record in records:
        if (record.get("eventSource"), record.get("eventName")) != EVENT or record.get("errorCode"):
            continue
        request = record.get("requestParameters") or {}
        if request.get("pipelineName") != pipeline or request.get("actionName") != lab.APPROVE_STAGE[1]:
            continue
        result = request.get("result") or {}
        yield Approval(who=record.get("userIdentity", {}).get("arn", "an unknown principal"),
                       when=datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00")),
                       status=result.get("status", "?"), summary=result.get("summary", ""),
                       token=request.get("token", ""), trail_file=trail_file)


def trail_records(body: bytes) -> list[dict[str, Any]]:
    """The records of one delivered log file (gzip-compressed JSON)."""
    return json.loads(gzip.decompress(body)).get("Records", [])


def matching_row(approval: Approval, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The ApproveModel action execution this decision closed: by its token, else by who and when."""
    for row in rows:
        if approval.token and row.get("output", {}).get("executionResult", {}).get("externalExecutionId") == \
                approval.token:
            return row
    for row in rows:
        updated = row.get("lastUpdateTime")
        if row.get("updatedBy") == approval.who and updated is not None and \
                abs((updated.astimezone(UTC) - approval.when).total_seconds()) <= MATCH_SECONDS:
            return row
    return None


def versions_by_execution(rows: list[dict[str, Any]]) -> dict[str, str]:
    """ModelPackageVersion the Train action emitted, by pipeline execution id."""
    return {row["pipelineExecutionId"]: row.get("output", {}).get("outputVariables", {}).get("ModelPackageVersion", "")
            for row in rows if row.get("stageName") == lab.TRAIN_STAGE[0] and row.get("status") == "Succeeded"}
