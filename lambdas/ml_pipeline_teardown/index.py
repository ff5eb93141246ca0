"""Custom resource: clears what would stop CloudFormation from deleting the ml-pipeline lab.

The approval function's endpoint, endpoint configs and models are made at run time, outside the
stack; DeletePipeline and DeleteModelPackageGroup fail while an execution runs or the group holds
packages. This resource depends on the pipeline, the group and the roles, so on stack deletion it is
deleted first, and its Delete runs the shared ``pipeline_teardown.Teardown``: stop the executions,
delete the packages, delete the endpoint and what it served. Create and Update do nothing; Delete
never fails the stack deletion.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import boto3

try:  # copied beside this file in the Lambda asset
    from pipeline_teardown import POLL_SECONDS, Teardown, custom_resource
except ImportError:  # imported as a package (tests)
    from lambdas.shared.pipeline_teardown import POLL_SECONDS, Teardown, custom_resource

__all__ = ["POLL_SECONDS", "Teardown", "handler"]


def handler(event: dict, context: Any, sagemaker: Any = None, logs: Any = None,
            clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
    def make(properties: dict, deadline: float) -> Teardown:
        return Teardown(sagemaker or boto3.client("sagemaker"), logs or boto3.client("logs"), properties,
                        deadline=deadline, clock=clock, sleep=sleep)

    custom_resource(event, context, make, clock)
