"""The mlops lab's teardown: the shared pipeline teardown (SageMaker executions, model packages, both
endpoints) with the CodePipeline executions and CodeBuild builds stopped first (``lambdas/mlops_teardown``)."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct, IConstruct

from catalog import mlops as lab
from cdk_constructs.core.settings import LabSettings
from cdk_constructs.mlops.actions import ENDPOINTS, code_pipeline_arn
from cdk_constructs.mlops.build_projects import project_arn
from cdk_constructs.services.pipeline_teardown import PipelineTeardown
from cdk_constructs.services.sagemaker_pipeline import PipelineNames

PROJECTS = (lab.BUILD_PROJECT, lab.INTEGRATION_PROJECT)


class DeliveryTeardown(Construct):
    """On stack deletion, first of all (it depends on everything it clears): stops the CodePipeline's
    running executions (abandoned) and the projects' running builds, then clears the SageMaker pipeline,
    the group and the two endpoints. Delete never fails the stack deletion.

    Attributes:
        teardown: the shared ``PipelineTeardown`` (its ``function`` and ``resource``).
    """

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings, key: kms.IKey, names: PipelineNames,
                 depends_on: list[IConstruct]) -> None:
        super().__init__(scope, id_)
        self.teardown = PipelineTeardown(
            self, "Clear", settings=settings, key=key, depends_on=depends_on, endpoints=ENDPOINTS, names=names,
            handler_dir="mlops_teardown", resource_type="Custom::MlopsTeardown",
            description="Stops the mlops lab's pipeline runs and builds, clears its models and endpoints",
            properties={"CodePipelineName": lab.CODE_PIPELINE, "BuildProjects": list(PROJECTS)})
        role = self.teardown.function.role
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="StopPipelineRuns", actions=["codepipeline:ListPipelineExecutions",
                                             "codepipeline:StopPipelineExecution"],
            resources=[code_pipeline_arn()]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="StopBuilds", actions=["codebuild:ListBuildsForProject", "codebuild:BatchGetBuilds",
                                       "codebuild:StopBuild"],
            resources=[project_arn(name) for name in PROJECTS]))
