"""The model-development lab's SageMaker roles: one for every training job (BlazingText, the XGBoost
baseline, tuning and diagnose runs), one for the bias step's processing job, and one for the tuned
model that SageMaker Clarify hosts on its shadow endpoint (only with Clarify on).

Every job is started by the practice, never by the stack: a deploy starts no billing.
"""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from catalog import model_development as contract
from catalog.sagemaker_images import (
    BLAZINGTEXT_ACCOUNTS,
    BLAZINGTEXT_REPOSITORY,
    CLARIFY_ACCOUNTS,
    CLARIFY_REPOSITORY,
    XGBOOST_ACCOUNTS,
    XGBOOST_REPOSITORY,
)
from cdk_constructs.services.sagemaker_roles import SageMakerJobRole, image_account
from lambdas.shared.lab_names import ENDPOINT_LOG_GROUP_PREFIX, PROCESSING_LOG_GROUP, TRAINING_LOG_GROUP

# What Clarify's container does with the processing role to host the model (derived from what the job
# does: no AWS page lists these actions; unconfirmed until a first real run, see the lab's guide).
SHADOW_ENDPOINT_ACTIONS = ["sagemaker:CreateEndpointConfig", "sagemaker:CreateEndpoint", "sagemaker:DescribeEndpoint",
                           "sagemaker:DescribeEndpointConfig", "sagemaker:InvokeEndpoint", "sagemaker:DeleteEndpoint",
                           "sagemaker:DeleteEndpointConfig", "sagemaker:AddTags"]


def sagemaker_arn(resource: str) -> str:
    return f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:{resource}"


class ModelDevelopmentRoles(Construct):
    """The three roles, each assumed by SageMaker of this account only.

    - ``training``: reads the generated sets (``data/``), writes job outputs (``runs/``), pulls the XGBoost
      and BlazingText images, writes its streams in ``/aws/sagemaker/TrainingJobs``.
    - ``processing``: reads ``data/``, reads and writes ``runs/`` (its configuration, the model artifact, the
      report), pulls XGBoost (the lab's script) and, with ``clarify``, the Clarify image; with ``clarify`` it
      may also create, invoke and delete endpoints and endpoint configs named ``mlref-md-clarify*`` hosting
      the lab's models (``mlref-md-*``): Clarify's shadow endpoint.
    - ``model`` (``clarify`` only): reads model artifacts under ``runs/``, pulls XGBoost, writes the shadow
      endpoint's streams.

    Attributes:
        training, processing: the SageMakerJobRoles.
        model: the shadow endpoint's model role, or None without ``clarify``.
    """

    def __init__(self, scope: Construct, id_: str, *, bucket: s3.IBucket, key: kms.IKey, clarify: bool) -> None:
        super().__init__(scope, id_)
        xgboost = (image_account(self, "XGBoostImageAccounts", XGBOOST_ACCOUNTS), XGBOOST_REPOSITORY)
        blazingtext = (image_account(self, "BlazingTextImageAccounts", BLAZINGTEXT_ACCOUNTS), BLAZINGTEXT_REPOSITORY)
        region = Aws.REGION
        self.training = SageMakerJobRole(
            self, "TrainingRole", description="mlref model-development: SageMaker training and tuning jobs",
            key=key, log_group=TRAINING_LOG_GROUP, region=region, images=[xgboost, blazingtext],
            reads=[(bucket, contract.DATA_PREFIX)], writes=[(bucket, contract.RUNS_PREFIX)])
        processing_images = [xgboost]
        if clarify:
            processing_images.append((image_account(self, "ClarifyImageAccounts", CLARIFY_ACCOUNTS),
                                      CLARIFY_REPOSITORY))
        self.processing = SageMakerJobRole(
            self, "ProcessingRole", description="mlref model-development: the bias step's processing job",
            key=key, log_group=PROCESSING_LOG_GROUP, region=region, images=processing_images,
            reads=[(bucket, contract.DATA_PREFIX)], writes=[(bucket, contract.RUNS_PREFIX)])
        self.model = None
        if clarify:
            self.model = SageMakerJobRole(
                self, "ModelRole", description="mlref model-development: the tuned model on Clarify's shadow endpoint",
                key=key, log_group=f"{ENDPOINT_LOG_GROUP_PREFIX}{contract.SHADOW_ENDPOINT_PREFIX}*", region=region,
                images=[xgboost], reads=[(bucket, contract.RUNS_PREFIX)])
            self._allow_shadow_endpoint()

    def _allow_shadow_endpoint(self) -> None:
        shadow = contract.SHADOW_ENDPOINT_PREFIX
        self.processing.add_to_principal_policy(iam.PolicyStatement(
            sid="ClarifyShadowEndpoint", actions=SHADOW_ENDPOINT_ACTIONS,
            resources=[sagemaker_arn(f"endpoint/{shadow}*"), sagemaker_arn(f"endpoint-config/{shadow}*")]))
        self.processing.add_to_principal_policy(iam.PolicyStatement(
            sid="ClarifyReadsTheLabModel", actions=["sagemaker:DescribeModel"],
            resources=[sagemaker_arn(f"model/{contract.JOB_PREFIX}*")]))
