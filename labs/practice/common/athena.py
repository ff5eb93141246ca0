"""Running one Athena query in a lab's workgroup and reading its (small) result."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from labs.engine.errors import LabError
from labs.practice.common.dry_run import show_request
from labs.practice.common.polling import Poll, PollTimeout


def athena_query(athena: Any, sql: str, workgroup: str, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, timeout_seconds: float = 300,
                 poll_seconds: float = 2.0) -> tuple[list[str], list[list[str]]]:
    """Runs ``sql`` and returns (columns, rows); stops the query when it overruns ``timeout_seconds``."""
    execution_id = athena.start_query_execution(QueryString=sql, WorkGroup=workgroup)["QueryExecutionId"]

    def state() -> str:
        status = athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]["Status"]
        if status["State"] in {"FAILED", "CANCELLED"}:
            raise LabError(f"query {execution_id} {status['State']}: {status.get('StateChangeReason', '')}")
        return status["State"]

    wait = Poll(f"query {execution_id}", timeout_seconds, poll_seconds, clock=clock, sleep=sleep,
                fix="it was stopped; rerun later")
    try:
        wait.until(state, lambda current: current == "SUCCEEDED")
    except PollTimeout:
        athena.stop_query_execution(QueryExecutionId=execution_id)
        raise
    columns: list[str] = []
    rows: list[list[str]] = []
    request = {"QueryExecutionId": execution_id}
    while True:
        page = athena.get_query_results(**request)
        result = page["ResultSet"]
        if not columns:
            columns = [c["Name"] for c in result.get("ResultSetMetadata", {}).get("ColumnInfo", [])]
            page_rows = [[d.get("VarCharValue", "") for d in r["Data"]] for r in result.get("Rows", [])]
            if page_rows and page_rows[0] == columns:
                page_rows = page_rows[1:]  # Athena repeats the header as the first row of a SELECT
        else:
            page_rows = [[d.get("VarCharValue", "") for d in r["Data"]] for r in result.get("Rows", [])]
        rows += page_rows
        if not page.get("NextToken"):
            return columns, rows
        request["NextToken"] = page["NextToken"]


def show_query(out: Callable[[str], None], sql: str, workgroup: str, title: str, *, as_role: str = "",
               refused: bool = False) -> None:
    """The requests ``athena_query`` sends for one query, as a dry run prints them (``refused``: the query
    is sent to show that it fails)."""
    execution = {"QueryExecutionId": "<QueryExecutionId>"}
    show_request(out, "athena", "StartQueryExecution", {"QueryString": sql, "WorkGroup": workgroup}, title,
                 as_role=as_role, refused=refused)
    show_request(out, "athena", "GetQueryExecution", execution, "until it has finished", as_role=as_role)
    show_request(out, "athena", "GetQueryResults", execution, "its rows, page by page", as_role=as_role)
    show_request(out, "athena", "StopQueryExecution", execution, "only if it overruns", as_role=as_role)
