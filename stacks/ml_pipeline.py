"""The ml-pipeline lab: SageMaker Pipelines from raw data to an approved, registered, deployed model.

Maps to the study notes (ML Implementation and Operations; built-in algorithms and
hyperparameters from Modeling): a repeatable, auditable workflow of processing, training,
evaluation and a metric gate that registers the model in the model registry; a manual approval
that deploys it (CI/CD for model build and deployment pipelines). Deploying starts nothing:
jobs and the endpoint bill only when the user practises, and the endpoint is serverless.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_s3 as s3
from constructs import Construct

from catalog import ml_pipeline as contract
from catalog.ml_pipeline import MlPipelineOptions
from cdk_constructs.core.acknowledge import (
    OUT_OF_VPC_REASON,
    acknowledge,
    acknowledge_lab_buckets_nist,
    acknowledge_lambda_nist,
)
from cdk_constructs.core.budget import LabBudget
from cdk_constructs.core.encryption import LabKey
from cdk_constructs.core.outputs import emit_outputs
from cdk_constructs.core.profile import apply_lab_profile
from cdk_constructs.core.settings import LabSettings
from cdk_constructs.core.storage import LabBucket, access_log_bucket, empty_logs_last
from cdk_constructs.ml_pipeline.deployment import ApprovedModelDeployment
from cdk_constructs.services.pipeline_findings import (
    acknowledge_deployed,
    acknowledge_model_build,
    acknowledge_teardown,
    acknowledge_versions,
)
from cdk_constructs.services.pipeline_teardown import PipelineTeardown
from cdk_constructs.services.sagemaker_pipeline import ML_PIPELINE, ModelBuildPipeline
from lambdas.shared.lab_names import LAB_TAG, OWNER_TAG, PROFILE_TAG

DEFAULT_OPTIONS = MlPipelineOptions()


class MlPipelineStack(Stack):
    """Data and artifacts buckets, the pipeline with its roles and model registry, deploy on
    approval, and the teardown that lets the stack delete cleanly."""

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings,
                 options: MlPipelineOptions = DEFAULT_OPTIONS, **kwargs) -> None:
        super().__init__(scope, id_, description="mlref-labs ml-pipeline: SageMaker Pipelines, model registry, "
                                                 "deploy on approval", **kwargs)
        self.settings, self.options = settings, options
        self.key = LabKey(self, "PipelineKey", settings=settings,
                          description="mlref ml-pipeline: data, artifacts, job volumes, queue and logs").key
        apply_lab_profile(self, settings, log_key=self.key)
        # What run-time resources carry (the sweep's tags); expiry changes every deploy, so it stays off.
        self.run_tags = {key: settings.tags[key] for key in (LAB_TAG, PROFILE_TAG, OWNER_TAG)}

        self.access_logs = access_log_bucket(self, settings)
        buckets = {"settings": settings, "encryption_key": self.key, "access_logs_bucket": self.access_logs.bucket}
        self.data = LabBucket(self, "RawData", **buckets)
        self.artifacts = LabBucket(
            self, "Artifacts",
            lifecycle_rules=[s3.LifecycleRule(id="CheckpointsExpire", prefix=contract.CHECKPOINTS_PREFIX,
                                              expiration=Duration.days(7)),
                             s3.LifecycleRule(id="NoncurrentExpire", noncurrent_version_expiration=Duration.days(7))],
            **buckets)
        empty_logs_last(self.access_logs, self.data, self.artifacts)

        self.pipeline = ModelBuildPipeline(self, "ModelBuild", options=options, data_bucket=self.data.bucket,
                                           artifacts_bucket=self.artifacts.bucket, key=self.key, tags=self.run_tags)
        self.deployment = ApprovedModelDeployment(self, "DeployOnApproval", settings=settings, options=options,
                                                  group=self.pipeline.group, artifacts_bucket=self.artifacts.bucket,
                                                  key=self.key, tags=self.run_tags)
        self.teardown = PipelineTeardown(
            self, "Teardown", settings=settings, key=self.key, endpoints=[contract.ENDPOINT_NAME],
            handler_dir="ml_pipeline_teardown",
            depends_on=[self.pipeline.pipeline, self.pipeline.group, self.deployment.model_role,
                        self.deployment.function])
        self.budget = (
            LabBudget(self, "CostGuard", settings=settings, email=settings.alert_email, cost=contract.cost(options))
            if settings.alert_email else None
        )
        emit_outputs(self, contract.CONTRACT, options, {
            contract.PIPELINE: self.pipeline.pipeline.pipeline_name,
            contract.MODEL_GROUP: contract.MODEL_PACKAGE_GROUP,
            contract.ENDPOINT: contract.ENDPOINT_NAME,
            contract.DATA_BUCKET: self.data.bucket.bucket_name,
            contract.ARTIFACTS_BUCKET: self.artifacts.bucket.bucket_name,
            contract.KEY: self.key.key_arn,
            contract.DEPLOY_LOG_GROUP: self.deployment.function.log_group.log_group_name,
        })
        self._acknowledge_findings()

    # -- the one place for this stack's acknowledgments ---------------------------------

    def _acknowledge_findings(self) -> None:
        build, deploy = self.pipeline, self.deployment
        acknowledge_model_build(build, data_bucket=self.data.bucket, artifacts_bucket=self.artifacts.bucket,
                                model_roles=[deploy.model_role])
        acknowledge_versions([build.role, deploy.function.role, self.teardown.function.role],
                             contract.MODEL_PACKAGE_GROUP)
        acknowledge_deployed([deploy.function.role, self.teardown.function.role], [contract.ENDPOINT_NAME],
                             "the approval function")
        acknowledge_teardown(self.teardown, ML_PIPELINE, [contract.ENDPOINT_NAME])
        if not self.settings.is_sandbox:
            self._acknowledge_nist_findings()

    def _acknowledge_nist_findings(self) -> None:
        acknowledge_lab_buckets_nist([self.data.bucket, self.artifacts.bucket], self.access_logs.bucket)
        acknowledge_lambda_nist(self.teardown.function.function, synchronous_caller="CloudFormation")
        deploy = self.deployment.function.function
        acknowledge(deploy, "NIST.800.53.R5-LambdaConcurrency",
                    "invoked once per model approval, a few times per lab; reserving concurrency fails in new "
                    "accounts whose limit is 10")
        acknowledge(deploy, "NIST.800.53.R5-LambdaInsideVPC", OUT_OF_VPC_REASON)
