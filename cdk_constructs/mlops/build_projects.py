"""The mlops lab's two CodeBuild projects: the unit tests and pipeline lint (BuildAndTest) and the
staging endpoint's integration test (IntegrationTest). Their buildspecs are rendered from the
commands in ``catalog/mlops.py``, which the suite runs as they are on the model code."""

from __future__ import annotations

import json

from aws_cdk import Aws
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from catalog import mlops as lab
from cdk_constructs.core.access import allow_key_use, allow_objects
from cdk_constructs.core.roles import LabRole, service_of_this_account
from cdk_constructs.core.settings import LabSettings
from cdk_constructs.services.sagemaker_pipeline import sagemaker_arn, step_output

IMAGE = "aws/codebuild/standard:7.0"  # Ubuntu 22.04; python 3.11 and 3.12 (its runtimes.yml)
COMPUTE = "BUILD_GENERAL1_SMALL"
CODEBUILD = "codebuild.amazonaws.com"


def project_arn(name: str) -> str:
    return f"arn:{Aws.PARTITION}:codebuild:{Aws.REGION}:{Aws.ACCOUNT_ID}:project/{name}"


def pipeline_artifacts(pipeline_name: str) -> str:
    """Where CodePipeline keeps a pipeline's artifacts in its store: under the name's first 20 characters."""
    return f"{pipeline_name[:20]}/"


def build_spec() -> str:
    return json.dumps({
        "version": "0.2",
        "env": {"exported-variables": [lab.CODE_URI_VARIABLE]},
        "phases": {"install": {"runtime-versions": {"python": lab.PYTHON}, "commands": list(lab.INSTALL_COMMANDS)},
                   "build": {"commands": list(lab.BUILD_COMMANDS)}},
    }, indent=1)


def integration_spec() -> str:
    return json.dumps({
        "version": "0.2",
        "phases": {"install": {"runtime-versions": {"python": lab.PYTHON}},
                   "build": {"commands": list(lab.INTEGRATION_COMMANDS)}},
    }, indent=1)


class BuildProjects(Construct):
    """Two CodeBuild projects that CodePipeline runs with its ``Code`` artifact as their source.

    Defaults: the managed ``standard:7.0`` image on the small Linux compute, not privileged; artifacts
    and caches under the lab key; logs only in one stack-owned group (retention, lab key; no S3 logs,
    no report groups, so CodeBuild makes nothing at run time); a 20-minute build timeout. Roles:

    - the build: reads its input artifact, describes the one SageMaker pipeline (the lint), writes the
      scripts under ``code/`` of the artifacts bucket (where the Train stage's run reads them);
    - the integration test: reads its input artifact and the runs' test splits, and invokes the
      staging endpoint only (production is the Production stage's).

    Attributes:
        log_group: the projects' log group.
        build_role, integration_role: the projects' roles.
        build, integration: the ``AWS::CodeBuild::Project`` resources.
    """

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings, key: kms.IKey,
                 artifacts_bucket: s3.IBucket) -> None:
        super().__init__(scope, id_)
        self.log_group = logs.LogGroup(self, "Logs", retention=settings.log_retention, encryption_key=key,
                                       removal_policy=settings.removal_policy)
        inputs = artifacts_bucket.arn_for_objects(f"{pipeline_artifacts(lab.CODE_PIPELINE)}*")
        self.build_role = self._role("BuildRole", lab.BUILD_PROJECT,
                                     "CodeBuild: the model code's unit tests and the pipeline lint", inputs, key)
        allow_objects(self.build_role, artifacts_bucket, prefix=lab.CODE_PREFIX, write=True)
        self.build_role.add_to_principal_policy(iam.PolicyStatement(
            sid="LintTheDeployedPipeline", actions=["sagemaker:DescribePipeline"],
            resources=[sagemaker_arn(f"pipeline/{lab.SAGEMAKER_PIPELINE}")]))
        self.integration_role = self._role("IntegrationRole", lab.INTEGRATION_PROJECT,
                                           "CodeBuild: invokes the staging endpoint", inputs, key)
        allow_objects(self.integration_role, artifacts_bucket, prefix=step_output("preprocess/test") + "/")
        self.integration_role.add_to_principal_policy(iam.PolicyStatement(
            sid="InvokeStagingOnly", actions=["sagemaker:InvokeEndpoint"],
            resources=[sagemaker_arn(f"endpoint/{lab.STAGING_ENDPOINT}")]))
        self.build = self._project("Build", lab.BUILD_PROJECT, self.build_role, build_spec(), key, {
            "SM_PIPELINE": lab.SAGEMAKER_PIPELINE, "ARTIFACTS_BUCKET": artifacts_bucket.bucket_name,
            "KEY_ARN": key.key_arn}, "the model code's unit tests and the SageMaker pipeline's lint")
        self.integration = self._project("Integration", lab.INTEGRATION_PROJECT, self.integration_role,
                                         integration_spec(), key, {"ENDPOINT": lab.STAGING_ENDPOINT},
                                         "invokes the staging endpoint with rows of the run's test split")

    def _role(self, id_: str, project: str, description: str, inputs: str, key: kms.IKey) -> LabRole:
        """The role of ``project``: CodeBuild may assume it for that project of this account only."""
        role = LabRole(self, id_, assumed_by=service_of_this_account(CODEBUILD, source_arn=project_arn(project)),
                       description=description)
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="OwnLogGroup", actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[self.log_group.log_group_arn]))  # the group's ARN ends in :*, its streams
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="ReadTheSourceArtifact", actions=["s3:GetObject", "s3:GetObjectVersion"], resources=[inputs]))
        allow_key_use(role, key)
        return role

    def _project(self, id_: str, name: str, role: LabRole, spec: str, key: kms.IKey,
                 variables: dict[str, str], description: str) -> codebuild.CfnProject:
        project = codebuild.CfnProject(
            self, id_, name=name, service_role=role.role_arn, encryption_key=key.key_arn,
            description=f"mlref-labs mlops: {description}",
            source={"type": "CODEPIPELINE", "buildSpec": spec},
            artifacts={"type": "CODEPIPELINE"},
            environment={"type": "LINUX_CONTAINER", "image": IMAGE, "computeType": COMPUTE, "privilegedMode": False,
                         "imagePullCredentialsType": "CODEBUILD",
                         "environmentVariables": [{"name": k, "value": v, "type": "PLAINTEXT"}
                                                  for k, v in variables.items()]},
            logs_config={"cloudWatchLogs": {"status": "ENABLED", "groupName": self.log_group.log_group_name},
                         "s3Logs": {"status": "DISABLED"}},
            timeout_in_minutes=20, queued_timeout_in_minutes=30,
        )
        project.node.add_dependency(role.policy)
        return project
