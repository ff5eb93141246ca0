"""The batch-etl practice step: every request checked against botocore's models with Stubber,
a whole run against stubbed clients (upload, the execution the upload started, following it,
the report, Athena), the fallback start, a failed workflow, and the flags' bounds."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber

from catalog import batch_etl as contract
from labs.engine.errors import LabError
from labs.practice.batch_etl import command as practice
from labs.practice.batch_etl.data import DEFECTS, reported
from labs.practice.common.steps import announced_steps

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:mlref-batch-etl-workflow"
OURS = MACHINE.replace(":stateMachine:", ":execution:") + ":4d1c9e"
OUTPUTS = {**practice.PLACEHOLDERS, contract.STATE_MACHINE: MACHINE, contract.RAW_BUCKET: "mlref-batch-etl-raw"}
TAGS = {"lab": "batch-etl", "profile": "sandbox", "owner": "ana", "expires-at": "2026-11-21T16:00:00Z"}


class Session:
    """Real botocore clients whose requests Stubber checks against the service models."""

    def __init__(self):
        base = boto3.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        self.clients = {name: base.client(name) for name in ("s3", "stepfunctions", "athena", "cloudformation")}
        self.stubs = {name: Stubber(client) for name, client in self.clients.items()}
        for stub in self.stubs.values():
            stub.activate()

    def client(self, name):
        return self.clients[name]


def described(status, *, input_key=None, output=None, **extra):
    body = {"executionArn": OURS, "stateMachineArn": MACHINE, "status": status, "startDate": NOW, **extra}
    if input_key:
        body["input"] = json.dumps({"detail-type": "Object Created", "detail": {"object": {"key": input_key}}})
    if output is not None:
        body["output"] = json.dumps(output)
    return body


def history(*states, end=None):
    """Events for states entered and exited at the given seconds after NOW."""
    events, ids = [], itertools.count(1)
    for name, start, stop in states:
        kind = "Task" if name[0].isupper() else "Pass"
        events.append({"id": next(ids), "type": f"{kind}StateEntered", "timestamp": NOW + timedelta(seconds=start),
                       "stateEnteredEventDetails": {"name": name}})
        events.append({"id": next(ids), "type": f"{kind}StateExited", "timestamp": NOW + timedelta(seconds=stop),
                       "stateExitedEventDetails": {"name": name}})
    if end:
        events.append({"id": next(ids), "type": end, "timestamp": NOW + timedelta(seconds=states[-1][2])})
    return {"events": events}


def make(session, **kwargs):
    clock = itertools.count(0, 5)
    return practice.BatchEtlPractice(session, rows=200, defect_rate=0.2, seed=4, now=NOW, out=kwargs.pop("out"),
                                     clock=lambda: next(clock), sleep=lambda _: None, outputs=dict(OUTPUTS),
                                     tags=TAGS, **kwargs)


def test_every_dry_run_request_is_valid_for_its_service_and_nothing_is_sent(capsys):
    session = Session()
    minimal = {"describe_stacks": {"Stacks": []}, "list_stacks": {"StackSummaries": []}, "put_object": {},
               "list_executions": {"executions": []},
               "describe_execution": described("RUNNING"), "start_execution": {"executionArn": OURS, "startDate": NOW},
               "get_execution_history": {"events": []}, "stop_execution": {"stopDate": NOW},
               "start_query_execution": {"QueryExecutionId": "q-1"}, "get_query_execution": {},
               "get_query_results": {}, "stop_query_execution": {}}
    requests = practice.BatchEtlPractice(None, rows=40, seed=1).dry_run_requests()
    assert [r.operation for r in requests] == [
        "describe_stacks", "list_stacks", "put_object", "list_executions", "describe_execution", "start_execution",
        "get_execution_history", "stop_execution", "start_query_execution", "start_query_execution",
        "get_query_execution", "get_query_results", "stop_query_execution"]
    for request in requests:
        session.stubs[request.service].add_response(request.operation, minimal[request.operation], request.params)
        session.call = getattr(session.clients[request.service], request.operation)(**request.params)
    for stub in session.stubs.values():
        stub.assert_no_pending_responses()
    practice.BatchEtlPractice(None, rows=40, seed=1, dry_run=True).run()  # no session: nothing could be sent
    printed = capsys.readouterr().out
    assert printed.count("# ") == len(requests) and "bytes of CSV" in printed


def expect_upload(session, run):
    _, key, batch, _ = run.plan()
    session.stubs["s3"].add_response("put_object", {}, {
        "Bucket": "mlref-batch-etl-raw", "Key": key, "Body": batch.csv_bytes(), "ContentType": "text/csv",
        "Tagging": "lab=batch-etl&profile=sandbox&owner=ana"})
    return key, batch


def expect_query(session, columns, rows):
    athena = session.stubs["athena"]
    athena.add_response("start_query_execution", {"QueryExecutionId": "q"})
    athena.add_response("get_query_execution", {"QueryExecution": {"Status": {"State": "SUCCEEDED"}}})
    header = {"Data": [{"VarCharValue": c} for c in columns]}
    athena.add_response("get_query_results", {"ResultSet": {
        "ResultSetMetadata": {"ColumnInfo": [{"Name": c, "Type": "varchar"} for c in columns]},
        "Rows": [header, *({"Data": [{"VarCharValue": v} for v in row]} for row in rows)]}})


def test_a_run_uploads_follows_the_execution_the_upload_started_and_reports_every_defect():
    session, lines = Session(), []
    run = make(session, out=lines.append)
    key, batch = expect_upload(session, run)
    counts = {"input_rows": 200, "curated_rows": 160, "rejected_rows": 22, "duplicates_removed": 5,
              "rejected": {k: batch.defects[k] for k in ("missing_customer_id", "missing_label",
                                                         "unparseable_signup_date", "invalid_age", "unknown_plan")},
              "imputed": {"monthly_data_gb": batch.defects["missing_monthly_data"],
                          "plan": batch.defects["missing_plan"],
                          "country": batch.defects["missing_country"]},
              "standardized": {"signup_date": 120}, "splits": {"train": 128, "validation": 16, "test": 16}}
    counts["duplicates_removed"] = batch.defects["duplicate"]
    output = {"batch_id": "4d1c9e", "engine": "glue", "status": "curated", "counts": counts,
              "data_quality": {"score": 1.0,
                               "rules": [{"Name": "Rule_1", "Description": "RowCount > 0", "Result": "PASS"}]}}
    sfn = session.stubs["stepfunctions"]
    older = {"executionArn": OURS + "-old", "stateMachineArn": MACHINE, "name": "old", "status": "RUNNING",
             "startDate": NOW - timedelta(hours=2)}
    sfn.add_response("list_executions", {"executions": [
        {"executionArn": OURS, "stateMachineArn": MACHINE, "name": "4d1c9e", "status": "RUNNING", "startDate": NOW},
        older]}, {"stateMachineArn": MACHINE, "maxResults": 20})
    sfn.add_response("describe_execution", described("RUNNING", input_key=key), {"executionArn": OURS})
    early = [("Start", 0, 0), ("ListRunningExecutions", 0, 1), ("IsOldestExecution", 1, 1), ("StartRawCrawl", 1, 2),
             ("CountRawCrawl", 2, 2), ("WaitForRawCrawl", 2, 32), ("GetRawCrawl", 32, 33), ("CountRawCrawl", 33, 33),
             ("GetRawCrawl", 63, 64), ("IsRawCrawlDone", 64, 64), ("OutcomeRawCrawl", 64, 64)]
    late = [("Transform", 64, 180), ("ReadCounts", 180, 181), ("StartQualityRun", 181, 182),
            ("GetQualityRun", 200, 201), ("GetQualityResult", 201, 202), ("Report", 202, 202)]
    sfn.add_response("describe_execution", described("RUNNING"), {"executionArn": OURS})
    sfn.add_response("get_execution_history", history(*early), {"executionArn": OURS, "maxResults": 1000})
    sfn.add_response("describe_execution", described("SUCCEEDED", output=output), {"executionArn": OURS})
    sfn.add_response("get_execution_history", history(*early, *late, end="ExecutionSucceeded"),
                     {"executionArn": OURS, "maxResults": 1000})
    expect_query(session, ["split", "customers"], [["test", "16"], ["train", "128"], ["validation", "16"]])
    expect_query(session, ["customer_id", "plan"], [["C-4D1C9E-000001", "basic"]])

    report = run.run()
    for stub in session.stubs.values():
        stub.assert_no_pending_responses()
    assert report.execution_arn == OURS and report.output == output
    assert all(reported(counts, kind) == batch.defects[kind] for kind in DEFECTS)
    text = "\n".join(lines)
    assert "the arrival started execution 4d1c9e" in text
    assert "> crawl raw" in text and "= crawl raw: 63 s, 2 polls" in text
    assert [step for step, _ in announced_steps(lines)] == [e.step for e in contract.CONTRACT.exercises]
    assert "  Transform" in text and "116.0 s" in text  # a state with its duration
    assert "GetRawCrawl" not in text  # polls are summed up, not listed
    duplicates = batch.defects["duplicate"]
    assert f"  {'duplicate':<26} {duplicates:>8} {duplicates:>8}  duplicates_removed" in text
    assert "PASS  RowCount > 0" in text and "train 128 (80%)" in text and "C-4D1C9E-000001 | basic" in text


def test_without_an_arrival_execution_it_starts_one_and_a_batch_with_nothing_new_queries_nothing():
    session, lines = Session(), []
    run = make(session, out=lines.append, trigger_timeout_seconds=12)
    key, _ = expect_upload(session, run)
    sfn = session.stubs["stepfunctions"]
    for _ in range(3):  # polled until the 12 s are up (the fake clock moves 5 s per reading)
        sfn.add_response("list_executions", {"executions": []})
    run_id = run.plan()[0]
    sfn.add_response("start_execution", {"executionArn": OURS, "startDate": NOW}, {
        "stateMachineArn": MACHINE, "name": f"practice-{run_id}",
        "input": json.dumps({"trigger": "practice", "detail": {"object": {"key": key}}})})
    nothing = {"batch_id": "4d1c9e", "engine": "glue", "status": "no new rows", "counts": {"input_rows": 0}}
    sfn.add_response("describe_execution", described("SUCCEEDED", output=nothing))
    sfn.add_response("get_execution_history", history(("Start", 0, 0), ("NothingNew", 1, 1), end="ExecutionSucceeded"))
    report = run.run()
    for stub in session.stubs.values():
        stub.assert_no_pending_responses()
    assert report.output["status"] == "no new rows" and "EventBridge notifications on?" in "\n".join(lines)


def test_a_failed_workflow_is_one_line_with_its_error_and_cause():
    session = Session()
    run = make(session, out=lambda _: None)
    key, _ = expect_upload(session, run)
    sfn = session.stubs["stepfunctions"]
    sfn.add_response("list_executions", {"executions": [
        {"executionArn": OURS, "stateMachineArn": MACHINE, "name": "4d1c9e", "status": "RUNNING", "startDate": NOW}]})
    sfn.add_response("describe_execution", described("RUNNING", input_key=key))
    sfn.add_response("describe_execution", described("FAILED", error="DataQualityFailed",
                                                     cause='[{"Description": "IsUnique \\"customer_id\\""}]'))
    sfn.add_response("get_execution_history", history(("AllRulesPassed", 0, 0), end="ExecutionFailed"))
    with pytest.raises(LabError, match="the workflow failed: DataQualityFailed") as error:
        run.run()
    assert "\n" not in str(error.value) and "IsUnique" in str(error.value)


@pytest.mark.parametrize("flags,message", [({"rows": 5}, "--rows 5 is out of range"),
                                           ({"defect_rate": 0.7}, "--defect-rate 0.7 is out of range")])
def test_out_of_range_flags_are_refused_with_the_range(flags, message):
    with pytest.raises(LabError, match=message):
        practice.BatchEtlPractice(None, **flags)


def test_ctrl_c_while_following_stops_the_execution():
    session = Session()
    run = make(session, out=lambda _: None)
    session.stubs["stepfunctions"].add_response("stop_execution", {"stopDate": NOW}, {
        "executionArn": OURS, "error": "PracticeInterrupted", "cause": "stopped by labs practice (Ctrl-C)"})

    def interrupted(request):
        raise KeyboardInterrupt

    run.call = interrupted
    with pytest.raises(KeyboardInterrupt):
        run.follow(OURS)
    session.stubs["stepfunctions"].assert_no_pending_responses()
