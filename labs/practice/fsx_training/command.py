"""Practice on the fsx-training lab: the study notes' claim, side by side.

The notes say FSx for Lustre speeds up training by removing the initial S3 download, that
repeated jobs on the same file system do not download the same objects again, and that EFS
starts without moving any data. This step runs the same read job (``fsx_job/train.py``)
once per input mode, on the same instance type and the same data, and prints one table:
S3 File, S3 FastFile, FSx for Lustre first run, FSx repeated run (EFS on the EFS variant).

1. ``check quotas``: check Service Quotas for the instance type (spot, or on demand with
   ``--on-demand``), and find the data set (``--dataset-gib``, default 4) in the data bucket
   (when it is not there, the quota of the CPU job that writes it too).
2. ``estimate cost``: print the estimated cost of the run from the price table and ask
   (``--yes`` does not).
3. ``stage data set``: when the set is not there, a short on-demand CPU job writes it in the
   region (no upload from this machine); copy the set inside S3 to a fresh prefix for the FSx
   rows (FSx imports it as new files).
4. ``read jobs``: run the read jobs ONE AFTER ANOTHER, never in parallel: parallel jobs would
   share the file system's and the bucket's throughput and skew the comparison, the repeated FSx
   run must follow the first, and P3/G5 training quotas are often 1. Each job is tagged with the
   lab's tags (the sweep removes its logs and output). Ctrl-C stops the running job. Then print
   the table and the closing line with the measured ratios.

Each step is announced with the MLA-C01 task statements it exercises (``step_line``).

``--dry-run`` prints every CreateTrainingJob request (and the estimate) without calling AWS.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError

from catalog import fsx_training as contract
from catalog.fsx_training import (
    ALTERNATIVES,
    CONTRACT,
    DEFAULT_DATASET_GIB,
    DEFAULT_INSTANCE_TYPE,
    MAX_DATASET_GIB,
    MODES,
    SEED_INSTANCE_TYPE,
    FsxTrainingOptions,
    TrainingSource,
    run_estimate,
)
from catalog.sagemaker import INSTANCE_TYPE
from labs.engine.deployed import deployed_stack
from labs.engine.errors import LabError
from labs.practice.common.dry_run import show_request, show_stack_outputs
from labs.practice.common.polling import poll
from labs.practice.common.steps import step_line
from labs.practice.fsx_training.data import MANIFEST, copy_for_fsx, copy_request, missing_from
from labs.practice.fsx_training.plan import (
    MAX_RUNTIME_SECONDS,
    MAX_WAIT_SECONDS,
    PLACEHOLDER_OUTPUTS,
    PREPARE,
    JobPlan,
    data_set,
    dry_run_requests,
    prepare_plan,
    read_plans,
    sagemaker_modules,
)
from labs.practice.fsx_training.quota import check_quota
from labs.practice.fsx_training.report import JobReport, claim_line, job_report, table
from lambdas.shared.lab_names import LAB_TAG, OWNER_TAG, PROFILE_TAG, TRAINING_LOG_GROUP

JOB_TAG_KEYS = (LAB_TAG, PROFILE_TAG, OWNER_TAG)
FINISHED = {"Completed", "Failed", "Stopped"}
# Every output the practice reads (MountName exists only on the FSx variant and is not needed).
REQUIRED_OUTPUTS = tuple(output for output in contract.OUTPUTS if output.when is None)


def parse_modes(text: str | None) -> tuple[str, ...] | None:
    """``file,fastfile,fsx`` -> the modes in table order; None: every mode of the deployed variant."""
    if text is None or not text.strip():
        return None
    given = [m.strip().lower() for m in text.split(",") if m.strip()]
    unknown = [m for m in given if m not in MODES]
    if unknown or not given:
        raise LabError(f"--modes {text!r}: {', '.join(unknown) or 'nothing'} is not an input mode; use a "
                       f"comma-separated choice of {', '.join(MODES)} (e.g. --modes file,fsx)")
    return tuple(m for m in MODES if m in given)


def job_log_messages(logs: Any, job_name: str) -> list[str]:
    """The job's MLREF_ log lines, in time order (every stream: a resumed job writes a new one)."""
    events: list[dict[str, Any]] = []
    try:
        for page in logs.get_paginator("filter_log_events").paginate(
                logGroupName=TRAINING_LOG_GROUP, logStreamNamePrefix=f"{job_name}/", filterPattern='"MLREF_"'):
            events.extend(page.get("events", []))
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
    return [event["message"] for event in sorted(events, key=lambda e: e.get("timestamp", 0))]


class FsxTrainingPractice:
    def __init__(self, session: Any, *, dry_run: bool = False, out: Callable[[str], None] = print,
                 modes: str | None = None, dataset_gib: int = DEFAULT_DATASET_GIB, instance_type: str | None = None,
                 on_demand: bool = False, yes: bool = False, ask: Callable[[str], bool] | None = None,
                 poll_seconds: float = 30, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, sagemaker_session: Any = None) -> None:
        if instance_type is not None and not INSTANCE_TYPE.fullmatch(instance_type):
            raise LabError(f"--instance-type {instance_type!r} is not a SageMaker instance type; "
                           f"use e.g. ml.p3.2xlarge or {ALTERNATIVES[0]}")
        if not 1 <= dataset_gib <= MAX_DATASET_GIB:
            raise LabError(f"--dataset-gib {dataset_gib} is out of range: use 1 to {MAX_DATASET_GIB} "
                           f"(default {DEFAULT_DATASET_GIB})")
        self.session, self.dry_run, self.out = session, dry_run, out
        self.modes, self.dataset_gib, self.instance_type = parse_modes(modes), dataset_gib, instance_type
        self.spot, self.yes = not on_demand, yes
        self.ask = ask
        self.poll_seconds, self.sleep, self.clock = poll_seconds, sleep, clock
        self.sagemaker_session = sagemaker_session

    @property
    def region(self) -> str:
        return getattr(self.session, "region_name", None) or "us-east-1"

    # -- the dry run ---------------------------------------------------------------------

    def print_dry_run(self) -> list[tuple[str, dict]]:
        modes = self.modes or MODES
        requests = dry_run_requests(self.region, self.instance_type, spot=self.spot, modes=modes,
                                    dataset_gib=self.dataset_gib)
        staged = sum(1 for _, request in requests if request["TrainingJobName"].startswith(f"mlref-{PREPARE}"))
        outputs = PLACEHOLDER_OUTPUTS
        data = data_set(outputs, self.dataset_gib)
        show_stack_outputs(self.out, CONTRACT.stack_name)
        self.step(contract.STEP_QUOTAS)
        for operation in ("ListServiceQuotas", "ListAWSDefaultServiceQuotas"):
            show_request(self.out, "service-quotas", operation, {"ServiceCode": "sagemaker"},
                         "the instance type's training quota")
        show_request(self.out, "s3", "ListObjectsV2", {"Bucket": data.bucket, "Prefix": data.key_prefix},
                     "is the data set there?")
        show_request(self.out, "s3", "GetObject", {"Bucket": data.bucket, "Key": data.key_prefix + MANIFEST},
                     "its manifest")
        self.step(contract.STEP_ESTIMATE)
        for source in TrainingSource:
            options = FsxTrainingOptions(source=source, instance_type=self.instance_type or DEFAULT_INSTANCE_TYPE)
            chosen = tuple(m for m in modes if m in contract.default_modes(options))
            if chosen:
                self.estimate(options, chosen, prepare=True, prefix="# ")
        self.step(contract.STEP_STAGE)
        if "fsx" in modes:
            show_request(self.out, "s3", "CopyObject", copy_request(data, "<run>", data.shard_names[0]),
                         f"each of the {len(data.shard_names)} shards into the run's cold prefix, for FSx")
        self.print_staging(requests[0][1]["TrainingJobName"])
        for title, request in requests[:staged]:
            show_request(self.out, "sagemaker", "CreateTrainingJob", request, title)
        self.step(contract.STEP_READ)
        for title, request in requests[staged:]:
            show_request(self.out, "sagemaker", "CreateTrainingJob", request, title)
        self.print_follow_ups(requests[-1][1]["TrainingJobName"])
        self.out(f"# placeholders <...> are the {CONTRACT.stack_name} stack's outputs; the source code and the SDK's "
                 "drivers are staged under s3://<OutputBucketName>/code/")
        return requests

    def print_staging(self, job: str) -> None:
        """What the SDK sends before each job it starts (shown once)."""
        outputs = PLACEHOLDER_OUTPUTS
        show_request(self.out, "s3", "ListBuckets", {}, "the SageMaker SDK checks its staging bucket")
        show_request(self.out, "iam", "SimulatePrincipalPolicy", {
            "PolicySourceArn": outputs[contract.EXECUTION_ROLE], "ActionNames": ["s3:PutObject"],
            "ResourceArns": [f"arn:aws:s3:::{outputs[contract.OUTPUT_BUCKET]}/*"]},
            "the SDK asks whether the role may write there")
        show_request(self.out, "s3", "PutObject", {"Bucket": outputs[contract.OUTPUT_BUCKET],
                                                   "Key": f"code/{job}/source/sourcedir.tar.gz"},
                     "the SDK stages each job's code")

    def print_follow_ups(self, job: str) -> None:
        """The requests after each job starts."""
        show_request(self.out, "sagemaker", "DescribeTrainingJob", {"TrainingJobName": job}, "until it has finished")
        show_request(self.out, "sagemaker", "StopTrainingJob", {"TrainingJobName": job}, "only on Ctrl-C")
        show_request(self.out, "logs", "FilterLogEvents", {
            "logGroupName": TRAINING_LOG_GROUP, "logStreamNamePrefix": f"{job}/", "filterPattern": '"MLREF_"'},
            "the job's reading measurements")

    @staticmethod
    def dry_run_outputs(_region: str) -> dict[str, str]:
        """The stack outputs as the dry run writes them (``labs permissions`` puts the template's in)."""
        return dict(PLACEHOLDER_OUTPUTS)

    # -- the run -------------------------------------------------------------------------

    def run(self) -> list[JobReport] | None:
        if self.dry_run:
            self.print_dry_run()
            return None
        if self.session.region_name is None:
            raise LabError("no AWS region set: pass --region or set AWS_DEFAULT_REGION (or `aws configure`)")
        outputs, stack_tags = deployed_stack(self.session, CONTRACT.stack_name, REQUIRED_OUTPUTS)
        options = FsxTrainingOptions(source=TrainingSource(outputs[contract.TRAINING_SOURCE]),
                                     instance_type=self.instance_type or outputs[contract.INSTANCE_TYPE_OUTPUT])
        modes = self.modes_for(options)
        self.step(contract.STEP_QUOTAS)
        quotas = self.session.client("service-quotas")
        check_quota(quotas, options.instance_type, spot=self.spot, region=self.region, out=self.out)

        s3 = self.session.client("s3")
        data = data_set(outputs, self.dataset_gib)
        efs_id = outputs[contract.FILE_SYSTEM_ID] if "efs" in modes else ""
        missing = missing_from(s3, data, efs_id=efs_id)
        if missing:
            check_quota(quotas, SEED_INSTANCE_TYPE, spot=False, region=self.region, out=self.out)
            self.out(f"data set: {missing}; a short {SEED_INSTANCE_TYPE} job writes it in the region first")
        else:
            self.out(f"data set: {data.s3_uri} is there ({data.megabytes:.0f} MB), reused")
        self.step(contract.STEP_ESTIMATE)
        if not self.confirmed(options, modes, prepare=missing is not None):
            self.out("nothing started")
            return None

        run_id = f"{datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:4]}"
        tags = {k: stack_tags[k] for k in JOB_TAG_KEYS if k in stack_tags}
        sagemaker_session = self.sagemaker_session or self._sagemaker_session(outputs[contract.OUTPUT_BUCKET])
        if missing or "fsx" in modes:
            self.step(contract.STEP_STAGE)
        if missing:
            self.prepare(prepare_plan(outputs, data, run_id=run_id, tags=tags), sagemaker_session, s3, efs_id)
        fsx_data = copy_for_fsx(s3, data, run_id, self.out) if "fsx" in modes else None
        self.step(contract.STEP_READ)
        self.out("the read jobs run one after another (never in parallel: they would share the file system's "
                 "and the bucket's throughput)")
        reports = [self.run_job(plan, sagemaker_session)
                   for plan in read_plans(outputs, modes, data, options.instance_type, spot=self.spot, run_id=run_id,
                                          tags=tags, fsx_data=fsx_data)]
        self.out(f"{options.instance_type}, {'spot' if self.spot else 'on demand'}, {data.megabytes:.0f} MB "
                 f"({self.dataset_gib} GiB) in {len(data.shard_names)} shards:")
        for line in table(reports):
            self.out(line)
        self.out(claim_line(reports))
        return reports

    def step(self, name: str) -> None:
        self.out(step_line(CONTRACT, name))

    def modes_for(self, options: FsxTrainingOptions) -> tuple[str, ...]:
        available = contract.default_modes(options)
        modes = self.modes or available
        if absent := [m for m in modes if m not in available]:
            other = "efs" if options.fsx else "fsx"
            raise LabError(f"--modes {','.join(absent)}: the deployed lab uses {options.source.value}; redeploy with "
                           f"`labs deploy fsx-training -c training_source={other}` for it, or pick from "
                           f"{', '.join(available)}")
        return modes

    def estimate(self, options: FsxTrainingOptions, modes: tuple[str, ...], *, prepare: bool,
                 prefix: str = "") -> float | None:
        jobs = run_estimate(options, modes=modes, spot=self.spot, dataset_gib=self.dataset_gib, prepare=prepare)
        self.out(f"{prefix}estimated cost ({options.source.value} variant, pricing/prices.toml):")
        for job in jobs:
            usd = "no price in the table" if job.usd is None else f"~${job.usd:.3f}"
            usd += f" (of it EFS Elastic Throughput ~${job.efs_usd:.3f})" if job.efs_usd else ""
            self.out(f"{prefix}  {job.label}: {job.instance_type} {'spot' if job.spot else 'on demand'}, "
                     f"~{job.minutes:.1f} billable min, {usd}")
        total = contract.run_cost(options, modes=modes, spot=self.spot, dataset_gib=self.dataset_gib, prepare=prepare)
        self.out(f"{prefix}  total: " + ("unknown" if total is None else f"~${total:.2f}")
                 + (" (spot at the typical 70% saving)" if self.spot else "")
                 + f"; assumes {contract.JOB_OVERHEAD_MINUTES} min per job around the reading and "
                   f"{contract.PLANNING_MB_PER_S} MB/s")
        return total

    def confirmed(self, options: FsxTrainingOptions, modes: tuple[str, ...], *, prepare: bool) -> bool:
        self.estimate(options, modes, prepare=prepare)
        if self.yes:
            return True
        if self.ask is None:
            raise LabError("cannot ask before starting billable training jobs (no terminal): rerun with --yes to "
                           "accept the estimate above")
        return self.ask(f"start {'the data-set job and ' if prepare else ''}"
                        f"{sum(len(contract.MODE_ROWS[m]) for m in modes)} read jobs?")

    def prepare(self, plan: JobPlan, sagemaker_session: Any, s3: Any, efs_id: str) -> None:
        report = self.run_job(plan, sagemaker_session, label="data set")
        if report.status != "Completed":
            raise LabError(f"writing the data set failed: {report.line()}")
        # SageMaker uploads the last checkpoint files as the job ends; give the listing a moment.
        poll(lambda: missing_from(s3, plan.data, efs_id=efs_id) or "", lambda missing: missing == "", timeout=120,
             interval=10, clock=self.clock, sleep=self.sleep,
             message=f"the data-set job completed but {plan.data.s3_uri} is still incomplete after 2 minutes: "
                     f"see the job's log, then rerun")

    def _sagemaker_session(self, bucket: str) -> Any:
        sagemaker_modules(self.region)
        from sagemaker.core.helper.session_helper import Session

        return Session(boto_session=self.session, default_bucket=bucket, default_bucket_prefix="code")

    def run_job(self, plan: JobPlan, sagemaker_session: Any, *, label: str | None = None) -> JobReport:
        label = label or contract.MODE_ROWS[plan.mode][1 if plan.step == "repeated" else 0]
        trainer = plan.trainer(sagemaker_session, self.region)
        kind = "spot" if plan.managed_spot else "on demand"
        self.out(f"starting {label}: {plan.base_job_name} on {plan.instance_type} ({kind})")
        trainer.train(wait=False, logs=False)
        name = trainer._latest_training_job.training_job_name  # the SDK's handle on the job
        sagemaker = self.session.client("sagemaker")
        try:
            description = self.wait(sagemaker, name, spot=plan.managed_spot)
        except KeyboardInterrupt:
            sagemaker.stop_training_job(TrainingJobName=name)
            self.out(f"stopped {name}")
            raise
        report = job_report(description, job_log_messages(self.session.client("logs"), name), label=label,
                            instance_type=plan.instance_type, spot=plan.managed_spot)
        self.out(report.line())
        return report

    def wait(self, sagemaker: Any, name: str, *, spot: bool = True) -> dict[str, Any]:
        def describe() -> dict[str, Any] | None:
            try:
                return sagemaker.describe_training_job(TrainingJobName=name)
            except EndpointConnectionError:
                return None

        minutes = (MAX_WAIT_SECONDS if spot else MAX_RUNTIME_SECONDS) // 60 + 15
        return poll(describe, lambda d: d["TrainingJobStatus"] in FINISHED, timeout=minutes * 60,
                    interval=self.poll_seconds, clock=self.clock, sleep=self.sleep,
                    key=lambda d: (d["TrainingJobStatus"], d.get("SecondaryStatus")),
                    on_change=lambda d: self.out(f"  {name}: {d['TrainingJobStatus']} / {d.get('SecondaryStatus')}"),
                    message=f"{name} has not finished after {minutes} minutes; see it in the SageMaker console "
                            f"or stop it: aws sagemaker stop-training-job --training-job-name {name}")

