"""The mlops CodePipeline's Staging and Production actions: serve the approved model version and wait
until the endpoint says how the rollout ended.

UserParameters: ``{"target": "staging"|"production", "packageArn", "version", "executionId"}``. The
same function serves both targets, with continuation tokens (``lambdas/shared/codepipeline_job.py``):

- first invocation: for staging, the manual approval is written into the model registry (the package
  becomes Approved, with who approved it in which CodePipeline execution, read from
  ListActionExecutions); then a model and an endpoint config ``<endpoint>-v<N>`` (``lambdas/shared/
  hosting.py``) and CreateEndpoint, or UpdateEndpoint. Staging is serverless and updates plainly.
  Production updates blue/green with the ``DeploymentConfig`` of ``lambdas/shared/rollout.py``: canary
  or linear traffic shifting (all at once for a serverless endpoint), a bake per step and the rollback
  alarm. An endpoint still busy with an earlier rollout is waited for;
- later invocations: DescribeEndpoint, judged by ``rollout_of`` (the config the endpoint ends on).
  Succeeded: the action emits the config. Rolled back: production marks the package Rejected with the
  reason, and the action fails naming the config still served. Failed: the action fails.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

import boto3

try:  # copied beside this file in the Lambda asset
    from codepipeline_job import Job, Outcome, answer
    from hosting import describe, ensure_config, ensure_model, instance_variant, serverless_variant
    from lab_names import deployed_name
    from rollout import FAILED, ROLLED_BACK, SUCCEEDED, deployment_config, rollout_of
except ImportError:  # imported as a package (tests)
    from lambdas.shared.codepipeline_job import Job, Outcome, answer
    from lambdas.shared.hosting import describe, ensure_config, ensure_model, instance_variant, serverless_variant
    from lambdas.shared.lab_names import deployed_name
    from lambdas.shared.rollout import FAILED, ROLLED_BACK, SUCCEEDED, deployment_config, rollout_of

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)

STAGING, PRODUCTION = "staging", "production"
WAITING = {"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"}


@dataclass(frozen=True)
class Settings:
    """What the stack passes in the function's environment."""

    endpoints: dict[str, str]
    model_role_arn: str
    memory_mb: int
    max_concurrency: int
    production_serverless: bool
    instance_type: str
    instance_count: int
    strategy: str
    bake_seconds: int
    rollback_alarm: str
    key_arn: str
    code_pipeline: str
    approve_action: tuple[str, str]
    variant: str
    tags: dict[str, str]

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        stage, action = env["APPROVE_ACTION"].split("/")
        return cls(endpoints={STAGING: env["STAGING_ENDPOINT"], PRODUCTION: env["PRODUCTION_ENDPOINT"]},
                   model_role_arn=env["MODEL_ROLE_ARN"], memory_mb=int(env["SERVERLESS_MEMORY_MB"]),
                   max_concurrency=int(env["SERVERLESS_MAX_CONCURRENCY"]),
                   production_serverless=env["PRODUCTION_KIND"] == "serverless", instance_type=env["INSTANCE_TYPE"],
                   instance_count=int(env["INSTANCE_COUNT"]), strategy=env["STRATEGY"],
                   bake_seconds=int(env["BAKE_SECONDS"]), rollback_alarm=env["ROLLBACK_ALARM"],
                   key_arn=env["KEY_ARN"], code_pipeline=env["CODE_PIPELINE"], approve_action=(stage, action),
                   variant=env["VARIANT"], tags=json.loads(env["LAB_TAGS"]))

    def serverless(self, target: str) -> bool:
        return target == STAGING or self.production_serverless


class Deploy:
    def __init__(self, sagemaker: Any, codepipeline: Any, settings: Settings,
                 clock: Any = time.time) -> None:
        self.sagemaker, self.codepipeline, self.settings, self.clock = sagemaker, codepipeline, settings, clock

    def handle(self, job: Job) -> Outcome:
        target = job.parameters["target"]
        if job.token is None or job.token.get("waiting"):
            return self.start(job, target)
        return self.follow(job, target, job.token)

    # -- starting ------------------------------------------------------------------------

    def approver(self, execution_id: str) -> str:
        """Who approved this execution's model, as CodePipeline recorded it."""
        stage, action = self.settings.approve_action
        pages = self.codepipeline.get_paginator("list_action_executions").paginate(
            pipelineName=self.settings.code_pipeline, filter={"pipelineExecutionId": execution_id})
        rows = [row for page in pages for row in page["actionExecutionDetails"]
                if row["stageName"] == stage and row["actionName"] == action and row["status"] == "Succeeded"]
        if not rows:
            return "an unknown approver"
        summary = rows[0].get("output", {}).get("executionResult", {}).get("externalExecutionSummary", "")
        return rows[0].get("updatedBy", "an unknown approver") + (f" ({summary})" if summary else "")

    def record_approval(self, package_arn: str, execution_id: str) -> None:
        package = self.sagemaker.describe_model_package(ModelPackageName=package_arn)
        if package["ModelApprovalStatus"] == "Approved":
            return
        self.sagemaker.update_model_package(
            ModelPackageArn=package_arn, ModelApprovalStatus="Approved",
            ApprovalDescription=f"approved in CodePipeline execution {execution_id} by "
                                f"{self.approver(execution_id)}"[:1024])

    def variant(self, target: str) -> dict[str, Any]:
        settings = self.settings
        if settings.serverless(target):
            return serverless_variant(settings.variant, settings.memory_mb, settings.max_concurrency)
        return instance_variant(settings.variant, settings.instance_type, settings.instance_count)

    def start(self, job: Job, target: str) -> Outcome:
        settings, endpoint = self.settings, self.settings.endpoints[target]
        package_arn, version = job.parameters["packageArn"], int(job.parameters["version"])
        if target == STAGING:
            self.record_approval(package_arn, job.pipeline_execution_id)
        name = deployed_name(endpoint, version)
        ensure_model(self.sagemaker, name, package_arn, settings.model_role_arn, settings.tags)
        ensure_config(self.sagemaker, name, self.variant(target), settings.tags,
                      None if settings.serverless(target) else settings.key_arn)
        current = describe(self.sagemaker, "describe_endpoint", EndpointName=endpoint)
        if current is None:
            self.sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=name,
                                           Tags=[{"Key": k, "Value": v} for k, v in settings.tags.items()])
            return self.in_progress(endpoint, "", name, f"creating {endpoint} with {name}")
        status, served = current["EndpointStatus"], current["EndpointConfigName"]
        if served == name and status == "InService":
            return Outcome(summary=f"{endpoint} already serves {name}", variables={"EndpointConfig": name,
                                                                                  "Result": "deployed"})
        if status in WAITING:
            return Outcome(summary=f"{endpoint} is {status}; waiting to roll out {name}", token={"waiting": True})
        if status != "InService":
            return Outcome(summary=f"{endpoint} is {status}: {current.get('FailureReason', 'no reason given')}; "
                                   "delete it (the next run creates it) or destroy the lab", failed=True)
        request: dict[str, Any] = {"EndpointName": endpoint, "EndpointConfigName": name}
        if target == PRODUCTION:
            request["DeploymentConfig"] = deployment_config(settings.strategy, alarms=[settings.rollback_alarm],
                                                            bake_seconds=settings.bake_seconds)
        self.sagemaker.update_endpoint(**request)
        how = f"blue/green {settings.strategy}" if target == PRODUCTION else "update"
        return self.in_progress(endpoint, served, name, f"{how}: {served} -> {name}")

    def in_progress(self, endpoint: str, original: str, target_config: str, summary: str) -> Outcome:
        return Outcome(summary=summary, token={"original": original, "target": target_config,
                                               "started": int(self.clock())}, external_id=endpoint)

    # -- following ------------------------------------------------------------------------

    def follow(self, job: Job, target: str, token: dict[str, Any]) -> Outcome:
        endpoint = self.settings.endpoints[target]
        answer = self.sagemaker.describe_endpoint(EndpointName=endpoint)
        rollout = rollout_of(answer, original=token["original"], target=token["target"])
        minutes = int((self.clock() - token.get("started", self.clock())) // 60)
        if rollout.state == SUCCEEDED:
            return Outcome(summary=f"{endpoint} serves {token['target']} ({minutes} min)", external_id=endpoint,
                           variables={"EndpointConfig": token["target"], "Result": "deployed"})
        if rollout.state == ROLLED_BACK:
            reason = rollout.reason or f"alarm {self.settings.rollback_alarm}"
            if target == PRODUCTION:
                self.sagemaker.update_model_package(
                    ModelPackageArn=job.parameters["packageArn"], ModelApprovalStatus="Rejected",
                    ApprovalDescription=f"rolled back in production ({reason})"[:1024])
            return Outcome(summary=f"rolled back: {reason}; {endpoint} still serves {token['original']}",
                           failed=True, external_id=endpoint)
        if rollout.state == FAILED:
            return Outcome(summary=f"{endpoint} {rollout.phase}: {rollout.reason or 'no reason given'}", failed=True,
                           external_id=endpoint)
        return Outcome(summary=f"{rollout.phase} ({minutes} min)", token=token, external_id=endpoint)


def handler(event: dict, context: Any, clients: dict[str, Any] | None = None) -> dict[str, Any]:
    clients = clients or {name: boto3.client(name) for name in ("sagemaker", "codepipeline")}
    action = Deploy(clients["sagemaker"], clients["codepipeline"], Settings.from_environment())
    return answer(clients["codepipeline"], event, action.handle)
