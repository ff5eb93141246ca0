"""The mlops lab: CI/CD for a model with CodePipeline and CodeBuild, tests in the pipeline, a blue/green
rollout with alarm rollback, retraining on drift, and an audit trail.

Maps to MLA-C01 task 3.3 (CI/CD pipelines, automated tests, deployment strategies and rollback,
retraining mechanisms) and 4.2/4.3 (CloudTrail trails, auditing). Deploying starts nothing: the
pipeline runs when the practice uploads the model-build code, and the endpoints exist only once a
run reaches them (staging serverless; production instances, or serverless).
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_s3 as s3
from constructs import Construct

from catalog import ml_pipeline as sm
from catalog import mlops as contract
from catalog.mlops import MlopsOptions
from cdk_constructs.core.acknowledge import (
    CONCURRENCY_REASON,
    OUT_OF_VPC_REASON,
    acknowledge,
    acknowledge_iam5,
    acknowledge_lab_buckets_nist,
    acknowledge_lambda_nist,
    objects_finding,
)
from cdk_constructs.core.budget import lab_budget
from cdk_constructs.core.encryption import LabKey
from cdk_constructs.core.outputs import emit_outputs
from cdk_constructs.core.profile import apply_lab_profile
from cdk_constructs.core.settings import LabSettings
from cdk_constructs.core.storage import LabBucket, access_log_bucket, empty_logs_last
from cdk_constructs.mlops import build_projects
from cdk_constructs.mlops.actions import PipelineActions
from cdk_constructs.mlops.audit import AuditTrail
from cdk_constructs.mlops.build_projects import BuildProjects
from cdk_constructs.mlops.delivery import DeliveryPipeline
from cdk_constructs.mlops.retrain import Retraining
from cdk_constructs.mlops.teardown import DeliveryTeardown
from cdk_constructs.services.pipeline_findings import (
    PER_RUN,
    acknowledge_deployed,
    acknowledge_model_build,
    acknowledge_teardown,
    acknowledge_versions,
)
from cdk_constructs.services.sagemaker_pipeline import BuiltCode, ModelBuildPipeline, PipelineNames, run_prefix
from cdk_constructs.services.sagemaker_roles import sagemaker_finding
from lambdas.shared.lab_names import LAB_TAG, OWNER_TAG, PROFILE_TAG

DEFAULT_OPTIONS = MlopsOptions()
NAMES = PipelineNames(pipeline=contract.SAGEMAKER_PIPELINE, group=contract.MODEL_PACKAGE_GROUP,
                      description="The mlops lab's model build: the scripts a CodeBuild run uploaded, trained "
                                  "and registered when the AUC passes",
                      role_description="SageMaker Pipelines: runs the mlops lab's model build")


class MlopsStack(Stack):
    """Buckets and key; the SageMaker pipeline it trains with; the build projects, Lambda actions and
    CodePipeline; retraining; the audit trail; and the teardown that lets the stack delete cleanly."""

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings,
                 options: MlopsOptions = DEFAULT_OPTIONS, **kwargs) -> None:
        super().__init__(scope, id_, description="mlref-labs mlops: CodePipeline for a model, tests, blue/green "
                                                 "rollout with rollback, retraining, audit trail", **kwargs)
        self.settings, self.options = settings, options
        self.key = LabKey(self, "MlopsKey", settings=settings,
                          description="mlref mlops: code, data, artifacts, trail, volumes, environments and logs").key
        apply_lab_profile(self, settings, log_key=self.key)
        # What run-time resources carry (the sweep's tags); expiry changes every deploy, so it stays off.
        self.run_tags = {key: settings.tags[key] for key in (LAB_TAG, PROFILE_TAG, OWNER_TAG)}
        self._buckets()

        self.model_build = ModelBuildPipeline(
            self, "ModelBuild", options=options.pipeline, data_bucket=self.data.bucket,
            artifacts_bucket=self.artifacts.bucket, key=self.key, tags=self.run_tags, names=NAMES,
            code=BuiltCode(bucket=self.artifacts.bucket, prefix=contract.CODE_PREFIX,
                           parameter=contract.CODE_PARAMETER,
                           default_uri=f"s3://{self.artifacts.bucket.bucket_name}/{contract.CODE_PREFIX}"),
            extra_parameters=((contract.RUN_REASON_PARAMETER, contract.CODE_CHANGE),
                              (contract.CODE_PIPELINE_EXECUTION_PARAMETER, "none")))
        self.projects = BuildProjects(self, "Builds", settings=settings, key=self.key,
                                      artifacts_bucket=self.artifacts.bucket)
        self.actions = PipelineActions(self, "Actions", settings=settings, options=options,
                                       artifacts_bucket=self.artifacts.bucket, key=self.key, tags=self.run_tags)
        self.delivery = DeliveryPipeline(
            self, "Delivery", settings=settings, options=options, key=self.key,
            source_bucket=self.source.bucket if self.source else None, artifacts_bucket=self.artifacts.bucket,
            projects=self.projects, actions=self.actions)
        self.retraining = (Retraining(self, "Retraining", settings=settings, options=options, key=self.key)
                           if options.retrain != "off" else None)
        self.audit = AuditTrail(self, "Audit", settings=settings, key=self.key, bucket=self.trail_bucket)
        self.teardown = DeliveryTeardown(
            self, "Teardown", settings=settings, key=self.key, names=NAMES,
            depends_on=[self.model_build.pipeline, self.model_build.group, self.delivery.pipeline,
                        self.projects.build, self.projects.integration, self.actions.model_role,
                        self.actions.deploy, self.actions.train,
                        *([self.retraining.function] if self.retraining else [])])
        self.budget = lab_budget(self, settings, contract.cost(options))
        self._outputs()
        self._acknowledge_findings()

    def _buckets(self) -> None:
        settings = self.settings
        self.access_logs = access_log_bucket(self, settings)
        buckets = {"settings": settings, "encryption_key": self.key, "access_logs_bucket": self.access_logs.bucket}
        noncurrent = s3.LifecycleRule(id="NoncurrentExpire", noncurrent_version_expiration=Duration.days(30))
        # The S3 source: versioned (CodePipeline's S3 source requires it) and sending its events to EventBridge.
        self.source = (None if self.options.github else
                       LabBucket(self, "Source", event_bridge=True, lifecycle_rules=[noncurrent], **buckets))
        self.data = LabBucket(self, "RawData", **buckets)
        self.artifacts = LabBucket(
            self, "Artifacts",
            lifecycle_rules=[s3.LifecycleRule(id="CheckpointsExpire", prefix=sm.CHECKPOINTS_PREFIX,
                                              expiration=Duration.days(7)),
                             s3.LifecycleRule(id="NoncurrentExpire", noncurrent_version_expiration=Duration.days(7))],
            **buckets)
        self.trail_bucket = LabBucket(self, "AuditTrail", lifecycle_rules=[noncurrent], **buckets)
        self.buckets = [b for b in (self.source, self.data, self.artifacts, self.trail_bucket) if b is not None]
        empty_logs_last(self.access_logs, *self.buckets)

    def _outputs(self) -> None:
        values = {
            contract.CODE_PIPELINE_OUTPUT: self.delivery.pipeline.ref,
            contract.SAGEMAKER_PIPELINE_OUTPUT: self.model_build.pipeline.pipeline_name,
            contract.MODEL_GROUP: contract.MODEL_PACKAGE_GROUP,
            contract.DATA_BUCKET: self.data.bucket.bucket_name,
            contract.ARTIFACTS_BUCKET: self.artifacts.bucket.bucket_name,
            contract.TRAIL_OUTPUT: self.audit.trail.ref,
            contract.TRAIL_BUCKET: self.trail_bucket.bucket.bucket_name,
            contract.STAGING_OUTPUT: contract.STAGING_ENDPOINT,
            contract.PRODUCTION_OUTPUT: contract.PRODUCTION_ENDPOINT,
            contract.ROLLBACK: self.actions.rollback_alarm.alarm_name,
            contract.BUILD_LOG_GROUP: self.projects.log_group.log_group_name,
            contract.KEY: self.key.key_arn,
        }
        if self.source is not None:
            values.update({contract.SOURCE_BUCKET: self.source.bucket.bucket_name,
                           contract.SOURCE_OBJECT: contract.SOURCE_KEY})
        if self.retraining is not None and self.retraining.drift_alarm is not None:
            values[contract.DRIFT_OUTPUT] = self.retraining.drift_alarm.alarm_name
        emit_outputs(self, contract.CONTRACT, self.options, values)

    # -- the one place for this stack's acknowledgments ---------------------------------

    def _acknowledge_findings(self) -> None:
        build, actions, projects = self.model_build, self.actions, self.projects
        artifacts, teardown = self.artifacts.bucket, self.teardown.teardown
        endpoints = (contract.STAGING_ENDPOINT, contract.PRODUCTION_ENDPOINT)
        acknowledge_model_build(build, data_bucket=self.data.bucket, artifacts_bucket=artifacts,
                                model_roles=[actions.model_role])
        acknowledge_versions([build.role, actions.train.role, actions.deploy.role, teardown.function.role],
                             contract.MODEL_PACKAGE_GROUP)
        acknowledge_deployed([actions.deploy.role, teardown.function.role], endpoints, "the deploy action")
        acknowledge_teardown(teardown, NAMES, endpoints)
        code = [objects_finding(artifacts, contract.CODE_PREFIX)]
        for role in (build.preprocess_role, build.evaluation_role, projects.build_role):
            acknowledge_iam5(role.policy, code, "each build uploads the scripts under code/<CodePipeline execution "
                                                "id>/, an id known only at run time; the processing steps read them")
        for role in (actions.train.role, actions.deploy.role):
            acknowledge_iam5(role.policy, ["Resource::*"], "PutJobSuccessResult and PutJobFailureResult have no "
                                                           "resource type: the job id is the only reference")
        acknowledge_iam5(self.delivery.role.policy, ["Resource::*"],
                         "lambda:ListFunctions has no resource type; invocation is limited to the two action "
                         "functions by name")
        stored = [objects_finding(artifacts, build_projects.pipeline_artifacts(contract.CODE_PIPELINE))]
        for role in (projects.build_role, projects.integration_role, self.delivery.role):
            acknowledge_iam5(role.policy, stored, "CodePipeline names each artifact object itself under the "
                                                  "pipeline's folder of its artifact store; only that folder")
        acknowledge_iam5(projects.integration_role.policy, [objects_finding(artifacts, "runs/*/preprocess/test/")],
                         PER_RUN)
        acknowledge_iam5(actions.train.role.policy, [objects_finding(artifacts, run_prefix(sm.EVALUATION_OUTPUT))],
                         "the Train action reads evaluation.json of the execution it waited for, under "
                         "runs/<execution id>/evaluation/")
        acknowledge_iam5(actions.train.role.policy,
                         [sagemaker_finding(f"pipeline/{contract.SAGEMAKER_PIPELINE}/execution/*")],
                         "executions get generated ids; only executions of the lab's one SageMaker pipeline")
        if not self.settings.is_sandbox:
            self._acknowledge_nist_findings()

    def _acknowledge_nist_findings(self) -> None:
        actions = self.actions
        acknowledge_lab_buckets_nist([b.bucket for b in self.buckets], self.access_logs.bucket)
        acknowledge(actions.rollback_alarm, "NIST.800.53.R5-CloudWatchAlarmAction",
                    "SageMaker's deployment guardrails read this alarm during a production rollout and roll back "
                    "when it is in ALARM; that is its action")
        if self.retraining is not None and self.retraining.drift_alarm is not None:
            acknowledge(self.retraining.drift_alarm, "NIST.800.53.R5-CloudWatchAlarmAction",
                        "an EventBridge rule on this alarm's state change starts the retraining run; an alarm "
                        "action would do it twice")
        acknowledge_lambda_nist(self.teardown.teardown.function.function, synchronous_caller="CloudFormation")
        for function in (actions.train, actions.deploy, *([self.retraining.function] if self.retraining else [])):
            acknowledge(function.function, "NIST.800.53.R5-LambdaConcurrency", CONCURRENCY_REASON)
            acknowledge(function.function, "NIST.800.53.R5-LambdaInsideVPC", OUT_OF_VPC_REASON)
        for function in (actions.train, actions.deploy):
            acknowledge(function.function, "NIST.800.53.R5-LambdaDLQ",
                        "the handler answers every CodePipeline job itself, with PutJobFailureResult on any error, "
                        "so no failed invocation is left to dead-letter; CodePipeline records each outcome")
        if self.retraining is not None:
            acknowledge(self.retraining.function.function, "NIST.800.53.R5-LambdaDLQ",
                        "EventBridge retries delivery for two hours; a start still lost is asked again by the "
                        "alarm's next ALARM transition or the next scheduled run")
