"""The mlops CodePipeline's Lambda actions: Train (``lambdas/mlops_train``) runs the SageMaker pipeline,
Staging and Production (``lambdas/mlops_deploy``) serve the approved version; with the role the
endpoints' models run as and the alarm that rolls a production rollout back."""

from __future__ import annotations

import json
from collections.abc import Mapping

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from catalog import ml_pipeline as sm
from catalog import mlops as lab
from catalog.mlops import MlopsOptions
from cdk_constructs.core.access import allow_key_use
from cdk_constructs.core.functions import LabFunction
from cdk_constructs.core.settings import LabSettings
from cdk_constructs.services.sagemaker_pipeline import run_prefix, sagemaker_arn
from cdk_constructs.services.sagemaker_roles import SAGEMAKER, SageMakerJobRole, algorithm_images, allow_volume_key
from lambdas.shared.lab_names import ENDPOINT_LOG_GROUP_PREFIX

# CodePipeline's job calls have no resource type (service authorization reference).
JOB_RESULTS = ["codepipeline:PutJobSuccessResult", "codepipeline:PutJobFailureResult"]
ENDPOINTS = (lab.STAGING_ENDPOINT, lab.PRODUCTION_ENDPOINT)


def code_pipeline_arn(resource: str = lab.CODE_PIPELINE) -> str:
    """The lab's CodePipeline (or ``<pipeline>/<stage>/<action>``), from its fixed name: no reference cycle."""
    return f"arn:{Aws.PARTITION}:codepipeline:{Aws.REGION}:{Aws.ACCOUNT_ID}:{resource}"


class PipelineActions(Construct):
    """The two functions CodePipeline invokes, each answering its job (never hanging it).

    Defaults: each function's environment under the lab key; a continuation token per invocation, so no
    invocation waits (2 minutes at most). Roles:

    - Train: starts and reads executions of the lab's one SageMaker pipeline, reads the evaluation
      reports, writes the run's reason on the group's versions;
    - Deploy: makes ``<endpoint>-v<N>`` models and configs and creates or updates only the staging and
      production endpoints, passes only the model role, to SageMaker; reads who approved (the lab's
      CodePipeline), approves or rejects the group's versions; describes the rollback alarm, which
      UpdateEndpoint's guardrails need; lets SageMaker grant itself the lab key for production volumes.

    Attributes:
        model_role: the role both endpoints' models run as.
        rollback_alarm: the 5XX alarm on production's variant.
        train, deploy: the LabFunctions.
    """

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings, options: MlopsOptions,
                 artifacts_bucket: s3.IBucket, key: kms.IKey, tags: Mapping[str, str]) -> None:
        super().__init__(scope, id_)
        region = Stack.of(self).region
        self.model_role = SageMakerJobRole(
            self, "ModelRole", description="SageMaker hosting: the approved churn model on staging and production",
            key=key, region=region, log_group=f"{ENDPOINT_LOG_GROUP_PREFIX}{lab.STACK_NAME}-*",
            images=[(algorithm_images(self)[0], sm.XGBOOST_IMAGE[0])],
            reads=[(artifacts_bucket, run_prefix(sm.MODEL_OUTPUT))])
        self.rollback_alarm = cloudwatch.Alarm(
            self, "RollbackAlarm", alarm_name=lab.ROLLBACK_ALARM,
            alarm_description="Production answers with server errors: SageMaker rolls a blue/green rollout back",
            metric=cloudwatch.Metric(namespace="AWS/SageMaker", metric_name="Invocation5XXErrors", statistic="Sum",
                                     period=Duration.minutes(1),
                                     dimensions_map={"EndpointName": lab.PRODUCTION_ENDPOINT,
                                                     "VariantName": lab.VARIANT}),
            threshold=1, evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING)
        self.train = self._function("Train", "mlops_train", ["codepipeline_job"], settings, key,
                                    "CodePipeline Train action: runs the SageMaker pipeline and waits for it", {
                                        "SAGEMAKER_PIPELINE": lab.SAGEMAKER_PIPELINE,
                                        "ARTIFACTS_BUCKET": artifacts_bucket.bucket_name,
                                        "HOLDOUT_KEY": sm.holdout_key("{execution}"),
                                        "EVALUATION_KEY": sm.evaluation_key("{execution}")})
        self.deploy = self._function(
            "Deploy", "mlops_deploy", ["codepipeline_job", "hosting", "lab_names", "rollout"], settings, key,
            "CodePipeline Staging and Production actions: serve the approved model, blue/green in production", {
                "STAGING_ENDPOINT": lab.STAGING_ENDPOINT, "PRODUCTION_ENDPOINT": lab.PRODUCTION_ENDPOINT,
                "MODEL_ROLE_ARN": self.model_role.role_arn,
                "SERVERLESS_MEMORY_MB": str(options.pipeline.serverless_memory_mb),
                "SERVERLESS_MAX_CONCURRENCY": str(options.pipeline.serverless_max_concurrency),
                "PRODUCTION_KIND": options.production, "INSTANCE_TYPE": lab.PRODUCTION_INSTANCE_TYPE,
                "INSTANCE_COUNT": str(options.instance_count), "STRATEGY": options.strategy,
                "BAKE_SECONDS": str(options.bake_minutes * 60), "ROLLBACK_ALARM": lab.ROLLBACK_ALARM,
                "KEY_ARN": key.key_arn, "CODE_PIPELINE": lab.CODE_PIPELINE,
                "APPROVE_ACTION": "/".join(lab.APPROVE_STAGE), "VARIANT": lab.VARIANT,
                "LAB_TAGS": json.dumps(dict(tags), sort_keys=True)})
        self._allow_train(artifacts_bucket, key)
        self._allow_deploy(key)

    def _function(self, id_: str, handler_dir: str, shared: list[str], settings: LabSettings, key: kms.IKey,
                  description: str, environment: dict[str, str]) -> LabFunction:
        function = LabFunction(self, id_, settings=settings, handler_dir=handler_dir, shared_modules=shared,
                               description=description, timeout=Duration.minutes(2), log_key=key,
                               environment=environment)
        function.function.node.default_child.kms_key_arn = key.key_arn  # the environment under the lab key
        allow_key_use(function.role, key, encrypt=False)
        function.role.add_to_principal_policy(iam.PolicyStatement(sid="AnswerTheJob", actions=JOB_RESULTS,
                                                                  resources=["*"]))
        return function

    def _allow_train(self, artifacts: s3.IBucket, key: kms.IKey) -> None:
        role, pipeline = self.train.role, f"pipeline/{lab.SAGEMAKER_PIPELINE}"
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="StartTheLabPipeline", actions=["sagemaker:StartPipelineExecution"],
            resources=[sagemaker_arn(pipeline)]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="FollowItsExecutions",
            actions=["sagemaker:DescribePipelineExecution", "sagemaker:ListPipelineExecutionSteps"],
            resources=[sagemaker_arn(f"{pipeline}/execution/*")]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="SayWhyTheVersionWasTrained",
            actions=["sagemaker:DescribeModelPackage", "sagemaker:UpdateModelPackage"],
            resources=[sagemaker_arn(f"model-package/{lab.MODEL_PACKAGE_GROUP}/*")]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="ReadEvaluationReports", actions=["s3:GetObject"],
            resources=[artifacts.arn_for_objects(f"{run_prefix(sm.EVALUATION_OUTPUT)}*")]))

    def _allow_deploy(self, key: kms.IKey) -> None:
        role = self.deploy.role
        versions = [f"{endpoint}-v*" for endpoint in ENDPOINTS]
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="ApproveOrRejectVersions",
            actions=["sagemaker:DescribeModelPackage", "sagemaker:UpdateModelPackage"],
            resources=[sagemaker_arn(f"model-package/{lab.MODEL_PACKAGE_GROUP}/*")]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="ModelsAndConfigsPerVersion",
            actions=["sagemaker:CreateModel", "sagemaker:DescribeModel", "sagemaker:CreateEndpointConfig",
                     "sagemaker:DescribeEndpointConfig", "sagemaker:AddTags"],
            resources=[sagemaker_arn(f"{kind}/{name}") for kind in ("model", "endpoint-config") for name in versions]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="TheLabEndpoints",
            actions=["sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint", "sagemaker:DescribeEndpoint",
                     "sagemaker:AddTags"],
            resources=[*(sagemaker_arn(f"endpoint/{name}") for name in ENDPOINTS),
                       *(sagemaker_arn(f"endpoint-config/{name}") for name in versions)]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="PassTheModelRole", actions=["iam:PassRole"], resources=[self.model_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": SAGEMAKER}}))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="GuardrailsReadTheRollbackAlarm", actions=["cloudwatch:DescribeAlarms"],
            resources=[self.rollback_alarm.alarm_arn]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="WhoApproved", actions=["codepipeline:ListActionExecutions"], resources=[code_pipeline_arn()]))
        allow_volume_key(role, key)
