"""The endpoint practice: every dry-run request against botocore's models, traffic and the
weight shift against moto, throttling through botocore's own retries, the load's hard caps,
Model Monitor's baseline, one-off execution, failures and cleanup against Stubber, Ctrl-C."""

from __future__ import annotations

import functools
import io
import json
import re
from datetime import UTC, datetime

import boto3
import botocore.endpoint
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber
from botocore.validate import validate_parameters

from catalog import endpoint as contract
from jobs.endpoint.model import synthetic_rows
from labs.engine.errors import LabError
from labs.practice.common.steps import announced_steps
from labs.practice.endpoint import command as practice
from labs.practice.endpoint.dry_run import dry_run_requests, example_outputs
from labs.practice.endpoint.monitor import (
    MonitorStep,
    Waits,
    baseline_job_request,
    capture_record_lines,
    one_off_request,
)
from labs.practice.endpoint.scaling import MAX_LOAD_REQUESTS, Load, policy_lines, scaling_requests
from labs.practice.endpoint.traffic import RUNTIME_CONFIG, invoke, invoke_request, send, summary, weights_request
from tests.fakes import FakeClock

ENDPOINT = "mlref-endpoint-0a1b2c3d"
BUCKET = "mlref-endpoint-inferencedatabucket-example"
OUTPUTS = example_outputs("us-east-1")
TAGS = {"lab": "endpoint", "profile": "sandbox", "owner": "tester"}
T0 = datetime(2026, 12, 1, 12, tzinfo=UTC)
SCHEDULE_ARN = "arn:aws:sagemaker:us-east-1:111122223333:monitoring-schedule/s"


@functools.cache
def client(service):
    return boto3.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x").client(service)


def body(text):
    return StreamingBody(io.BytesIO(text.encode()), len(text.encode()))


# -- the dry run -----------------------------------------------------------------------------

def test_the_dry_run_prints_every_request_without_credentials_or_clients(no_credentials, monkeypatch):
    monkeypatch.setattr(boto3, "client", lambda *a, **k: pytest.fail("the dry run created a client"))
    lines = []
    assert practice.EndpointPractice(None, dry_run=True, out=lines.append, requests=7).run() is None
    text = "\n".join(lines)
    for operation in ("invoke_endpoint", "update_endpoint_weights_and_capacities", "create_processing_job",
                      "create_monitoring_schedule", "describe_scaling_policies", "get_metric_data"):
        assert f" {operation}: " in text
    assert "7 of these, and 7 more after the traffic shift" in text and "nothing was sent" in lines[-1]


def test_every_dry_run_request_is_valid_for_its_service_model():
    without, requests = dry_run_requests("eu-west-1"), dry_run_requests("eu-west-1", load_minutes=5)
    assert {op for _, (_, op, _) in requests} - {op for _, (_, op, _) in without} == {"describe_scaling_activities"}
    for _, (service, operation, params) in requests:
        model = client(service).meta.service_model
        name = next(n for n in model.operation_names if boto3.session.botocore.xform_name(n) == operation)
        validate_parameters(params, model.operation_model(name).input_shape)


def test_the_key_requests_pass_stubber_as_the_practice_sends_them():
    sagemaker, runtime = client("sagemaker"), client("sagemaker-runtime")
    shift = weights_request(ENDPOINT, contract.SHIFTED_WEIGHTS)
    schedule = one_off_request("mlref-endpoint-now-x", OUTPUTS, TAGS)
    with Stubber(sagemaker) as stub, Stubber(runtime) as runtime_stub:
        stub.add_response("update_endpoint_weights_and_capacities",
                          {"EndpointArn": "arn:aws:sagemaker:us-east-1:1:endpoint/e"}, shift)
        stub.add_response("create_monitoring_schedule", {"MonitoringScheduleArn": SCHEDULE_ARN}, schedule)
        request = invoke_request(ENDPOINT, synthetic_rows(1, seed=1)[0])
        runtime_stub.add_response("invoke_endpoint", {"Body": body("0.42"), "InvokedProductionVariant": "VariantB"},
                                  request)
        sagemaker.update_endpoint_weights_and_capacities(**shift)
        sagemaker.create_monitoring_schedule(**schedule)
        assert invoke(runtime, request).predictions == (0.42,)
    assert schedule["MonitoringScheduleConfig"]["ScheduleConfig"] == {
        "ScheduleExpression": "NOW", "DataAnalysisStartTime": "-PT1H", "DataAnalysisEndTime": "-PT0H"}
    assert {"Key": "lab", "Value": "endpoint"} in schedule["Tags"]


# -- traffic, throttling ------------------------------------------------------------------------

def throttled_then(runtime, answers):
    """Answers InvokeEndpoint over the wire (so botocore's retry handler runs) from ``answers``."""
    calls = []

    def answer(request, **_):
        status, text, variant = answers[min(len(calls), len(answers) - 1)]
        calls.append(status)
        headers = {"Content-Type": "text/csv"} if status == 200 else {"x-amzn-ErrorType": "ThrottlingException"}
        if variant:
            headers["x-Amzn-Invoked-Production-Variant"] = variant
        response = AWSResponse(request.url, status, headers, io.BytesIO(text.encode()))
        response._content = text.encode()  # error bodies are read from here
        return response

    runtime.meta.events.register("before-send.sagemaker-runtime.InvokeEndpoint", answer)
    return calls


@pytest.fixture
def no_retry_sleep(monkeypatch):
    monkeypatch.setattr(botocore.endpoint.time, "sleep", lambda _: None)


def test_throttled_requests_are_retried_by_botocore_and_what_stays_throttled_is_counted(no_retry_sleep):
    session = boto3.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    throttle = (400, '{"message": "Rate exceeded"}', None)
    runtime = session.client("sagemaker-runtime", config=RUNTIME_CONFIG)
    calls = throttled_then(runtime, [throttle, throttle, (200, "0.31", "VariantA")])
    (answered,) = send(runtime, ENDPOINT, synthetic_rows(1, seed=2))
    assert calls == [400, 400, 200] and answered.variant == "VariantA" and answered.predictions == (0.31,)
    always = session.client("sagemaker-runtime", config=RUNTIME_CONFIG)
    calls = throttled_then(always, [throttle])
    (failed,) = send(always, ENDPOINT, synthetic_rows(1, seed=2))
    assert failed.error == "ThrottlingException" and len(calls) == 5  # standard mode: 5 attempts
    assert summary("t", [answered, failed])[-1] == "  not answered after retries: ThrottlingException 1"


def test_an_error_retrying_cannot_fix_stops_with_one_line():
    runtime = client("sagemaker-runtime")
    with Stubber(runtime) as stub:
        stub.add_client_error("invoke_endpoint", "ValidationError", "Endpoint x not found")
        with pytest.raises(LabError, match="InvokeEndpoint on mlref-endpoint-0a1b2c3d failed: ValidationError"):
            send(runtime, ENDPOINT, synthetic_rows(1, seed=3))


def test_summary_shows_latency_predictions_and_the_split():
    clock = iter([0.0, 0.010, 1.0, 1.030, 2.0, 2.020])
    runtime = client("sagemaker-runtime")
    with Stubber(runtime) as stub:
        for variant, value in (("VariantA", "0.1"), ("VariantA", "0.2"), ("VariantB", "0.3")):
            stub.add_response("invoke_endpoint", {"Body": body(value), "InvokedProductionVariant": variant})
        results = send(runtime, ENDPOINT, synthetic_rows(3, seed=4), clock=lambda: next(clock))
    lines = summary("step 1", results)
    assert lines[1] == "  latency (client side, includes the network): median 20.0 ms, p95 30.0 ms"
    assert lines[2] == "  churn probability, first 3: 0.100 (VariantA), 0.200 (VariantA), 0.300 (VariantB)"
    assert lines[3] == "  invoked variant: VariantA 2 (67%), VariantB 1 (33%)"


# -- a whole real-time run on moto (monitor off), and the serverless run ------------------------

def moto_endpoint(session):
    sagemaker = session.client("sagemaker")
    for model in ("a", "b"):
        sagemaker.create_model(ModelName=model, ExecutionRoleArn="arn:aws:iam::123456789012:role/hosting",
                               PrimaryContainer={"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/x:1"})
    sagemaker.create_endpoint_config(EndpointConfigName="config", ProductionVariants=[
        {"VariantName": name, "ModelName": model, "InitialInstanceCount": count, "InstanceType": "ml.c5.large",
         "InitialVariantWeight": contract.WEIGHTS[name]}
        for name, model, count in ((contract.VARIANT_A, "a", 2), (contract.VARIANT_B, "b", 1))])
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="config")
    return sagemaker


def queue_answers(variants):
    from moto.sagemakerruntime.models import sagemakerruntime_backends

    queue = sagemakerruntime_backends["123456789012"]["us-east-1"].results_queue
    queue.extend((f"0.{i % 9 + 1}", "text/csv", variant, "") for i, variant in enumerate(variants))


def test_a_realtime_run_shifts_traffic_shows_the_policy_prints_a_capture_and_restores_weights(aws, monkeypatch):
    sagemaker = moto_endpoint(aws)
    scaling = aws.client("application-autoscaling")
    resource = f"endpoint/{ENDPOINT}/variant/{contract.VARIANT_A}"
    scaling.register_scalable_target(ServiceNamespace="sagemaker", ResourceId=resource, MinCapacity=2, MaxCapacity=4,
                                     ScalableDimension=contract.SCALABLE_DIMENSION)
    scaling.put_scaling_policy(PolicyName="mlref-endpoint-VariantA-invocations", ServiceNamespace="sagemaker",
                               ResourceId=resource, ScalableDimension=contract.SCALABLE_DIMENSION,
                               PolicyType="TargetTrackingScaling", TargetTrackingScalingPolicyConfiguration={
                                   "TargetValue": 100.0, "ScaleInCooldown": 300, "ScaleOutCooldown": 60,
                                   "PredefinedMetricSpecification": {
                                       "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}})
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    record = {"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                                "data": "12,40.5,1,8,0,33", "encoding": "CSV"},
                              "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT",
                                                 "data": "0.12", "encoding": "CSV"}},
              "eventMetadata": {"eventId": "e-1", "inferenceTime": "2026-12-01T12:01:02Z"}, "eventVersion": "0"}
    s3.put_object(Bucket=BUCKET, Key=f"capture/{ENDPOINT}/VariantA/2026/12/01/12/file.jsonl",
                  Body=json.dumps(record) + "\n")
    queue_answers(["VariantA"] * 8 + ["VariantB"] * 2 + ["VariantA"] * 9 + ["VariantB"])
    outputs = {k: v for k, v in OUTPUTS.items() if k not in {contract.SCHEDULE, contract.JOB_DEFINITION,
                                                               contract.MONITOR_ROLE}}
    outputs[contract.LOG_GROUP] = f"/aws/sagemaker/Endpoints/{ENDPOINT}"
    monkeypatch.setattr(practice, "deployed_stack", lambda *_: (outputs, dict(TAGS, extra="x")))
    lines = []
    report = practice.EndpointPractice(aws, out=lines.append, requests=10, seed=1, now=lambda: T0.replace(year=2020),
                                       waits=Waits(poll_seconds=1)).run()
    assert report["first_split"] == {"VariantA": 8, "VariantB": 2}
    assert report["second_split"] == {"VariantA": 9, "VariantB": 1}
    text = "\n".join(lines)
    assert "shifting traffic to VariantA 0.9, VariantB 0.1" in text
    assert "  now: VariantA weight 0.9" in text
    assert "tracks SageMakerVariantInvocationsPerInstance at 100 per instance per minute" in text
    assert "  endpointInput: text/csv: 12,40.5,1,8,0,33" in text and "  endpointOutput: text/csv: 0.12" in text
    weights = {v["VariantName"]: v["CurrentWeight"] for v in sagemaker.describe_endpoint(
        EndpointName=ENDPOINT)["ProductionVariants"]}
    assert weights == contract.WEIGHTS and lines[-1] == "restored the weights: VariantA 0.8, VariantB 0.2"
    assert [step for step, _ in announced_steps(lines)] == [  # no monitor: neither its baseline nor its check
        contract.STEP_INVOKE, contract.STEP_SHIFT, contract.STEP_SCALING, contract.STEP_CAPTURE]


def test_a_serverless_run_reports_the_cold_start_from_cloudwatch(monkeypatch):
    runtime, cloudwatch, sagemaker = client("sagemaker-runtime"), client("cloudwatch"), client("sagemaker")
    endpoint = example_outputs("us-east-1", serverless=True)[contract.ENDPOINT]

    class Session:
        region_name = "us-east-1"

        def client(self, name, **_):
            return {"sagemaker-runtime": runtime, "cloudwatch": cloudwatch, "sagemaker": sagemaker}[name]

    outputs = {contract.ENDPOINT: endpoint, contract.ENDPOINT_TYPE: "serverless", contract.VARIANTS: "VariantA",
               contract.LOG_GROUP: f"/aws/sagemaker/Endpoints/{endpoint}", contract.KEY: OUTPUTS[contract.KEY]}
    monkeypatch.setattr(practice, "deployed_stack", lambda *_: (outputs, TAGS))
    lines = []
    with Stubber(runtime) as rt, Stubber(cloudwatch) as cw, Stubber(sagemaker) as sm:
        sm.add_response("describe_endpoint", {"EndpointName": endpoint,
                                              "EndpointArn": "arn:aws:sagemaker:us-east-1:1:endpoint/e",
                                              "EndpointStatus": "InService", "CreationTime": T0,
                                              "LastModifiedTime": T0}, {"EndpointName": endpoint})
        for _ in range(4):
            rt.add_response("invoke_endpoint", {"Body": body("0.2"), "InvokedProductionVariant": "VariantA"})
        cw.add_response("get_metric_data", {"MetricDataResults": [{"Id": "m0", "Values": []}]})
        cw.add_response("get_metric_data", {"MetricDataResults": [
            {"Id": "m0", "Timestamps": [T0], "Values": [1_534_000.0]}]})
        clock = FakeClock()
        report = practice.EndpointPractice(Session(), out=lines.append, requests=3, clock=clock, sleep=clock.sleep,
                                           now=lambda: T0, waits=Waits(poll_seconds=10)).run()
        cw.assert_no_pending_responses()
    assert len(report["warm"]) == 3
    assert lines[-1] == "ModelSetupTime (the cold start, from CloudWatch): 1534 ms"
    assert [step for step, _ in announced_steps(lines)] == [contract.STEP_SERVERLESS]


@pytest.mark.parametrize("arguments, problem", [
    ({"requests": 0}, "--requests 0 is out of range"), ({"requests": 2001}, "use 1 to 2000"),
    ({"load_minutes": 16}, "--load-minutes 16 is out of range"), ({"load_minutes": -1}, "use 0 (no load) to 15"),
])
def test_flags_out_of_their_bounds_are_one_line(arguments, problem):
    with pytest.raises(LabError, match=re.escape(problem)):
        practice.EndpointPractice(None, **arguments)


def test_a_stack_without_the_variants_outputs_asks_for_a_redeploy(monkeypatch):
    outputs = {contract.ENDPOINT: ENDPOINT, contract.ENDPOINT_TYPE: "realtime", contract.VARIANTS: "VariantA,VariantB"}
    monkeypatch.setattr(practice, "deployed_stack", lambda *_: (outputs, TAGS))
    with pytest.raises(LabError, match=r"lacks outputs .*ScalableResourceId.*labs deploy endpoint"):
        practice.EndpointPractice(type("S", (), {"region_name": "us-east-1"})()).run()


# -- auto scaling ---------------------------------------------------------------------------

class Recorder:
    """A client stand-in that answers from a table and records calls (for threads and Ctrl-C)."""

    def __init__(self, **answers):
        self.answers, self.calls = answers, []

    def __getattr__(self, name):
        def call(**params):
            self.calls.append((name, params))
            answer = self.answers.get(name)
            if isinstance(answer, BaseException):
                raise answer
            return answer(params) if callable(answer) else answer
        return call


def test_the_load_stops_at_its_time_and_request_caps_and_reports_new_activities_once():
    runtime = Recorder(invoke_endpoint=lambda _: {"Body": body("0.5"), "InvokedProductionVariant": "VariantA"})
    sagemaker = Recorder(describe_endpoint={"EndpointStatus": "InService", "ProductionVariants": [
        {"VariantName": "VariantA", "DesiredInstanceCount": 3, "CurrentInstanceCount": 2}]})
    autoscaling = Recorder(describe_scaling_activities={"ScalingActivities": [
        {"ActivityId": "a1", "StatusCode": "InProgress", "StartTime": T0,
         "Description": "Setting desired instance count to 3."}]})
    lines = []
    load = Load(runtime, sagemaker, autoscaling, endpoint=ENDPOINT, variant="VariantA",
                resource_id=f"endpoint/{ENDPOINT}/variant/VariantA", rows=iter(synthetic_rows(50, seed=5)),
                seconds=0.4, rate=10, workers=2, report_every=0.1, out=lines.append)
    report = load.run()
    assert 1 <= report.sent <= load.cap == 5 and report.answered == report.sent
    assert report.activities == ["  12:00:00 InProgress: Setting desired instance count to 3."]
    assert report.counts[-1][1:] == (3, 2) and any("desired 3, current 2" in line for line in lines)
    capped = Load(runtime, sagemaker, autoscaling, endpoint=ENDPOINT, variant="VariantA", resource_id="r",
                  rows=iter([]), seconds=10**6, rate=10**6)
    assert (capped.seconds, capped.rate, capped.cap) == (15 * 60, 10, MAX_LOAD_REQUESTS)


def test_the_scaling_reads_are_valid_requests():
    autoscaling = client("application-autoscaling")
    resource = f"endpoint/{ENDPOINT}/variant/VariantA"
    requests = scaling_requests(resource)
    with Stubber(autoscaling) as stub:
        stub.add_response("describe_scalable_targets", {"ScalableTargets": [{
            "ServiceNamespace": "sagemaker", "ResourceId": resource, "ScalableDimension": contract.SCALABLE_DIMENSION,
            "MinCapacity": 2, "MaxCapacity": 4, "RoleARN": "arn:aws:iam::1:role/slr", "CreationTime": T0}]},
            requests["describe_scalable_targets"])
        stub.add_response("describe_scaling_policies", {"ScalingPolicies": []}, requests["describe_scaling_policies"])
        assert policy_lines(autoscaling, resource) == [
            f"no scaling policy registered for {resource}: redeploy with `labs deploy endpoint`"]


# -- Model Monitor ----------------------------------------------------------------------------

def monitor(sagemaker, s3, clock=None, **waits):
    clock = clock or FakeClock()
    lines = []
    step = MonitorStep(sagemaker, s3, outputs=OUTPUTS, tags=TAGS, region="us-east-1", run_id="r1", out=lines.append,
                       clock=clock, sleep=clock.sleep, waits=Waits(poll_seconds=30, **waits))
    return step, lines


def job(status, **extra):
    return {"ProcessingJobName": "j", "ProcessingJobArn": "arn:aws:sagemaker:us-east-1:1:processing-job/j",
            "ProcessingJobStatus": status, "CreationTime": T0, "AppSpecification": {"ImageUri": "i"},
            "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                                                      "VolumeSizeInGB": 20}}, **extra}


def test_the_baseline_job_starts_only_without_a_baseline_and_its_request_is_valid():
    sagemaker, s3 = client("sagemaker"), client("s3")
    step, lines = monitor(sagemaker, s3)
    with Stubber(sagemaker) as sm, Stubber(s3) as st:
        st.add_client_error("head_object", "404", http_status_code=404)
        st.add_response("put_object", {}, {"Bucket": BUCKET, "Key": "baseline/dataset/train.csv", "Body": ANY})
        expected = baseline_job_request("mlref-endpoint-baseline-r1", OUTPUTS, "us-east-1", TAGS)
        sm.add_response("create_processing_job",
                        {"ProcessingJobArn": "arn:aws:sagemaker:us-east-1:1:processing-job/j"}, expected)
        assert step.start_baseline(synthetic_rows(20, seed=6)) == "mlref-endpoint-baseline-r1"
        baseline = {"ProcessingJobName": "mlref-endpoint-baseline-r1"}
        sm.add_response("describe_processing_job", job("InProgress"), baseline)
        sm.add_response("describe_processing_job", job("Completed"), baseline)
        step.wait_baseline()
        for _ in range(2):
            st.add_response("head_object", {"ContentLength": 10})
        assert step.start_baseline([]) is None
    assert expected["Environment"]["dataset_format"] == '{"csv": {"header": false, "output_columns_position": "START"}}'
    assert "no baseline job" in lines[-1]


def test_a_failed_baseline_job_stops_with_its_reason():
    sagemaker = client("sagemaker")
    step, _ = monitor(sagemaker, client("s3"))
    step.baseline_job = "b"
    with Stubber(sagemaker) as sm:
        sm.add_response("describe_processing_job", job("Failed", FailureReason="AlgorithmError: bad csv"))
        with pytest.raises(LabError, match="baseline job b Failed: AlgorithmError: bad csv; rerun"):
            step.wait_baseline()


def execution(status, **extra):
    return {"MonitoringExecutionSummaries": [] if status is None else [{
        "MonitoringScheduleName": "mlref-endpoint-now-r1", "ScheduledTime": T0, "CreationTime": T0,
        "LastModifiedTime": T0, "MonitoringExecutionStatus": status, **extra}]}


def test_a_one_off_execution_reports_the_violations_it_found():
    sagemaker, s3 = client("sagemaker"), client("s3")
    step, lines = monitor(sagemaker, s3)
    arn = "arn:aws:sagemaker:us-east-1:1:processing-job/model-monitoring-202612011200-abc"
    report = {"violations": [
        {"feature_name": "_c1", "constraint_check_type": "baseline_drift_check",
         "description": "Baseline drift distance: 0.62 exceeds threshold: 0.1"},
        {"feature_name": "_c2", "constraint_check_type": "completeness_check",
         "description": "Data completeness 0.85 is below the baseline 1.0"}]}
    with Stubber(sagemaker) as sm, Stubber(s3) as st:
        sm.add_response("create_monitoring_schedule", {"MonitoringScheduleArn": SCHEDULE_ARN},
                        one_off_request("mlref-endpoint-now-r1", OUTPUTS, TAGS))
        sm.add_response("list_monitoring_executions", execution(None))
        sm.add_response("list_monitoring_executions", execution("InProgress", ProcessingJobArn=arn))
        sm.add_response("list_monitoring_executions", execution("CompletedWithViolations", ProcessingJobArn=arn))
        sm.add_response("describe_processing_job", job("Completed", ProcessingOutputConfig={"Outputs": [{
            "OutputName": "o", "S3Output": {"S3Uri": f"s3://{BUCKET}/monitoring/x/2026/12/01/12",
                                            "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "EndOfJob"}}]}),
                        {"ProcessingJobName": arn.rsplit("/", 1)[1]})
        st.add_response("get_object", {"Body": body(json.dumps(report))},
                        {"Bucket": BUCKET, "Key": "monitoring/x/2026/12/01/12/constraint_violations.json"})
        sm.add_response("delete_monitoring_schedule", {}, {"MonitoringScheduleName": "mlref-endpoint-now-r1"})
        violations = step.run_once()
        step.delete_schedule()
    assert violations[0] == "Model Monitor found 2 constraint violations:"
    assert violations[1].startswith("  _c1 (monthly_spend): baseline_drift_check: Baseline drift distance")
    assert violations[2].startswith("  _c2 (support_calls): completeness_check")
    assert "  execution: not started yet" in lines and lines[-1] == "deleted the one-off schedule mlref-endpoint-now-r1"


def test_a_failed_monitoring_execution_says_why_and_what_to_do():
    sagemaker = client("sagemaker")
    step, _ = monitor(sagemaker, client("s3"))
    with Stubber(sagemaker) as sm:
        sm.add_response("create_monitoring_schedule", {"MonitoringScheduleArn": SCHEDULE_ARN})
        sm.add_response("list_monitoring_executions", execution("Failed", FailureReason="Job inputs had no data"))
        with pytest.raises(LabError, match="monitoring execution Failed: Job inputs had no data; the analysed hour had "
                                           "no captured data yet: rerun in a few minutes"):
            step.run_once()


def test_an_execution_that_never_finishes_times_out_on_the_clock():
    sagemaker = client("sagemaker")
    clock = FakeClock()
    step, _ = monitor(sagemaker, client("s3"), clock=clock, execution_seconds=90)
    with Stubber(sagemaker) as sm:
        sm.add_response("create_monitoring_schedule", {"MonitoringScheduleArn": SCHEDULE_ARN})
        for _ in range(4):
            sm.add_response("list_monitoring_executions", execution("Pending"))
        with pytest.raises(LabError, match="is Pending after 2 minutes; see it in the SageMaker console"):
            step.run_once()
    assert clock.now == 90


def test_deleting_a_pending_schedule_is_retried_then_reported():
    sagemaker = client("sagemaker")
    clock = FakeClock()
    step, lines = monitor(sagemaker, client("s3"), clock=clock, delete_seconds=25)
    step.schedule = "s1"
    with Stubber(sagemaker) as sm:
        sm.add_client_error("delete_monitoring_schedule", "ValidationException", "schedule is Pending")
        sm.add_response("delete_monitoring_schedule", {})
        step.delete_schedule()
        step.schedule = "s2"
        for _ in range(4):
            sm.add_client_error("delete_monitoring_schedule", "ValidationException", "schedule is Pending")
        step.delete_schedule()
    assert lines[0] == "deleted the one-off schedule s1"
    assert lines[1].startswith("warning: could not delete monitoring schedule s2") and step.schedule == "s2"


@pytest.mark.parametrize("stop, said", [(KeyboardInterrupt, "interrupted: cleaning up what this run started"),
                                        (LabError("gave up"), "stopping what this run started")])
def test_ctrl_c_or_a_failed_step_stops_the_baseline_job_and_restores_the_weights(monkeypatch, stop, said):
    current = dict(contract.WEIGHTS)

    def update(params):
        current.update({v["VariantName"]: v["DesiredWeight"] for v in params["DesiredWeightsAndCapacities"]})
        return {}

    def describe(_):
        return {"EndpointStatus": "InService", "ProductionVariants": [
            {"VariantName": name, "CurrentWeight": weight, "CurrentInstanceCount": 1}
            for name, weight in current.items()]}

    sagemaker = Recorder(describe_endpoint=describe, create_processing_job={}, stop_processing_job={},
                         update_endpoint_weights_and_capacities=update)
    s3 = Recorder(head_object=ClientError({"Error": {"Code": "404"}}, "HeadObject"), put_object={})
    answers = iter([{"Body": body("0.5"), "InvokedProductionVariant": "VariantA"}] * 3)

    def invoke_or_interrupt(_):
        answer = next(answers, None)
        if answer is None:
            raise stop
        return answer

    runtime = Recorder(invoke_endpoint=invoke_or_interrupt)

    class Session:
        region_name = "us-east-1"

        def client(self, name, **_):
            return {"sagemaker": sagemaker, "s3": s3, "sagemaker-runtime": runtime}[name]

    monkeypatch.setattr(practice, "deployed_stack", lambda *_: (dict(OUTPUTS, **{
        contract.LOG_GROUP: "g", contract.CAPTURE_URI: "c", contract.BASELINE_URI: "b",
        contract.MONITORING_URI: "m"}), TAGS))
    lines = []
    with pytest.raises(type(stop) if isinstance(stop, BaseException) else stop):  # in step 2, after the shift
        practice.EndpointPractice(Session(), out=lines.append, requests=3).run()
    called = [name for name, _ in sagemaker.calls]
    assert called.count("update_endpoint_weights_and_capacities") == 2 and current == contract.WEIGHTS
    started = dict(sagemaker.calls)["create_processing_job"]
    assert ("stop_processing_job", {"ProcessingJobName": started["ProcessingJobName"]}) in sagemaker.calls
    assert said in lines
    assert lines[-1] == "restored the weights: VariantA 0.8, VariantB 0.2"
    assert started["Tags"] == [{"Key": k, "Value": v} for k, v in TAGS.items()]


def test_captured_records_are_decoded_whatever_their_encoding():
    import base64

    line = json.dumps({"captureData": {
        "endpointInput": {"observedContentType": "application/json", "data": base64.b64encode(b'{"x": 1}').decode(),
                          "encoding": "BASE64"},
        "endpointOutput": {"observedContentType": "text/csv", "data": "0.9\n", "encoding": "CSV"}},
        "eventMetadata": {"eventId": "e", "inferenceTime": "t"}})
    assert capture_record_lines(line) == ['  endpointInput: application/json: {"x": 1}',
                                          "  endpointOutput: text/csv: 0.9", "  at t (event e)"]


def test_the_shift_waits_until_the_endpoint_serves_the_new_weights():
    def described(weights, status="InService"):
        return {"EndpointStatus": status, "ProductionVariants": [
            {"VariantName": name, "CurrentWeight": weight}
            for name, weight in zip(("VariantA", "VariantB"), weights, strict=True)]}

    answers = iter([described((0.8, 0.2)), described((0.8, 0.2), "Updating"), described((0.9, 0.1))])
    sagemaker = Recorder(update_endpoint_weights_and_capacities={}, describe_endpoint=lambda _: next(answers))
    clock, lines = FakeClock(), []
    run = practice.EndpointPractice(None, out=lines.append, clock=clock, sleep=clock.sleep, waits=Waits(poll_seconds=5))
    run.sagemaker = sagemaker
    run.shift(ENDPOINT, contract.SHIFTED_WEIGHTS)
    assert clock.now == 10
    assert lines[-1] == "  now: VariantA weight 0.9 (? instances), VariantB weight 0.1 (? instances)"
    assert sagemaker.calls[0] == ("update_endpoint_weights_and_capacities", weights_request(ENDPOINT, {
        "VariantA": 0.9, "VariantB": 0.1}))
