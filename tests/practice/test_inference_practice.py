"""The inference practice: every dry-run request against botocore's models; each way of the table,
the rollout (a clean canary, an alarm rollback, a failed update, --restore) and the shadow step
against Stubber, which checks every request the practice sends; the cost asked before anything
starts; Ctrl-C stops the transform job."""

from __future__ import annotations

import functools
import io
import json
import re
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber
from botocore.validate import validate_parameters

from catalog import inference as contract
from labs.engine.errors import LabError
from labs.practice.common.dry_run import printed_calls
from labs.practice.inference import command as practice
from labs.practice.inference import requests as build
from labs.practice.inference.dry_run import example_outputs
from labs.practice.inference.rollout import RolloutStep
from labs.practice.inference.shadow import ShadowStep
from labs.practice.inference.ways import Waits, Ways
from lambdas.shared.rollout import ROLLED_BACK, SUCCEEDED

OUTPUTS = example_outputs("us-east-1")
RT, SL, ASYNC = (OUTPUTS[contract.REALTIME_ENDPOINT], OUTPUTS[contract.SERVERLESS_ENDPOINT],
                 OUTPUTS[contract.ASYNC_ENDPOINT])
V1, V2, BROKEN = OUTPUTS[contract.REALTIME_CONFIG], OUTPUTS[contract.ROLLOUT_CONFIG], OUTPUTS[contract.BROKEN_CONFIG]
ALARM, QUEUE, BUCKET = OUTPUTS[contract.ROLLBACK_ALARM], OUTPUTS[contract.ASYNC_QUEUE], OUTPUTS[contract.DATA_BUCKET]
TAGS = {"lab": "inference", "profile": "sandbox", "owner": "tester"}
T0 = datetime(2026, 12, 1, 12, tzinfo=UTC)
RUN = "20261201-120000-abcd"
EP_ARN = "arn:aws:sagemaker:us-east-1:111122223333:endpoint/mlref-inference-rt"
JOB_ARN = "arn:aws:sagemaker:us-east-1:111122223333:transform-job/mlref-inference-x"
QUICK = Waits(metrics=60, async_results=120, transform=120, poll=10)


@functools.cache
def model_client(service):
    return boto3.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x").client(service)


def body(text):
    return StreamingBody(io.BytesIO(text.encode()), len(text.encode()))


class Ticks:
    """A clock that moves 10 ms each time it is read, and by the seconds slept."""

    def __init__(self):
        self.now, self.slept = 0.0, []

    def __call__(self):
        self.now += 0.01
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


class Stubs:
    """A session whose clients are stubbed; every request is checked against the service model."""

    region_name = "us-east-1"

    def __init__(self, *services):
        self.clients = {s: boto3.client(s, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
                        for s in services}
        self.stubs = {s: Stubber(c) for s, c in self.clients.items()}

    def __getitem__(self, service):
        return self.stubs[service]

    def client(self, service, config=None):
        return self.clients[service]

    def __enter__(self):
        for stub in self.stubs.values():
            stub.activate()
        return self

    def __exit__(self, *exc):
        for stub in self.stubs.values():
            stub.deactivate()
        if exc[0] is None:
            for stub in self.stubs.values():
                stub.assert_no_pending_responses()


def rows(count):
    from jobs.endpoint.model import synthetic_rows

    return synthetic_rows(count, seed=5)


def answer(stub, endpoint, times=1):
    for _ in range(times):
        stub.add_response("invoke_endpoint", {"Body": body("0.25"), "ContentType": "text/csv",
                                              "InvokedProductionVariant": contract.VARIANT},
                          {"EndpointName": endpoint, "Body": ANY, "ContentType": "text/csv", "Accept": "text/csv"})


def latency(stub, endpoint, samples, model_us=2000.0, overhead_us=5000.0):
    stub.add_response("get_metric_data", {"MetricDataResults": [
        {"Id": "model", "Values": [model_us]}, {"Id": "samples", "Values": [samples]},
        {"Id": "overhead", "Values": [overhead_us]}]}, build.latency_request(endpoint, contract.VARIANT, T0, T0))


def ways(session, clock=None, **kwargs):
    clock = clock or Ticks()
    return Ways(session.client, OUTPUTS, run_id=RUN, tags=TAGS, concurrency=1, out=kwargs.pop("out", print),
                waits=QUICK, clock=clock, now=lambda: T0, sleep=clock.sleep, **kwargs)


# -- the dry run -----------------------------------------------------------------------------------

def test_the_dry_run_prints_every_way_the_rollout_and_the_shadow_step_without_a_client(no_credentials, monkeypatch):
    monkeypatch.setattr(boto3, "client", lambda *a, **k: pytest.fail("the dry run created a client"))
    lines = []
    assert practice.InferencePractice(None, dry_run=True, out=lines.append, records=7).run() is None
    operations = {(r.service, r.operation) for r in printed_calls(lines)}
    assert {("sagemaker-runtime", "InvokeEndpoint"), ("sagemaker-runtime", "InvokeEndpointAsync"),
            ("sagemaker", "CreateTransformJob"), ("sagemaker", "UpdateEndpoint"), ("sqs", "ReceiveMessage"),
            ("cloudwatch", "DescribeAlarmHistory"), ("cloudwatch", "ListMetrics")} <= operations
    updates = [r.params for r in printed_calls(lines) if r.operation == "UpdateEndpoint"]
    kinds = [u.get("DeploymentConfig", {}).get("BlueGreenUpdatePolicy", {}).get("TrafficRoutingConfiguration", {})
             .get("Type") for u in updates]
    assert {"ALL_AT_ONCE", "CANARY", "LINEAR"} <= set(kinds)
    assert all(u["DeploymentConfig"]["AutoRollbackConfiguration"] == {"Alarms": [{"AlarmName": ALARM}]}
               for u in updates if u["EndpointConfigName"] in {V2, BROKEN})
    assert "7 of these" in "\n".join(lines) and "nothing was sent" in lines[-1]


def test_every_dry_run_request_is_valid_for_its_service_model():
    lines = []
    practice.InferencePractice(None, dry_run=True, out=lines.append).run()
    found = printed_calls(lines)
    assert len(found) >= 30
    for request in found:
        model = model_client(request.service).meta.service_model
        validate_parameters(request.params, model.operation_model(request.operation).input_shape)


# -- the table's ways ------------------------------------------------------------------------------

def test_realtime_row_measures_latency_throughput_and_prices_the_instance_hours():
    with Stubs("sagemaker-runtime", "cloudwatch") as session:
        answer(session["sagemaker-runtime"], RT, 5)
        latency(session["cloudwatch"], RT, samples=2)  # CloudWatch still counting: asked again
        latency(session["cloudwatch"], RT, samples=5)
        row = ways(session).realtime(rows(5))
    assert (row.way, row.records, row.answered, row.first_note) == ("realtime", 5, 5, "warm")
    assert row.model_ms == pytest.approx(2.0) and row.overhead_ms == pytest.approx(5.0)
    assert row.p50_ms == pytest.approx(10.0) and row.throughput > 0
    assert row.idle_per_hour == pytest.approx(0.115)
    assert row.per_1000 == pytest.approx(0.115 / (row.throughput * 3600) * 1000)


def test_serverless_row_is_priced_on_memory_and_model_latency_and_marks_a_cold_start():
    clock = Ticks()
    with Stubs("sagemaker-runtime", "cloudwatch") as session:
        runtime = session["sagemaker-runtime"]
        answer(runtime, SL, 3)
        latency(session["cloudwatch"], SL, samples=3, model_us=50_000.0)
        original = session.clients["sagemaker-runtime"].invoke_endpoint

        def slow_first(**request):  # the first request waits on a cold start
            if clock.now < 1:
                clock.now += 2.5
            return original(**request)

        session.clients["sagemaker-runtime"].invoke_endpoint = slow_first
        row = ways(session, clock).serverless(rows(3))
    assert row.first_note == "over 1 s: a cold start" and row.first_ms > 2500
    assert row.per_1000 == pytest.approx(2 * 0.05 * 0.072 / 3600 * 1000) and row.idle_per_hour == 0


def notification(inference_id, status="Completed", received="2026-12-01T12:00:01.000Z",
                 event="2026-12-01T12:00:03.000Z"):
    message = {"inferenceId": inference_id, "invocationStatus": status, "receivedTime": received, "eventTime": event,
               "responseParameters": {"outputLocation": f"s3://{BUCKET}/async/output/x.out"}}
    return {"MessageId": inference_id, "ReceiptHandle": f"r-{inference_id}",
            "Body": json.dumps({"Type": "Notification", "Message": json.dumps(message)})}


def test_async_row_waits_for_every_notification_and_counts_the_instance_time(monkeypatch):
    monkeypatch.setattr("labs.practice.inference.ways.uuid.uuid4", lambda: type("U", (), {"hex": "1a2b3c4d" * 4})())
    ids = [f"{RUN}-{n}-1a2b3c4d" for n in range(2)]
    with Stubs("sagemaker", "s3", "sagemaker-runtime", "sqs", "cloudwatch", "application-autoscaling") as session:
        session["sagemaker"].add_response("describe_endpoint", {
            "EndpointName": ASYNC, "EndpointArn": "arn:aws:sagemaker:us-east-1:111122223333:endpoint/a",
            "EndpointStatus": "InService", "CreationTime": T0, "LastModifiedTime": T0,
            "ProductionVariants": [{"VariantName": contract.VARIANT, "CurrentInstanceCount": 0}]},
            {"EndpointName": ASYNC})
        for number, inference_id in enumerate(ids):
            key = build.async_key(RUN, number)
            session["s3"].add_response("put_object", {}, {"Bucket": BUCKET, "Key": key, "Body": ANY,
                                                          "ContentType": "text/csv"})
            session["sagemaker-runtime"].add_response(
                "invoke_endpoint_async", {"InferenceId": inference_id, "OutputLocation": "s3://x/y"},
                build.async_request(ASYNC, BUCKET, key, inference_id))
        stale = notification("an-interrupted-run-0")
        session["sqs"].add_response("receive_message", {"Messages": [stale, notification(ids[0])]},
                                    build.receive_request(QUEUE))
        session["sqs"].add_response("delete_message_batch", {"Successful": [], "Failed": []},
                                    build.delete_request(QUEUE, ["r-an-interrupted-run-0", f"r-{ids[0]}"]))
        session["sqs"].add_response("receive_message", {}, build.receive_request(QUEUE))
        last = notification(ids[1], event="2026-12-01T12:00:05Z")
        session["sqs"].add_response("receive_message", {"Messages": [last]}, build.receive_request(QUEUE))
        session["sqs"].add_response("delete_message_batch", {"Successful": [], "Failed": []},
                                    build.delete_request(QUEUE, [f"r-{ids[1]}"]))
        latency(session["cloudwatch"], ASYNC, samples=2)
        session["application-autoscaling"].add_response("describe_scalable_targets", {"ScalableTargets": [{
            "ServiceNamespace": "sagemaker", "ResourceId": OUTPUTS[contract.ASYNC_SCALABLE],
            "ScalableDimension": contract.SCALABLE_DIMENSION, "MinCapacity": 0, "MaxCapacity": 1,
            "RoleARN": "arn:aws:iam::111122223333:role/x", "CreationTime": T0}]},
            build.scalable_target_request(OUTPUTS[contract.ASYNC_SCALABLE]))
        lines = []
        row = ways(session, out=lines.append).asynchronous(rows(2))
    assert (row.answered, row.first_note, row.idle_per_hour) == (2, "from 0 instances", 0.0)
    assert row.throughput == pytest.approx(2 / 4)  # 12:00:01 received -> 12:00:05 last done
    assert row.per_1000 == pytest.approx(0.115 * 4 / 3600 * 1000 / 2)
    assert any("the first request starts one" in line for line in lines)
    assert any("scales between 0 and 1 instances" in line for line in lines)


def transform_job(status, **extra):
    return {"TransformJobName": build.transform_job_name(RUN),
            "TransformJobArn": "arn:aws:sagemaker:us-east-1:111122223333:transform-job/x",
            "TransformJobStatus": status, "ModelName": OUTPUTS[contract.TRANSFORM_MODEL], "CreationTime": T0,
            "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/i/"}}},
            "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1}, **extra}


def test_batch_row_runs_one_tagged_transform_job_and_prices_its_billed_time():
    request = build.transform_request(RUN, OUTPUTS, TAGS)
    job = {"TransformJobName": request["TransformJobName"]}
    with Stubs("sagemaker", "s3") as session:
        session["s3"].add_response("put_object", {}, {"Bucket": BUCKET, "Key": f"transform/input/{RUN}/records.csv",
                                                      "Body": ANY, "ContentType": "text/csv"})
        session["sagemaker"].add_response("create_transform_job", {"TransformJobArn": JOB_ARN}, request)
        session["sagemaker"].add_response("describe_transform_job", transform_job("InProgress"), job)
        session["sagemaker"].add_response("describe_transform_job", transform_job(
            "Completed", TransformStartTime=T0, TransformEndTime=T0 + timedelta(seconds=240)), job)
        session["s3"].add_response("get_object", {"Body": body("0.1\n0.2\n0.3\n")},
                                   {"Bucket": BUCKET, "Key": f"transform/output/{RUN}/records.csv.out"})
        row = ways(session).batch(rows(3))
    assert request["Tags"] == [{"Key": k, "Value": v} for k, v in TAGS.items()] and "RoleArn" not in request
    assert (row.answered, row.first_note, row.p50_ms) == (3, "whole file", None)
    assert row.throughput == pytest.approx(3 / 240) and row.per_1000 == pytest.approx(0.115 * 240 / 3600 * 1000 / 3)


def test_ctrl_c_during_the_batch_wait_stops_the_transform_job():
    request = build.transform_request(RUN, OUTPUTS, TAGS)
    job = {"TransformJobName": request["TransformJobName"]}
    clock = Ticks()

    def interrupt(seconds):
        raise KeyboardInterrupt

    with Stubs("sagemaker", "s3", "sts") as session:
        session["s3"].add_response("put_object", {}, None)
        session["sagemaker"].add_response("create_transform_job", {"TransformJobArn": JOB_ARN}, request)
        session["sagemaker"].add_response("describe_transform_job", transform_job("InProgress"), job)
        session["sagemaker"].add_response("stop_transform_job", {}, job)
        measuring = Ways(session.client, OUTPUTS, run_id=RUN, tags=TAGS, concurrency=1, out=print, waits=QUICK,
                         clock=clock, now=lambda: T0, sleep=interrupt)
        with pytest.raises(KeyboardInterrupt):
            measuring.batch(rows(3))
        measuring.stop_started()


# -- the rollout -------------------------------------------------------------------------------------

def described(status, config, pending=None, reason=None):
    found = {"EndpointName": RT, "EndpointArn": "arn:aws:sagemaker:us-east-1:111122223333:endpoint/rt",
             "EndpointConfigName": config, "EndpointStatus": status, "CreationTime": T0, "LastModifiedTime": T0}
    if pending is not None:
        found["PendingDeploymentSummary"] = {"EndpointConfigName": pending[0], "ProductionVariants": [
            {"VariantName": contract.VARIANT, "VariantStatus": [{"Status": pending[1]}],
             **({"CurrentWeight": pending[2]} if len(pending) > 2 else {})}]}
    if reason:
        found["FailureReason"] = reason
    return found


def alarm_state(stub, value):
    stub.add_response("describe_alarms", {"MetricAlarms": [{"AlarmName": ALARM, "StateValue": value}]},
                      build.alarm_request(ALARM))


def rollout_step(session, lines, clock):
    import itertools

    return RolloutStep(session.client("sagemaker"), session.client("cloudwatch"), session.client("sagemaker-runtime"),
                       OUTPUTS, records=itertools.cycle(rows(5)), out=lines.append, traffic_per_poll=1,
                       poll_seconds=10, clock=clock, now=lambda: T0, sleep=clock.sleep)


def replay(session, answers):
    """Each poll: one request of traffic, then the recorded DescribeEndpoint answer."""
    for found in answers:
        answer(session["sagemaker-runtime"], RT)
        session["sagemaker"].add_response("describe_endpoint", found, {"EndpointName": RT})


def test_a_clean_canary_reports_each_phase_with_its_time_and_goes_back_to_version_1():
    clock, lines = Ticks(), []
    with Stubs("sagemaker", "cloudwatch", "sagemaker-runtime") as session:
        session["sagemaker"].add_response("describe_endpoint", described("InService", V1), {"EndpointName": RT})
        alarm_state(session["cloudwatch"], "ALARM")  # the old fleet's last error: wait for a quiet minute
        alarm_state(session["cloudwatch"], "OK")
        session["sagemaker"].add_response("update_endpoint", {"EndpointArn": EP_ARN}, build.rollout_request(
            RT, V2, strategy="canary", alarm=ALARM, bake_seconds=300))
        replay(session, [described("Updating", V1, (V2, "Creating")),
                         described("Updating", V1, (V2, "ActivatingTraffic", 0.5)),
                         described("Updating", V1, (V2, "Baking", 0.5)),
                         described("Updating", V1, (V2, "ActivatingTraffic", 1.0)),
                         described("Updating", V1, (V2, "Baking", 1.0)),
                         described("InService", V2)])
        session["sagemaker"].add_response("describe_endpoint", described("InService", V2), {"EndpointName": RT})
        session["sagemaker"].add_response("update_endpoint", {"EndpointArn": EP_ARN}, build.restore_request(RT, V1))
        session["sagemaker"].add_response("describe_endpoint", described("Updating", V2, (V1, "Creating")),
                                          {"EndpointName": RT})
        session["sagemaker"].add_response("describe_endpoint", described("InService", V1), {"EndpointName": RT})
        report = rollout_step(session, lines, clock).run(strategy="canary", broken=False, bake_seconds=300)
    assert report.state == SUCCEEDED and report.sent == 6 and report.errors == 0
    phases = [phase for _, phase in report.phases]
    assert phases[:2] == [f"Updating: {contract.VARIANT} Creating", f"Updating: {contract.VARIANT} ActivatingTraffic "
                                                                    "(weight 0.5)"]
    assert phases[-1] == f"InService on {V2}" and len(phases) == 6
    assert [seconds for seconds, _ in report.phases] == sorted(seconds for seconds, _ in report.phases)
    assert any(line.startswith("succeeded after") for line in lines) and "back to version 1" in "\n".join(lines)


def test_an_alarm_rollback_is_reported_with_the_time_the_alarm_fired():
    clock, lines = Ticks(), []
    fired = T0 + timedelta(minutes=6)
    with Stubs("sagemaker", "cloudwatch", "sagemaker-runtime") as session:
        session["sagemaker"].add_response("describe_endpoint", described("InService", V1), {"EndpointName": RT})
        alarm_state(session["cloudwatch"], "INSUFFICIENT_DATA")
        session["sagemaker"].add_response("update_endpoint", {"EndpointArn": EP_ARN}, build.rollout_request(
            RT, BROKEN, strategy="linear", alarm=ALARM, bake_seconds=120))
        replay(session, [described("Updating", V1, (BROKEN, "Creating")),
                         described("Updating", V1, (BROKEN, "Baking", 0.5)),
                         described("RollingBack", V1, (BROKEN, "Deleting")),
                         described("InService", V1)])
        session["cloudwatch"].add_response("describe_alarm_history", {"AlarmHistoryItems": [
            {"AlarmName": ALARM, "Timestamp": fired, "HistoryItemType": "StateUpdate",
             "HistoryData": json.dumps({"oldState": {"stateValue": "OK"}, "newState": {"stateValue": "ALARM"}})}]},
            build.alarm_history_request(ALARM, T0, T0))
        report = rollout_step(session, lines, clock).run(strategy="linear", broken=True, bake_seconds=120)
    assert report.state == ROLLED_BACK
    assert "alarm mlref-inference-realtime-errors went to ALARM at 12:06:00" in report.cause
    assert [p for _, p in report.phases][2] == f"RollingBack: {contract.VARIANT} Deleting"


def test_a_failed_update_that_never_took_traffic_is_told_apart_from_an_alarm_rollback():
    clock, lines = Ticks(), []
    reason = "The primary container for production variant AllTraffic did not pass the ping health check."
    with Stubs("sagemaker", "cloudwatch", "sagemaker-runtime") as session:
        session["sagemaker"].add_response("describe_endpoint", described("InService", V1), {"EndpointName": RT})
        alarm_state(session["cloudwatch"], "OK")
        session["sagemaker"].add_response("update_endpoint", {"EndpointArn": EP_ARN}, None)
        replay(session, [described("Updating", V1, (V2, "Creating")), described("InService", V1, reason=reason)])
        session["cloudwatch"].add_response("describe_alarm_history", {"AlarmHistoryItems": []}, None)
        report = rollout_step(session, lines, clock).run(strategy="all-at-once", broken=False, bake_seconds=120)
    assert report.state == ROLLED_BACK and report.cause.startswith("the update failed after")
    assert reason in report.cause


def test_a_broken_endpoint_is_one_line_that_says_to_redeploy():
    clock, lines = Ticks(), []
    with Stubs("sagemaker", "cloudwatch", "sagemaker-runtime") as session:
        session["sagemaker"].add_response("describe_endpoint", described("InService", V1), {"EndpointName": RT})
        alarm_state(session["cloudwatch"], "OK")
        session["sagemaker"].add_response("update_endpoint", {"EndpointArn": EP_ARN}, None)
        replay(session, [described("UpdateRollbackFailed", V1, reason="rollback failed")])
        with pytest.raises(LabError, match="UpdateRollbackFailed: rollback failed; destroy and redeploy"):
            rollout_step(session, lines, clock).run(strategy="canary", broken=False, bake_seconds=120)


def test_a_rollout_needs_version_1_and_a_refused_update_is_one_line():
    clock, lines = Ticks(), []
    with Stubs("sagemaker", "cloudwatch", "sagemaker-runtime") as session:
        session["sagemaker"].add_response("describe_endpoint", described("InService", V2), {"EndpointName": RT})
        with pytest.raises(LabError, match="rollout --restore` first"):
            rollout_step(session, lines, clock).run(strategy="canary", broken=False, bake_seconds=120)
    with Stubs("sagemaker", "cloudwatch", "sagemaker-runtime") as session:
        session["sagemaker"].add_response("describe_endpoint", described("InService", V1), {"EndpointName": RT})
        alarm_state(session["cloudwatch"], "OK")
        session["sagemaker"].add_client_error("update_endpoint", "ResourceLimitExceeded",
                                              "The account-level service limit 'ml.m5.large for endpoint usage' is 2")
        with pytest.raises(LabError, match=r"ResourceLimitExceeded.*a quota"):
            rollout_step(session, lines, clock).run(strategy="canary", broken=False, bake_seconds=120)


def test_restore_does_nothing_on_version_1_and_waits_on_a_busy_endpoint():
    clock, lines = Ticks(), []
    with Stubs("sagemaker", "cloudwatch", "sagemaker-runtime") as session:
        session["sagemaker"].add_response("describe_endpoint", described("InService", V1), {"EndpointName": RT})
        session["sagemaker"].add_response("describe_endpoint", described("Updating", V1, (V2, "Creating")),
                                          {"EndpointName": RT})
        step = rollout_step(session, lines, clock)
        assert step.restore().state == SUCCEEDED and "nothing to restore" in lines[-1]
        with pytest.raises(LabError, match="is Updating: it cannot be updated until it is InService"):
            step.restore()


# -- the shadow step ----------------------------------------------------------------------------------

@pytest.mark.parametrize("listed", [2, 0], ids=["both variants listed", "none listed yet"])
def test_the_shadow_step_compares_both_variants_and_always_goes_back_to_version_1(listed):
    """ListMetrics may take up to 15 minutes to list a new metric: the two variants the stack names are read
    from GetMetricData at once, whether listed or not."""
    clock, lines = Ticks(), []
    shadow = OUTPUTS[contract.SHADOW_CONFIG]
    variants = [contract.VARIANT, contract.SHADOW_VARIANT]
    with Stubs("sagemaker", "cloudwatch", "sagemaker-runtime") as session:
        sm, cw = session["sagemaker"], session["cloudwatch"]
        sm.add_response("describe_endpoint", described("InService", V1), {"EndpointName": RT})
        sm.add_response("update_endpoint", {"EndpointArn": EP_ARN}, build.switch_request(RT, shadow))
        sm.add_response("describe_endpoint", described("Updating", V1, (shadow, "Creating")), {"EndpointName": RT})
        sm.add_response("describe_endpoint", described("InService", shadow), {"EndpointName": RT})
        answer(session["sagemaker-runtime"], RT, 3)
        cw.add_response("list_metrics", {"Metrics": [{"Namespace": "AWS/SageMaker", "MetricName": "Invocations",
                                                      "Dimensions": [{"Name": "EndpointName", "Value": RT},
                                                                     {"Name": "VariantName", "Value": v}]}
                                                     for v in reversed(variants[:listed])]},
                        build.variants_request(RT))
        values = {"invocations": 3.0, "latency": 2100.0, "latency_max": 5300.0, "errors4xx": 0.0, "errors5xx": 0.0}
        cw.add_response("get_metric_data", {"MetricDataResults": [
            {"Id": f"{name}_{index}", "Values": [value * (1 + index)]}
            for index in range(2) for name, value in values.items()]},
            build.shadow_metrics_request(RT, variants, T0, T0))
        sm.add_response("describe_endpoint", described("InService", shadow), {"EndpointName": RT})
        sm.add_response("update_endpoint", {"EndpointArn": EP_ARN}, build.restore_request(RT, V1))
        sm.add_response("describe_endpoint", described("Updating", shadow, (V1, "Creating")), {"EndpointName": RT})
        sm.add_response("describe_endpoint", described("InService", V1), {"EndpointName": RT})
        step = ShadowStep(rollout_step(session, lines, clock), session.client("cloudwatch"),
                          session.client("sagemaker-runtime"), out=lines.append, now=lambda: T0)
        found = step.run(rows(3))
    assert list(found) == variants and found[contract.SHADOW_VARIANT]["latency"] == 4200.0
    table = "\n".join(lines)
    assert re.search(r"AllTraffic +3  2\.1 ms / 5\.3 ms +0 +0 +0", table)
    assert re.search(r"Shadow +6  4\.2 ms / 10\.6 ms +0 +0 +0", table)


# -- the command ----------------------------------------------------------------------------------------

def test_the_cost_is_shown_before_anything_starts_and_a_no_stops_everything(monkeypatch):
    monkeypatch.setattr(practice, "deployed_stack", lambda session, stack, required: (OUTPUTS, TAGS))
    lines, asked = [], []
    session = Stubs("sagemaker")  # no request may be sent: Stubber has no responses queued
    with session:
        result = practice.InferencePractice(session, out=lines.append, ways="async,batch",
                                            ask=lambda q: asked.append(q) or False).run()
    assert result is None and lines[-1] == "nothing started"
    assert lines[0].startswith("step table: MLA-C01 3.1 ")
    assert "estimated cost of table beyond the lab's idle cost: ~$0.06" in lines[1]
    assert "async, one instance ~25 min" in lines[1] and "serverless" not in lines[1]
    assert asked == ["start table for ~$0.06?"]


def test_without_a_terminal_the_practice_needs_yes():
    with pytest.raises(LabError, match="rerun with --yes"):
        practice.InferencePractice(None, step="rollout").confirmed(contract.InferenceOptions())


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"ways": "realtime,gpu"}, "gpu is not a way"),
    ({"records": 0}, "--records 0 is out of range"),
    ({"concurrency": 9}, "--concurrency 9 is out of range"),
    ({"step": "rollout", "bake_seconds": 30}, "--bake-seconds 30 is out of range"),
    ({"broken": True}, "--break and --restore belong to the rollout step"),
    ({"step": "deploy"}, "step 'deploy' is not one of table, rollout, shadow"),
])
def test_bad_flags_are_one_line_before_anything_is_sent(kwargs, message):
    with pytest.raises(LabError, match=message):
        practice.InferencePractice(None, **kwargs)


def test_ways_keep_the_table_order():
    assert practice.parse_ways("batch, realtime") == ("realtime", "batch")
    assert practice.parse_ways(None) == contract.WAYS


def test_the_command_line_takes_the_step_as_a_word_and_break_as_a_flag():
    from labs.cli.main import parser

    args = parser().parse_args(["practice", "inference", "rollout", "--break", "--strategy", "linear"])
    assert (args.step, args.broken, args.strategy) == ("rollout", True, "linear")
    assert parser().parse_args(["practice", "inference"]).step is None  # the practice's default: the table
    with pytest.raises(SystemExit):
        parser().parse_args(["practice", "inference", "--strategy", "blue-green"])


def test_the_table_step_prints_the_rows_and_the_computed_pick(monkeypatch):
    from tests.practice.test_inference_table import rows as fixed_rows

    measured = {row.way: row for row in fixed_rows()}
    seen = []
    for way, method in (("realtime", "realtime"), ("serverless", "serverless"), ("async", "asynchronous"),
                        ("batch", "batch")):
        monkeypatch.setattr(Ways, method, lambda self, records, w=way: seen.append(records) or measured[w])
    monkeypatch.setattr(practice, "deployed_stack", lambda session, stack, required: (OUTPUTS, TAGS))
    lines = []
    found = practice.InferencePractice(Stubs(), out=lines.append, yes=True, records=3).run()
    assert [row.way for row in found] == list(contract.WAYS)
    assert all(records == seen[0] and len(records) == 3 for records in seen)  # the same records through each way
    assert any(line.startswith("way ") for line in lines)
    assert lines[-1] == ("pick, from this run's numbers: steady -> real-time, bursty -> serverless, "
                         "nightly file -> batch")
