"""The mlops practice: its dry run checked against botocore's models, and whole runs against Stubber-checked
clients fed with recorded CodePipeline sequences (tests/practice/mlops_recordings: a green run, a failed
build, a rejected approval, a rollback), then the audit answer read from a trail file."""

from __future__ import annotations

import gzip
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import botocore.session
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY
from botocore.validate import validate_parameters

from catalog import mlops as lab
from labs.engine.errors import LabError
from labs.practice.common.dry_run import printed_requests
from labs.practice.mlops import command as practice
from labs.practice.mlops import plan
from tests.fakes import FakeClock, StubbedSession

RECORDINGS = Path(__file__).with_name("mlops_recordings")
OUTPUTS = {**plan.PLACEHOLDERS, lab.KEY: "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000000"}
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
RUN = "20261201-120000-abcd"
VERSION_ID = "v3sIoN2"
CALLER = "arn:aws:sts::123456789012:assumed-role/Admin/alice"
TIMES = {"startTime", "lastUpdateTime", "CreationTime", "LastModifiedTime", "StartTime"}
SERVICES = ("s3", "codepipeline", "cloudwatch", "logs", "sagemaker", "sagemaker-runtime")


def timestamps(value):
    """The recordings' ISO times as the datetimes botocore parses them into."""
    if isinstance(value, dict):
        return {k: datetime.fromisoformat(v.replace("Z", "+00:00")) if k in TIMES else timestamps(v)
                for k, v in value.items()}
    return [timestamps(v) for v in value] if isinstance(value, list) else value


def recording(name: str) -> dict:
    return timestamps(json.loads((RECORDINGS / f"{name}.json").read_text()))


def body(data: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(data), len(data))


def Session() -> StubbedSession:
    return StubbedSession(SERVICES)


@pytest.fixture
def deployed(monkeypatch):
    monkeypatch.setattr(practice, "deployed_stack", lambda session, name, required: (OUTPUTS, {}))


def runner(**flags):
    clock, lines = FakeClock(), []
    session = Session()
    run = practice.MlopsPractice(session, out=lines.append, clock=clock, sleep=clock.sleep,
                                 now=lambda: T0 + timedelta(seconds=clock.now), poll_seconds=30, run_id=RUN,
                                 days=1, **flags)
    return session, run, lines


def pushed(stubs) -> None:
    stubs["s3"].add_response("list_objects_v2", {"KeyCount": 1}, plan.raw_listing(OUTPUTS))
    stubs["s3"].add_response("put_object", {"VersionId": VERSION_ID}, {**plan.push(OUTPUTS, b""), "Body": ANY})


def run_started(stubs, execution: str, trigger: str = "CloudWatchEvent", revision: str | None = VERSION_ID) -> None:
    summary = {"pipelineExecutionId": execution, "status": "InProgress", "startTime": T0 + timedelta(seconds=5),
               "trigger": {"triggerType": trigger}}
    if revision:
        summary["sourceRevisions"] = [{"actionName": lab.SOURCE_STAGE[1], "revisionId": revision}]
    stubs["codepipeline"].add_response("list_pipeline_executions", {"pipelineExecutionSummaries": [summary]},
                                       plan.executions(OUTPUTS))


def fed(stubs, record: dict, *, decision: str | None = "Approved", rollback: bool = False) -> None:
    """Every poll of a recording, as the practice asks for it."""
    execution, forced = record["execution"], False
    for poll in record["polls"]:
        stubs["codepipeline"].add_response("get_pipeline_execution", {"pipelineExecution": {
            "pipelineExecutionId": execution, "status": poll["status"]}}, plan.execution(OUTPUTS, execution))
        stubs["codepipeline"].add_response("list_action_executions", {"actionExecutionDetails": poll["actions"]},
                                           plan.actions(OUTPUTS, execution))
        if "state" in poll and decision:
            stubs["codepipeline"].add_response("get_pipeline_state", poll["state"], plan.state(OUTPUTS))
            token = poll["state"]["stageStates"][1]["actionStates"][0]["latestExecution"]["token"]
            stubs["codepipeline"].add_response("put_approval_result", {"approvedAt": T0}, plan.approval(
                OUTPUTS, token, approve=decision == "Approved",
                summary=f"{decision.lower()} by labs practice mlops (version 3, AUC 0.8712)"))
        if "endpoint" in poll:
            stubs["sagemaker"].add_response("describe_endpoint", poll["endpoint"], plan.endpoint(OUTPUTS))
            if rollback and not forced and poll["endpoint"].get("PendingDeploymentSummary"):
                forced = True
                stubs["cloudwatch"].add_response("set_alarm_state", {}, plan.alarm(
                    OUTPUTS[lab.ROLLBACK], "labs practice mlops --rollback: forced while mlref-mlops-prod-v3 bakes"))


def trail_file(*records: dict) -> bytes:
    return gzip.compress(json.dumps({"Records": list(records)}).encode())


def approval_record(status: str = "Approved", pipeline: str = lab.CODE_PIPELINE, token: str | None = None) -> dict:
    token = token or recording("green")["polls"][2]["state"]["stageStates"][1]["actionStates"][0]["latestExecution"][
        "token"]
    return {"eventVersion": "1.09", "userIdentity": {"type": "AssumedRole", "arn": CALLER},
            "eventTime": "2026-12-01T12:25:02Z", "eventSource": "codepipeline.amazonaws.com",
            "eventName": "PutApprovalResult", "awsRegion": "us-east-1",
            "requestParameters": {"pipelineName": pipeline, "stageName": "Approve", "actionName": "ApproveModel",
                                  "result": {"summary": "labs practice", "status": status}, "token": token}}


def audited(stubs, record: dict, *records: dict) -> None:
    """The trail's one file of the day, then CodePipeline's rows and the run's variables."""
    prefix = f"AWSLogs/123456789012/CloudTrail/us-east-1/{T0:%Y/%m/%d}/"
    key = f"{prefix}123456789012_CloudTrail_us-east-1_20261201T1230Z_abc.json.gz"
    stubs["s3"].add_response("list_objects_v2", {"Contents": [{"Key": key}], "KeyCount": 1},
                             plan.trail_listing(OUTPUTS, prefix))
    stubs["s3"].add_response("get_object", {"Body": body(trail_file(*records))}, plan.trail_file(OUTPUTS, key))
    final = record["polls"][-1]["actions"]
    stubs["codepipeline"].add_response("list_action_executions", {"actionExecutionDetails": final},
                                       plan.all_actions(OUTPUTS))
    stubs["codepipeline"].add_response("get_pipeline_execution", {"pipelineExecution": {
        "pipelineExecutionId": record["execution"], "status": "Succeeded",
        "variables": [{"name": lab.RUN_REASON_VARIABLE, "resolvedValue": lab.CODE_CHANGE}]}},
        plan.execution(OUTPUTS, record["execution"]))


def predicted(stubs) -> None:
    uri = recording("green")["polls"][2]["actions"][2]["output"]["outputVariables"]["HoldoutUri"]
    stubs["s3"].add_response("get_object", {"Body": body(b"1.0,0.5,-1.2\n0.0,-0.3,0.8\n")}, plan.holdout(uri))
    stubs["sagemaker-runtime"].add_response("invoke_endpoint", {"Body": body(b"0.91\n0.12\n")}, plan.invoke(
        OUTPUTS, [["0.5", "-1.2"], ["-0.3", "0.8"]]))


def drained(stubs) -> None:
    for stub in stubs.values():
        stub.assert_no_pending_responses()


# -- the dry run ------------------------------------------------------------------------------------

def test_every_dry_run_request_is_valid_for_its_service_and_nothing_is_sent(no_credentials):
    lines = []
    requests = practice.MlopsPractice(None, dry_run=True, out=lines.append, run_id=RUN).print_dry_run()
    loader = botocore.session.get_session()
    for service, operation, request, _ in requests:
        validate_parameters(request, loader.get_service_model(service).operation_model(operation).input_shape)
    printed = [op for _, op, _ in printed_requests(lines)]
    assert printed == ["DescribeStacks", "ListStacks", *(op for _, op, _, _ in requests)]
    assert {"PutApprovalResult", "SetAlarmState", "FilterLogEvents", "InvokeEndpoint", "StopPipelineExecution",
            "GetPipelineState", "ListActionExecutions"} <= set(printed)
    assert all("Body" not in params for _, op, params in printed_requests(lines) if op == "PutObject")


@pytest.mark.parametrize("flags,message", [
    ({"days": 0}, "--days 0: use 1 to 90"),
    ({"retrain": True, "break_test": True}, "nothing for --break-test to break"),
    ({"reject": True, "leave_pending": True}, "--reject stops the run at the approval"),
])
def test_conflicting_flags_are_refused_in_one_line(flags, message):
    with pytest.raises(LabError, match=message) as raised:
        practice.MlopsPractice(None, **flags)
    assert "\n" not in str(raised.value)


# -- whole runs ---------------------------------------------------------------------------------------

def test_a_green_run_follows_each_stage_approves_rolls_out_predicts_and_answers_the_audit(deployed):
    record = recording("green")
    session, run, lines = runner()
    with session as stubs:
        pushed(stubs)
        run_started(stubs, record["execution"])
        fed(stubs, record)
        predicted(stubs)
        audited(stubs, record, approval_record(pipeline="someone-elses"), approval_record())
        report = run.run()
        drained(stubs)
    assert (report.status, report.decision, report.version) == ("Succeeded", "Approved", "3")
    assert report.predictions == [0.91, 0.12]
    text = "\n".join(lines)
    for step in ("push", "build-and-test", "train", "approve", "staging", "production", "audit"):
        assert f"step {step}: MLA-C01" in text
    assert any(line.startswith("  BuildAndTest/UnitTestsAndLint") and "Succeeded   3m 20s" in line for line in lines)
    assert any(line.startswith("  Train/RunSageMakerPipeline") and "20m 25s" in line for line in lines)
    assert "approved version 3, AUC 0.8712" in text
    assert "mlref-mlops-prod: Updating: AllTraffic Baking (weight 0.5)" in text
    assert "mlref-mlops-prod: InService on mlref-mlops-prod-v3" in text
    (approval,) = report.audit
    assert approval.line() == (f"model version 3 approved by {CALLER} at 2026-12-01 12:25:02 UTC (run "
                               f"{record['execution']}, started because: code-change), saying 'labs practice'")


def test_a_failed_build_stops_the_run_and_names_the_failing_test(deployed):
    record = recording("failed_build")
    session, run, lines = runner(break_test=True)
    with session as stubs:
        pushed(stubs)
        run_started(stubs, record["execution"])
        fed(stubs, record)
        stubs["logs"].add_response("filter_log_events", {"events": record["log"]}, plan.build_log(
            OUTPUTS, "4c7b1f0e-1111-4a2b-8c3d-4e5f6a7b8c9d"))
        report = run.run()
        drained(stubs)
    assert (report.status, report.stopped_at, report.decision) == ("Failed", "BuildAndTest", None)
    assert report.failing_tests == ["FAIL: test_exact_duplicates_are_dropped "
                                    "(test_preprocess.CleanTest.test_exact_duplicates_are_dropped)"]
    assert "  Train            not run" in lines
    assert any("--break-test: preprocessing keeps duplicate rows" in line for line in lines)


def test_a_rejected_approval_deploys_nothing_and_the_trail_says_who(deployed):
    record = recording("rejected")
    session, run, lines = runner(reject=True)
    with session as stubs:
        pushed(stubs)
        run_started(stubs, record["execution"])
        fed(stubs, record, decision="Rejected")
        audited(stubs, record, approval_record("Rejected"))
        report = run.run()
        drained(stubs)
    assert (report.status, report.stopped_at, report.decision) == ("Failed", "Approve", "Rejected")
    assert any("the approval was rejected" in line for line in lines)
    assert "  Staging          not run" in lines
    assert report.audit[0].status == "Rejected" and report.audit[0].version == "3"


def production_exists(stubs) -> None:
    name = OUTPUTS[lab.PRODUCTION_OUTPUT]
    stubs["sagemaker"].add_response("describe_endpoint", {
        "EndpointName": name, "EndpointArn": f"arn:aws:sagemaker:us-east-1:111122223333:endpoint/{name}",
        "EndpointConfigName": f"{name}-v1", "EndpointStatus": "InService", "CreationTime": T0,
        "LastModifiedTime": T0}, plan.endpoint(OUTPUTS))


def test_a_forced_rollback_is_seen_and_reported(deployed):
    record = recording("rollback")
    session, run, lines = runner(rollback=True)
    with session as stubs:
        production_exists(stubs)
        pushed(stubs)
        run_started(stubs, record["execution"])
        fed(stubs, record, rollback=True)
        audited(stubs, record, approval_record())
        report = run.run()
        drained(stubs)
    assert (report.status, report.stopped_at, report.rolled_back) == ("Failed", "Production", True)
    text = "\n".join(lines)
    assert "set mlref-mlops-prod-errors to ALARM while the new fleet bakes" in text
    assert "mlref-mlops-prod: RollingBack" in text
    assert "still serves mlref-mlops-prod-v2" in text


def test_rollback_before_production_exists_is_one_line_and_pushes_nothing(deployed):
    """The first run creates production without a blue/green update, so --rollback would have nothing to
    roll back and the run would end green without saying so."""
    session, run, lines = runner(rollback=True)
    with session as stubs:
        stubs["sagemaker"].add_client_error("describe_endpoint", "ValidationException",
                                            f"Could not find endpoint \"{OUTPUTS[lab.PRODUCTION_OUTPUT]}\".",
                                            expected_params=plan.endpoint(OUTPUTS))
        with pytest.raises(LabError) as raised:
            run.run()
    assert str(raised.value) == (f"--rollback needs a production endpoint to roll back to, and "
                                 f"{OUTPUTS[lab.PRODUCTION_OUTPUT]} does not exist yet: run `labs practice mlops` "
                                 "once (it creates production), then again with --rollback")
    assert not any(line.startswith("[") for line in lines)  # no step began: nothing pushed


def test_retrain_starts_a_run_through_the_drift_alarm_and_leave_pending_leaves_it_waiting(deployed):
    record = recording("rejected")  # its first poll: the run waits at the approval
    record["polls"] = record["polls"][:1]
    session, run, lines = runner(retrain=True, leave_pending=True)
    reason = "drift: mlref-mlops-drift in ALARM at 2026-12-01T12:00:10Z (labs practice)"
    with session as stubs:
        stubs["cloudwatch"].add_response("set_alarm_state", {}, plan.alarm(
            OUTPUTS[lab.DRIFT_OUTPUT], f"labs practice mlops --retrain: a drift check found drift (run {RUN})"))
        run_started(stubs, record["execution"], trigger="StartPipelineExecution", revision=None)
        stubs["codepipeline"].add_response("get_pipeline_execution", {"pipelineExecution": {
            "pipelineExecutionId": record["execution"], "status": "InProgress",
            "variables": [{"name": lab.RUN_REASON_VARIABLE, "resolvedValue": reason}]}},
            plan.execution(OUTPUTS, record["execution"]))
        fed(stubs, record, decision=None)
        stubs["codepipeline"].add_response("get_pipeline_state", record["polls"][0]["state"], plan.state(OUTPUTS))
        report = run.run()
        drained(stubs)
    assert report.decision is None and report.status == "InProgress"
    text = "\n".join(lines)
    assert f"the retraining function started run {record['execution']}: {reason}" in text
    assert "step retrain: MLA-C01 3.3" in text and "aws codepipeline put-approval-result" in text
    assert "--token 0f9e8d7c-6b5a-4f3e-9d2c-1b0a9f8e7d6c" in text


def test_audit_alone_reads_the_trail(deployed):
    record = recording("green")
    session, run, lines = runner(audit=True)
    with session as stubs:
        audited(stubs, record, approval_record())
        report = run.run()
        drained(stubs)
    assert report.audit[0].who == CALLER and report.audit[0].version == "3"
    assert any(line.startswith("    from s3://mlref-mlops-audittrailbucket-example/AWSLogs/") for line in lines)


def test_ctrl_c_while_following_abandons_the_run(deployed, monkeypatch):
    record = recording("green")
    session, run, lines = runner()

    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(practice.RunFollower, "fetch", interrupted)
    with session as stubs:
        pushed(stubs)
        run_started(stubs, record["execution"])
        stubs["codepipeline"].add_response("stop_pipeline_execution", {"pipelineExecutionId": record["execution"]},
                                           plan.stop(OUTPUTS, record["execution"]))
        with pytest.raises(KeyboardInterrupt):
            run.run()
        drained(stubs)
    assert lines[-1].startswith(f"stopped run {record['execution']} (Ctrl-C)")


def test_a_github_deployment_is_told_to_push_a_commit(monkeypatch):
    outputs = {k: v for k, v in OUTPUTS.items() if k not in (lab.SOURCE_BUCKET, lab.SOURCE_OBJECT)}
    monkeypatch.setattr(practice, "deployed_stack", lambda session, name, required: (outputs, {}))
    session, run, _ = runner()
    with session, pytest.raises(LabError, match="push a commit to its branch"):
        run.run()
