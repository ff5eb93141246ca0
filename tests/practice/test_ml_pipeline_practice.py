"""The ml-pipeline practice step: dry-run requests against botocore's models, and whole runs against
Stubber-checked clients (the pass path with approval, endpoint and predictions; the Fail path;
--no-approve; a broken step; Ctrl-C stopping the execution)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import botocore.session
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY
from botocore.validate import validate_parameters

from catalog import ml_pipeline as lab
from labs.engine.errors import LabError
from labs.practice.common.dry_run import printed_requests
from labs.practice.common.steps import announced_steps
from labs.practice.ml_pipeline import command as practice
from tests.fakes import FakeClock, StubbedSession

RUN = "20260115-093000-abcd"
EXECUTION_ID = "x9ujnsiw9ljw"
EXECUTION = f"arn:aws:sagemaker:us-east-1:123456789012:pipeline/{lab.PIPELINE_NAME}/execution/{EXECUTION_ID}"
PACKAGE = f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{lab.MODEL_PACKAGE_GROUP}/3"
OUTPUTS = {**practice.PLACEHOLDERS, lab.DATA_BUCKET: "mlref-ml-pipeline-rawdata1a2b", lab.ARTIFACTS_BUCKET:
           "mlref-ml-pipeline-artifacts3c4d", lab.DEPLOY_LOG_GROUP: "mlref-ml-pipeline-DeployLogGroup"}
T0 = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
SERVICES = {"PutObject": "s3", "StartPipelineExecution": "sagemaker", "UpdateModelPackage": "sagemaker",
            "InvokeEndpoint": "sagemaker-runtime"}


def body(data: bytes | str | dict) -> StreamingBody:
    raw = json.dumps(data).encode() if isinstance(data, dict) else data.encode() if isinstance(data, str) else data
    return StreamingBody(io.BytesIO(raw), len(raw))


def Session() -> StubbedSession:
    return StubbedSession(("s3", "sagemaker", "sagemaker-runtime"))


@pytest.fixture
def deployed(monkeypatch):
    monkeypatch.setattr(practice, "deployed_stack", lambda session, name, required: (OUTPUTS, {}))


def step(name: str, status: str, minutes: int = 0, **metadata) -> dict:
    found = {"StepName": name, "StepStatus": status, "StartTime": T0}
    if status in {"Succeeded", "Failed"}:
        found["EndTime"] = T0 + timedelta(minutes=minutes, seconds=12)
    if metadata:
        found["Metadata"] = metadata
    return found


def poll_answer(stubs, status: str, steps: list[dict], failure: str | None = None) -> None:
    execution = {"PipelineExecutionArn": EXECUTION, "PipelineExecutionStatus": status}
    if failure:
        execution["FailureReason"] = failure
    stubs["sagemaker"].add_response("describe_pipeline_execution", execution, {"PipelineExecutionArn": EXECUTION})
    stubs["sagemaker"].add_response("list_pipeline_execution_steps", {"PipelineExecutionSteps": steps},
                                    {"PipelineExecutionArn": EXECUTION, "SortOrder": "Ascending"})


def start(stubs, threshold: float) -> None:
    stubs["s3"].add_response("put_object", {}, {
        "Bucket": OUTPUTS[lab.DATA_BUCKET], "Key": f"raw/{RUN}/customers.csv", "Body": ANY,
        "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": OUTPUTS[lab.KEY]})
    stubs["sagemaker"].add_response("start_pipeline_execution", {"PipelineExecutionArn": EXECUTION},
                                    practice.start_request(OUTPUTS, RUN, threshold))


def reports(stubs, auc: float) -> None:
    stubs["s3"].add_response("get_object", {"Body": body({
        "duplicates_dropped": 10, "unlabeled_dropped": 5, "missing_values_imputed": 15, "invalid_values_imputed": 2,
        "rows": {"train": 330, "validation": 71, "test": 72}})},
        {"Bucket": OUTPUTS[lab.ARTIFACTS_BUCKET], "Key": lab.report_key(EXECUTION_ID)})
    stubs["s3"].add_response("get_object", {"Body": body({"test_rows": 72, "binary_classification_metrics": {
        "auc": {"value": auc}, "accuracy": {"value": 0.79}}})},
        {"Bucket": OUTPUTS[lab.ARTIFACTS_BUCKET], "Key": lab.evaluation_key(EXECUTION_ID)})


def registered(stubs) -> None:
    """The registered package as DescribeModelPackage shows it, pending approval."""
    stubs["sagemaker"].add_response("describe_model_package", {
        "ModelPackageName": lab.MODEL_PACKAGE_GROUP, "ModelPackageArn": PACKAGE, "ModelPackageVersion": 3,
        "ModelApprovalStatus": "PendingManualApproval", "CreationTime": T0, "ModelPackageStatus": "Completed",
        "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []}},
        {"ModelPackageName": PACKAGE})


DONE = [step(lab.PREPROCESS_STEP, "Succeeded", 4), step(lab.TRAIN_STEP, "Succeeded", 5),
        step(lab.EVALUATE_STEP, "Succeeded", 3)]


def endpoint(status: str, version: int) -> dict:
    return {"EndpointName": lab.ENDPOINT_NAME, "EndpointArn": "arn:aws:sagemaker:us-east-1:1:endpoint/e",
            "EndpointConfigName": f"{lab.ENDPOINT_NAME}-v{version}", "EndpointStatus": status, "CreationTime": T0,
            "LastModifiedTime": T0}


def run(threshold=lab.DEFAULT_THRESHOLD, approve=True):
    clock, lines = FakeClock(), []
    session = Session()
    runner = practice.MlPipelinePractice(session, threshold=threshold, approve=approve, out=lines.append, clock=clock,
                                         sleep=clock.sleep, rows=500, seed=5, run_id=RUN)
    return session, runner, lines, clock


def test_every_dry_run_request_is_valid_for_its_service_and_nothing_is_sent(no_credentials):
    lines = []
    requests = practice.MlPipelinePractice(None, dry_run=True, out=lines.append, seed=1, run_id=RUN).print_dry_run()
    assert [operation for _, operation, _, _ in requests if operation in SERVICES] == list(SERVICES)
    loader = botocore.session.get_session()
    for service, operation, request, _ in requests:
        validate_parameters(request, loader.get_service_model(service).operation_model(operation).input_shape)
    assert [op for _, op, _ in printed_requests(lines)] == ["DescribeStacks", "ListStacks",
                                                            *(op for _, op, _, _ in requests)]
    printed = "\n".join(lines)
    assert '"Name": "AucThreshold"' in printed and '"Value": "0.75"' in printed
    assert "Body" not in printed.split("\n#")[1]


def test_the_request_check_catches_a_mistyped_parameter():
    request = practice.start_request(OUTPUTS, RUN, 0.8)
    request["PipelineParameters"][1]["Value"] = 0.8  # parameter values travel as strings
    shape = botocore.session.get_session().get_service_model("sagemaker").operation_model(
        "StartPipelineExecution").input_shape
    with pytest.raises(Exception, match="Value"):
        validate_parameters(request, shape)


@pytest.mark.parametrize("threshold", [0, 1.5, -0.2])
def test_a_threshold_that_is_not_an_auc_is_refused_in_one_line(threshold):
    with pytest.raises(LabError, match=r"--threshold .* is not an AUC; use a value above 0 and at most 1"):
        practice.MlPipelinePractice(None, threshold=threshold)


def test_a_passing_run_approves_waits_for_the_endpoint_and_predicts(deployed):
    session, runner, lines, clock = run()
    with session as stubs:
        start(stubs, lab.DEFAULT_THRESHOLD)
        poll_answer(stubs, "Executing", [step(lab.PREPROCESS_STEP, "Executing")])
        poll_answer(stubs, "Succeeded", [*DONE, step(lab.CONDITION_STEP, "Succeeded", Condition={"Outcome": "True"}),
                                         step(lab.REGISTER_STEP, "Succeeded", RegisterModel={"Arn": PACKAGE})])
        reports(stubs, auc=0.8512)
        registered(stubs)
        stubs["sagemaker"].add_response("update_model_package", {"ModelPackageArn": PACKAGE},
                                        practice.approve_request(PACKAGE, 0.8512, lab.DEFAULT_THRESHOLD))
        named = {"EndpointName": lab.ENDPOINT_NAME}
        stubs["sagemaker"].add_response("describe_endpoint", endpoint("InService", 2), named)
        stubs["sagemaker"].add_response("describe_endpoint", endpoint("Updating", 3), named)
        stubs["sagemaker"].add_response("describe_endpoint", endpoint("InService", 3), named)
        stubs["s3"].add_response("get_object", {"Body": body("1.0,0.5,-1.2\n0.0,-0.3,0.8\n")},
                                 {"Bucket": OUTPUTS[lab.ARTIFACTS_BUCKET], "Key": lab.holdout_key(EXECUTION_ID)})
        stubs["sagemaker-runtime"].add_response("invoke_endpoint", {"Body": body("0.91\n0.12\n")}, {
            "EndpointName": lab.ENDPOINT_NAME, "ContentType": "text/csv", "Accept": "text/csv",
            "Body": "0.5,-1.2\n-0.3,0.8"})
        report = runner.run()
        for stub in stubs.values():
            stub.assert_no_pending_responses()
    assert report.outcome == "True" and report.version == 3 and report.metrics["auc"] == 0.8512
    assert report.predictions == [("1", 0.91), ("0", 0.12)]
    text = "\n".join(lines)
    assert f"  {lab.PREPROCESS_STEP:<18} Executing" in lines and f"  {lab.TRAIN_STEP:<18} Succeeded  5m 12s" in lines
    assert "AUC 0.8512" in text and "passes" in text and "dropped 10 duplicates" in text
    assert f"endpoint {lab.ENDPOINT_NAME}: InService with {lab.ENDPOINT_NAME}-v3" in text
    assert clock.now == 3 * runner.poll_seconds  # one poll of the execution, two of the endpoint
    assert [step for step, _ in announced_steps(lines)] == [e.step for e in lab.CONTRACT.exercises]


def test_a_run_below_the_threshold_ends_in_the_fail_step_and_registers_nothing(deployed):
    session, runner, lines, _ = run(threshold=0.99)
    message = "AUC 0.8512 is below the threshold 0.99: no model was registered"
    with session as stubs:
        start(stubs, 0.99)
        poll_answer(stubs, "Failed", [*DONE, step(lab.CONDITION_STEP, "Succeeded", Condition={"Outcome": "False"}),
                                      step(lab.FAIL_STEP, "Failed", Fail={"ErrorMessage": message})],
                    failure=message)
        reports(stubs, auc=0.8512)
        report = runner.run()
        stubs["sagemaker"].assert_no_pending_responses()
    assert (report.status, report.outcome, report.package_arn) == ("Failed", "False", None)
    assert f"the Fail step ended the execution: {message}" in lines
    assert any("the condition AUC >= 0.99 fails" in line for line in lines)
    assert [step for step, _ in announced_steps(lines)] == [lab.STEP_UPLOAD, lab.STEP_RUN, lab.STEP_RESULTS]


def test_no_approve_leaves_the_package_pending_and_says_how_to_approve(deployed):
    session, runner, lines, _ = run(approve=False)
    with session as stubs:
        start(stubs, lab.DEFAULT_THRESHOLD)
        poll_answer(stubs, "Succeeded", [*DONE, step(lab.CONDITION_STEP, "Succeeded", Condition={"Outcome": "True"}),
                                         step(lab.REGISTER_STEP, "Succeeded", RegisterModel={"Arn": PACKAGE})])
        reports(stubs, auc=0.84)
        registered(stubs)
        report = runner.run()
        stubs["sagemaker"].assert_no_pending_responses()  # no UpdateModelPackage, no endpoint
    assert report.package_arn == PACKAGE and report.predictions == []
    assert any("--model-approval-status Approved" in line for line in lines)


def test_a_broken_step_is_one_line_naming_it_and_its_reason(deployed):
    session, runner, _, _ = run()
    with session as stubs:
        start(stubs, lab.DEFAULT_THRESHOLD)
        broken = step(lab.PREPROCESS_STEP, "Failed", 2)
        broken["FailureReason"] = "ClientError: no CSV files under /opt/ml/processing/input/raw"
        poll_answer(stubs, "Failed", [broken], failure="Step failure: One or multiple steps failed.")
        with pytest.raises(LabError, match=f"step {lab.PREPROCESS_STEP} ended Failed: ClientError: no CSV files"):
            runner.run()


def test_ctrl_c_while_following_stops_the_execution(deployed, monkeypatch):
    session, runner, lines, _ = run()

    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(practice.ExecutionFollower, "fetch", interrupted)
    with session as stubs:
        start(stubs, lab.DEFAULT_THRESHOLD)
        stubs["sagemaker"].add_response("stop_pipeline_execution", {"PipelineExecutionArn": EXECUTION}, {
            "PipelineExecutionArn": EXECUTION, "ClientRequestToken": practice.token(EXECUTION)})
        with pytest.raises(KeyboardInterrupt):
            runner.run()
        stubs["sagemaker"].assert_no_pending_responses()
    assert lines[-1].startswith(f"stopped {EXECUTION} (Ctrl-C)")


def test_saved_outputs_of_a_stack_that_is_gone_start_nothing(aws, monkeypatch, tmp_path):
    """Issue 24: a saved record without its stack (deleted by its expiry) started a pipeline execution;
    the bucket and pipeline names it holds may be another deployment's now."""
    from labs.engine import state

    monkeypatch.setenv("MLREF_LABS_STATE", str(tmp_path))
    state.save(state.SavedDeployment(lab=lab.CONTRACT.name, stack=lab.CONTRACT.stack_name, account="123456789012",
                                     region="us-east-1", profile="sandbox", deployed_at="2026-01-15T09:30:00+00:00",
                                     expires_at="2999-01-01T00:00:00+00:00",
                                     outputs={str(key): value for key, value in OUTPUTS.items()}))
    aws.client("s3").create_bucket(Bucket=OUTPUTS[lab.DATA_BUCKET])  # the same name, another deployment's
    with pytest.raises(LabError, match="lab ml-pipeline is not deployed in us-east-1"):
        practice.MlPipelinePractice(aws, out=lambda _line: None, run_id=RUN).run()
    assert aws.client("s3").list_objects_v2(Bucket=OUTPUTS[lab.DATA_BUCKET]).get("KeyCount") == 0
