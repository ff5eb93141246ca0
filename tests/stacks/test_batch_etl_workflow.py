"""The batch-etl state machine executed by moto's Step Functions interpreter, every Task state
answered by a mocked response: the choices, loops, intrinsic functions and paths run for real."""

from __future__ import annotations

import json
import time

import boto3
import moto.stepfunctions.parser.backend.execution as moto_execution
import pytest
from moto import mock_aws
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.mocking.mock_config import (
    MockedResponseReturn,
    MockedResponseThrow,
    MockTestCase,
    StateMockedResponses,
)

from catalog import batch_etl as contract
from cdk_constructs.batch_etl import workflow

ROLE = "arn:aws:iam::123456789012:role/workflow"
COUNTS = {"input_rows": 120, "curated_rows": 100, "rejected_rows": 12, "duplicates_removed": 8}
PASSED = [{"Name": "Rule_1", "Description": "RowCount > 0", "Result": "PASS"},
          {"Name": "Rule_2", "Description": 'IsUnique "customer_id"', "Result": "PASS"}]
FAILED = [PASSED[0], {"Name": "Rule_2", "Description": 'IsUnique "customer_id"', "Result": "FAIL",
                      "EvaluationMessage": "Value: 0.98 does not meet the constraint requirement!"}]


def filled(engine: str, max_polls: int = 5) -> str:
    text = json.dumps(workflow.definition(engine, job_tags={"lab": "batch-etl"}, poll_seconds=0, queue_seconds=0,
                                          max_polls=max_polls))
    for name in workflow.placeholders(engine):
        text = text.replace("${" + name + "}", {"RunsPrefix": "_runs/"}.get(name, f"<{name}>"))
    assert "${" not in text
    # moto's interpreter has no .sync for EMR Serverless; request-response runs the same Parameters.
    return text.replace("emr-serverless:startJobRun.sync", "emr-serverless:startJobRun")


def crawler(state: str, status: str = "SUCCEEDED") -> dict:
    return {"Crawler": {"Name": "c", "State": state, "LastCrawl": {"Status": status, "LogGroup": "/aws-glue/crawlers"}}}


def happy(me: str, **overrides) -> dict[str, list]:
    """State -> responses in order (a response repeated for its range) for a run that succeeds."""
    return {
        "ListRunningExecutions": [{"Executions": [{"ExecutionArn": me}]}],
        "StartRawCrawl": [{}],
        "GetRawCrawl": [crawler("RUNNING"), crawler("READY")],
        "Transform": [{"Id": "jr_1", "JobRunState": "SUCCEEDED"}],
        "ReadCounts": [{"Body": json.dumps(COUNTS)}],
        "StartCuratedCrawl": [{}],
        "GetCuratedCrawl": [crawler("READY")],
        "StartQualityRun": [{"RunId": "dqrun-1"}],
        "GetQualityRun": [{"Status": "RUNNING"}, {"Status": "SUCCEEDED", "ResultIds": ["dqresult-1"]}],
        "GetQualityResult": [{"Score": 1.0, "RuleResults": PASSED}],
        "WithdrawBatch": [{"Errors": []}],
        **overrides,
    }


def mocked_case(responses: dict[str, list]) -> MockTestCase:
    states = []
    for state, answers in responses.items():
        mocked = [MockedResponseThrow(i, i, a["Error"], a["Cause"]) if "Error" in a else MockedResponseReturn(i, i, a)
                  for i, a in enumerate(answers)]
        states.append(StateMockedResponses(state, f"{state}Mock", mocked))
    return MockTestCase("etl", "case", states)


@pytest.fixture(scope="module")
def run():
    """run(engine, responses_for(me), max_polls) -> (describe_execution, history events)."""
    current: dict[str, MockTestCase] = {}
    worker = moto_execution.ExecutionWorker
    visits: dict[str, int] = {}

    def by_visit(env):
        """The next response each time the state is entered (moto picks by retry count only)."""
        state = env.next_state_name
        responses = env.mock_test_case.state_mocked_responses[state].mocked_responses
        visits[state] = visits.get(state, -1) + 1
        return responses[min(visits[state], len(responses) - 1)]

    with pytest.MonkeyPatch.context() as patch, mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        patch.setattr(Environment, "get_current_mocked_response", by_visit)
        patch.setattr(moto_execution, "ExecutionWorker",
                      lambda *a, **k: worker(*a, **k, mock_test_case=current["case"]))
        sfn = boto3.client("stepfunctions", region_name="us-east-1")

        def execute(engine, responses_for, max_polls=5):
            arn = sfn.create_state_machine(name=f"etl-{engine}-{time.monotonic_ns()}", roleArn=ROLE,
                                           definition=filled(engine, max_polls))["stateMachineArn"]
            me = arn.replace(":stateMachine:", ":execution:") + ":batch-7"
            current["case"] = mocked_case(responses_for(me))
            visits.clear()
            execution = sfn.start_execution(stateMachineArn=arn, name="batch-7",
                                            input='{"detail-type": "Object Created"}')
            deadline = time.monotonic() + 30
            while (described := sfn.describe_execution(executionArn=execution["executionArn"]))["status"] == "RUNNING":
                assert time.monotonic() < deadline, "execution did not finish"
                time.sleep(0.05)
            events = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
            return described, events

        yield execute


def entered(events) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def scheduled(events) -> list[dict]:
    return [json.loads(e["taskScheduledEventDetails"]["parameters"])
            for e in events if "taskScheduledEventDetails" in e]


def test_a_clean_batch_succeeds_with_its_counts_and_rule_results(run):
    described, events = run("glue", happy)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    output = json.loads(described["output"])
    assert output == {"batch_id": "batch-7", "engine": "glue", "counts": COUNTS, "status": "curated",
                      "data_quality": {"score": 1.0, "rules": PASSED}}
    states = entered(events)
    assert states.index("StartRawCrawl") < states.index("Transform") < states.index("StartCuratedCrawl") \
        < states.index("StartQualityRun") < states.index("Report")
    assert states.count("GetRawCrawl") == 2 and states.count("GetQualityRun") == 2 and "WithdrawBatch" not in states
    parameters = scheduled(events)
    assert {"JobName": "<GlueJob>", "Arguments": {"--batch_id": "batch-7"}} in parameters
    assert {"Bucket": "<CuratedBucket>", "Key": "_runs/batch-7/counts.json"} in parameters
    quality = next(p for p in parameters if "RulesetNames" in p)
    assert quality["DataSource"]["GlueTable"]["AdditionalOptions"] == {"pushDownPredicate": "batch = 'batch-7'"}


def test_a_failing_rule_withdraws_the_batch_and_fails_with_the_rule(run):
    described, events = run("glue", lambda me: happy(me, GetQualityResult=[{"Score": 0.5, "RuleResults": FAILED}]))
    assert described["status"] == "FAILED" and described["error"] == "DataQualityFailed"
    assert json.loads(described["cause"]) == [FAILED[1]]
    withdraw = next(p for p in scheduled(events) if "PartitionsToDelete" in p)
    assert withdraw["PartitionsToDelete"] == [{"Values": ["batch-7", split]}
                                              for split in ("train", "validation", "test")]


def test_a_batch_without_new_rows_ends_after_the_transform(run):
    empty = {**COUNTS, "input_rows": 0}
    described, events = run("glue", lambda me: happy(me, ReadCounts=[{"Body": json.dumps(empty)}]))
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["status"] == "no new rows"
    assert "StartCuratedCrawl" not in entered(events) and "StartQualityRun" not in entered(events)


def test_it_waits_for_an_earlier_execution_then_reports_a_failed_transform(run):
    earlier = "arn:aws:states:us-east-1:123456789012:execution:etl:earlier"
    failure = {"Error": "GlueJobFailed", "Cause": '{"ErrorMessage": "AnalysisException: column not found"}'}
    described, events = run("glue", lambda me: happy(
        me, ListRunningExecutions=[{"Executions": [{"ExecutionArn": me}, {"ExecutionArn": earlier}]},
                                   {"Executions": [{"ExecutionArn": me}]}], Transform=[failure]))
    assert entered(events).count("WaitForQueuePolls") == 1
    assert described["status"] == "FAILED" and described["error"] == "TransformFailed"
    assert "column not found" in described["cause"]


def test_every_poll_loop_is_bounded(run):
    stuck = [crawler("RUNNING")] * 4
    described, events = run("glue", lambda me: happy(me, GetRawCrawl=stuck), max_polls=3)
    assert described["status"] == "FAILED" and described["error"] == "RawCrawlTimedOut"
    assert entered(events).count("GetRawCrawl") == 3


def test_a_failed_crawl_fails_with_the_crawlers_message(run):
    failed = crawler("READY", "FAILED")
    failed["Crawler"]["LastCrawl"]["ErrorMessage"] = "Access denied to s3://raw/incoming/"
    described, _ = run("glue", lambda me: happy(me, GetRawCrawl=[failed]))
    assert described["error"] == "RawCrawlFailed" and "Access denied" in described["cause"]


def test_the_emr_engine_passes_the_batch_paths_and_the_lab_tags(run):
    described, events = run(workflow.EMR, lambda me: happy(me, Transform=[{"JobRun": {"State": "SUCCESS"}}]))
    assert described["status"] == "SUCCEEDED", described.get("cause")
    job = next(p for p in scheduled(events) if "ApplicationId" in p)
    assert job["JobDriver"]["SparkSubmit"]["EntryPointArguments"] == [
        "--batch-id", "batch-7", "--raw-path", "<RawPath>", "--curated-path", "<CuratedPath>", "--rejected-path",
        "<RejectedPath>", "--runs-path", "<RunsPath>", "--state-path", "<StatePath>"]
    assert job["Name"] == "batch-batch-7" and job["Tags"] == {"lab": "batch-etl"} and len(job["ClientToken"]) == 36


def test_every_state_has_a_phase_and_every_transition_a_target():
    for engine in (workflow.GLUE, workflow.EMR):
        states = workflow.definition(engine)["States"]
        for name, state in states.items():
            assert contract.phase_of(name) != "other", name
            targets = [state.get("Next"), state.get("Default"), *(c["Next"] for c in state.get("Choices", []) +
                                                                 state.get("Catch", []))]
            assert all(t in states for t in targets if t), name
