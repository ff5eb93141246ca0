"""Following one CodePipeline execution: each action once when it starts and once when it ends, with its
time, read from ``ListActionExecutions`` (filtered to the execution, so an older run's state never shows)
and the execution's status from ``GetPipelineExecution``. The approval's token comes from
``GetPipelineState``, checked to be this execution's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from catalog import mlops as lab

FINISHED = {"Succeeded", "Failed", "Stopped", "Cancelled", "Superseded"}


@dataclass(frozen=True)
class ActionRun:
    """One action's latest execution in the followed run."""

    stage: str
    action: str
    status: str
    started: datetime | None = None
    updated: datetime | None = None
    summary: str = ""
    error: str = ""
    external_id: str = ""
    updated_by: str = ""
    log_stream: str = ""
    variables: dict[str, str] = field(default_factory=dict)

    @property
    def seconds(self) -> int | None:
        if self.started is None or self.updated is None:
            return None
        return int((self.updated - self.started).total_seconds())

    @classmethod
    def of(cls, row: dict[str, Any]) -> ActionRun:
        output = row.get("output", {})
        result = output.get("executionResult", {})
        return cls(stage=row["stageName"], action=row["actionName"], status=row["status"],
                   started=row.get("startTime"), updated=row.get("lastUpdateTime"),
                   summary=result.get("externalExecutionSummary", ""),
                   error=result.get("errorDetails", {}).get("message", ""),
                   external_id=result.get("externalExecutionId", ""), updated_by=row.get("updatedBy", ""),
                   log_stream=result.get("logStreamARN", ""), variables=output.get("outputVariables", {}))


@dataclass
class Snapshot:
    """What one poll saw: the execution's status and each stage's action run."""

    status: str
    actions: dict[str, ActionRun]
    summary: str = ""

    def stage(self, stage_action: tuple[str, str]) -> ActionRun | None:
        return self.actions.get(stage_action[0])

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


def duration(seconds: int | None) -> str:
    return "" if seconds is None else f"{seconds // 60}m {seconds % 60:02d}s"


def action_line(run: ActionRun) -> str:
    name = f"{run.stage}/{run.action}"
    detail = run.error or run.summary
    return f"  {name:<38} {run.status:<11} {duration(run.seconds) if run.status != 'InProgress' else ''}".rstrip() \
        + (f"  {detail}" if detail and run.status != "InProgress" else "")


class RunFollower:
    """Reads one execution; ``fetch`` prints every action whose status changed since the last poll."""

    def __init__(self, codepipeline: Any, pipeline: str, execution_id: str, out: Callable[[str], None],
                 announce: Callable[[str], None] | None = None) -> None:
        self.codepipeline, self.pipeline, self.execution_id, self.out = codepipeline, pipeline, execution_id, out
        self.announce = announce or (lambda _stage: None)
        self.seen: dict[str, str] = {}

    def actions(self) -> dict[str, ActionRun]:
        pages = self.codepipeline.get_paginator("list_action_executions").paginate(
            pipelineName=self.pipeline, filter={"pipelineExecutionId": self.execution_id})
        found: dict[str, ActionRun] = {}
        for row in (row for page in pages for row in page["actionExecutionDetails"]):
            run = ActionRun.of(row)
            latest = found.get(run.stage)
            if latest is None or (run.started and latest.started and run.started > latest.started):
                found[run.stage] = run  # a retried stage: its newest attempt
        return found

    def fetch(self) -> Snapshot:
        execution = self.codepipeline.get_pipeline_execution(
            pipelineName=self.pipeline, pipelineExecutionId=self.execution_id)["pipelineExecution"]
        actions = self.actions()
        for stage, _ in lab.STAGES:
            run = actions.get(stage)
            if run is not None and self.seen.get(stage) != run.status:
                if stage not in self.seen:
                    self.announce(stage)
                self.seen[stage] = run.status
                self.out(action_line(run))
        return Snapshot(status=execution["status"], actions=actions, summary=execution.get("statusSummary", ""))

    def approval_token(self) -> str | None:
        """The open approval's token, when the Approve stage is waiting in this execution."""
        state = self.codepipeline.get_pipeline_state(name=self.pipeline)
        for stage in state.get("stageStates", []):
            if stage["stageName"] != lab.APPROVE_STAGE[0]:
                continue
            if stage.get("latestExecution", {}).get("pipelineExecutionId") != self.execution_id:
                return None
            for action in stage.get("actionStates", []):
                latest = action.get("latestExecution", {})
                if action["actionName"] == lab.APPROVE_STAGE[1] and latest.get("status") == "InProgress":
                    return latest.get("token")
        return None


def stages_report(snapshot: Snapshot) -> list[str]:
    """One line per stage, in order: its status and time, and where the run stopped."""
    lines = []
    for stage, _ in lab.STAGES:
        run = snapshot.actions.get(stage)
        lines.append(f"  {stage:<16} {run.status if run else 'not run':<11} {duration(run.seconds) if run else ''}"
                     .rstrip())
    return lines
