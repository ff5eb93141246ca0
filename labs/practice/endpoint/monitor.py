"""The endpoint lab's captured data and Model Monitor: the capture files, a baseline job, a
one-off monitoring execution on the last hour's capture, and the violations it found.

The baseline is computed here, not shipped: a processing job with the Model Monitor analyzer
reads training-like rows (CSV without header, so features are named ``_c0`` ... ``_c5``, as in
the captured requests) and writes ``statistics.json`` and ``constraints.json`` where the
stack's job definition expects them. A later run finds them and skips the job. Everything
started here carries the lab's tags; Ctrl-C stops the jobs and deletes the one-off schedule.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from catalog import endpoint as contract
from catalog.sagemaker_images import model_monitor_image
from jobs.endpoint.model import FEATURES, Row, csv_line
from labs.engine.errors import LabError
from labs.practice.common.polling import PollTimeout, poll

BASELINE_INPUT = "/opt/ml/processing/input/baseline_dataset_input"
CONTAINER_OUTPUT = "/opt/ml/processing/output"
STATISTICS, CONSTRAINTS, VIOLATIONS = "statistics.json", "constraints.json", "constraint_violations.json"
JOB_DONE = {"Completed", "Failed", "Stopped"}
EXECUTION_DONE = {"Completed", "CompletedWithViolations", "Failed", "Stopped"}
BASELINE_ROWS = 2000  # training-like rows the baseline job profiles
WINDOW = ("-PT1H", "-PT0H")  # the last hour's captured data, relative to the execution's start
BUSY_CODES = {"ValidationException", "ResourceInUse", "ThrottlingException"}


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def baseline_job_request(name: str, outputs: Mapping[str, str], region: str, tags: Mapping[str, str]) -> dict[str, Any]:
    """CreateProcessingJob for the analyzer's baseline ("suggest baseline") on the uploaded rows."""
    bucket, key = outputs[contract.DATA_BUCKET], outputs[contract.KEY]
    return {
        "ProcessingJobName": name,
        "ProcessingInputs": [{"InputName": "baseline_dataset_input", "S3Input": {
            "S3Uri": f"s3://{bucket}/{contract.BASELINE_DATASET}/", "LocalPath": BASELINE_INPUT,
            "S3DataType": "S3Prefix", "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated"}}],
        "ProcessingOutputConfig": {"KmsKeyId": key, "Outputs": [{"OutputName": "monitoring_output", "S3Output": {
            "S3Uri": f"s3://{bucket}/{contract.BASELINE_RESULTS}", "LocalPath": CONTAINER_OUTPUT,
            "S3UploadMode": "EndOfJob"}}]},
        "ProcessingResources": {"ClusterConfig": {
            "InstanceCount": 1, "InstanceType": contract.MONITOR_INSTANCE_TYPE,
            "VolumeSizeInGB": contract.MONITOR_VOLUME_GB, "VolumeKmsKeyId": key}},
        "StoppingCondition": {"MaxRuntimeInSeconds": contract.MONITOR_MAX_RUNTIME_SECONDS},
        "AppSpecification": {"ImageUri": model_monitor_image(region)},
        "Environment": {
            "dataset_format": json.dumps({"csv": {"header": False, "output_columns_position": "START"}}),
            "dataset_source": BASELINE_INPUT, "output_path": CONTAINER_OUTPUT,
            "publish_cloudwatch_metrics": "Disabled"},
        "NetworkConfig": {"EnableInterContainerTrafficEncryption": True},
        "RoleArn": outputs[contract.MONITOR_ROLE],
        "Tags": tag_list(tags),
    }


def one_off_request(name: str, outputs: Mapping[str, str], tags: Mapping[str, str]) -> dict[str, Any]:
    """CreateMonitoringSchedule that runs the stack's job definition once, now, on the last hour."""
    return {"MonitoringScheduleName": name, "Tags": tag_list(tags), "MonitoringScheduleConfig": {
        "ScheduleConfig": {"ScheduleExpression": "NOW", "DataAnalysisStartTime": WINDOW[0],
                           "DataAnalysisEndTime": WINDOW[1]},
        "MonitoringJobDefinitionName": outputs[contract.JOB_DEFINITION], "MonitoringType": "DataQuality"}}


def executions_request(schedule: str) -> dict[str, Any]:
    return {"MonitoringScheduleName": schedule, "SortBy": "CreationTime", "SortOrder": "Descending", "MaxResults": 1}


def baseline_dataset(rows: list[Row]) -> bytes:
    return "".join(csv_line(row) + "\n" for row in rows).encode()


def feature_of(column: str) -> str:
    """``_c1`` -> ``_c1 (monthly_spend)``: the analyzer names header-less columns by position."""
    if column.startswith("_c") and column[2:].isdigit() and int(column[2:]) < len(FEATURES):
        return f"{column} ({FEATURES[int(column[2:])]})"
    return column


def violation_lines(document: Mapping[str, Any]) -> list[str]:
    violations = document.get("violations", [])
    lines = [f"Model Monitor found {len(violations)} constraint violations:"]
    for violation in violations:
        lines.append(f"  {feature_of(violation.get('feature_name', '?'))}: {violation.get('constraint_check_type')}: "
                     f"{violation.get('description', '')}"[:300])
    return lines


def capture_record_lines(line: str) -> list[str]:
    """One captured request and response, decoded."""
    record = json.loads(line)
    lines = []
    for part in ("endpointInput", "endpointOutput"):
        data = record["captureData"][part]
        body = data["data"]
        if data.get("encoding") == "BASE64":
            body = base64.b64decode(body).decode(errors="replace")
        lines.append(f"  {part}: {data.get('observedContentType')}: {body.strip()[:200]}")
    lines.append(f"  at {record.get('eventMetadata', {}).get('inferenceTime')} (event "
                 f"{record.get('eventMetadata', {}).get('eventId')})")
    return lines


def s3_key(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


@dataclass
class Waits:
    poll_seconds: float = 30
    endpoint_seconds: float = 20 * 60
    capture_seconds: float = 15 * 60
    baseline_seconds: float = 30 * 60
    execution_seconds: float = 45 * 60
    delete_seconds: float = 5 * 60


class MonitorStep:
    """Capture files, the baseline job and the one-off execution, for one practice run."""

    def __init__(self, sagemaker: Any, s3: Any, *, outputs: Mapping[str, str], tags: Mapping[str, str], region: str,
                 run_id: str, out: Callable[[str], None] = print, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, waits: Waits | None = None) -> None:
        self.sagemaker, self.s3, self.outputs, self.tags, self.region = sagemaker, s3, outputs, tags, region
        self.run_id, self.out, self.clock, self.sleep = run_id, out, clock, sleep
        self.waits = waits or Waits()
        self.bucket = outputs[contract.DATA_BUCKET]
        self.baseline_job: str | None = None
        self.schedule: str | None = None
        self.execution_job: str | None = None

    def _poll(self, fetch: Callable[[], Any], done: Callable[[Any], bool], timeout: float,
              describe: Callable[[Any, float], str], on_change: Callable[[Any], None] | None = None) -> Any:
        return poll(fetch, done, timeout=timeout, interval=self.waits.poll_seconds, clock=self.clock,
                    sleep=self.sleep, describe=describe, on_change=on_change)

    # -- data capture -----------------------------------------------------------------------

    def capture_prefix(self, endpoint: str) -> str:
        return f"{contract.CAPTURE_PREFIX}/{endpoint}/"

    def captured_since(self, endpoint: str, since: datetime) -> list[dict[str, Any]]:
        found = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                      Prefix=self.capture_prefix(endpoint)):
            found += [o for o in page.get("Contents", []) if o["LastModified"] >= since]
        return found

    def wait_for_capture(self, endpoint: str, since: datetime) -> list[dict[str, Any]]:
        """Capture files written after ``since`` (SageMaker delivers them within a few minutes)."""
        return self._poll(lambda: self.captured_since(endpoint, since), bool, self.waits.capture_seconds,
                          lambda _, waited: f"no captured files under "
                                            f"s3://{self.bucket}/{self.capture_prefix(endpoint)} "
                                            f"after {waited / 60:.0f} minutes: check the endpoint's data capture "
                                            "(`aws sagemaker describe-endpoint`) and rerun")

    def first_record(self, objects: list[dict[str, Any]]) -> list[str]:
        newest = max(objects, key=lambda o: o["LastModified"])
        body = self.s3.get_object(Bucket=self.bucket, Key=newest["Key"])["Body"].read().decode()
        return [f"captured: {len(objects)} files, e.g. s3://{self.bucket}/{newest['Key']}:",
                *capture_record_lines(body.splitlines()[0])]

    # -- the baseline -------------------------------------------------------------------------

    def baseline_present(self) -> bool:
        try:
            for name in (STATISTICS, CONSTRAINTS):
                self.s3.head_object(Bucket=self.bucket, Key=f"{contract.BASELINE_RESULTS}/{name}")
        except ClientError as error:
            if error.response["Error"]["Code"] in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True

    def start_baseline(self, rows: list[Row]) -> str | None:
        """Uploads the baseline rows and starts the baseline job, unless a baseline is there."""
        if self.baseline_present():
            self.out(f"baseline: s3://{self.bucket}/{contract.BASELINE_RESULTS}/ has {STATISTICS} and {CONSTRAINTS} "
                     "from an earlier run; no baseline job")
            return None
        self.s3.put_object(Bucket=self.bucket, Key=f"{contract.BASELINE_DATASET}/train.csv",
                           Body=baseline_dataset(rows))
        self.baseline_job = f"mlref-endpoint-baseline-{self.run_id}"
        self.sagemaker.create_processing_job(**baseline_job_request(self.baseline_job, self.outputs, self.region,
                                                                    self.tags))
        self.out(f"baseline: started {self.baseline_job} on {len(rows)} training-like rows "
                 f"({contract.MONITOR_INSTANCE_TYPE}, a few minutes; it runs while the other steps go on)")
        return self.baseline_job

    def wait_baseline(self) -> None:
        if self.baseline_job is None:
            return
        name = self.baseline_job
        job = self._poll(lambda: self.sagemaker.describe_processing_job(ProcessingJobName=name),
                         lambda j: j["ProcessingJobStatus"] in JOB_DONE, self.waits.baseline_seconds,
                         lambda _, waited: f"baseline job {name} still running after {waited / 60:.0f} minutes; "
                                           f"stop it with `aws sagemaker stop-processing-job --processing-job-name "
                                           f"{name}` and rerun")
        self.baseline_job = None
        if job["ProcessingJobStatus"] != "Completed":
            raise LabError(f"baseline job {name} {job['ProcessingJobStatus']}: {job.get('FailureReason', 'no reason')}"
                           "; rerun the practice (its log is in /aws/sagemaker/ProcessingJobs)")
        self.out(f"baseline: {name} wrote s3://{self.bucket}/{contract.BASELINE_RESULTS}/{STATISTICS} "
                 f"and {CONSTRAINTS}")

    # -- the one-off execution ------------------------------------------------------------------

    def latest_execution(self) -> dict[str, Any] | None:
        summaries = self.sagemaker.list_monitoring_executions(**executions_request(self.schedule))
        found = summaries.get("MonitoringExecutionSummaries", [])
        if found and found[0].get("ProcessingJobArn"):
            self.execution_job = found[0]["ProcessingJobArn"].rsplit("/", 1)[-1]
        return found[0] if found else None

    def run_once(self) -> list[str]:
        """Runs the job definition now on the last hour of capture; its violations as lines."""
        self.schedule = f"mlref-endpoint-now-{self.run_id}"
        self.sagemaker.create_monitoring_schedule(**one_off_request(self.schedule, self.outputs, self.tags))
        self.out(f"monitoring: {self.schedule} runs {self.outputs[contract.JOB_DEFINITION]} once, now, on the "
                 f"captured data from {WINDOW[0]} to {WINDOW[1]} (starts within minutes, runs about ten)")
        execution = self._poll(
            lambda: self.latest_execution() or {}, lambda e: e.get("MonitoringExecutionStatus") in EXECUTION_DONE,
            self.waits.execution_seconds,
            lambda last, waited: f"the monitoring execution of {self.schedule} is "
                                 f"{(last or {}).get('MonitoringExecutionStatus', 'not started')} after "
                                 f"{waited / 60:.0f} minutes; see it in the SageMaker console and rerun later",
            on_change=lambda e: self.out(f"  execution: {e.get('MonitoringExecutionStatus') or 'not started yet'}"))
        status = execution["MonitoringExecutionStatus"]
        if status in {"Failed", "Stopped"}:
            reason = execution.get("FailureReason", "no reason given")
            hint = ("the analysed hour had no captured data yet: rerun in a few minutes" if "no data" in reason.lower()
                    else "its log is in /aws/sagemaker/ProcessingJobs")
            raise LabError(f"monitoring execution {status}: {reason}; {hint}")
        document = self.violations()
        return violation_lines(document) if document.get("violations") else [
            "Model Monitor found no violations (the drifted traffic may have fallen outside the analysed hour)"]

    def violations(self) -> dict[str, Any]:
        job = self.sagemaker.describe_processing_job(ProcessingJobName=self.execution_job)
        uri = job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
        bucket, key = s3_key(uri)
        try:
            body = self.s3.get_object(Bucket=bucket, Key=f"{key.rstrip('/')}/{VIOLATIONS}")["Body"].read()
        except ClientError as error:
            if error.response["Error"]["Code"] in {"NoSuchKey", "404"}:
                return {}
            raise
        return json.loads(body)

    # -- cleaning up ---------------------------------------------------------------------------

    def delete_schedule(self) -> None:
        if self.schedule is None:
            return
        name = self.schedule

        def delete() -> bool:
            try:
                self.sagemaker.delete_monitoring_schedule(MonitoringScheduleName=name)
            except ClientError as error:
                if error.response["Error"]["Code"] == "ResourceNotFound":
                    return True
                raise
            return True

        try:
            poll(delete, bool, timeout=self.waits.delete_seconds, interval=min(10.0, self.waits.poll_seconds),
                 clock=self.clock, sleep=self.sleep,
                 transient=lambda e: isinstance(e, ClientError) and e.response["Error"]["Code"] in BUSY_CODES,
                 describe=lambda _, waited: f"could not delete monitoring schedule {name} after {waited:.0f} s; "
                                            f"delete it later: aws sagemaker delete-monitoring-schedule "
                                            f"--monitoring-schedule-name {name}")
        except PollTimeout as timeout:
            self.out(f"warning: {timeout}")
            return
        self.schedule = None
        self.out(f"deleted the one-off schedule {name}")

    def stop_started(self) -> None:
        """Ctrl-C or a failed step: stop what this run started and is still running."""
        for job in (self.baseline_job, self.execution_job):
            if job:
                try:
                    self.sagemaker.stop_processing_job(ProcessingJobName=job)
                    self.out(f"stopped {job}")
                except ClientError as error:  # ValidationException: it has finished, nothing to stop
                    if error.response["Error"]["Code"] != "ValidationException":
                        self.out(f"warning: could not stop {job} ({error.response['Error']['Code']}); stop it with "
                                 f"`aws sagemaker stop-processing-job --processing-job-name {job}`")
