"""What a SageMaker pipeline lab must clear before CloudFormation can delete it (ml-pipeline, mlops):
its running pipeline executions, the model packages of its group, and the endpoints it made at run
time with their configs, models and log groups. Shared by their teardown custom resources.

CloudFormation deletes the model package group with DeleteModelPackageGroup alone, which fails
while the group holds model packages, and DeletePipeline fails while an execution runs. Endpoints
made at run time are outside the stack. ``Teardown.run`` does, in order:

1. stop every running execution of the pipeline and wait (bounded) until none is running;
2. delete every model package version in the group;
3. for each endpoint: delete it, wait until it is gone, then delete its endpoint configs and models
   (``<endpoint>-v<N>``) and the log group SageMaker made for it.

Each step's failure is logged and reported, never raised: ``custom_resource`` answers CloudFormation
SUCCESS whatever happened (a teardown must not fail the stack's deletion; the account janitor's sweep
is the second line), with what was done as the reason.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import ClientError, WaiterError

try:  # copied beside the handler in the Lambda asset
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
BUSY_ENDPOINT = {"Creating", "Updating", "SystemUpdating", "RollingBack"}  # DeleteEndpoint refuses these
POLL_SECONDS = 15
SAFETY_SECONDS = 60  # kept for the steps after a wait and the response to CloudFormation


def missing(error: ClientError) -> bool:
    code = error.response["Error"]["Code"]
    message = error.response["Error"].get("Message", "")
    return code in {"ResourceNotFound", "ResourceNotFoundException"} or "Could not find" in message \
        or "does not exist" in message


def endpoints_of(properties: dict[str, Any]) -> list[str]:
    """``EndpointNames`` (a list), or the one ``EndpointName``."""
    names = properties.get("EndpointNames") or [properties["EndpointName"]]
    return [str(name) for name in names]


class Teardown:
    """The clean-ups of ``STEPS``, each bounded by ``deadline`` on ``clock``."""

    STEPS: Sequence[str] = ("stop_executions", "delete_packages", "delete_endpoint")

    def __init__(self, sagemaker: Any, logs: Any, properties: dict[str, Any], *, deadline: float,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.sagemaker, self.logs = sagemaker, logs
        self.pipeline = properties["PipelineName"]
        self.group = properties["ModelPackageGroupName"]
        self.endpoints = endpoints_of(properties)
        self.deadline, self.clock, self.sleep = deadline, clock, sleep

    @property
    def endpoint(self) -> str:
        return self.endpoints[0]

    def seconds_left(self) -> float:
        return max(0.0, self.deadline - self.clock())

    def wait_until(self, fetch: Callable[[], Any], done: Callable[[Any], bool]) -> Any:
        """``poll`` bounded by what is left of the deadline; raises PollTimeout with the last answer."""
        return poll(fetch, done, timeout=self.seconds_left(), interval=POLL_SECONDS, clock=self.clock,
                    sleep=self.sleep)

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
                self.wait_until(self.running_executions, lambda left: not left)
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

    def wait(self, waiter: str, endpoint: str) -> None:
        attempts = max(1, int((self.seconds_left() - SAFETY_SECONDS) // POLL_SECONDS))
        self.sagemaker.get_waiter(waiter).wait(EndpointName=endpoint,
                                               WaiterConfig={"Delay": POLL_SECONDS, "MaxAttempts": attempts})

    def delete_endpoint(self) -> str:
        """Each endpoint in turn; with several, one that fails is reported and the next one still goes."""
        if len(self.endpoints) == 1:
            return self.clear_endpoint(self.endpoint)
        results = []
        for name in self.endpoints:
            try:
                results.append(self.clear_endpoint(name))
            except Exception as error:  # noqa: BLE001 - deletion must never be blocked
                LOGGER.error("endpoint %s: %s", name, error)
                results.append(f"endpoint {name} failed: {error}")
        return "; ".join(results)

    def clear_endpoint(self, endpoint: str) -> str:
        try:
            status = self.sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointStatus"]
        except ClientError as error:
            if not missing(error):
                raise
            status = None
        try:
            if status in BUSY_ENDPOINT:
                with contextlib.suppress(WaiterError):  # failed while creating or updating: deletable now
                    self.wait("endpoint_in_service", endpoint)
            if status is not None and status != "Deleting":
                self.sagemaker.delete_endpoint(EndpointName=endpoint)
            if status is not None:
                self.wait("endpoint_deleted", endpoint)
        except WaiterError as error:
            return f"endpoint {endpoint} still {status}: {error}"
        named = f" {endpoint}" if len(self.endpoints) > 1 else ""
        deleted = f"deleted endpoint{named}" if status else f"no endpoint{named}"

        def ours(name: str) -> bool:
            return deployed_version(endpoint, name) is not None

        configs = [c["EndpointConfigName"] for page in self.sagemaker.get_paginator("list_endpoint_configs").paginate(
            NameContains=endpoint) for c in page["EndpointConfigs"] if ours(c["EndpointConfigName"])]
        models = [m["ModelName"] for page in self.sagemaker.get_paginator("list_models").paginate(
            NameContains=endpoint) for m in page["Models"] if ours(m["ModelName"])]
        for name in configs:
            self.sagemaker.delete_endpoint_config(EndpointConfigName=name)
        for name in models:
            self.sagemaker.delete_model(ModelName=name)
        try:
            self.logs.delete_log_group(logGroupName=f"{ENDPOINT_LOG_GROUP_PREFIX}{endpoint}")
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
        return f"{deleted}, {len(configs)} endpoint config(s), {len(models)} model(s)"

    def run(self) -> list[str]:
        results = []
        for name in self.STEPS:
            try:
                results.append(getattr(self, name)())
            except Exception as error:  # noqa: BLE001 - deletion must never be blocked
                LOGGER.error("%s failed: %s", name, error)
                results.append(f"{name} failed: {error}")
        return results


def custom_resource(event: dict, context: Any, make: Callable[[dict, float], Teardown],
                    clock: Callable[[], float] = time.monotonic) -> None:
    """A teardown custom resource's handler: Create and Update do nothing; Delete runs ``make(properties,
    deadline)`` and answers SUCCESS with what it did."""
    request_type = event.get("RequestType")
    if request_type != "Delete":
        send_response(event, "SUCCESS", f"{request_type}: nothing to do")
        return
    seconds = context.get_remaining_time_in_millis() / 1000 - SAFETY_SECONDS if context is not None else 600.0
    try:
        reason = "; ".join(make(event.get("ResourceProperties", {}), clock() + seconds).run())
    except Exception as error:  # noqa: BLE001 - deletion must never be blocked
        reason = f"teardown could not start: {error}"
    LOGGER.info(reason)
    send_response(event, "SUCCESS", reason)
