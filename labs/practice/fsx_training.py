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
import os
import random
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError

from labs.aws import deployed_stack
from labs.errors import LabError

STACK_NAME = "mlref-fsx-training"
REQUIRED_OUTPUTS = frozenset({
    "TrainingSource", "FileSystemType", "FileSystemId", "DirectoryRoot", "SubnetId", "SecurityGroupId",
    "ExecutionRoleArn", "DataBucketName", "DataPrefix", "OutputBucketName", "InstanceType", "KeyArn",
})
JOB_DIR = Path(__file__).with_name("fsx_job")
DATASET = "synthetic-v1"
FRAMEWORK, FRAMEWORK_VERSION, PY_VERSION = "pytorch", "2.8.0", "py312"
SEED_INSTANCE_TYPE = "ml.m5.large"
ALTERNATIVES = ("ml.g5.xlarge", "ml.g4dn.xlarge")
MAX_RUNTIME_SECONDS = 30 * 60
MAX_WAIT_SECONDS = 60 * 60
TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
JOB_TAG_KEYS = ("lab", "profile", "owner")
FINISHED = {"Completed", "Failed", "Stopped"}
INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9-]+\.[0-9]*x?large$|^ml\.[a-z0-9-]+\.metal$")
# Families whose instances have local NVMe storage: SageMaker refuses VolumeKmsKeyId for them
# (their local volumes are encrypted by the hardware).
LOCAL_STORAGE_FAMILIES = {"g5", "g6", "g6e", "gr6", "p4d", "p4de", "p5", "p5e", "p5en", "p6-b200", "trn1", "trn1n",
                          "trn2", "inf2"}
# Placeholders the dry run uses where a deployed stack's outputs would go.
PLACEHOLDER_OUTPUTS = {
    "TrainingSource": "fsx", "FileSystemType": "FSxLustre", "FileSystemId": "fs-0123456789abcdef0",
    "DirectoryRoot": "/<MountName>", "MountName": "<MountName>", "SubnetId": "subnet-<SubnetId>",
    "SecurityGroupId": "sg-<SecurityGroupId>",
    "ExecutionRoleArn": "arn:aws:iam::111122223333:role/<ExecutionRoleArn output>",
    "DataBucketName": "<DataBucketName>", "DataPrefix": "train/", "OutputBucketName": "<OutputBucketName>",
    "InstanceType": "ml.p3.2xlarge", "KeyArn": "arn:aws:kms:<region>:111122223333:key/<KeyArn output>",
}
EFS_PLACEHOLDERS = {"TrainingSource": "efs", "FileSystemType": "EFS", "FileSystemId": "fs-0123456789abcdef0",
                    "DirectoryRoot": "/"}


# -- the training set ------------------------------------------------------------------

def training_set(shards: int = 16, rows_per_shard: int = 25_000, features: int = 16,
                 seed: int = 7) -> dict[str, bytes]:
    """CSV shards ``part-NNNN.csv`` (label, f0..fN): a few MB each, the same every time."""
    rng = random.Random(seed)
    header = ",".join(["label"] + [f"f{i}" for i in range(features)]) + "\n"
    parts = {}
    for shard in range(shards):
        lines = [header]
        for _ in range(rows_per_shard):
            values = [rng.random() for _ in range(features)]
            label = int(sum(values[:4]) > 2)
            lines.append(f"{label}," + ",".join(f"{v:.6f}" for v in values) + "\n")
        parts[f"part-{shard:04d}.csv"] = "".join(lines).encode()
    return parts


def upload_training_set(s3: Any, bucket: str, prefix: str, key_arn: str, parts: dict[str, bytes]) -> int:
    """Uploads the shards not already there with the same size; returns how many were uploaded."""
    existing: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        existing.update({o["Key"]: o["Size"] for o in page.get("Contents", [])})
    uploaded = 0
    for name, body in parts.items():
        key = f"{prefix}{name}"
        if existing.get(key) == len(body):
            continue
        s3.put_object(Bucket=bucket, Key=key, Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=key_arn)
        uploaded += 1
    return uploaded


# -- Service Quotas --------------------------------------------------------------------

def quota_name(instance_type: str, *, spot: bool) -> str:
    return f"{instance_type} for {'spot ' if spot else ''}training job usage"


def training_quotas(client: Any, instance_type: str) -> dict[str, float]:
    """The on-demand and spot training quotas of ``instance_type`` (applied values, else defaults)."""
    wanted = {quota_name(instance_type, spot=False), quota_name(instance_type, spot=True)}
    found: dict[str, float] = {}
    for operation in ("list_service_quotas", "list_aws_default_service_quotas"):
        for page in client.get_paginator(operation).paginate(ServiceCode="sagemaker"):
            for quota in page["Quotas"]:
                if quota["QuotaName"] in wanted and quota["QuotaName"] not in found:
                    found[quota["QuotaName"]] = quota["Value"]
        if len(found) == len(wanted):
            break
    return found


def check_quota(client: Any, instance_type: str, *, spot: bool, region: str,
                out: Callable[[str], None] = print) -> float | None:
    """Stops (LabError) when the quota the job needs is 0 or absent; returns it (None: unreadable)."""
    needed = quota_name(instance_type, spot=spot)
    others = [t for t in ALTERNATIVES if t != instance_type]
    advice = f"--instance-type {others[0]} (or {others[1]})" if len(others) > 1 else f"--instance-type {others[0]}"
    try:
        quotas = training_quotas(client, instance_type)
    except ClientError as error:
        code = error.response["Error"]["Code"]
        out(f"warning: cannot read Service Quotas ({code}); skipping the quota check. If the job fails with "
            f"ResourceLimitExceeded, request \"{needed}\" or rerun with {advice}")
        return None
    if needed not in quotas:
        raise LabError(f"SageMaker has no quota \"{needed}\" in {region}: {instance_type} is not offered for "
                       f"training there; rerun with {advice}")
    value = quotas[needed]
    if value < 1:
        raise LabError(f"Service Quotas \"{needed}\" is 0 in {region}: request an increase (Service Quotas > "
                       f"Amazon SageMaker) or rerun with {advice}")
    other = quota_name(instance_type, spot=not spot)
    out(f"quota: \"{needed}\" = {value:g}" + (f"; \"{other}\" = {quotas[other]:g}" if other in quotas else ""))
    return value


# -- the job ---------------------------------------------------------------------------

def has_local_storage(instance_type: str) -> bool:
    family = instance_type.split(".")[1]
    return family in LOCAL_STORAGE_FAMILIES or re.search(r"\dd", family) is not None or family.endswith("d")


@dataclass(frozen=True)
class JobPlan:
    """One training job of the practice step, from the stack's outputs."""

    outputs: dict[str, str]
    instance_type: str
    mode: str = "read"  # read: the measured job; seed: copy the set from S3 into EFS
    spot: bool = True
    run_id: str = "run"
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def source(self) -> str:
        return self.outputs["TrainingSource"]

    @property
    def dataset_path(self) -> str:
        """Where the training set sits in the file system (the FSx path mirrors the S3 key)."""
        root = self.outputs["DirectoryRoot"].rstrip("/")
        return f"{root}/{self.outputs['DataPrefix']}{DATASET}"

    @property
    def dataset_s3_uri(self) -> str:
        return f"s3://{self.outputs['DataBucketName']}/{self.outputs['DataPrefix']}{DATASET}/"

    @property
    def base_job_name(self) -> str:
        return f"mlref-{self.source}-{self.mode}"

    def image_uri(self, region: str) -> str:
        from sagemaker.core import image_uris

        return image_uris.retrieve(framework=FRAMEWORK, region=region, version=FRAMEWORK_VERSION,
                                   py_version=PY_VERSION, instance_type=self.instance_type, image_scope="training")

    def channels(self) -> list[Any]:
        from sagemaker.core.training.configs import FileSystemDataSource, InputData

        file_system = dict(file_system_id=self.outputs["FileSystemId"],
                           file_system_type=self.outputs["FileSystemType"])
        if self.mode == "seed":
            return [
                InputData(channel_name="source", data_source=self.dataset_s3_uri),
                InputData(channel_name="efs", data_source=FileSystemDataSource(
                    directory_path="/", file_system_access_mode="rw", **file_system)),
            ]
        return [InputData(channel_name="train", data_source=FileSystemDataSource(
            directory_path=self.dataset_path, file_system_access_mode="ro", **file_system))]

    def trainer(self, sagemaker_session: Any, region: str) -> Any:
        """The ``ModelTrainer`` for this job."""
        from sagemaker.core.shapes import MetricDefinition, StoppingCondition, Tag
        from sagemaker.core.training.configs import (CheckpointConfig, Compute, Networking, OutputDataConfig,
                                                     SourceCode)
        from sagemaker.train import ModelTrainer

        output, key = self.outputs["OutputBucketName"], self.outputs["KeyArn"]
        spot = self.spot and self.mode == "read"
        compute = Compute(
            instance_type=self.instance_type, instance_count=1, volume_size_in_gb=30,
            enable_managed_spot_training=spot,
            **({} if has_local_storage(self.instance_type) else {"volume_kms_key_id": key}),
        )
        stopping = (StoppingCondition(max_runtime_in_seconds=MAX_RUNTIME_SECONDS,
                                      max_wait_time_in_seconds=MAX_WAIT_SECONDS)
                    if spot else StoppingCondition(max_runtime_in_seconds=MAX_RUNTIME_SECONDS))
        command = "python train.py --mode seed --target " + self.dataset_path.lstrip("/") if self.mode == "seed" \
            else "python train.py --mode read"
        trainer = ModelTrainer(
            sagemaker_session=sagemaker_session, role=self.outputs["ExecutionRoleArn"],
            base_job_name=self.base_job_name, training_image=self.image_uri(region),
            source_code=SourceCode(source_dir=str(JOB_DIR), command=command),
            compute=compute, stopping_condition=stopping,
            networking=Networking(subnets=[self.outputs["SubnetId"]],
                                  security_group_ids=[self.outputs["SecurityGroupId"]]),
            output_data_config=OutputDataConfig(s3_output_path=f"s3://{output}/jobs/", kms_key_id=key),
            checkpoint_config=(CheckpointConfig(s3_uri=f"s3://{output}/checkpoints/{self.run_id}/",
                                                local_path="/opt/ml/checkpoints") if spot else None),
            input_data_config=self.channels(),
            tags=[Tag(key=k, value=v) for k, v in self.tags.items()] or None,
        )
        if self.mode == "read":
            trainer.with_metric_definitions([
                MetricDefinition(name="read_seconds", regex=r"read_seconds=([0-9.]+);"),
                MetricDefinition(name="read_mb_per_s", regex=r"read_mb_per_s=([0-9.]+);"),
            ])
        return trainer


def sagemaker_modules(region: str) -> None:
    """Imports the SDK with a region set (some of its modules create clients at import).

    The SDK's client-side role check simulates the role's policy without request
    context, so it would refuse the lab role's namespace-conditioned
    cloudwatch:PutMetricData; the role is the lab's own (its policy is asserted by the
    template tests), so that check is turned off unless the user set it.
    """
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    os.environ.setdefault("SAGEMAKER_VALIDATE_ROLE", "false")
    import sagemaker.train  # noqa: F401


class AwsCallBlocked(RuntimeError):
    """A dry run tried to send a request."""


def offline_session(region: str) -> Any:
    """A boto3 session that refuses to send anything (with inert credentials, so that
    nothing looks them up either): the dry run's guarantee that AWS is not called."""
    import boto3

    session = boto3.Session(region_name=region, aws_access_key_id="dry-run", aws_secret_access_key="dry-run")
    attempts: list[str] = []

    def refuse(request: Any = None, **_: Any) -> None:
        attempts.append(getattr(request, "url", "?"))
        raise AwsCallBlocked(f"dry run: refused to send {getattr(request, 'url', 'a request')}")

    session.events.register("before-send", refuse)
    session.blocked_attempts = attempts  # type: ignore[attr-defined]
    return session


def planning_session(boto_session: Any, bucket: str) -> Any:
    """A SageMaker session that stages nothing: it answers with the S3 URIs it would upload to."""
    from sagemaker.core.helper.session_helper import Session

    class PlanningSession(Session):
        planned: list[tuple[str, str]] = []

        def default_bucket(self) -> str:
            return bucket

        def upload_data(self, path, bucket=None, key_prefix="data", callback=None, extra_args=None):  # noqa: ANN001
            uri = f"s3://{bucket}/{key_prefix}"
            self.planned.append((str(path), uri))
            return uri

    return PlanningSession(boto_session=boto_session, default_bucket=bucket, default_bucket_prefix="code")


def create_request(plan: JobPlan, sagemaker_session: Any, region: str) -> dict[str, Any]:
    """The CreateTrainingJob request the SDK sends for ``plan`` (its boto3 form)."""
    trainer = plan.trainer(sagemaker_session, region)
    # The SDK's own request builder (what train() and pipelines send), in boto3 form.
    return trainer._create_training_job_args(boto3=True)  # noqa: SLF001


def dry_run_requests(region: str, instance_type: str | None = None, *, spot: bool = True) -> list[tuple[str, dict]]:
    """(title, CreateTrainingJob request) for the FSx job, the EFS seed job and the EFS job."""
    sagemaker_modules(region)
    boto_session = offline_session(region)
    session = planning_session(boto_session, PLACEHOLDER_OUTPUTS["OutputBucketName"])
    fsx = dict(PLACEHOLDER_OUTPUTS)
    efs = {**fsx, **EFS_PLACEHOLDERS}
    chosen = instance_type or fsx["InstanceType"]
    plans = [
        ("FSx for Lustre training job (each of the two runs)", JobPlan(fsx, chosen, spot=spot, run_id="<run>-1")),
        ("EFS variant: seed job (copies the set from S3 into EFS)",
         JobPlan(efs, SEED_INSTANCE_TYPE, mode="seed", spot=False, run_id="<run>-seed")),
        ("EFS variant: training job", JobPlan(efs, chosen, spot=spot, run_id="<run>-1")),
    ]
    return [(title, create_request(plan, session, region)) for title, plan in plans]


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
        self.out("# placeholders <...> are the mlref-fsx-training stack's outputs; the source code and the SDK's "
                 "drivers are staged under s3://<OutputBucketName>/code/")
        return requests

    def run(self) -> list[JobReport] | None:
        if self.dry_run:
            self.print_dry_run()
            return None
        if self.session.region_name is None:
            raise LabError("no AWS region set: pass --region or set AWS_DEFAULT_REGION (or `aws configure`)")
        outputs, stack_tags = deployed_stack(self.session, STACK_NAME, REQUIRED_OUTPUTS)
        instance_type = self.instance_type or outputs["InstanceType"]
        source = outputs["TrainingSource"]
        quotas = self.session.client("service-quotas")
        check_quota(quotas, instance_type, spot=self.spot, region=self.region, out=self.out)
        if source == "efs":
            check_quota(quotas, SEED_INSTANCE_TYPE, spot=False, region=self.region, out=self.out)

        run_id = f"{datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:4]}"
        tags = {k: stack_tags[k] for k in JOB_TAG_KEYS if k in stack_tags}
        parts = self.parts if self.parts is not None else training_set()
        plan = JobPlan(outputs, instance_type, spot=self.spot, run_id=run_id, tags=tags)
        prefix = f"{outputs['DataPrefix']}{DATASET}/"
        uploaded = upload_training_set(self.session.client("s3"), outputs["DataBucketName"], prefix,
                                       outputs["KeyArn"], parts)
        size = sum(len(b) for b in parts.values()) / 1e6
        self.out(f"training set: {len(parts)} shards, {size:.1f} MB at {plan.dataset_s3_uri} "
                 f"({uploaded} uploaded, {len(parts) - uploaded} already there)")

        sagemaker_session = self.sagemaker_session or self._sagemaker_session(outputs["OutputBucketName"])
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
                 f"from {plan.outputs['FileSystemType']} {plan.outputs['FileSystemId']}")
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
        deadline = self.clock() + MAX_WAIT_SECONDS + 15 * 60
        last = None
        while True:
            try:
                description = sagemaker.describe_training_job(TrainingJobName=name)
            except EndpointConnectionError:
                description = None
            if description is not None:
                status = (description["TrainingJobStatus"], description.get("SecondaryStatus"))
                if status != last:
                    self.out(f"  {name}: {status[0]} / {status[1]}")
                    last = status
                if status[0] in FINISHED:
                    return description
            if self.clock() > deadline:
                raise LabError(f"{name} has not finished after {MAX_WAIT_SECONDS // 60 + 15} minutes; "
                               f"see it in the SageMaker console or stop it: "
                               f"aws sagemaker stop-training-job --training-job-name {name}")
            self.sleep(self.poll_seconds)
