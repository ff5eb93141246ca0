"""The mlops CodePipeline's Train action: runs the SageMaker pipeline and waits for it.

CodePipeline has no SageMaker action, so this Lambda invoke action starts the execution and then
answers "in progress" with a continuation token; CodePipeline invokes it again with the token until
the execution ends (``lambdas/shared/codepipeline_job.py``).

- First invocation: ``StartPipelineExecution`` with the parameters the action passes (where the
  build put the scripts, why the run started, the CodePipeline execution id), one idempotency token
  per job, and the reason in the execution's description.
- Later ones: ``DescribePipelineExecution`` and its steps. Still executing: the steps' states as the
  action's summary. Succeeded: the registered version gets the run's reason as customer metadata
  (the model registry then says why it was trained), and the action emits ModelPackageArn,
  ModelPackageVersion, Auc, HoldoutUri and SageMakerExecutionArn for the stages after it. Failed or
  stopped: the action fails with the Fail step's message (AUC below the threshold) or the failed
  step's reason.

Any error fails the action with one line, so CodePipeline never waits for a crashed function.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from typing import Any

import boto3

try:  # copied beside this file in the Lambda asset
    from codepipeline_job import Job, Outcome, answer
except ImportError:  # imported as a package (tests)
    from lambdas.shared.codepipeline_job import Job, Outcome, answer

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)

RUNNING = {"Executing", "Stopping"}
METADATA_VALUE = re.compile(r"[^\w .:/=+\-@]")  # what CustomerMetadataProperties values may hold


@dataclass(frozen=True)
class Settings:
    """What the stack passes in the function's environment. The keys hold ``{execution}``."""

    pipeline: str
    artifacts_bucket: str
    holdout_key: str
    evaluation_key: str

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(pipeline=env["SAGEMAKER_PIPELINE"], artifacts_bucket=env["ARTIFACTS_BUCKET"],
                   holdout_key=env["HOLDOUT_KEY"], evaluation_key=env["EVALUATION_KEY"])


def metadata_value(text: str) -> str:
    """``text`` as a customer metadata value: 1-256 characters of the allowed set."""
    return METADATA_VALUE.sub(" ", text).strip()[:256] or "unknown"


def progress(steps: list[dict]) -> str:
    return ", ".join(f"{s['StepName']} {s['StepStatus']}" for s in steps) or "no step started yet"


class Train:
    def __init__(self, sagemaker: Any, s3: Any, settings: Settings) -> None:
        self.sagemaker, self.s3, self.settings = sagemaker, s3, settings

    def handle(self, job: Job) -> Outcome:
        if job.token is None:
            return self.start(job)
        return self.check(job, job.token["arn"])

    def start(self, job: Job) -> Outcome:
        reason = job.parameters.get("runReason") or "code-change"
        execution = job.pipeline_execution_id
        response = self.sagemaker.start_pipeline_execution(
            PipelineName=self.settings.pipeline,
            PipelineExecutionDisplayName=f"cp-{execution}"[:82],
            PipelineExecutionDescription=f"{reason}; CodePipeline execution {execution}; source "
                                         f"{job.parameters.get('sourceRevision', '?')}"[:3072],
            PipelineParameters=[{"Name": name, "Value": str(value)}
                                for name, value in job.parameters.get("parameters", {}).items()],
            ClientRequestToken=hashlib.sha256(job.id.encode()).hexdigest())
        arn = response["PipelineExecutionArn"]
        return Outcome(summary=f"started SageMaker execution {arn.rsplit('/', 1)[-1]} ({reason})", token={"arn": arn},
                       external_id=arn)

    def steps(self, arn: str) -> list[dict]:
        pages = self.sagemaker.get_paginator("list_pipeline_execution_steps").paginate(
            PipelineExecutionArn=arn, SortOrder="Ascending")
        return [step for page in pages for step in page["PipelineExecutionSteps"]]

    def check(self, job: Job, arn: str) -> Outcome:
        execution = self.sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)
        status, steps = execution["PipelineExecutionStatus"], self.steps(arn)
        if status in RUNNING:
            return Outcome(summary=progress(steps), token={"arn": arn}, external_id=arn)
        if status == "Succeeded":
            return self.registered(job, arn, steps)
        failed = [s for s in steps if s["StepStatus"] == "Failed"]
        messages = [s.get("Metadata", {}).get("Fail", {}).get("ErrorMessage") or s.get("FailureReason", "")
                    for s in failed]
        where = f"step {failed[0]['StepName']}: {messages[0]}" if failed else execution.get("FailureReason", "")
        return Outcome(summary=f"SageMaker pipeline {status}: {where or 'no reason given'}", failed=True,
                       external_id=arn)

    def auc(self, execution_id: str) -> float:
        key = self.settings.evaluation_key.format(execution=execution_id)
        report_body = json.loads(self.s3.get_object(Bucket=self.settings.artifacts_bucket, Key=key)["Body"].read())
        return float(report_body["binary_classification_metrics"]["auc"]["value"])

    def registered(self, job: Job, arn: str, steps: list[dict]) -> Outcome:
        packages = [s["Metadata"]["RegisterModel"]["Arn"] for s in steps
                    if s.get("Metadata", {}).get("RegisterModel", {}).get("Arn")]
        if not packages:
            return Outcome(summary=f"the SageMaker execution {arn} succeeded without registering a model",
                           failed=True, external_id=arn)
        package_arn = packages[0]
        version = self.sagemaker.describe_model_package(ModelPackageName=package_arn)["ModelPackageVersion"]
        execution_id = arn.rsplit("/", 1)[-1]
        auc = self.auc(execution_id)
        self.sagemaker.update_model_package(ModelPackageArn=package_arn, CustomerMetadataProperties={
            "RunReason": metadata_value(job.parameters.get("runReason") or "code-change"),
            "CodePipelineExecutionId": metadata_value(job.pipeline_execution_id),
            "SourceRevision": metadata_value(str(job.parameters.get("sourceRevision", ""))),
        })
        holdout = f"s3://{self.settings.artifacts_bucket}/{self.settings.holdout_key.format(execution=execution_id)}"
        return Outcome(summary=f"registered version {version} (AUC {auc:.4f}), pending approval",
                       variables={"ModelPackageArn": package_arn, "ModelPackageVersion": str(version),
                                  "Auc": f"{auc:.4f}", "HoldoutUri": holdout, "SageMakerExecutionArn": arn},
                       external_id=arn)


def handler(event: dict, context: Any, clients: dict[str, Any] | None = None) -> dict[str, Any]:
    clients = clients or {name: boto3.client(name) for name in ("sagemaker", "s3", "codepipeline")}
    action = Train(clients["sagemaker"], clients["s3"], Settings.from_environment())
    return answer(clients["codepipeline"], event, action.handle)
