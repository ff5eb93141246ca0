"""Custom resource: stop the lab's EMR Serverless application before CloudFormation deletes it.

An application cannot be deleted while it is STARTED (or STARTING/STOPPING), and a
finished job leaves it STARTED until its idle auto-stop fires. The custom resource depends
on the application, so CloudFormation deletes it first; on Delete this handler cancels the
application's unfinished job runs, stops the application and waits until it is STOPPED
(or was never started), within the time the function has left. Create and Update do nothing.

A stop that does not finish in time is reported as FAILED with the application's state,
so ``cdk destroy`` stops there with a reason instead of failing later on the application.
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
UNFINISHED = ["SUBMITTED", "PENDING", "SCHEDULED", "RUNNING", "QUEUED"]
STOPPED = {"CREATED", "STOPPED", "TERMINATED"}
MARGIN_MS = 30_000  # time kept back to answer CloudFormation


def cancel_unfinished_runs(client: Any, application_id: str) -> list[str]:
    cancelled = []
    for page in client.get_paginator("list_job_runs").paginate(applicationId=application_id, states=UNFINISHED):
        for run in page["jobRuns"]:
            client.cancel_job_run(applicationId=application_id, jobRunId=run["id"])
            cancelled.append(run["id"])
    return cancelled


def stop_application(client: Any, application_id: str, time_left_ms: Callable[[], int],
                     sleep: Callable[[float], None] = time.sleep, poll_seconds: float = 10) -> str:
    """Stops the application and waits; returns its final state (STOPPED when it stopped in time)."""
    while True:
        state = client.get_application(applicationId=application_id)["application"]["state"]
        if state in STOPPED:
            return state
        if state in {"STARTED", "STARTING"}:
            try:
                client.stop_application(applicationId=application_id)
            except client.exceptions.ValidationException as error:  # STARTING: not stoppable yet
                LOGGER.info("stop refused for now: %s", error)
        if time_left_ms() < MARGIN_MS:
            return state
        sleep(poll_seconds)


def handler(event: dict, context: Any, client: Any = None, sleep: Callable[[float], None] = time.sleep) -> None:
    request_type = event.get("RequestType")
    application_id = event.get("ResourceProperties", {}).get("ApplicationId", "")
    LOGGER.info("%s for application %s", request_type, application_id)
    if request_type != "Delete":
        send_response(event, "SUCCESS", f"{request_type}: nothing to do")
        return
    client = client or boto3.client("emr-serverless")
    try:
        cancelled = cancel_unfinished_runs(client, application_id)
        state = stop_application(client, application_id, context.get_remaining_time_in_millis, sleep)
    except client.exceptions.ResourceNotFoundException:
        send_response(event, "SUCCESS", f"application {application_id} is gone already")
        return
    except Exception as error:  # CloudFormation must get an answer
        LOGGER.exception("stopping %s failed", application_id)
        send_response(event, "FAILED", f"could not stop EMR Serverless application {application_id}: {error}")
        return
    if state in STOPPED:
        send_response(event, "SUCCESS", f"cancelled {len(cancelled)} job run(s); application {state}")
    else:
        send_response(event, "FAILED", f"application {application_id} is still {state}: wait for it to stop "
                                       f"(aws emr-serverless get-application --application-id {application_id}), "
                                       "then delete the stack again")
