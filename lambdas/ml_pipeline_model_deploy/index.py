"""Deploys an approved model package to the lab's serverless endpoint.

EventBridge invokes this function (asynchronously) for "SageMaker Model Package State Change"
events of the lab's model package group whose ``ModelApprovalStatus`` is Approved. For version N
it makes sure that:

1. a model ``<endpoint>-vN`` exists, created from the package (``ModelPackageName``) with the
   lab's model role;
2. an endpoint config ``<endpoint>-vN`` exists with one serverless variant (memory and
   concurrency from the environment; no instances, so nothing bills while idle);
3. the endpoint serves it: created on the first approval, updated to the new config on a
   later one (SageMaker swaps it without downtime). An endpoint still creating or updating is
   waited for (bounded by the function's remaining time); a failed one is replaced.

Everything it creates carries the lab's tags (``LAB_TAGS``), so the teardown and the sweep find
it. Idempotent: a repeated event, an endpoint already serving version N or a newer version, a
package no longer approved, or an event of another group changes nothing. Errors propagate, so
Lambda retries the event and, after its retries, the dead-letter queue keeps it.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import WaiterError

try:  # copied beside this file in the Lambda asset
    from hosting import describe, ensure_config, ensure_model, not_found, serverless_variant, tag_list
    from lab_names import deployed_name, deployed_version
except ImportError:  # imported as a package (tests)
    from lambdas.shared.hosting import describe, ensure_config, ensure_model, not_found, serverless_variant, tag_list
    from lambdas.shared.lab_names import deployed_name, deployed_version

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)

VARIANT = "AllTraffic"
WAITER_DELAY_SECONDS = 15
SAFETY_SECONDS = 30  # left for the update call and the log line after a wait


@dataclass(frozen=True)
class Settings:
    """What the stack passes in the function's environment."""

    endpoint_name: str
    model_package_group: str
    model_role_arn: str
    memory_mb: int
    max_concurrency: int
    tags: dict[str, str]

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(endpoint_name=env["ENDPOINT_NAME"], model_package_group=env["MODEL_PACKAGE_GROUP"],
                   model_role_arn=env["MODEL_ROLE_ARN"], memory_mb=int(env["SERVERLESS_MEMORY_MB"]),
                   max_concurrency=int(env["SERVERLESS_MAX_CONCURRENCY"]), tags=json.loads(env["LAB_TAGS"]))

    @property
    def tag_list(self) -> list[dict[str, str]]:
        return tag_list(self.tags)


__all__ = ["Deployer", "Settings", "handler", "not_found"]


class Deployer:
    """The deployment steps against one SageMaker client."""

    def __init__(self, sagemaker: Any, settings: Settings, *, waiter_delay: int = WAITER_DELAY_SECONDS) -> None:
        self.sagemaker, self.settings, self.waiter_delay = sagemaker, settings, waiter_delay

    def describe(self, operation: str, **request: str) -> dict | None:
        return describe(self.sagemaker, operation, **request)

    def ensure_model(self, name: str, package_arn: str) -> bool:
        return ensure_model(self.sagemaker, name, package_arn, self.settings.model_role_arn, self.settings.tags)

    def ensure_config(self, name: str) -> bool:
        settings = self.settings
        return ensure_config(self.sagemaker, name, serverless_variant(VARIANT, settings.memory_mb,
                                                                      settings.max_concurrency), settings.tags)

    def wait(self, waiter_name: str, seconds_left: float) -> None:
        attempts = max(1, int((seconds_left - SAFETY_SECONDS) // self.waiter_delay))
        try:
            self.sagemaker.get_waiter(waiter_name).wait(
                EndpointName=self.settings.endpoint_name,
                WaiterConfig={"Delay": self.waiter_delay, "MaxAttempts": attempts})
        except WaiterError as error:
            raise RuntimeError(f"endpoint {self.settings.endpoint_name} did not settle ({waiter_name}): {error}; "
                               "Lambda retries this event") from error

    def create_endpoint(self, config: str) -> None:
        self.sagemaker.create_endpoint(EndpointName=self.settings.endpoint_name, EndpointConfigName=config,
                                       Tags=self.settings.tag_list)

    def serve(self, config: str, version: int, seconds_left: float) -> str:
        endpoint = self.describe("describe_endpoint", EndpointName=self.settings.endpoint_name)
        if endpoint is None:
            self.create_endpoint(config)
            return "created"
        current = endpoint["EndpointConfigName"]
        served = deployed_version(self.settings.endpoint_name, current)
        if current == config or (served is not None and served > version):
            return f"unchanged (serves {current})"
        status = endpoint["EndpointStatus"]
        if status in {"Failed", "Deleting"}:
            if status == "Failed":
                self.sagemaker.delete_endpoint(EndpointName=self.settings.endpoint_name)
            self.wait("endpoint_deleted", seconds_left)
            self.create_endpoint(config)
            return f"recreated (was {status})"
        if status != "InService":
            self.wait("endpoint_in_service", seconds_left)
        self.sagemaker.update_endpoint(EndpointName=self.settings.endpoint_name, EndpointConfigName=config)
        return f"updated (was {current})"

    def handle(self, event: dict, seconds_left: float) -> dict[str, Any]:
        detail = event.get("detail") or {}
        package_arn = detail.get("ModelPackageArn", "")
        if detail.get("ModelPackageGroupName") != self.settings.model_package_group:
            return {"action": "ignored", "reason": f"not group {self.settings.model_package_group}",
                    "package": package_arn}
        if detail.get("ModelApprovalStatus") != "Approved":
            return {"action": "ignored", "reason": f"status {detail.get('ModelApprovalStatus')}",
                    "package": package_arn}
        package = self.sagemaker.describe_model_package(ModelPackageName=package_arn)
        if package["ModelApprovalStatus"] != "Approved":  # changed again since the event
            return {"action": "ignored", "reason": f"now {package['ModelApprovalStatus']}", "package": package_arn}
        version = int(package["ModelPackageVersion"])
        name = deployed_name(self.settings.endpoint_name, version)
        created = [kind for kind, made in (("model", self.ensure_model(name, package_arn)),
                                           ("endpoint config", self.ensure_config(name))) if made]
        action = self.serve(name, version, seconds_left)
        return {"action": action, "version": version, "created": created, "endpoint": self.settings.endpoint_name,
                "package": package_arn}


def handler(event: dict, context: Any, client: Any = None) -> dict[str, Any]:
    seconds_left = context.get_remaining_time_in_millis() / 1000 if context is not None else 600.0
    result = Deployer(client or boto3.client("sagemaker"), Settings.from_environment()).handle(event, seconds_left)
    LOGGER.info(json.dumps(result))
    return result
