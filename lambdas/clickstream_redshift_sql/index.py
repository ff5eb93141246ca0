"""Custom resource: run a lab's DDL in Redshift Serverless through the Data API.

ResourceProperties: WorkgroupName, Database, SecretArn and Statements (SQL,
run in order, each written to be idempotent: IF NOT EXISTS / OR REPLACE).
Create and Update run every statement again; a statement that fails because
its object already exists counts as done, so a retried or repeated deployment
converges. Delete changes nothing: in sandbox the namespace and its data go
with the stack, in production they are retained on purpose.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import boto3

try:
    from cfn_response import send_response  # copied beside this file in the Lambda asset
except ImportError:  # imported as a package (tests)
    from lambdas.shared.cfn_response import send_response

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)
DONE = {"FINISHED", "FAILED", "ABORTED"}
ALREADY_EXISTS = "already exists"


class StatementFailed(RuntimeError):
    pass


def run_statement(client: Any, sql: str, *, workgroup: str, database: str, secret_arn: str,
                  timeout_s: float = 300, poll_s: float = 2, sleep: Callable[[float], None] = time.sleep) -> str:
    """Runs one statement and waits for it; returns its final status."""
    statement_id = client.execute_statement(
        WorkgroupName=workgroup, Database=database, SecretArn=secret_arn, Sql=sql,
        StatementName="mlref-labs-ddl",
    )["Id"]
    waited = 0.0
    while True:
        described = client.describe_statement(Id=statement_id)
        status = described["Status"]
        if status in DONE:
            break
        if waited >= timeout_s:
            client.cancel_statement(Id=statement_id)
            raise StatementFailed(f"statement {statement_id} still {status} after {timeout_s:.0f} s")
        sleep(poll_s)
        waited += poll_s
    if status == "FINISHED":
        return status
    error = described.get("Error", status)
    if ALREADY_EXISTS in error.lower():
        LOGGER.info("already exists, counted as done: %s", error)
        return "EXISTS"
    raise StatementFailed(f"{status}: {error}")


def apply(client: Any, properties: dict, **options: Any) -> list[str]:
    statuses = []
    for sql in properties["Statements"]:
        status = run_statement(client, sql, workgroup=properties["WorkgroupName"],
                               database=properties["Database"], secret_arn=properties["SecretArn"], **options)
        LOGGER.info("%s: %s", status, sql.split("\n", 1)[0][:120])
        statuses.append(status)
    return statuses


def handler(event: dict, context: Any, client: Any = None, **options: Any) -> None:
    request_type = event.get("RequestType")
    properties = event.get("ResourceProperties", {})
    if request_type == "Delete":
        send_response(event, "SUCCESS", "Delete: schema objects stay with the namespace")
        return
    try:
        statuses = apply(client or boto3.client("redshift-data"), properties, **options)
    except Exception as error:  # noqa: BLE001 - CloudFormation must hear back in every case
        LOGGER.error("%s failed: %s", request_type, error)
        send_response(event, "FAILED", f"{request_type} failed: {error}")
        return
    send_response(event, "SUCCESS", f"{request_type}: {len(statuses)} statement(s) applied",
                  {"Statements": str(len(statuses))})
