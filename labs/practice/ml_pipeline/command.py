"""Practice on the ml-pipeline lab.

1. ``upload raw data``: generate raw customer data with known defects (duplicates, rows without
   a label, empty and impossible values; counted) and upload it under the data bucket's
   ``raw/<run id>/``.
2. ``run pipeline``: start an execution with that prefix and ``--threshold`` as parameters, and
   follow it live: each step once when it starts and once when it ends, with its status and
   duration. Ctrl-C stops the execution (its running job stops within minutes).
3. ``read results``: print what preprocessing dropped and imputed next to what was injected, the
   evaluation's AUC and accuracy, and the condition's outcome. Below the threshold the Fail step
   ends the execution with the metric in its message (``--threshold 0.99`` shows it); nothing is
   registered.
4. ``approve model``: otherwise show the registered model package (pending manual approval) and
   approve it (UpdateModelPackage), unless ``--no-approve``.
5. ``predict``: the approval's event makes the lab's function create or update the serverless
   endpoint; wait (bounded) until it serves this version, then invoke it with a few rows of the
   test split and print each prediction beside its label.

Each step is announced with the MLA-C01 task statements it exercises (``step_line``).

``--dry-run`` prints the requests (PutObject, StartPipelineExecution, UpdateModelPackage,
InvokeEndpoint) without credentials or network.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from catalog import ml_pipeline as lab
from labs.engine.deployed import deployed_stack
from labs.engine.errors import LabError
from labs.practice.common.polling import PollTimeout, poll
from labs.practice.common.steps import step_line
from labs.practice.ml_pipeline.data import Defects, raw_customers
from lambdas.shared.lab_names import deployed_name

REQUIRED_OUTPUTS = (lab.PIPELINE, lab.MODEL_GROUP, lab.ENDPOINT, lab.DATA_BUCKET, lab.ARTIFACTS_BUCKET, lab.KEY,
                    lab.DEPLOY_LOG_GROUP)
PLACEHOLDERS = {lab.PIPELINE: lab.PIPELINE_NAME, lab.MODEL_GROUP: lab.MODEL_PACKAGE_GROUP,
                lab.ENDPOINT: lab.ENDPOINT_NAME,
                lab.DATA_BUCKET: "mlref-ml-pipeline-rawdata-placeholder",
                lab.ARTIFACTS_BUCKET: "mlref-ml-pipeline-artifacts-placeholder",
                lab.KEY: "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000",
                lab.DEPLOY_LOG_GROUP: "<DeployLogGroupName>"}
PLACEHOLDER_PACKAGE = f"arn:aws:sagemaker:us-east-1:111122223333:model-package/{lab.MODEL_PACKAGE_GROUP}/1"
PLACEHOLDER_EXECUTION = f"arn:aws:sagemaker:us-east-1:111122223333:pipeline/{lab.PIPELINE_NAME}/execution/0abc1def2"
FINISHED = {"Succeeded", "Failed", "Stopped"}
EXECUTION_TIMEOUT_SECONDS = 75 * 60  # spot training may wait up to an hour for capacity
ENDPOINT_TIMEOUT_SECONDS = 15 * 60
RAW_FILE = "customers.csv"
RETRIES = Config(retries={"mode": "standard", "max_attempts": 5})


def token(text: str) -> str:
    """An idempotency token (32-128 characters) that is the same for the same request."""
    return hashlib.sha256(text.encode()).hexdigest()


def input_uri(outputs: dict[str, str], run_id: str) -> str:
    return f"s3://{outputs[lab.DATA_BUCKET]}/{lab.RAW_PREFIX}{run_id}/"


def upload_request(outputs: dict[str, str], run_id: str, body: bytes) -> dict[str, Any]:
    return {"Bucket": outputs[lab.DATA_BUCKET], "Key": f"{lab.RAW_PREFIX}{run_id}/{RAW_FILE}", "Body": body,
            "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": outputs[lab.KEY]}


def start_request(outputs: dict[str, str], run_id: str, threshold: float) -> dict[str, Any]:
    return {"PipelineName": outputs[lab.PIPELINE], "PipelineExecutionDisplayName": f"practice-{run_id}",
            "PipelineExecutionDescription": f"labs practice ml-pipeline --threshold {threshold}",
            "PipelineParameters": [{"Name": lab.INPUT_PARAMETER, "Value": input_uri(outputs, run_id)},
                                   {"Name": lab.THRESHOLD_PARAMETER, "Value": repr(float(threshold))}],
            "ClientRequestToken": token(f"{outputs[lab.PIPELINE]}/{run_id}")}


def approve_request(package_arn: str, auc: float | None, threshold: float) -> dict[str, Any]:
    measured = f"AUC {auc:.3f} >= {threshold}" if auc is not None else f"AUC >= {threshold}"
    return {"ModelPackageArn": package_arn, "ModelApprovalStatus": "Approved",
            "ApprovalDescription": f"approved by labs practice: {measured}"}


def invoke_request(endpoint: str, rows: list[list[str]]) -> dict[str, Any]:
    return {"EndpointName": endpoint, "ContentType": "text/csv", "Accept": "text/csv",
            "Body": "\n".join(",".join(row) for row in rows)}


def duration(step: dict) -> str:
    if not (step.get("StartTime") and step.get("EndTime")):
        return ""
    seconds = int((step["EndTime"] - step["StartTime"]).total_seconds())
    return f"{seconds // 60}m {seconds % 60:02d}s"


def defects_line(defects: Defects) -> str:
    return (f"{defects.duplicates} duplicate rows, {defects.unlabeled} without a label, "
            f"{defects.missing_values} empty values, {defects.invalid_values} negative tenures")


class ExecutionFollower:
    """Reads an execution and its steps; prints each step when its status changes."""

    def __init__(self, sagemaker: Any, execution_arn: str, out: Callable[[str], None]) -> None:
        self.sagemaker, self.arn, self.out = sagemaker, execution_arn, out
        self.seen: dict[str, str] = {}

    def fetch(self) -> dict[str, Any]:
        execution = self.sagemaker.describe_pipeline_execution(PipelineExecutionArn=self.arn)
        steps: dict[str, dict] = {}
        pages = self.sagemaker.get_paginator("list_pipeline_execution_steps").paginate(
            PipelineExecutionArn=self.arn, SortOrder="Ascending")
        for page in pages:
            for step in page["PipelineExecutionSteps"]:
                steps[step["StepName"]] = step
                if self.seen.get(step["StepName"]) != step["StepStatus"]:
                    self.seen[step["StepName"]] = step["StepStatus"]
                    self.out(f"  {step['StepName']:<18} {step['StepStatus']:<10} {duration(step)}".rstrip())
        return {"status": execution["PipelineExecutionStatus"], "failure": execution.get("FailureReason", ""),
                "steps": steps}


@dataclass
class PracticeReport:
    run_id: str
    execution_arn: str | None = None
    status: str | None = None
    outcome: str | None = None  # the condition's: "True" (registered) or "False" (Fail step)
    metrics: dict[str, Any] = field(default_factory=dict)
    package_arn: str | None = None
    version: int | None = None
    predictions: list[tuple[str, float]] = field(default_factory=list)  # (label, predicted probability)


class MlPipelinePractice:
    def __init__(self, session: Any, *, dry_run: bool = False, out: Callable[[str], None] = print,
                 threshold: float = lab.DEFAULT_THRESHOLD, approve: bool = True,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 poll_seconds: float = 20, rows: int = lab.PRACTICE_ROWS, seed: int | None = None,
                 run_id: str | None = None) -> None:
        if not 0 < threshold <= 1:
            raise LabError(f"--threshold {threshold} is not an AUC; use a value above 0 and at most 1 "
                           f"(e.g. --threshold {lab.DEFAULT_THRESHOLD}, or 0.99 to see the Fail path)")
        if not 100 <= rows <= lab.MAX_ROWS:
            raise LabError(f"{rows} rows is out of range; use 100 to {lab.MAX_ROWS}")
        self.session, self.dry_run, self.out, self.threshold, self.approve = session, dry_run, out, threshold, approve
        self.clock, self.sleep, self.poll_seconds, self.rows = clock, sleep, poll_seconds, rows
        self.seed = seed if seed is not None else int.from_bytes(uuid.uuid4().bytes[:4], "big")
        self.run_id = run_id or f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:4]}"

    # -- the dry run -------------------------------------------------------------------------

    @staticmethod
    def dry_run_outputs(_region: str) -> dict[str, str]:
        """The stack outputs as the dry run writes them (``labs permissions`` puts the template's in)."""
        return dict(PLACEHOLDERS)

    def print_dry_run(self) -> list[tuple[str, str, dict[str, Any], str]]:
        """Prints every request a run sends; returns them as (service, operation, request, note)."""
        from labs.practice.common.dry_run import show_request, show_stack_outputs

        data = raw_customers(self.rows, seed=self.seed, run_id=self.run_id)
        upload = upload_request(PLACEHOLDERS, self.run_id, data.csv_bytes())
        execution = {"PipelineExecutionArn": PLACEHOLDER_EXECUTION}
        artifacts = PLACEHOLDERS[lab.ARTIFACTS_BUCKET]
        steps = {lab.STEP_UPLOAD: [
            ("s3", "PutObject", upload, f"{self.rows} raw rows, {len(upload['Body'])} bytes, with "
                                        f"{defects_line(data.defects)}"),
        ], lab.STEP_RUN: [
            ("sagemaker", "StartPipelineExecution", start_request(PLACEHOLDERS, self.run_id, self.threshold), ""),
            ("sagemaker", "DescribePipelineExecution", execution, "until it has finished"),
            ("sagemaker", "ListPipelineExecutionSteps", execution, "each step's status and duration"),
            ("sagemaker", "StopPipelineExecution", {**execution, "ClientRequestToken": token(PLACEHOLDER_EXECUTION)},
             "only on Ctrl-C"),
        ], lab.STEP_RESULTS: [
            ("s3", "GetObject", {"Bucket": artifacts, "Key": lab.evaluation_key("<execution id>")},
             "the evaluation report (and the data report beside it)"),
        ], lab.STEP_APPROVE: [
            ("sagemaker", "DescribeModelPackage", {"ModelPackageName": PLACEHOLDER_PACKAGE},
             "the version it registered"),
            ("sagemaker", "UpdateModelPackage", approve_request(PLACEHOLDER_PACKAGE, None, self.threshold),
             "when the AUC passes the threshold; not sent with --no-approve"),
        ], lab.STEP_PREDICT: [
            ("sagemaker", "DescribeEndpoint", {"EndpointName": lab.ENDPOINT_NAME},
             "until the approval function serves the version"),
            ("s3", "GetObject", {"Bucket": artifacts, "Key": lab.holdout_key("<execution id>")},
             "the test split it predicts"),
            ("sagemaker-runtime", "InvokeEndpoint", invoke_request(lab.ENDPOINT_NAME,
                                                                   [["<feature values of a test row, no label>"]]),
             f"{lab.PREDICTION_ROWS} rows of the test split without their label"),
        ]}
        show_stack_outputs(self.out, lab.CONTRACT.stack_name)
        for step, requests in steps.items():
            self.step(step)
            for service, operation, request, note in requests:
                show_request(self.out, service, operation, {k: v for k, v in request.items() if k != "Body"}
                             if operation == "PutObject" else request, note)
        self.out("# placeholders: the mlref-ml-pipeline stack's outputs (bucket names, key), the execution's and "
                 "the package's ARN")
        return [request for requests in steps.values() for request in requests]

    def step(self, name: str) -> None:
        self.out(step_line(lab.CONTRACT, name))

    # -- a run ---------------------------------------------------------------------------------

    def run(self) -> PracticeReport | None:
        if self.dry_run:
            self.print_dry_run()
            return None
        outputs, _ = deployed_stack(self.session, lab.CONTRACT.stack_name, REQUIRED_OUTPUTS)
        s3 = self.session.client("s3", config=RETRIES)
        sagemaker = self.session.client("sagemaker", config=RETRIES)
        report = PracticeReport(run_id=self.run_id)

        self.step(lab.STEP_UPLOAD)
        data = raw_customers(self.rows, seed=self.seed, run_id=self.run_id)
        s3.put_object(**upload_request(outputs, self.run_id, data.csv_bytes()))
        self.out(f"uploaded {self.rows} raw rows to {input_uri(outputs, self.run_id)} with "
                 f"{defects_line(data.defects)}")
        self.step(lab.STEP_RUN)
        report.execution_arn = sagemaker.start_pipeline_execution(
            **start_request(outputs, self.run_id, self.threshold))["PipelineExecutionArn"]
        execution_id = report.execution_arn.rsplit("/", 1)[-1]
        self.out(f"started {report.execution_arn} (threshold AUC >= {self.threshold})")
        result = self.follow(sagemaker, report.execution_arn)
        report.status = result["status"]
        steps = result["steps"]
        report.outcome = steps.get(lab.CONDITION_STEP, {}).get("Metadata", {}).get("Condition", {}).get("Outcome")
        self.step(lab.STEP_RESULTS)
        self.show_data_report(s3, outputs, execution_id, data.defects, steps)
        report.metrics = self.show_metrics(s3, outputs, execution_id, steps)
        if report.status != "Succeeded":
            return self.failed(report, result)
        package_arn = steps.get(lab.REGISTER_STEP, {}).get("Metadata", {}).get("RegisterModel", {}).get("Arn")
        if not package_arn:
            raise LabError(f"the execution succeeded but registered no model package; see {report.execution_arn}")
        report.package_arn = package_arn
        self.step(lab.STEP_APPROVE)
        package = sagemaker.describe_model_package(ModelPackageName=package_arn)
        report.version = int(package["ModelPackageVersion"])
        statistics = package.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {})
        self.out(f"registered {package_arn}: version {report.version}, {package['ModelApprovalStatus']}, "
                 f"metrics {statistics.get('S3Uri', '-')}")
        if not self.approve:
            self.out(f"left pending (--no-approve). Approve it to deploy: aws sagemaker update-model-package "
                     f"--model-package-arn {package_arn} --model-approval-status Approved")
            return report
        auc = report.metrics.get("auc")
        sagemaker.update_model_package(**approve_request(package_arn, auc, self.threshold))
        self.out("approved: the approval rule invokes the deploy function, which creates or updates the "
                 f"serverless endpoint {outputs[lab.ENDPOINT]}")
        self.step(lab.STEP_PREDICT)
        self.wait_for_endpoint(sagemaker, outputs, report.version)
        report.predictions = self.predict(s3, outputs, execution_id)
        return report

    def follow(self, sagemaker: Any, execution_arn: str) -> dict[str, Any]:
        follower = ExecutionFollower(sagemaker, execution_arn, self.out)
        try:
            return poll(follower.fetch, lambda r: r["status"] in FINISHED, timeout=EXECUTION_TIMEOUT_SECONDS,
                        interval=self.poll_seconds, clock=self.clock, sleep=self.sleep)
        except KeyboardInterrupt:
            sagemaker.stop_pipeline_execution(PipelineExecutionArn=execution_arn,
                                              ClientRequestToken=token(execution_arn))
            self.out(f"stopped {execution_arn} (Ctrl-C); its running job stops within a few minutes")
            raise
        except PollTimeout as timeout:
            raise LabError(f"{execution_arn} is still {timeout.last['status']} after "
                           f"{EXECUTION_TIMEOUT_SECONDS // 60} minutes; follow it in SageMaker Studio or stop it: "
                           f"aws sagemaker stop-pipeline-execution --pipeline-execution-arn {execution_arn}") from None

    def read_json(self, s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
        try:
            return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except ClientError as error:
            if error.response["Error"]["Code"] in {"NoSuchKey", "404"}:
                return None
            raise

    def show_data_report(self, s3: Any, outputs: dict[str, str], execution_id: str, injected: Defects,
                         steps: dict[str, dict]) -> None:
        if steps.get(lab.PREPROCESS_STEP, {}).get("StepStatus") != "Succeeded":
            return
        found = self.read_json(s3, outputs[lab.ARTIFACTS_BUCKET], lab.report_key(execution_id)) or {}
        if found:
            self.out(f"preprocessing: dropped {found['duplicates_dropped']} duplicates and "
                     f"{found['unlabeled_dropped']} "
                     f"unlabeled rows, imputed {found['missing_values_imputed']} empty and "
                     f"{found['invalid_values_imputed']} impossible values (injected: {defects_line(injected)}); "
                     f"splits {found['rows']}")

    def show_metrics(self, s3: Any, outputs: dict[str, str], execution_id: str,
                     steps: dict[str, dict]) -> dict[str, Any]:
        if steps.get(lab.EVALUATE_STEP, {}).get("StepStatus") != "Succeeded":
            return {}
        evaluation = self.read_json(s3, outputs[lab.ARTIFACTS_BUCKET], lab.evaluation_key(execution_id)) or {}
        metrics = evaluation.get("binary_classification_metrics", {})
        found = {name: metrics[name]["value"] for name in ("auc", "accuracy") if name in metrics}
        if found:
            outcome = steps.get(lab.CONDITION_STEP, {}).get("Metadata", {}).get("Condition", {}).get("Outcome")
            verdict = {"True": "passes", "False": "fails"}.get(outcome, "was not checked against")
            self.out(f"evaluation on {evaluation.get('test_rows')} test rows: AUC {found.get('auc', 0):.4f}, accuracy "
                     f"{found.get('accuracy', 0):.4f}; the condition AUC >= {self.threshold} {verdict}")
        return found

    def failed(self, report: PracticeReport, result: dict[str, Any]) -> PracticeReport:
        fail_step = result["steps"].get(lab.FAIL_STEP)
        if report.status == "Failed" and fail_step is not None:
            message = fail_step.get("Metadata", {}).get("Fail", {}).get("ErrorMessage") or result["failure"]
            self.out(f"the Fail step ended the execution: {message}")
            return report
        broken = [s for s in result["steps"].values() if s["StepStatus"] == "Failed"]
        reason = broken[0].get("FailureReason", "") if broken else result["failure"]
        where = f"step {broken[0]['StepName']}" if broken else "the execution"
        raise LabError(f"{where} ended {report.status}: {reason or 'no reason given'}; its job's logs are in "
                       "CloudWatch (/aws/sagemaker/ProcessingJobs or /aws/sagemaker/TrainingJobs)")

    def wait_for_endpoint(self, sagemaker: Any, outputs: dict[str, str], version: int) -> dict[str, Any]:
        name, config = outputs[lab.ENDPOINT], deployed_name(outputs[lab.ENDPOINT], version)
        seen: list[str] = []

        def fetch() -> dict[str, Any] | None:
            try:
                endpoint = sagemaker.describe_endpoint(EndpointName=name)
            except ClientError as error:
                if "Could not find" not in error.response["Error"].get("Message", ""):
                    raise
                endpoint = None
            state = (f"{endpoint['EndpointStatus']} with {endpoint['EndpointConfigName']}" if endpoint
                     else "not created yet")
            if not seen or seen[-1] != state:
                seen.append(state)
                self.out(f"  endpoint {name}: {state}")
            return endpoint

        def done(endpoint: dict[str, Any] | None) -> bool:
            return endpoint is not None and endpoint["EndpointConfigName"] == config and \
                endpoint["EndpointStatus"] in {"InService", "Failed"}

        try:
            endpoint = poll(fetch, done, timeout=ENDPOINT_TIMEOUT_SECONDS, interval=self.poll_seconds,
                            clock=self.clock, sleep=self.sleep)
        except PollTimeout:
            raise LabError(f"endpoint {name} does not serve {config} after {ENDPOINT_TIMEOUT_SECONDS // 60} minutes; "
                           f"see the deploy function's log group {outputs[lab.DEPLOY_LOG_GROUP]}") from None
        if endpoint["EndpointStatus"] == "Failed":
            raise LabError(f"endpoint {name} failed: {endpoint.get('FailureReason', 'no reason given')}; approve "
                           "again after fixing it, or see the deploy function's log group")
        return endpoint

    def predict(self, s3: Any, outputs: dict[str, str], execution_id: str) -> list[tuple[str, float]]:
        body = s3.get_object(Bucket=outputs[lab.ARTIFACTS_BUCKET], Key=lab.holdout_key(execution_id))["Body"].read()
        rows = [line.split(",") for line in body.decode().splitlines()[:lab.PREDICTION_ROWS]]
        runtime = self.session.client("sagemaker-runtime", config=RETRIES)
        started = self.clock()
        response = runtime.invoke_endpoint(**invoke_request(outputs[lab.ENDPOINT], [row[1:] for row in rows]))
        seconds = self.clock() - started
        scores = [float(v) for v in response["Body"].read().decode().replace("\n", ",").split(",") if v.strip()]
        predictions = [(str(int(float(row[0]))), score) for row, score in zip(rows, scores, strict=False)]
        self.out(f"predictions from {outputs[lab.ENDPOINT]} ({seconds:.1f} s, a cold start takes longer):")
        for label, score in predictions:
            self.out(f"  churned={label}  predicted probability {score:.3f}")
        return predictions
