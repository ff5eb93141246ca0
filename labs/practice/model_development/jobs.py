"""What every model-development step does with SageMaker jobs: start one and wait for it (Ctrl-C stops it),
read its per-round metrics from its training log, and record its lineage (image, instance, hyperparameters,
inputs, final metrics, billed seconds and cost) so that a run can be reproduced.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from catalog import model_development as lab
from catalog import model_development_facts as facts
from catalog.fsx_training import billed_cost
from labs.engine.errors import LabError
from labs.practice.common.polling import PollTimeout, poll
from lambdas.shared.lab_names import TRAINING_LOG_GROUP

FINISHED = {"Completed", "Failed", "Stopped"}
QUOTA_FIX = ("request more in Service Quotas (SageMaker, '<type> for spot training job usage', or without spot "
             "'... for training job usage'), or rerun with --training-instance-type or --on-demand")
# Built-in XGBoost prints each round as "[12]#011train-logloss:0.41#011validation-logloss:0.46" (#011 is the
# TAB the log agent escapes); its own metric definitions use the same pattern (training-metrics.html).
ROUND = re.compile(r"\[(\d+)\](?:#011|\t)train-(?P<metric>[a-z@0-9_-]+):([-+0-9.eE]+|nan|inf)"
                   r"(?:#011|\t)validation-(?P=metric):([-+0-9.eE]+|nan|inf)")


@dataclass
class Jobs:
    """Starts and follows SageMaker jobs with one client, one clock and one poll interval."""

    sagemaker: Any
    out: Callable[[str], None]
    poll_seconds: float = 30
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def start(self, operation: str, request: dict[str, Any]) -> None:
        """Sends one Create request; a quota refusal is one line with its fix."""
        try:
            getattr(self.sagemaker, operation)(**request)
        except ClientError as error:
            code, message = error.response["Error"]["Code"], error.response["Error"].get("Message", "")
            if code == "ResourceLimitExceeded":
                parallel = (f" (a tuning job runs {facts.MAX_PARALLEL_JOBS} training jobs at a time, one instance "
                            "each)" if operation == "create_hyper_parameter_tuning_job" else "")
                raise LabError(f"SageMaker refused {error.operation_name}: {message[:200]}{parallel}; "
                               f"{QUOTA_FIX}") from None
            raise

    def wait(self, kind: str, name: str, *, timeout: float) -> dict[str, Any]:
        """Waits for a training, processing or tuning job to finish; Ctrl-C stops it, then re-raises."""
        describe, status_key, stop = {
            "training": ("describe_training_job", "TrainingJobStatus", "stop_training_job"),
            "processing": ("describe_processing_job", "ProcessingJobStatus", "stop_processing_job"),
            "tuning": ("describe_hyper_parameter_tuning_job", "HyperParameterTuningJobStatus",
                       "stop_hyper_parameter_tuning_job"),
        }[kind]
        name_key = {"training": "TrainingJobName", "processing": "ProcessingJobName",
                    "tuning": "HyperParameterTuningJobName"}[kind]

        def progress(found: dict[str, Any]) -> str:
            counters = found.get("TrainingJobStatusCounters")
            detail = found.get("SecondaryStatus") or (
                ", ".join(f"{k} {v}" for k, v in counters.items() if v) if counters else "")
            return f"{found[status_key]}" + (f" / {detail}" if detail else "")

        try:
            return poll(lambda: getattr(self.sagemaker, describe)(**{name_key: name}),
                        lambda found: found[status_key] in FINISHED, timeout=timeout, interval=self.poll_seconds,
                        clock=self.clock, sleep=self.sleep, key=progress,
                        on_change=lambda found: self.out(f"  {name}: {progress(found)}"))
        except KeyboardInterrupt:
            getattr(self.sagemaker, stop)(**{name_key: name})
            self.out(f"stopped {name} (Ctrl-C)")
            raise
        except PollTimeout:
            getattr(self.sagemaker, stop)(**{name_key: name})
            raise LabError(f"{name} had not finished after {timeout / 60:.0f} minutes and was stopped; rerun the "
                           "step later (spot capacity may be short: --on-demand)") from None

    def train(self, request: dict[str, Any]) -> dict[str, Any]:
        """One training job, started and awaited; its description (a failure is a LabError)."""
        name = request["TrainingJobName"]
        self.start("create_training_job", request)
        self.out(f"started training job {name} ({request['ResourceConfig']['InstanceType']}, "
                 f"{'spot' if request['EnableManagedSpotTraining'] else 'on demand'})")
        found = self.wait("training", name, timeout=training_timeout(request))
        if found["TrainingJobStatus"] != "Completed":
            raise LabError(f"training job {name} ended {found['TrainingJobStatus']}: "
                           f"{found.get('FailureReason', 'no reason given')}; its log is in {TRAINING_LOG_GROUP}")
        return found


def training_timeout(request: dict[str, Any]) -> float:
    stopping = request["StoppingCondition"]
    return stopping.get("MaxWaitTimeInSeconds", stopping["MaxRuntimeInSeconds"]) + 10 * 60


def final_metric(description: dict[str, Any], name: str) -> float | None:
    for metric in description.get("FinalMetricDataList", []):
        if metric["MetricName"] == name:
            return float(metric["Value"])
    return None


def log_request(job: str, metric: str) -> dict[str, str]:
    return {"logGroupName": TRAINING_LOG_GROUP, "logStreamNamePrefix": f"{job}/", "filterPattern": f'"train-{metric}"'}


def parse_rounds(messages: list[str], metric: str) -> list[tuple[int, float, float]]:
    """(round, train, validation) per round, in round order; a round printed twice (a spot job resumed)
    keeps its last value."""
    rounds: dict[int, tuple[float, float]] = {}
    for message in messages:
        for found in ROUND.finditer(message):
            if found["metric"] == metric:
                rounds[int(found[1])] = (float(found[3]), float(found[4]))
    return [(number, *rounds[number]) for number in sorted(rounds)]


def round_metrics(logs: Any, job: str, metric: str) -> list[tuple[int, float, float]]:
    """The job's per-round training and validation values of ``metric``, from its log (every stream)."""
    events: list[dict[str, Any]] = []
    try:
        for page in logs.get_paginator("filter_log_events").paginate(**log_request(job, metric)):
            events.extend(page.get("events", []))
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
    return parse_rounds([event["message"] for event in sorted(events, key=lambda e: e.get("timestamp", 0))], metric)


@dataclass
class Lineage:
    """Every job of a run as it ran, so the run can be repeated: printed at the end, stored in the bucket."""

    run: str
    seed: int
    jobs: list[dict[str, Any]] = field(default_factory=list)

    def training(self, step: str, found: dict[str, Any]) -> None:
        instance = found["ResourceConfig"]["InstanceType"]
        billable = found.get("BillableTimeInSeconds")
        self.jobs.append({
            "step": step, "kind": "training job", "name": found["TrainingJobName"], "arn": found["TrainingJobArn"],
            "image": found["AlgorithmSpecification"].get("TrainingImage", ""), "instance_type": instance,
            "spot": found.get("EnableManagedSpotTraining", False), "hyperparameters": found.get("HyperParameters", {}),
            "inputs": [c["DataSource"]["S3DataSource"]["S3Uri"] for c in found.get("InputDataConfig", [])],
            "final_metrics": {m["MetricName"]: m["Value"] for m in found.get("FinalMetricDataList", [])},
            "training_seconds": found.get("TrainingTimeInSeconds"), "billable_seconds": billable,
            "cost_usd": None if billable is None else billed_cost(instance, billable)})

    def other(self, step: str, kind: str, name: str, **details: Any) -> None:
        self.jobs.append({"step": step, "kind": kind, "name": name, **details})

    def document(self) -> dict[str, Any]:
        return {"run": self.run, "seed": self.seed, "jobs": self.jobs}

    def lines(self) -> list[str]:
        lines = [f"lineage of run {self.run} (seed {self.seed}; s3://<bucket>/{lab.lineage_key(self.run)}):"]
        for job in self.jobs:
            head = f"  {job['step']:<9} {job['kind']:<15} {job['name']}"
            if job["kind"] == "training job":
                metrics = ", ".join(f"{k} {float(v):.4f}" for k, v in sorted(job["final_metrics"].items()))
                cost = "" if job["cost_usd"] is None else f", ~${job['cost_usd']:.4f}"
                head += (f": {job['instance_type']} {'spot' if job['spot'] else 'on demand'}, "
                         f"{job['billable_seconds']} s billed{cost}; {metrics or 'no final metrics'}")
                lines.append(head)
                lines.append("            hyperparameters " + " ".join(
                    f"{k}={v}" for k, v in sorted(job["hyperparameters"].items()) if not k.startswith("_")))
            else:
                lines.append(head + "".join(f"; {k} {v}" for k, v in job.items() if k not in {"step", "kind", "name"}))
        return lines
