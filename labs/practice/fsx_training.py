"""Practice on the fsx-training lab.

1. Check Service Quotas for the training instance type (the spot quota, or the on-demand
   one with ``--on-demand``): a quota of 0 stops here, with the quota's name and an
   instance type that usually has quota.
2. Generate a small training set (CSV shards) and upload it under the data bucket's
   ``train/`` prefix. FSx for Lustre imports new objects automatically; EFS has no link
   to S3, so for the EFS variant a small CPU job first copies the set into EFS.
3. Build the training job with the sagemaker 3.x SDK (``ModelTrainer``; a
   ``FileSystemDataSource`` channel at ``/<mount name>/train/...``; ``Networking`` with the
   file system's subnet and the training security group; managed spot with
   max-wait >= max-runtime and a checkpoint location) and run it twice.
4. For each job print how long after CreateTrainingJob it started reading data, how fast
   it read, and the billable seconds: the first job lazy-loads from S3 through Lustre,
   the second reads the file system.

Ctrl-C stops the running job (GPUs bill until it stops). ``--dry-run`` prints the
CreateTrainingJob requests as JSON without calling AWS.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError

from labs.aws import deployed_stack
from labs.contracts import fsx_training as contract
from labs.contracts.fsx_training import ALTERNATIVES, CONTRACT, INSTANCE_TYPE, SEED_INSTANCE_TYPE
from labs.errors import LabError
from labs.practice.fsx_data import DATASET, training_set, upload_training_set
from labs.practice.fsx_plan import MAX_WAIT_SECONDS, JobPlan, dry_run_requests, sagemaker_modules
from labs.practice.fsx_quota import check_quota
from labs.practice.polling import poll
from lambdas.shared.lab_names import LAB_TAG, OWNER_TAG, PROFILE_TAG, TRAINING_LOG_GROUP

JOB_TAG_KEYS = (LAB_TAG, PROFILE_TAG, OWNER_TAG)
FINISHED = {"Completed", "Failed", "Stopped"}
# Every output the practice reads (MountName exists only on the FSx variant and is not needed).
REQUIRED_OUTPUTS = tuple(output for output in contract.OUTPUTS if output.when is None)


# -- measuring a job -------------------------------------------------------------------

READ_START = re.compile(r"MLREF_READ_START epoch=([0-9.]+)")
READ_DONE = re.compile(r"MLREF_READ_DONE files=(\d+) bytes=(\d+) seconds=([0-9.]+) mb_per_s=([0-9.]+)")


@dataclass
class JobReport:
    name: str
    status: str
    failure_reason: str = ""
    start_to_read_seconds: float | None = None
    read_seconds: float | None = None
    megabytes: float | None = None
    billable_seconds: int | None = None
    training_seconds: int | None = None
    phases: list[tuple[str, float]] = field(default_factory=list)
    resumed: bool = False

    def line(self) -> str:
        if self.status != "Completed":
            return f"{self.name}: {self.status}: {self.failure_reason or 'no reason given'}"
        parts = [f"{self.name}: Completed"]
        if self.start_to_read_seconds is not None:
            parts.append(f"started reading data {self.start_to_read_seconds:.0f} s after CreateTrainingJob")
        if self.read_seconds is not None and self.megabytes is not None:
            parts.append(f"read {self.megabytes:.1f} MB in {self.read_seconds:.2f} s "
                         f"({self.megabytes / max(self.read_seconds, 1e-6):.1f} MB/s)")
        if self.billable_seconds is not None:
            saved = ""
            if self.training_seconds and self.billable_seconds < self.training_seconds:
                saved = f", spot saved {100 * (1 - self.billable_seconds / self.training_seconds):.0f}%"
            parts.append(f"billable {self.billable_seconds} s{saved}")
        if self.phases:
            parts.append("phases " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in self.phases))
        return "; ".join(parts)


def job_report(description: dict[str, Any], log_messages: Iterable[str]) -> JobReport:
    """What a finished job took, from DescribeTrainingJob and its MLREF_ log lines."""
    report = JobReport(name=description["TrainingJobName"], status=description["TrainingJobStatus"],
                       failure_reason=description.get("FailureReason", ""),
                       billable_seconds=description.get("BillableTimeInSeconds"),
                       training_seconds=description.get("TrainingTimeInSeconds"))
    for transition in description.get("SecondaryStatusTransitions", []):
        if transition.get("EndTime"):
            report.phases.append((transition["Status"],
                                  (transition["EndTime"] - transition["StartTime"]).total_seconds()))
    created: datetime = description["CreationTime"]
    for message in log_messages:
        if (match := READ_START.search(message)) and report.start_to_read_seconds is None:
            report.start_to_read_seconds = float(match.group(1)) - created.timestamp()
        elif match := READ_DONE.search(message):
            report.megabytes = int(match.group(2)) / 1e6
            report.read_seconds = float(match.group(3))
        elif "MLREF_RESUMED" in message:
            report.resumed = True
    return report


def job_log_messages(logs: Any, job_name: str) -> list[str]:
    messages: list[str] = []
    try:
        for page in logs.get_paginator("filter_log_events").paginate(
                logGroupName=TRAINING_LOG_GROUP, logStreamNamePrefix=f"{job_name}/", filterPattern='"MLREF_"'):
            messages.extend(event["message"] for event in page.get("events", []))
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
    return messages


def comparison(first: JobReport, second: JobReport) -> str | None:
    if not (first.read_seconds and second.read_seconds):
        return None
    ratio = first.read_seconds / second.read_seconds
    return (f"the second job read the same data {ratio:.1f}x as fast as the first"
            + (" (the first lazy-loaded it from S3 into Lustre)" if ratio > 1 else ""))


# -- the practice step -------------------------------------------------------------------

class FsxTrainingPractice:
    def __init__(self, session: Any, *, dry_run: bool = False, instance_type: str | None = None,
                 on_demand: bool = False, runs: int = 2, out: Callable[[str], None] = print,
                 poll_seconds: float = 30, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, parts: dict[str, bytes] | None = None,
                 sagemaker_session: Any = None) -> None:
        if instance_type is not None and not INSTANCE_TYPE.match(instance_type):
            raise LabError(f"--instance-type {instance_type!r} is not a SageMaker instance type; "
                           f"use e.g. ml.p3.2xlarge or {ALTERNATIVES[0]}")
        self.session, self.dry_run, self.instance_type = session, dry_run, instance_type
        self.spot, self.runs, self.out = not on_demand, runs, out
        self.poll_seconds, self.sleep, self.clock = poll_seconds, sleep, clock
        self.parts, self.sagemaker_session = parts, sagemaker_session

    @property
    def region(self) -> str:
        return getattr(self.session, "region_name", None) or "us-east-1"

    def print_dry_run(self) -> list[tuple[str, dict]]:
        requests = dry_run_requests(self.region, self.instance_type, spot=self.spot)
        for title, request in requests:
            self.out(f"# CreateTrainingJob: {title}")
            self.out(json.dumps(request, indent=1, default=str))
        self.out(f"# placeholders <...> are the {CONTRACT.stack_name} stack's outputs; the source code and the SDK's "
                 "drivers are staged under s3://<OutputBucketName>/code/")
        return requests

    def run(self) -> list[JobReport] | None:
        if self.dry_run:
            self.print_dry_run()
            return None
        if self.session.region_name is None:
            raise LabError("no AWS region set: pass --region or set AWS_DEFAULT_REGION (or `aws configure`)")
        outputs, stack_tags = deployed_stack(self.session, CONTRACT.stack_name, REQUIRED_OUTPUTS)
        instance_type = self.instance_type or outputs[contract.INSTANCE_TYPE_OUTPUT]
        source = outputs[contract.TRAINING_SOURCE]
        quotas = self.session.client("service-quotas")
        check_quota(quotas, instance_type, spot=self.spot, region=self.region, out=self.out)
        if source == "efs":
            check_quota(quotas, SEED_INSTANCE_TYPE, spot=False, region=self.region, out=self.out)

        run_id = f"{datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:4]}"
        tags = {k: stack_tags[k] for k in JOB_TAG_KEYS if k in stack_tags}
        parts = self.parts if self.parts is not None else training_set()
        plan = JobPlan(outputs, instance_type, spot=self.spot, run_id=run_id, tags=tags)
        prefix = f"{outputs[contract.DATA_PREFIX_OUTPUT]}{DATASET}/"
        uploaded = upload_training_set(self.session.client("s3"), outputs[contract.DATA_BUCKET], prefix,
                                       outputs[contract.KEY], parts)
        size = sum(len(b) for b in parts.values()) / 1e6
        self.out(f"training set: {len(parts)} shards, {size:.1f} MB at {plan.dataset_s3_uri} "
                 f"({uploaded} uploaded, {len(parts) - uploaded} already there)")

        sagemaker_session = self.sagemaker_session or self._sagemaker_session(outputs[contract.OUTPUT_BUCKET])
        if source == "efs":
            seed = JobPlan(outputs, SEED_INSTANCE_TYPE, mode="seed", spot=False, run_id=f"{run_id}-seed", tags=tags)
            report = self.run_job(seed, sagemaker_session)
            if report.status != "Completed":
                raise LabError(f"copying the training set into EFS failed: {report.line()}")
        elif uploaded:
            self.out("FSx imports the new objects automatically (usually within a minute); "
                     "the job takes longer than that to start")
        reports = []
        for number in range(1, self.runs + 1):
            job = JobPlan(outputs, instance_type, spot=self.spot, run_id=f"{run_id}-{number}", tags=tags)
            reports.append(self.run_job(job, sagemaker_session))
            if reports[-1].status != "Completed":
                raise LabError(f"training job {number} did not complete: {reports[-1].line()}")
        if len(reports) >= 2 and (line := comparison(reports[0], reports[1])):
            self.out(line)
        return reports

    def _sagemaker_session(self, bucket: str) -> Any:
        sagemaker_modules(self.region)
        from sagemaker.core.helper.session_helper import Session

        return Session(boto_session=self.session, default_bucket=bucket, default_bucket_prefix="code")

    def run_job(self, plan: JobPlan, sagemaker_session: Any) -> JobReport:
        trainer = plan.trainer(sagemaker_session, self.region)
        kind = "spot" if plan.spot and plan.mode == "read" else "on-demand"
        self.out(f"starting {plan.base_job_name} on {plan.instance_type} ({kind}) reading {plan.dataset_path} "
                 f"from {plan.outputs[contract.FILE_SYSTEM_TYPE]} {plan.outputs[contract.FILE_SYSTEM_ID]}")
        trainer.train(wait=False, logs=False)
        name = trainer._latest_training_job.training_job_name  # noqa: SLF001 - the SDK's handle on the job
        sagemaker = self.session.client("sagemaker")
        try:
            description = self.wait(sagemaker, name)
        except KeyboardInterrupt:
            sagemaker.stop_training_job(TrainingJobName=name)
            self.out(f"stopped {name}")
            raise
        report = job_report(description, job_log_messages(self.session.client("logs"), name))
        self.out(report.line())
        return report

    def wait(self, sagemaker: Any, name: str) -> dict[str, Any]:
        def describe() -> dict[str, Any] | None:
            try:
                return sagemaker.describe_training_job(TrainingJobName=name)
            except EndpointConnectionError:
                return None

        minutes = MAX_WAIT_SECONDS // 60 + 15
        return poll(describe, lambda d: d["TrainingJobStatus"] in FINISHED, timeout=minutes * 60,
                    interval=self.poll_seconds, clock=self.clock, sleep=self.sleep,
                    key=lambda d: (d["TrainingJobStatus"], d.get("SecondaryStatus")),
                    on_change=lambda d: self.out(f"  {name}: {d['TrainingJobStatus']} / {d.get('SecondaryStatus')}"),
                    message=f"{name} has not finished after {minutes} minutes; see it in the SageMaker console "
                            f"or stop it: aws sagemaker stop-training-job --training-job-name {name}")
