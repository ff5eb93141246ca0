"""Practice on the mlops lab.

1. push: upload raw training data once, then the model-build code as the pipeline's S3 source (a new
   object version starts a run); ``--break-test`` pushes a change its unit tests catch. ``--retrain``
   pushes nothing and sets the drift alarm to ALARM instead: EventBridge and the retraining function
   start a run whose ``RunReason`` says why.
2. follow the run: every action once when it starts and once when it ends, with its time; a broken
   build prints the failing tests from the build's log.
3. approve (or ``--reject``) from the command line when the Approve stage waits, with the version and
   its AUC; ``--leave-pending`` prints the command a reviewer runs instead.
4. staging and production: the integration test, then production's blue/green rollout phase by phase;
   ``--rollback`` forces the rollback alarm while production bakes, and SageMaker rolls traffic back.
5. a few predictions from production, then the audit answer: who approved which version, when, read
   from the trail's log files (``--audit`` prints only that, for the last ``--days``).

Ctrl-C while following stops (abandons) the run. ``--dry-run`` prints every request without AWS.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from catalog import mlops as lab
from labs.engine.deployed import deployed_stack
from labs.engine.errors import LabError
from labs.practice.common.polling import Poll, WaitTimedOut
from labs.practice.common.steps import step_line
from labs.practice.ml_pipeline.data import raw_customers
from labs.practice.mlops import plan, source
from labs.practice.mlops.audit import (
    Approval,
    approvals_in,
    day_prefixes,
    matching_row,
    trail_records,
    versions_by_execution,
)
from labs.practice.mlops.follow import RunFollower, Snapshot, stages_report
from lambdas.shared.lab_names import deployed_name
from lambdas.shared.rollout import rollout_of

REQUIRED_OUTPUTS = (lab.CODE_PIPELINE_OUTPUT, lab.DATA_BUCKET, lab.ARTIFACTS_BUCKET, lab.TRAIL_BUCKET,
                    lab.PRODUCTION_OUTPUT, lab.ROLLBACK, lab.BUILD_LOG_GROUP, lab.KEY)
RETRIES = Config(retries={"mode": "standard", "max_attempts": 5})
FIND_SECONDS, RUN_SECONDS, AUDIT_SECONDS = 10 * 60, 180 * 60, 15 * 60
STEP_OF_STAGE = {lab.BUILD_STAGE[0]: "build-and-test", lab.TRAIN_STAGE[0]: "train", lab.APPROVE_STAGE[0]: "approve",
                 lab.STAGING_STAGE[0]: "staging", lab.PRODUCTION_STAGE[0]: "production"}
RAW_ROWS = 5000


@dataclass
class MlopsReport:
    run_id: str
    execution_id: str | None = None
    status: str | None = None
    stopped_at: str | None = None  # the stage a failed run stopped at
    decision: str | None = None  # Approved / Rejected, when this run answered the approval
    version: str | None = None
    rolled_back: bool = False
    failing_tests: list[str] = field(default_factory=list)
    predictions: list[float] = field(default_factory=list)
    audit: list[Approval] = field(default_factory=list)


class MlopsPractice:
    def __init__(self, session: Any, *, dry_run: bool = False, out: Callable[[str], None] = print,
                 break_test: bool = False, reject: bool = False, leave_pending: bool = False, rollback: bool = False,
                 retrain: bool = False, audit: bool = False, days: int = 7,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC), poll_seconds: float = 30,
                 run_id: str | None = None, seed: int = 7) -> None:
        if not 1 <= days <= 90:
            raise LabError(f"--days {days}: use 1 to 90 (the trail's files are read day by day)")
        if retrain and break_test:
            raise LabError("--retrain pushes no code, so there is nothing for --break-test to break: use one of them")
        if reject and (leave_pending or rollback):
            raise LabError("--reject stops the run at the approval: drop --leave-pending and --rollback")
        self.session, self.dry_run, self.out = session, dry_run, out
        self.break_test, self.reject, self.rollback = break_test, reject, rollback
        self.approve = not leave_pending
        self.retrain, self.audit_only, self.days = retrain, audit, days
        self.clock, self.sleep, self.now, self.poll_seconds, self.seed = clock, sleep, now, poll_seconds, seed
        self.run_id = run_id or f"{now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:4]}"

    # -- the dry run -------------------------------------------------------------------------

    @staticmethod
    def dry_run_outputs(_region: str) -> dict[str, str]:
        return dict(plan.PLACEHOLDERS)

    def print_dry_run(self) -> list[tuple[str, str, dict[str, Any], str]]:
        from labs.practice.mlops.dry_run import print_dry_run

        return print_dry_run(self.out, run_id=self.run_id, now=self.now(), days=self.days)

    # -- a run ---------------------------------------------------------------------------------

    def poll(self, what: str, seconds: float, fix: str = "", interval: float | None = None) -> Poll:
        return Poll(what, seconds, interval or self.poll_seconds, fix, clock=self.clock, sleep=self.sleep)

    def run(self) -> MlopsReport | None:
        if self.dry_run:
            self.print_dry_run()
            return None
        outputs, _ = deployed_stack(self.session, lab.STACK_NAME, REQUIRED_OUTPUTS)
        self.clients = {name: self.session.client(name, config=RETRIES)
                        for name in ("s3", "codepipeline", "cloudwatch", "logs", "sagemaker", "sagemaker-runtime")}
        report = MlopsReport(run_id=self.run_id)
        if self.audit_only:
            self.out(step_line(lab.CONTRACT, "audit"))
            report.audit = self.show_audit(outputs, wait=False)
            return report
        if self.rollback:
            self.require_production(outputs)
        report.execution_id = self.start_by_drift(outputs) if self.retrain else self.push(outputs)
        snapshot = self.follow(outputs, report)
        report.status = snapshot.status
        self.out(f"run {report.execution_id} {snapshot.status}:")
        for line in stages_report(snapshot):
            self.out(line)
        self.explain(outputs, snapshot, report)
        if report.decision:
            self.out(step_line(lab.CONTRACT, "audit"))
            report.audit = self.show_audit(outputs, wait=True, execution_id=report.execution_id)
        return report

    def require_production(self, outputs: dict[str, str]) -> None:
        """--rollback rolls back a blue/green update of production; a lab's first run creates production
        without one (lambdas/mlops_deploy), so there would be nothing to roll back."""
        try:
            self.clients["sagemaker"].describe_endpoint(**plan.endpoint(outputs))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ValidationException":
                raise
            raise LabError(f"--rollback needs a production endpoint to roll back to, and "
                           f"{outputs[lab.PRODUCTION_OUTPUT]} does not exist yet: run `labs practice mlops` once "
                           "(it creates production), then again with --rollback") from None

    def push(self, outputs: dict[str, str]) -> str:
        self.out(step_line(lab.CONTRACT, "push"))
        if lab.SOURCE_BUCKET not in outputs:
            raise LabError("this deployment's source is GitHub (-c mlops_source=github): push a commit to its branch, "
                           "or run with --retrain or --audit")
        s3 = self.clients["s3"]
        if not s3.list_objects_v2(**plan.raw_listing(outputs)).get("KeyCount"):
            data = raw_customers(RAW_ROWS, seed=self.seed, run_id=self.run_id)
            s3.put_object(**plan.raw_upload(outputs, self.run_id, data.csv_bytes()))
            self.out(f"uploaded {RAW_ROWS} raw training rows under s3://{outputs[lab.DATA_BUCKET]}/raw/{self.run_id}/")
        change = ("--break-test: preprocessing keeps duplicate rows" if self.break_test
                  else f"practice run {self.run_id}")
        body = source.zipped(source.source_files(break_test=self.break_test, note=change))
        pushed_at = self.now()
        version = s3.put_object(**plan.push(outputs, body))["VersionId"]
        self.out(f"pushed s3://{outputs[lab.SOURCE_BUCKET]}/{outputs[lab.SOURCE_OBJECT]} version {version} "
                 f"({len(body)} bytes: {change})")

        def fetch() -> dict | None:
            summaries = self.clients["codepipeline"].list_pipeline_executions(**plan.executions(outputs))
            for summary in summaries["pipelineExecutionSummaries"]:
                revisions = {r.get("revisionId") for r in summary.get("sourceRevisions", [])}
                by_event = summary.get("trigger", {}).get("triggerType") == "CloudWatchEvent" and \
                    summary["startTime"] >= pushed_at - timedelta(seconds=5)
                if version in revisions or (by_event and not revisions):
                    return summary
            return None

        found = self.poll(f"the run of version {version}", FIND_SECONDS,
                          "check the rule OnSourceChange in EventBridge; aws codepipeline start-pipeline-execution "
                          f"--name {outputs[lab.CODE_PIPELINE_OUTPUT]} starts one by hand").until(fetch, bool)
        self.out(f"EventBridge started run {found['pipelineExecutionId']}")
        return found["pipelineExecutionId"]

    def start_by_drift(self, outputs: dict[str, str]) -> str:
        self.out(step_line(lab.CONTRACT, "retrain"))
        if lab.DRIFT_OUTPUT not in outputs:
            raise LabError("this deployment has no drift alarm (-c mlops_retrain=schedule or off): deploy with "
                           "-c mlops_retrain=drift to practise --retrain")
        codepipeline, since = self.clients["codepipeline"], self.now()
        self.clients["cloudwatch"].set_alarm_state(**plan.alarm(
            outputs[lab.DRIFT_OUTPUT], f"labs practice mlops --retrain: a drift check found drift (run {self.run_id})"))
        self.out(f"set {outputs[lab.DRIFT_OUTPUT]} to ALARM (as a drift check publishing {lab.DRIFT_NAMESPACE} "
                 f"{lab.DRIFT_METRIC} above its threshold would)")

        def fetch() -> dict | None:
            summaries = codepipeline.list_pipeline_executions(**plan.executions(outputs))
            for summary in summaries["pipelineExecutionSummaries"]:
                if summary["startTime"] >= since - timedelta(seconds=5) and \
                        summary.get("trigger", {}).get("triggerType") == "StartPipelineExecution":
                    return summary
            return None

        found = self.poll("the retraining run", FIND_SECONDS, "see the retraining function's log group").until(
            fetch, bool)
        execution_id = found["pipelineExecutionId"]
        variables = codepipeline.get_pipeline_execution(**plan.execution(outputs, execution_id))[
            "pipelineExecution"].get("variables", [])
        reason = next((v["resolvedValue"] for v in variables if v["name"] == lab.RUN_REASON_VARIABLE), "?")
        self.out(f"the retraining function started run {execution_id}: {reason}")
        return execution_id

    # -- following ------------------------------------------------------------------------------

    def follow(self, outputs: dict[str, str], report: MlopsReport) -> Snapshot:
        codepipeline = self.clients["codepipeline"]
        announced: set[str] = set()
        follower = RunFollower(codepipeline, outputs[lab.CODE_PIPELINE_OUTPUT], report.execution_id, self.out,
                               announce=lambda stage: self.announce(stage, announced))
        progress = {"phase": "", "forced": False}

        def fetch() -> Snapshot:
            snapshot = follower.fetch()
            approve = snapshot.stage(lab.APPROVE_STAGE)
            if approve is not None and approve.status == "InProgress" and report.decision is None:
                if not self.approve:
                    return snapshot
                self.answer(outputs, follower, snapshot, report)
            production = snapshot.stage(lab.PRODUCTION_STAGE)
            if production is not None and production.status == "InProgress":
                self.watch_rollout(outputs, snapshot, progress)
            return snapshot

        def done(snapshot: Snapshot) -> bool:
            waiting = snapshot.stage(lab.APPROVE_STAGE)
            return snapshot.finished or (not self.approve and waiting is not None and waiting.status == "InProgress")

        try:
            snapshot = self.poll(f"run {report.execution_id}", RUN_SECONDS,
                                 "follow it in the CodePipeline console").until(fetch, done)
        except KeyboardInterrupt:
            codepipeline.stop_pipeline_execution(**plan.stop(outputs, report.execution_id))
            self.out(f"stopped run {report.execution_id} (Ctrl-C): its running build or SageMaker job ends within "
                     "minutes; an endpoint being updated finishes its update")
            raise
        if not snapshot.finished:
            stage, action = lab.APPROVE_STAGE
            self.out(f"left waiting for approval (--leave-pending, up to {lab.APPROVAL_TIMEOUT_MINUTES} minutes). A "
                     f"reviewer approves with: aws codepipeline put-approval-result --pipeline-name "
                     f"{outputs[lab.CODE_PIPELINE_OUTPUT]} --stage-name {stage} --action-name {action} --result "
                     f"summary=looks-good,status=Approved --token {follower.approval_token() or '<GetPipelineState>'}")
        return snapshot

    def announce(self, stage: str, announced: set[str]) -> None:
        step = STEP_OF_STAGE.get(stage)
        if step and step not in announced:
            announced.add(step)
            self.out(step_line(lab.CONTRACT, step))

    def answer(self, outputs: dict[str, str], follower: RunFollower, snapshot: Snapshot, report: MlopsReport) -> None:
        token = follower.approval_token()
        if token is None:
            return  # the stage shows another run's approval: look again next poll
        trained = snapshot.stage(lab.TRAIN_STAGE)
        variables = trained.variables if trained else {}
        report.version = variables.get("ModelPackageVersion")
        measured = f"version {report.version}, AUC {variables.get('Auc', '?')}"
        summary = (f"rejected by labs practice mlops ({measured})" if self.reject
                   else f"approved by labs practice mlops ({measured})")
        self.clients["codepipeline"].put_approval_result(**plan.approval(outputs, token, approve=not self.reject,
                                                                         summary=summary))
        report.decision = "Rejected" if self.reject else "Approved"
        self.decided_at = self.now()
        self.out(f"{report.decision.lower()} {measured}")

    def watch_rollout(self, outputs: dict[str, str], snapshot: Snapshot, progress: dict) -> None:
        version = (snapshot.stage(lab.TRAIN_STAGE).variables or {}).get("ModelPackageVersion", "0")
        target = deployed_name(outputs[lab.PRODUCTION_OUTPUT], int(version))
        answer = self.clients["sagemaker"].describe_endpoint(**plan.endpoint(outputs))
        phase = rollout_of(answer, original="", target=target).phase
        if phase != progress["phase"]:
            progress["phase"] = phase
            self.out(f"    {outputs[lab.PRODUCTION_OUTPUT]}: {phase}")
        if self.rollback and not progress["forced"] and "Baking" in phase:
            progress["forced"] = True
            self.clients["cloudwatch"].set_alarm_state(**plan.alarm(
                outputs[lab.ROLLBACK], f"labs practice mlops --rollback: forced while {target} bakes"))
            self.out(f"    set {outputs[lab.ROLLBACK]} to ALARM while the new fleet bakes: SageMaker rolls back")

    # -- after the run --------------------------------------------------------------------------

    def explain(self, outputs: dict[str, str], snapshot: Snapshot, report: MlopsReport) -> None:
        failed = next((run for stage, _ in lab.STAGES if (run := snapshot.actions.get(stage)) and
                       run.status == "Failed"), None)
        if snapshot.status == "Succeeded":
            report.predictions = self.predict(outputs, snapshot)
        if failed is None:
            return
        report.stopped_at = failed.stage
        if failed.stage == lab.BUILD_STAGE[0]:
            report.failing_tests = self.failing_tests(outputs, failed)
        elif failed.stage == lab.PRODUCTION_STAGE[0] and "rolled back" in failed.error:
            report.rolled_back = True
            self.out(f"production rolled back: {failed.error}")
        elif failed.stage == lab.APPROVE_STAGE[0]:
            self.out(f"the approval was rejected: {failed.summary or failed.error}; nothing was deployed")

    def failing_tests(self, outputs: dict[str, str], failed: Any) -> list[str]:
        stream = failed.log_stream.rsplit(":log-stream:", 1)[-1] if failed.log_stream \
            else failed.external_id.rsplit(":", 1)[-1]
        events = self.clients["logs"].filter_log_events(**plan.build_log(outputs, stream)).get("events", [])
        lines = [e["message"].strip() for e in events if e["message"].startswith(("FAIL:", "ERROR:"))]
        self.out(f"the unit tests failed, so nothing was trained: {'; '.join(lines) or failed.error}")
        return lines

    def predict(self, outputs: dict[str, str], snapshot: Snapshot) -> list[float]:
        uri = snapshot.stage(lab.TRAIN_STAGE).variables.get("HoldoutUri", "")
        body = self.clients["s3"].get_object(**plan.holdout(uri))["Body"].read().decode()
        rows = [line.split(",")[1:] for line in body.splitlines()[:plan.PREDICTION_ROWS]]
        answer = self.clients["sagemaker-runtime"].invoke_endpoint(**plan.invoke(outputs, rows))
        scores = [float(v) for v in answer["Body"].read().decode().replace("\n", ",").split(",") if v.strip()]
        self.out(f"production {outputs[lab.PRODUCTION_OUTPUT]} predicts churn probabilities "
                 f"{', '.join(f'{s:.3f}' for s in scores)} for {len(rows)} test rows")
        return scores

    def trail_approvals(self, outputs: dict[str, str]) -> list[Approval]:
        s3, (account, region) = self.clients["s3"], plan.account_and_region(outputs)
        found: list[Approval] = []
        for prefix in day_prefixes(account, region, self.now(), self.days):
            for page in s3.get_paginator("list_objects_v2").paginate(**plan.trail_listing(outputs, prefix)):
                for item in page.get("Contents", []):
                    body = s3.get_object(**plan.trail_file(outputs, item["Key"]))["Body"].read()
                    location = f"s3://{outputs[lab.TRAIL_BUCKET]}/{item['Key']}"
                    found += approvals_in(trail_records(body), outputs[lab.CODE_PIPELINE_OUTPUT], location)
        return sorted(found, key=lambda a: a.when)

    def explained(self, outputs: dict[str, str], approvals: list[Approval]) -> list[Approval]:
        codepipeline = self.clients["codepipeline"]
        rows = [row for page in codepipeline.get_paginator("list_action_executions").paginate(
            **plan.all_actions(outputs)) for row in page["actionExecutionDetails"]]
        approvals_rows = [row for row in rows if row["stageName"] == lab.APPROVE_STAGE[0]]
        versions, result = versions_by_execution(rows), []
        for approval in approvals:
            row = matching_row(approval, approvals_rows)
            if row is None:
                result.append(approval)
                continue
            execution_id = row["pipelineExecutionId"]
            variables = codepipeline.get_pipeline_execution(**plan.execution(outputs, execution_id))[
                "pipelineExecution"].get("variables", [])
            reason = next((v["resolvedValue"] for v in variables if v["name"] == lab.RUN_REASON_VARIABLE), "")
            result.append(Approval(**{**approval.__dict__, "execution_id": execution_id,
                                      "version": versions.get(execution_id, ""), "reason": reason}))
        return result

    def show_audit(self, outputs: dict[str, str], *, wait: bool, execution_id: str | None = None) -> list[Approval]:
        def fetch() -> list[Approval]:
            return self.trail_approvals(outputs)

        def ours(found: list[Approval]) -> bool:
            decided = getattr(self, "decided_at", self.now())
            return any(a.when >= decided - timedelta(minutes=2) for a in found)

        try:
            approvals = self.poll("the approval in the trail", AUDIT_SECONDS, interval=60).until(fetch, ours) \
                if wait else fetch()
        except WaitTimedOut:
            self.out(f"the trail has not delivered this decision yet (CloudTrail delivers a file within minutes): run "
                     f"`labs practice mlops --audit` later; CodePipeline holds it meanwhile (run {execution_id})")
            return []
        explained = self.explained(outputs, approvals) if approvals else []
        self.out(f"approvals in the trail {outputs.get(lab.TRAIL_OUTPUT, lab.TRAIL)} over the last {self.days} "
                 f"day(s): {len(explained) or 'none'}")
        for approval in explained:
            self.out(f"  {approval.line()}")
            self.out(f"    from {approval.trail_file}")
        return explained
