"""Custom resource: clears what would stop CloudFormation from deleting the mlops lab, or leave it billing.

Besides what the shared ``pipeline_teardown.Teardown`` clears (SageMaker executions, the group's model
packages, the staging and production endpoints with their configs, models and log groups), a run of
the CodePipeline may be under way: its executions are stopped (abandoned, so a waiting approval or a
Lambda action does not hold them), then the builds still running in the two CodeBuild projects,
since abandoning an execution does not stop its builds. Stopping comes first, so no action deploys
an endpoint while the teardown deletes it. Create and Update do nothing; Delete never fails the
stack deletion (the account janitor's sweep is the second line).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import boto3
from botocore.exceptions import ClientError

try:  # copied beside this file in the Lambda asset
    from pipeline_teardown import Teardown, custom_resource, missing
except ImportError:  # imported as a package (tests)
    from lambdas.shared.pipeline_teardown import Teardown, custom_resource, missing

ACTIVE_EXECUTIONS = {"InProgress", "Stopping"}


class DeliveryTeardown(Teardown):
    STEPS: Sequence[str] = ("stop_code_pipeline", "stop_builds", *Teardown.STEPS)

    def __init__(self, sagemaker: Any, logs: Any, codepipeline: Any, codebuild: Any, properties: dict[str, Any],
                 **options: Any) -> None:
        super().__init__(sagemaker, logs, properties, **options)
        self.codepipeline, self.codebuild = codepipeline, codebuild
        self.code_pipeline = properties["CodePipelineName"]
        self.projects = [str(p) for p in properties.get("BuildProjects", [])]

    def stop_code_pipeline(self) -> str:
        try:
            pages = self.codepipeline.get_paginator("list_pipeline_executions").paginate(
                pipelineName=self.code_pipeline)
            active = [e for page in pages for e in page["pipelineExecutionSummaries"]
                      if e["status"] in ACTIVE_EXECUTIONS]
        except ClientError as error:
            if missing(error) or error.response["Error"]["Code"] == "PipelineNotFoundException":
                return "no CodePipeline"
            raise
        for execution in [e for e in active if e["status"] == "InProgress"]:
            self.codepipeline.stop_pipeline_execution(
                pipelineName=self.code_pipeline, pipelineExecutionId=execution["pipelineExecutionId"],
                abandon=True, reason="the mlops stack is being deleted")
        return f"stopped {len(active)} CodePipeline execution(s)"

    def running_builds(self) -> list[str]:
        ids = [build_id for project in self.projects
               for page in self.codebuild.get_paginator("list_builds_for_project").paginate(projectName=project)
               for build_id in page.get("ids", [])]
        running = []
        for start in range(0, len(ids), 100):  # BatchGetBuilds takes at most 100 ids
            builds = self.codebuild.batch_get_builds(ids=ids[start:start + 100])["builds"]
            running += [b["id"] for b in builds if b["buildStatus"] == "IN_PROGRESS"]
        return running

    def stop_builds(self) -> str:
        running = self.running_builds()
        for build_id in running:
            self.codebuild.stop_build(id=build_id)
        return f"stopped {len(running)} build(s)"


def handler(event: dict, context: Any, clients: dict[str, Any] | None = None,
            clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
    clients = clients or {name: boto3.client(name) for name in ("sagemaker", "logs", "codepipeline", "codebuild")}

    def make(properties: dict, deadline: float) -> Teardown:
        return DeliveryTeardown(clients["sagemaker"], clients["logs"], clients["codepipeline"], clients["codebuild"],
                                properties, deadline=deadline, clock=clock, sleep=sleep)

    custom_resource(event, context, make, clock)
