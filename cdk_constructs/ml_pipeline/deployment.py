"""Deploy on approval: an EventBridge rule on the model registry and the function it invokes
(``lambdas/ml_pipeline_model_deploy``), which serves each approved version from a serverless endpoint.
(The teardown custom resource that clears what would block the stack's deletion is shared with the
mlops lab: ``cdk_constructs/services/pipeline_teardown.py``.)"""

from __future__ import annotations

import json
from collections.abc import Mapping

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct

from catalog import ml_pipeline as lab
from cdk_constructs.core.functions import LabFunction
from cdk_constructs.core.settings import LabSettings
from cdk_constructs.services.sagemaker_pipeline import run_prefix, sagemaker_arn
from cdk_constructs.services.sagemaker_roles import SAGEMAKER, SageMakerJobRole, algorithm_images
from lambdas.shared.lab_names import ENDPOINT_LOG_GROUP_PREFIX

APPROVAL_EVENT = "SageMaker Model Package State Change"


def approval_pattern(group_name: str) -> events.EventPattern:
    """Approvals of versions in ``group_name``; every other status and group is left out."""
    return events.EventPattern(source=["aws.sagemaker"], detail_type=[APPROVAL_EVENT],
                               detail={"ModelPackageGroupName": [group_name], "ModelApprovalStatus": ["Approved"]})


class ApprovedModelDeployment(Construct):
    """Serves every approved version of one model package group from one serverless endpoint.

    Defaults: the endpoint is named ``endpoint_name`` and made at run time by the function
    (``<endpoint>-v<N>`` models and configs, the lab's ``tags`` on each); the function is invoked
    asynchronously (two retries), and events it could not take, or that failed every retry, land in
    one KMS-encrypted dead-letter queue kept 14 days.

    Attributes:
        model_role: the role the endpoint's model runs as (reads model artifacts, pulls XGBoost).
        function: the approval LabFunction.
        dead_letter_queue: undeliverable and failed events.
        rule: the EventBridge rule.
    """

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings, options: lab.MlPipelineOptions,
                 group: IConstruct, artifacts_bucket: s3.IBucket, key: kms.IKey, tags: Mapping[str, str],
                 endpoint_name: str = lab.ENDPOINT_NAME) -> None:
        super().__init__(scope, id_)
        stack_region = Stack.of(self).region
        self.model_role = SageMakerJobRole(
            self, "ModelRole", description="SageMaker hosting: the approved churn model behind the serverless endpoint",
            key=key, region=stack_region, log_group=f"{ENDPOINT_LOG_GROUP_PREFIX}{endpoint_name}",
            images=[(algorithm_images(self)[0], lab.XGBOOST_IMAGE[0])],
            reads=[(artifacts_bucket, run_prefix(lab.MODEL_OUTPUT))])
        self.dead_letter_queue = sqs.Queue(self, "DeadLetters", encryption=sqs.QueueEncryption.KMS,
                                           encryption_master_key=key, enforce_ssl=True,
                                           retention_period=Duration.days(14))
        self.function = LabFunction(
            self, "Deploy", settings=settings, handler_dir="ml_pipeline_model_deploy",
            shared_modules=["hosting", "lab_names"],
            description="Serves each approved model package version from the lab's serverless endpoint",
            timeout=Duration.minutes(10), log_key=key, dead_letter_queue=self.dead_letter_queue,
            environment={"ENDPOINT_NAME": endpoint_name, "MODEL_PACKAGE_GROUP": lab.MODEL_PACKAGE_GROUP,
                         "MODEL_ROLE_ARN": self.model_role.role_arn,
                         "SERVERLESS_MEMORY_MB": str(options.serverless_memory_mb),
                         "SERVERLESS_MAX_CONCURRENCY": str(options.serverless_max_concurrency),
                         "LAB_TAGS": json.dumps(dict(tags), sort_keys=True)})
        # The environment (names, the model role, the tags) under the lab key too; the role may
        # already decrypt with it (the dead-letter queue's key).
        self.function.function.node.default_child.kms_key_arn = key.key_arn
        self._allow_deploy(endpoint_name)
        self.rule = events.Rule(self, "Approved", event_pattern=approval_pattern(lab.MODEL_PACKAGE_GROUP),
                                description=f"A version in {lab.MODEL_PACKAGE_GROUP} was approved: deploy it")
        self.rule.node.add_dependency(group)
        self.rule.add_target(targets.LambdaFunction(self.function.function, dead_letter_queue=self.dead_letter_queue,
                                                    retry_attempts=2, max_event_age=Duration.hours(2)))
        # EventBridge writes to the queue with its own principal: let it use the key, from this account.
        key.add_to_resource_policy(iam.PolicyStatement(
            sid="EventBridgeDeadLetters", principals=[iam.ServicePrincipal("events.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=["*"],
            conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}))

    def _allow_deploy(self, endpoint: str) -> None:
        role = self.function.role
        versions = f"{endpoint}-v*"
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="ReadApprovedPackages", actions=["sagemaker:DescribeModelPackage"],
            resources=[sagemaker_arn(f"model-package/{lab.MODEL_PACKAGE_GROUP}/*")]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="ModelsAndConfigsPerVersion",
            actions=["sagemaker:CreateModel", "sagemaker:DescribeModel", "sagemaker:CreateEndpointConfig",
                     "sagemaker:DescribeEndpointConfig", "sagemaker:AddTags"],
            resources=[sagemaker_arn(f"model/{versions}"), sagemaker_arn(f"endpoint-config/{versions}")]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="TheLabEndpoint",
            actions=["sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint", "sagemaker:DescribeEndpoint",
                     "sagemaker:DeleteEndpoint", "sagemaker:AddTags"],
            resources=[sagemaker_arn(f"endpoint/{endpoint}"), sagemaker_arn(f"endpoint-config/{versions}")]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="PassTheModelRole", actions=["iam:PassRole"], resources=[self.model_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": SAGEMAKER}}))
