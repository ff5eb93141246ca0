"""A CodePipeline Lambda invoke action's job, for handlers that run longer than one invocation.

CodePipeline invokes the function with ``{"CodePipeline.job": {"id", "data": {"actionConfiguration":
{"configuration": {"UserParameters"}}, "continuationToken", ...}}}`` (its Lambda action reference).
The handler must answer with PutJobSuccessResult or PutJobFailureResult, or the action hangs until
it times out. A success with a ``continuationToken`` means "still working": CodePipeline invokes the
function again with that token, so a wait of up to the action's limit spans many short invocations.
``outputVariables`` are accepted only on the final success, without a token (PutJobSuccessResult).

The event also carries temporary ``artifactCredentials``: it is never logged (the same page says so).
No imports outside the standard library; staged beside a handler by ``LabFunction``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

LOGGER = logging.getLogger(__name__)

SUMMARY_LIMIT = 2048  # ExecutionDetails.summary and FailureDetails.message
TOKEN_LIMIT = 2048


@dataclass(frozen=True)
class Job:
    """The parts of a job a handler reads: its id, its UserParameters (JSON), its continuation token (JSON)."""

    id: str
    parameters: dict[str, Any]
    token: dict[str, Any] | None = None
    pipeline_execution_id: str = ""

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Job:
        job = event["CodePipeline.job"]
        data = job.get("data", {})
        configuration = data.get("actionConfiguration", {}).get("configuration", {})
        token = data.get("continuationToken")
        parameters = json.loads(configuration.get("UserParameters") or "{}")
        return cls(id=job["id"], parameters=parameters, token=json.loads(token) if token else None,
                   pipeline_execution_id=str(parameters.get("executionId", "")))


@dataclass
class Outcome:
    """What the handler reports: still working (``token``), done (``variables``), or ``failed``."""

    summary: str
    token: dict[str, Any] | None = None
    variables: dict[str, str] = field(default_factory=dict)
    failed: bool = False
    percent: int | None = None
    external_id: str = ""


def report(codepipeline: Any, job: Job, outcome: Outcome) -> dict[str, Any]:
    """Sends the outcome to CodePipeline; returns what was sent (the handler logs it: no credentials in it)."""
    summary = outcome.summary[:SUMMARY_LIMIT]
    if outcome.failed:
        details: dict[str, Any] = {"type": "JobFailed", "message": summary}
        if outcome.external_id:
            details["externalExecutionId"] = outcome.external_id
        codepipeline.put_job_failure_result(jobId=job.id, failureDetails=details)
        return {"result": "failed", **details}
    execution: dict[str, Any] = {"summary": summary}
    if outcome.external_id:
        execution["externalExecutionId"] = outcome.external_id
    if outcome.percent is not None:
        execution["percentComplete"] = max(0, min(100, outcome.percent))
    request: dict[str, Any] = {"jobId": job.id, "executionDetails": execution}
    if outcome.token is not None:
        token = json.dumps(outcome.token, sort_keys=True)
        if len(token) > TOKEN_LIMIT:
            raise ValueError(f"continuation token of {len(token)} characters, above CodePipeline's {TOKEN_LIMIT}")
        request["continuationToken"] = token
    elif outcome.variables:
        request["outputVariables"] = {key: str(value) for key, value in outcome.variables.items()}
    codepipeline.put_job_success_result(**request)
    return {"result": "in progress" if outcome.token is not None else "succeeded",
            **{k: v for k, v in request.items() if k != "jobId"}}


def answer(codepipeline: Any, event: dict[str, Any], handle: Callable[[Job], Outcome]) -> dict[str, Any]:
    """Runs ``handle`` on the event's job and always reports: any error fails the action now with one
    line, rather than leaving CodePipeline to wait for a crashed function until the action's timeout."""
    try:
        job = Job.from_event(event)
    except ValueError as error:  # UserParameters or the token not JSON: a pipeline variable with a quote in it
        job = Job(id=event["CodePipeline.job"]["id"], parameters={})
        outcome = Outcome(summary=f"the action's UserParameters or continuation token is not JSON: {error}",
                          failed=True)
    else:
        try:
            outcome = handle(job)
        except Exception as error:  # noqa: BLE001 - the action must fail now, not hang until its timeout
            outcome = Outcome(summary=f"{type(error).__name__}: {error}", failed=True)
    sent = report(codepipeline, job, outcome)
    LOGGER.info(json.dumps(sent, default=str))
    return sent
