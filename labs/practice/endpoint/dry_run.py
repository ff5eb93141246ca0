"""``labs practice endpoint --dry-run``: every request the practice sends, without AWS.

No client is created: the requests are built by the same functions the practice uses, from
example outputs (the deployed stack's outputs take their place) and printed as JSON. Each
entry names its service and operation, so the tests check every one against botocore's model.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from catalog import endpoint as contract
from jobs.endpoint.model import TRAINING_SEED, drifted_rows, synthetic_rows
from labs.practice.common.steps import step_line
from labs.practice.endpoint.monitor import (
    BASELINE_ROWS,
    baseline_dataset,
    baseline_job_request,
    executions_request,
    one_off_request,
)
from labs.practice.endpoint.scaling import metric_request, scaling_requests
from labs.practice.endpoint.traffic import invoke_request, weights_request
from lambdas.shared.lab_names import ENDPOINT_LOG_GROUP_PREFIX

ACCOUNT = "111122223333"
EXAMPLE_TIME = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
EXAMPLE_TAGS = {"lab": "endpoint", "profile": "sandbox", "owner": "you"}
RUN_ID = "20261201-120000-abcd"


def example_outputs(region: str, *, serverless: bool = False) -> dict[str, str]:
    bucket = "mlref-endpoint-inferencedatabucket-example"
    endpoint = f"mlref-{'serverless' if serverless else 'endpoint'}-0a1b2c3d"
    return {
        contract.ENDPOINT: endpoint,
        contract.LOG_GROUP: f"{ENDPOINT_LOG_GROUP_PREFIX}{endpoint}",
        contract.ENDPOINT_TYPE: "serverless" if serverless else "realtime",
        contract.VARIANTS: contract.VARIANT_A if serverless else f"{contract.VARIANT_A},{contract.VARIANT_B}",
        contract.KEY: f"arn:aws:kms:{region}:{ACCOUNT}:key/00000000-0000-4000-8000-000000000000",
        contract.SCALABLE_RESOURCE: f"endpoint/mlref-endpoint-0a1b2c3d/variant/{contract.VARIANT_A}",
        contract.DATA_BUCKET: bucket,
        contract.CAPTURE_URI: f"s3://{bucket}/{contract.CAPTURE_PREFIX}",
        contract.BASELINE_URI: f"s3://{bucket}/{contract.BASELINE_PREFIX}",
        contract.MONITORING_URI: f"s3://{bucket}/{contract.MONITORING_PREFIX}",
        contract.MONITOR_ROLE: f"arn:aws:iam::{ACCOUNT}:role/mlref-endpoint-MonitorRole-example",
        contract.JOB_DEFINITION: "DataQualityJobDefinition-example",
        contract.SCHEDULE: contract.SCHEDULE_NAME,
    }


Request = tuple[str, str, dict[str, Any]]  # (service, operation, parameters)


SCALING_PURPOSES = {"describe_scalable_targets": "variant A's desired and current instance counts",
                    "describe_scaling_policies": "its scaling policy",
                    "describe_scaling_activities": "with --load-minutes: its scaling activities"}
Steps = list[tuple[str, list[tuple[str, Request]]]]  # (step, (what it is for, request) of each of its requests)


def dry_run_requests(region: str, *, requests: int = contract.PRACTICE_REQUESTS,
                     load_minutes: int = 0) -> list[tuple[str, Request]]:
    """(what it is for, request) for every request of a real-time run, then of a serverless one."""
    return [entry for _step, entries in dry_run_steps(region, requests=requests, load_minutes=load_minutes)
            for entry in entries]


def dry_run_steps(region: str, *, requests: int = contract.PRACTICE_REQUESTS, load_minutes: int = 0) -> Steps:
    """The requests of a real-time run, then of a serverless one, under the step that sends them ("": before the
    first step, or after the last whatever happened)."""
    outputs = example_outputs(region)
    endpoint, bucket = outputs[contract.ENDPOINT], outputs[contract.DATA_BUCKET]
    first_row = synthetic_rows(1, seed=1)[0]
    scaling = scaling_requests(outputs[contract.SCALABLE_RESOURCE])
    baseline_job = {"ProcessingJobName": f"mlref-endpoint-baseline-{RUN_ID}"}
    one_off = f"mlref-endpoint-now-{RUN_ID}"
    found: Steps = [("", [
        ("the endpoint's status and variants (before each step)",
         ("sagemaker", "describe_endpoint", {"EndpointName": endpoint})),
        ("the stack's outputs", ("cloudformation", "describe_stacks", {
            "StackName": contract.CONTRACT.stack_name})),
        (f"only without {contract.CONTRACT.stack_name}: a classroom's copy of it in this account and region",
         ("cloudformation", "list_stacks", {})),
    ]), (contract.STEP_BASELINE, [
        ("is a baseline there already? (statistics and constraints)", ("s3", "head_object", {
            "Bucket": bucket, "Key": f"{contract.BASELINE_RESULTS}/statistics.json"})),
        ("baseline rows (skipped when a baseline is there)", ("s3", "put_object", {
            "Bucket": bucket, "Key": f"{contract.BASELINE_DATASET}/train.csv",
            "Body": baseline_dataset(synthetic_rows(3, seed=TRAINING_SEED))})),
        (f"the baseline job, on {BASELINE_ROWS} rows; it runs while the next steps do", (
            "sagemaker", "create_processing_job", baseline_job_request(
                baseline_job["ProcessingJobName"], outputs, region, EXAMPLE_TAGS))),
        ("the baseline job, until it has finished (waited for in the drift check)",
         ("sagemaker", "describe_processing_job", baseline_job)),
    ]), (contract.STEP_INVOKE, [
        (f"{requests} of these, and {requests} more after the traffic shift", ("sagemaker-runtime", "invoke_endpoint",
                                                                             invoke_request(endpoint, first_row))),
    ]), (contract.STEP_SHIFT, [
        ("the shift", ("sagemaker", "update_endpoint_weights_and_capacities",
                       weights_request(endpoint, contract.SHIFTED_WEIGHTS))),
    ]), (contract.STEP_SCALING, [
        *((SCALING_PURPOSES[operation], ("application-autoscaling", operation, params))
          for operation, params in scaling.items() if operation != "describe_scaling_activities" or load_minutes),
        ("without --load-minutes: variant A's invocations per instance", ("cloudwatch", "get_metric_data",
                                                                         metric_request(
            endpoint, contract.VARIANT_A, "InvocationsPerInstance", "Sum", end=EXAMPLE_TIME, minutes=10))),
    ]), (contract.STEP_CAPTURE, [
        ("the captured files", ("s3", "list_objects_v2", {
            "Bucket": bucket, "Prefix": f"{contract.CAPTURE_PREFIX}/{endpoint}/"})),
        ("the newest captured file", ("s3", "get_object", {"Bucket": bucket, "Key": (
            f"{contract.CAPTURE_PREFIX}/{endpoint}/{contract.VARIANT_A}/2026/12/01/12/capture.jsonl")})),
    ]), (contract.STEP_DRIFT, [
        (f"{requests * contract.DRIFT_FACTOR} drifted requests like this one", (
            "sagemaker-runtime", "invoke_endpoint",
            invoke_request(endpoint, next(r for r in drifted_rows(20, seed=2) if None in r)))),
        ("the one-off monitoring execution", ("sagemaker", "create_monitoring_schedule", one_off_request(
            one_off, outputs, EXAMPLE_TAGS))),
        ("its execution", ("sagemaker", "list_monitoring_executions", executions_request(one_off))),
        ("the execution's processing job, until it has finished", ("sagemaker", "describe_processing_job", {
            "ProcessingJobName": "<the execution's processing job>"})),
        ("its report", ("s3", "get_object", {
            "Bucket": bucket, "Key": f"{contract.MONITORING_PREFIX}/<report>/constraint_violations.json"})),
    ]), ("", [
        ("then: the one-off schedule deleted", ("sagemaker", "delete_monitoring_schedule",
                                                {"MonitoringScheduleName": one_off})),
        ("then: the deployed weights back", ("sagemaker", "update_endpoint_weights_and_capacities",
                                             weights_request(endpoint, contract.WEIGHTS))),
        ("Ctrl-C: a running job stopped", ("sagemaker", "stop_processing_job", baseline_job)),
    ])]
    serverless = example_outputs(region, serverless=True)[contract.ENDPOINT]
    found.append((contract.STEP_SERVERLESS, [
        (f"serverless: a cold request, then {requests} warm ones", (
            "sagemaker-runtime", "invoke_endpoint", invoke_request(serverless, first_row))),
        ("serverless: the cold start", ("cloudwatch", "get_metric_data", metric_request(
            serverless, contract.VARIANT_A, "ModelSetupTime", "Maximum", end=EXAMPLE_TIME, minutes=15))),
    ]))
    return found


def to_json(parameters: dict[str, Any]) -> str:
    def plain(value: Any) -> Any:
        if isinstance(value, bytes):
            return value.decode()
        return value.isoformat() if isinstance(value, datetime) else str(value)

    return json.dumps(parameters, indent=1, default=plain)


def print_dry_run(out: Callable[[str], None], *, region: str, requests: int, load_minutes: int) -> None:
    for step, entries in dry_run_steps(region, requests=requests, load_minutes=load_minutes):
        if step:
            out(step_line(contract.CONTRACT, step))
        for purpose, (service, operation, parameters) in entries:
            out(f"# {service} {operation}: {purpose}")
            out(to_json(parameters))
    out(f"# example names stand where the deployed {contract.CONTRACT.stack_name} stack's outputs go; nothing was sent")
