"""Starts a retraining run of the mlops CodePipeline, saying why.

EventBridge invokes it when the drift alarm goes into ALARM ("CloudWatch Alarm State Change") or on the
retraining schedule ("Scheduled Event"). A pipeline that EventBridge starts directly runs with the
default of every pipeline variable, so the reason could not reach the run; this function starts it
with ``RunReason`` set (``drift: <alarm> ...`` or ``schedule: <rule> ...``), which the Train action
passes on to the SageMaker execution and the model registry. The event's id is the idempotency
token: a redelivered event starts nothing new.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import boto3

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)

ALARM_EVENT, SCHEDULE_EVENT = "CloudWatch Alarm State Change", "Scheduled Event"
VALUE_LIMIT = 1000  # a pipeline variable's value


def reason_of(event: dict[str, Any]) -> str | None:
    """Why this event asks for a run, or None when it does not (an alarm leaving ALARM)."""
    kind, detail, when = event.get("detail-type"), event.get("detail") or {}, event.get("time", "")
    if kind == ALARM_EVENT:
        state = detail.get("state", {})
        if state.get("value") != "ALARM":
            return None
        return f"drift: {detail.get('alarmName', '?')} in ALARM at {when} ({state.get('reason', 'no reason')})"
    if kind == SCHEDULE_EVENT:
        rule = (event.get("resources") or ["?"])[0].rsplit("/", 1)[-1]
        return f"schedule: {rule} at {when}"
    return None


def handler(event: dict, context: Any, codepipeline: Any = None) -> dict[str, Any]:
    reason = reason_of(event)
    if reason is None:
        result = {"started": False, "why": f"not a retraining event: {event.get('detail-type')}"}
    else:
        client = codepipeline or boto3.client("codepipeline")
        response = client.start_pipeline_execution(
            name=os.environ["CODE_PIPELINE"], clientRequestToken=event["id"],
            variables=[{"name": os.environ["RUN_REASON_VARIABLE"], "value": reason[:VALUE_LIMIT]}])
        result = {"started": True, "pipelineExecutionId": response["pipelineExecutionId"], "reason": reason}
    LOGGER.info(json.dumps(result))
    return result
