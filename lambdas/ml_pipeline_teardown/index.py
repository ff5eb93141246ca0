"""Custom resource: clears what would stop CloudFormation from deleting the ml-pipeline lab.

CloudFormation deletes the model package group with DeleteModelPackageGroup alone, which fails
while the group holds model packages, and DeletePipeline fails while an execution runs. The
approval function's endpoint, endpoint configs and models are made at run time, outside the
stack. This resource depends on the pipeline, the group and the roles, so on stack deletion it is
deleted first, and its Delete:

1. stops every running execution of the pipeline and waits (bounded) until none is running;
2. deletes every model package version in the group;
3. deletes the endpoint, waits until it is gone, then deletes its endpoint configs and models
   (``<endpoint>-v<N>``) and the log group SageMaker made for it.

Create and Update do nothing. Delete never fails the stack deletion: each problem is logged and
reported in the SUCCESS reason; the account janitor's sweep is the second line for anything left.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import ClientError, WaiterError

try:  # copied beside this file in the Lambda asset
    from cfn_response import send_response
    from lab_names import ENDPOINT_LOG_GROUP_PREFIX, deployed_version
    from polling import PollTimeout, poll
except ImportError:  # imported as a package (tests)
    from lambdas.shared.cfn_response import send_response
    from lambdas.shared.lab_names import ENDPOINT_LOG_GROUP_PREFIX, deployed_version
    from lambdas.shared.polling import PollTimeout, poll

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)

RUNNING = {"Executing", "Stopping"}
POLL_SECONDS = 15
SAFETY_SECONDS = 60  # kept for the steps after a wait and the response to CloudFormation


def missing(error: ClientError) -> bool:
    code = error.response["Error"]["Code"]
    return code in {"ResourceNotFound", "ResourceNotFoundException"} or "Could not find" in \
        error.response["Error"].get("Message", "") or "does not exist" in error.response["Error"].get("Message", "")


class Teardown:
    """The three clean-ups, each bounded by ``deadline`` on ``clock``."""

    def __init__(self, sagemaker: Any, logs: Any, properties: dict[str, str], *, deadline: float,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.sagemaker, self.logs = sagemaker, logs
        self.pipeline = properties["PipelineName"]
        self.group = properties["ModelPackageGroupName"]
        self.endpoint = properties["EndpointName"]
        self.deadline, self.clock, self.sleep = deadline, clock, sleep

    def seconds_left(self) -> float:
        return max(0.0, self.deadline - self.clock())

    def running_executions(self) -> list[dict]:
        try:
            pages = self.sagemaker.get_paginator("list_pipeline_executions").paginate(PipelineName=self.pipeline)
            return [e for page in pages for e in page["PipelineExecutionSummaries"]
                    if e["PipelineExecutionStatus"] in RUNNING]
        except ClientError as error:
            if missing(error):
                return []
            raise

    def stop_executions(self) -> str:
        running = self.running_executions()
        for execution in running:
            if execution["PipelineExecutionStatus"] == "Executing":
                arn = execution["PipelineExecutionArn"]  # one token per execution: a retried Delete stops it once
                self.sagemaker.stop_pipeline_execution(PipelineExecutionArn=arn,
                                                       ClientRequestToken=hashlib.sha256(arn.encode()).hexdigest())
        if running:
            try:
                poll(self.running_executions, lambda left: not left, timeout=self.seconds_left(),
                     interval=POLL_SECONDS, clock=self.clock, sleep=self.sleep)
            except PollTimeout as timeout:
                return f"{len(timeout.last)} execution(s) still stopping"
        return f"stopped {len(running)} execution(s)"

    def delete_packages(self) -> str:
        pages = self.sagemaker.get_paginator("list_model_packages").paginate(ModelPackageGroupName=self.group)
        try:
            arns = [p["ModelPackageArn"] for page in pages for p in page["ModelPackageSummaryList"]]
        except ClientError as error:
            if missing(error):
                return "no model package group"
            raise
        for arn in arns:
            self.sagemaker.delete_model_package(ModelPackageName=arn)
        return f"deleted {len(arns)} model package(s)"

    def ours(self, name: str) -> bool:
        return deployed_version(self.endpoint, name) is not None

    def wait(self, waiter: str) -> None:
        attempts = max(1, int((self.seconds_left() - SAFETY_SECONDS) // POLL_SECONDS))
        self.sagemaker.get_waiter(waiter).wait(EndpointName=self.endpoint,
                                               WaiterConfig={"Delay": POLL_SECONDS, "MaxAttempts": attempts})

    def delete_endpoint(self) -> str:
        try:
            status = self.sagemaker.describe_endpoint(EndpointName=self.endpoint)["EndpointStatus"]
        except ClientError as error:
            if not missing(error):
                raise
            status = None
        try:
            if status in {"Creating", "Updating", "SystemUpdating", "RollingBack"}:  # DeleteEndpoint refuses these
                try:
                    self.wait("endpoint_in_service")
                except WaiterError:
                    pass  # failed while creating or updating: deletable now
            if status is not None and status != "Deleting":
                self.sagemaker.delete_endpoint(EndpointName=self.endpoint)
            if status is not None:
                self.wait("endpoint_deleted")
        except WaiterError as error:
            return f"endpoint {self.endpoint} still {status}: {error}"
        deleted = "deleted endpoint" if status else "no endpoint"
        configs = [c["EndpointConfigName"] for page in self.sagemaker.get_paginator("list_endpoint_configs").paginate(
            NameContains=self.endpoint) for c in page["EndpointConfigs"] if self.ours(c["EndpointConfigName"])]
        models = [m["ModelName"] for page in self.sagemaker.get_paginator("list_models").paginate(
            NameContains=self.endpoint) for m in page["Models"] if self.ours(m["ModelName"])]
        for name in configs:
            self.sagemaker.delete_endpoint_config(EndpointConfigName=name)
        for name in models:
            self.sagemaker.delete_model(ModelName=name)
        try:
            self.logs.delete_log_group(logGroupName=f"{ENDPOINT_LOG_GROUP_PREFIX}{self.endpoint}")
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
        return f"{deleted}, {len(configs)} endpoint config(s), {len(models)} model(s)"

    def run(self) -> list[str]:
        results = []
        for step in (self.stop_executions, self.delete_packages, self.delete_endpoint):
            try:
                results.append(step())
            except Exception as error:  # noqa: BLE001 - deletion must never be blocked
                LOGGER.error("%s failed: %s", step.__name__, error)
                results.append(f"{step.__name__} failed: {error}")
        return results


def handler(event: dict, context: Any, sagemaker: Any = None, logs: Any = None,
            clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
    request_type = event.get("RequestType")
    if request_type != "Delete":
        send_response(event, "SUCCESS", f"{request_type}: nothing to do")
        return
    seconds = context.get_remaining_time_in_millis() / 1000 - SAFETY_SECONDS if context is not None else 600.0
    try:
        teardown = Teardown(sagemaker or boto3.client("sagemaker"), logs or boto3.client("logs"),
                            event.get("ResourceProperties", {}), deadline=clock() + seconds, clock=clock, sleep=sleep)
        reason = "; ".join(teardown.run())
    except Exception as error:  # noqa: BLE001 - deletion must never be blocked
        reason = f"teardown could not start: {error}"
    LOGGER.info(reason)
    send_response(event, "SUCCESS", reason)
