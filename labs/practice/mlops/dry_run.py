"""``labs practice mlops --dry-run``: every request of every path of the practice (push, retrain, approve
or reject, rollback, a failed build, the audit, Ctrl-C), built by the run's own functions from example
outputs, printed under the step that makes it (its MLA-C01 line first), without credentials or network."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from catalog import mlops as lab
from labs.practice.common.dry_run import show_request, show_stack_outputs
from labs.practice.common.steps import step_line
from labs.practice.ml_pipeline.data import raw_customers
from labs.practice.mlops import plan, source
from labs.practice.mlops.audit import day_prefixes
from lambdas.shared.lab_names import deployed_name

Request = tuple[str, str, dict[str, Any], str]


def dry_run_steps(*, run_id: str, now: datetime, days: int) -> list[tuple[str, list[Request]]]:
    """Each practice step (the catalog's exercises, in order) with the requests it makes."""
    outputs = plan.PLACEHOLDERS
    execution = plan.EXAMPLE_EXECUTION
    account, region = plan.account_and_region(outputs)
    trail_day = day_prefixes(account, region, now, days)[0]
    body = source.zipped(source.source_files(note=f"practice run {run_id}"))
    holdout = f"s3://{outputs[lab.ARTIFACTS_BUCKET]}/runs/<SageMaker execution id>/preprocess/test/test.csv"
    follow = ("codepipeline", "ListActionExecutions", plan.actions(outputs, execution))
    return [
        ("push", [
            ("sagemaker", "DescribeEndpoint", plan.endpoint(outputs),
             "--rollback only: production must exist (the first run creates it, with no rollout to roll back)"),
            ("s3", "ListObjectsV2", plan.raw_listing(outputs), "is raw training data there already?"),
            ("s3", "PutObject", plan.raw_upload(outputs, run_id, raw_customers(100, run_id=run_id).csv_bytes()),
             "5000 raw rows, only when raw/ is empty"),
            ("s3", "PutObject", plan.push(outputs, body), f"the model-build zip ({len(body)} bytes): a new version "
                                                          "starts a run (--break-test: a preprocessing that keeps "
                                                          "duplicates)"),
            ("codepipeline", "ListPipelineExecutions", plan.executions(outputs), "until the new run shows"),
            ("codepipeline", "GetPipelineExecution", plan.execution(outputs, execution), "its status (and RunReason)"),
        ]),
        ("build-and-test", [
            (*follow, "each action's status and time: BuildAndTest's unit tests and lint"),
            ("logs", "FilterLogEvents", plan.build_log(outputs, "<build id>"), "a failed build's failing tests"),
        ]),
        ("train", [(*follow, "the Train action's summary: the SageMaker steps, then the version and its AUC")]),
        ("approve", [
            ("codepipeline", "GetPipelineState", plan.state(outputs), "the open approval's token"),
            ("codepipeline", "PutApprovalResult", plan.approval(outputs, plan.EXAMPLE_TOKEN, approve=True,
                                                                summary="approved by labs practice mlops"),
             "Approved, or Rejected with --reject; not sent with --leave-pending"),
        ]),
        ("staging", [(*follow, "DeployStaging, then IntegrationTest invoking the staging endpoint")]),
        ("production", [
            ("sagemaker", "DescribeEndpoint", plan.endpoint(outputs), "production's rollout, phase by phase"),
            ("cloudwatch", "SetAlarmState", plan.alarm(outputs[lab.ROLLBACK], "labs practice mlops --rollback"),
             "--rollback: forced while the new fleet bakes"),
            ("s3", "GetObject", plan.holdout(holdout), "test rows for production"),
            ("sagemaker-runtime", "InvokeEndpoint", plan.invoke(outputs, [["<features of a test row>"]]),
             f"{plan.PREDICTION_ROWS} rows; served by {deployed_name(outputs[lab.PRODUCTION_OUTPUT], 1)}"),
        ]),
        ("retrain", [
            ("cloudwatch", "SetAlarmState", plan.alarm(outputs[lab.DRIFT_OUTPUT], "labs practice mlops --retrain"),
             "--retrain instead of a push: the drift alarm starts a run, followed as above"),
            ("codepipeline", "StopPipelineExecution", plan.stop(outputs, execution), "only on Ctrl-C, at any step"),
        ]),
        ("audit", [
            ("s3", "ListObjectsV2", plan.trail_listing(outputs, trail_day),
             f"the trail's files, day by day ({days})"),
            ("s3", "GetObject", plan.trail_file(outputs, f"{trail_day}{account}_CloudTrail_{region}_example.json.gz"),
             "each file: its PutApprovalResult records"),
            ("codepipeline", "ListActionExecutions", plan.all_actions(outputs), "the approvals' runs and versions"),
        ]),
    ]


def dry_run_requests(*, run_id: str, now: datetime, days: int) -> list[Request]:
    return [request for _, requests in dry_run_steps(run_id=run_id, now=now, days=days) for request in requests]


def print_dry_run(out: Callable[[str], None], *, run_id: str, now: datetime, days: int) -> list[Request]:
    show_stack_outputs(out, lab.STACK_NAME)
    requests: list[Request] = []
    for step, made in dry_run_steps(run_id=run_id, now=now, days=days):
        out(step_line(lab.CONTRACT, step))
        for service, operation, request, note in made:
            shown = {k: v for k, v in request.items() if k != "Body"} if operation == "PutObject" else request
            show_request(out, service, operation, shown, note)
        requests.extend(made)
    out(f"# example names stand where the deployed {lab.STACK_NAME} stack's outputs go; nothing was sent")
    return requests
