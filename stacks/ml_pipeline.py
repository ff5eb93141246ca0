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
    acknowledge_iam5,
    acknowledge_lab_buckets_nist,
    acknowledge_lambda_nist,
    objects_finding,
)
from cdk_constructs.core.budget import LabBudget
from cdk_constructs.core.encryption import LabKey
from cdk_constructs.core.outputs import emit_outputs
from cdk_constructs.core.profile import apply_lab_profile
from cdk_constructs.core.settings import LabSettings
from cdk_constructs.core.storage import LabBucket, access_log_bucket, empty_logs_last
from cdk_constructs.ml_pipeline.deployment import ApprovedModelDeployment, PipelineTeardown
from cdk_constructs.ml_pipeline.pipeline import ModelBuildPipeline, run_prefix, step_output
from cdk_constructs.services.sagemaker_roles import acknowledge_job_role, log_group_findings, sagemaker_finding
from lambdas.shared.lab_names import ENDPOINT_LOG_GROUP_PREFIX, LAB_TAG, OWNER_TAG, PROFILE_TAG


class MlPipelineStack(Stack):
    """Data and artifacts buckets, the pipeline with its roles and model registry, deploy on
    approval, and the teardown that lets the stack delete cleanly."""

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings,
                 options: MlPipelineOptions = MlPipelineOptions(), **kwargs) -> None:
        super().__init__(scope, id_, description="mlref-labs ml-pipeline: SageMaker Pipelines, model registry, "
                                                 "deploy on approval", **kwargs)
        self.settings, self.options = settings, options
        self.key = LabKey(self, "PipelineKey", settings=settings,
                          description="mlref ml-pipeline: data, artifacts, job volumes, queue and logs").key
        apply_lab_profile(self, settings, log_key=self.key)
        # What run-time resources carry (the sweep's tags); expiry changes every deploy, so it stays off.
        self.run_tags = {key: settings.tags[key] for key in (LAB_TAG, PROFILE_TAG, OWNER_TAG)}

        self.access_logs = access_log_bucket(self, settings)
        buckets = dict(settings=settings, encryption_key=self.key, access_logs_bucket=self.access_logs.bucket)
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
            self, "Teardown", settings=settings, key=self.key,
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
        artifacts = self.artifacts.bucket
        for role in (build.preprocess_role, build.training_role, build.evaluation_role, deploy.model_role):
            acknowledge_job_role(role)
        per_run = ("each execution writes under runs/<execution id>/, an id known only at run time, and SageMaker "
                   "names the files; limited to this one step output folder")
        for role, folders in ((build.preprocess_role, ["preprocess"]),
                              (build.training_role, [contract.MODEL_OUTPUT]),
                              (build.evaluation_role, [contract.MODEL_OUTPUT, contract.EVALUATION_OUTPUT]),
                              (build.role, [contract.EVALUATION_OUTPUT]), (deploy.model_role, [contract.MODEL_OUTPUT])):
            acknowledge_iam5(role.policy, [objects_finding(artifacts, run_prefix(f)) for f in folders], per_run)
        for role, folders in ((build.training_role, ["preprocess/train", "preprocess/validation"]),
                              (build.evaluation_role, ["preprocess/test"])):
            acknowledge_iam5(role.policy, [objects_finding(artifacts, step_output(f)) for f in folders], per_run)
        acknowledge_iam5(build.preprocess_role.policy, [objects_finding(self.data.bucket, contract.RAW_PREFIX)],
                         "preprocessing reads the raw uploads under raw/ (each practice run adds a folder of its own; "
                         "the InputDataUri parameter picks one)")
        acknowledge_iam5(build.training_role.policy, [objects_finding(artifacts, contract.CHECKPOINTS_PREFIX)],
                         "managed spot training syncs checkpoint files it names itself under checkpoints/<execution "
                         "id>/ to resume after an interruption")
        acknowledge_iam5(build.role.policy, [sagemaker_finding("processing-job/pipelines-*"),
                                             sagemaker_finding("training-job/pipelines-*")],
                         "Pipelines names every job pipelines-<execution id>-<step>-<suffix> at run time; "
                         "pipelines-* is the narrowest ARN a policy can name")
        versions = sagemaker_finding(f"model-package/{contract.MODEL_PACKAGE_GROUP}/*")
        for policy in (build.role.policy, deploy.function.role.policy, self.teardown.function.role.policy):
            acknowledge_iam5(policy, [versions], "model package versions are numbered by the registry at "
                                                 "registration; limited to the lab's one model package group")
        deployed = [sagemaker_finding(f"{kind}/{contract.ENDPOINT_NAME}-v*") for kind in ("model", "endpoint-config")]
        for policy in (deploy.function.role.policy, self.teardown.function.role.policy):
            acknowledge_iam5(policy, deployed, "the approval function makes one model and one endpoint config per "
                                               "approved version, named <endpoint>-v<N>; only those names")
        teardown = self.teardown.function.role.policy
        acknowledge_iam5(teardown, ["Resource::*"], "ListPipelineExecutions, ListModelPackages, ListModels and "
                                                   "ListEndpointConfigs have no resource type; every delete is named")
        acknowledge_iam5(teardown, [sagemaker_finding(f"pipeline/{contract.PIPELINE_NAME}/execution/*")],
                         "executions get generated ids; StopPipelineExecution is limited to this lab's one pipeline")
        acknowledge_iam5(teardown, log_group_findings(f"{ENDPOINT_LOG_GROUP_PREFIX}{contract.ENDPOINT_NAME}")[:1],
                         "DeleteLogGroup acts on the group ARN ending in :*; only the log group SageMaker makes "
                         "for the lab's endpoint")
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
