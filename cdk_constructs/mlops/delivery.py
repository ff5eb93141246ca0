"""The mlops lab's CodePipeline (V2, queued): source, build and test, train, approve, staging,
integration test, production. Written as L1 stages, with one role the lab writes statement by statement
(aws-cdk-lib's actions would each add a role with an inline policy)."""

from __future__ import annotations

import json

from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from catalog import mlops as lab
from catalog.mlops import MlopsOptions
from cdk_constructs.core.access import allow_key_use
from cdk_constructs.core.roles import LabRole, service_of_this_account
from cdk_constructs.core.settings import LabSettings
from cdk_constructs.mlops.actions import PipelineActions, code_pipeline_arn
from cdk_constructs.mlops.build_projects import BuildProjects, pipeline_artifacts

CODE = "Code"  # the source artifact
EXECUTION_ID = "#{codepipeline.PipelineExecutionId}"
RUN_REASON = f"#{{variables.{lab.RUN_REASON_VARIABLE}}}"
# Connections have two ARN forms since the service's rename; each prefix's UseConnection action takes its own.
CONNECTION_PREFIXES = ("codestar-connections", "codeconnections")


def connection_arns(arn: str) -> dict[str, str]:
    """The connection's ARN under each prefix: ``{prefix: arn}``."""
    current = next(prefix for prefix in CONNECTION_PREFIXES if f":{prefix}:" in arn)
    return {prefix: arn.replace(f":{current}:", f":{prefix}:", 1) for prefix in CONNECTION_PREFIXES}


def variable(namespace: str, name: str) -> str:
    return f"#{{{namespace}.{name}}}"


def action(stage_action: tuple[str, str], category: str, provider: str, configuration: dict[str, str], *,
           namespace: str = "", inputs: tuple[str, ...] = (), outputs: tuple[str, ...] = (),
           timeout_minutes: int | None = None) -> dict:
    """One stage holding one action, as CloudFormation declares it."""
    declared: dict = {"name": stage_action[1], "runOrder": 1, "configuration": configuration,
                      "actionTypeId": {"category": category, "owner": "AWS", "provider": provider, "version": "1"}}
    if namespace:
        declared["namespace"] = namespace
    if inputs:
        declared["inputArtifacts"] = [{"name": name} for name in inputs]
    if outputs:
        declared["outputArtifacts"] = [{"name": name} for name in outputs]
    if timeout_minutes:
        declared["timeoutInMinutes"] = timeout_minutes
    return {"name": stage_action[0], "actions": [declared]}


def build_variables(**values: str) -> str:
    return json.dumps([{"name": name, "value": value, "type": "PLAINTEXT"} for name, value in values.items()])


class DeliveryPipeline(Construct):
    """The CodePipeline, its role, the approval topic and the trigger of an S3 source.

    Defaults: V2, QUEUED (a retraining run waits behind a run waiting for approval instead of replacing
    it); artifacts in the lab's bucket under the lab key; the variable ``RunReason`` (default
    ``code-change``; the retraining function sets it); the approval times out after two hours and, with
    ``alert_email``, e-mails through a topic under the lab key. An S3 source starts the pipeline when
    its zip is written (the bucket's own EventBridge notifications, no CloudTrail data events); a GitHub
    source through its connection. The role may read the source, read and write the pipeline's
    artifacts, start and watch the two projects, invoke the two action functions, publish to the topic
    and use the connection: nothing else.

    Attributes:
        role: the pipeline's service role.
        topic: the approval topic (None without ``alert_email``).
        pipeline: the ``AWS::CodePipeline::Pipeline``.
        trigger_role, trigger: the S3 source's EventBridge role and rule (None with GitHub).
    """

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings, options: MlopsOptions, key: kms.IKey,
                 source_bucket: s3.IBucket | None, artifacts_bucket: s3.IBucket, projects: BuildProjects,
                 actions: PipelineActions) -> None:
        super().__init__(scope, id_)
        self.options = options
        # No aws:SourceAccount: CodePipeline's guide gives its service role's trust without a condition key,
        # and a key the service never sends would leave the pipeline unable to assume its role.
        self.role = LabRole(self, "Role", assumed_by=iam.ServicePrincipal("codepipeline.amazonaws.com"),
                            description=f"CodePipeline: runs {lab.CODE_PIPELINE}")
        self.topic = None
        if settings.alert_email:
            self.topic = sns.Topic(self, "Approvals", display_name="mlref mlops: a model waits for approval",
                                   master_key=key, enforce_ssl=True)
            self.topic.add_subscription(subscriptions.EmailSubscription(settings.alert_email))
        self._allow(key, source_bucket, artifacts_bucket, projects, actions)
        self.pipeline = codepipeline.CfnPipeline(
            self, "Pipeline", name=lab.CODE_PIPELINE, role_arn=self.role.role_arn, pipeline_type="V2",
            execution_mode="QUEUED", restart_execution_on_update=False,
            artifact_store={"type": "S3", "location": artifacts_bucket.bucket_name,
                            "encryptionKey": {"id": key.key_arn, "type": "KMS"}},
            variables=[{"name": lab.RUN_REASON_VARIABLE, "defaultValue": lab.CODE_CHANGE,
                        "description": "why this run started: a code change, drift or the schedule"}],
            stages=self._stages(source_bucket, projects, actions))
        self.pipeline.node.add_dependency(self.role.policy)
        self.trigger_role = self.trigger = None
        if source_bucket is not None:
            self._trigger(source_bucket)

    # -- the stages --------------------------------------------------------------------------

    def _source(self, bucket: s3.IBucket | None) -> tuple[dict, str]:
        if bucket is not None:
            return action(lab.SOURCE_STAGE, "Source", "S3", {
                "S3Bucket": bucket.bucket_name, "S3ObjectKey": lab.SOURCE_KEY, "PollForSourceChanges": "false"},
                namespace=lab.SOURCE_NS, outputs=(CODE,)), variable(lab.SOURCE_NS, "VersionId")
        options = self.options
        return action(lab.SOURCE_STAGE, "Source", "CodeStarSourceConnection", {
            "ConnectionArn": options.connection_arn, "FullRepositoryId": options.repository,
            "BranchName": options.branch, "OutputArtifactFormat": "CODE_ZIP", "DetectChanges": "true"},
            namespace=lab.SOURCE_NS, outputs=(CODE,)), variable(lab.SOURCE_NS, "CommitId")

    def _stages(self, bucket: s3.IBucket | None, projects: BuildProjects, actions: PipelineActions) -> list[dict]:
        source, revision = self._source(bucket)
        train = {"parameters": {lab.CODE_PARAMETER: variable(lab.BUILD_NS, lab.CODE_URI_VARIABLE),
                                lab.RUN_REASON_PARAMETER: RUN_REASON,
                                lab.CODE_PIPELINE_EXECUTION_PARAMETER: EXECUTION_ID},
                 "runReason": RUN_REASON, "executionId": EXECUTION_ID, "sourceRevision": revision}
        trained = {"packageArn": variable(lab.TRAIN_NS, "ModelPackageArn"),
                   "version": variable(lab.TRAIN_NS, "ModelPackageVersion"), "executionId": EXECUTION_ID}
        approval = {"CustomData": f"Model version {trained['version']} (AUC {variable(lab.TRAIN_NS, 'Auc')}), "
                                  f"trained because: {RUN_REASON}. Approve to deploy it to staging, then production."}
        if self.topic is not None:
            approval["NotificationArn"] = self.topic.topic_arn
        return [
            source,
            action(lab.BUILD_STAGE, "Build", "CodeBuild", {
                "ProjectName": projects.build.ref, "EnvironmentVariables": build_variables(
                    PIPELINE_EXECUTION_ID=EXECUTION_ID)}, namespace=lab.BUILD_NS, inputs=(CODE,)),
            action(lab.TRAIN_STAGE, "Invoke", "Lambda", {"FunctionName": actions.train.function.function_name,
                                                   "UserParameters": json.dumps(train)}, namespace=lab.TRAIN_NS),
            action(lab.APPROVE_STAGE, "Approval", "Manual", approval, timeout_minutes=lab.APPROVAL_TIMEOUT_MINUTES),
            action(lab.STAGING_STAGE, "Invoke", "Lambda", {
                "FunctionName": actions.deploy.function.function_name,
                "UserParameters": json.dumps({"target": "staging", **trained})}, namespace=lab.STAGING_NS),
            action(lab.INTEGRATION_STAGE, "Test", "CodeBuild", {
                "ProjectName": projects.integration.ref,
                "EnvironmentVariables": build_variables(HOLDOUT_URI=variable(lab.TRAIN_NS, "HoldoutUri"))},
                inputs=(CODE,)),
            action(lab.PRODUCTION_STAGE, "Invoke", "Lambda", {
                "FunctionName": actions.deploy.function.function_name,
                "UserParameters": json.dumps({"target": "production", **trained})}, namespace=lab.PRODUCTION_NS),
        ]

    # -- permissions and the trigger ---------------------------------------------------------

    def _allow(self, key: kms.IKey, source: s3.IBucket | None, artifacts: s3.IBucket, projects: BuildProjects,
               actions: PipelineActions) -> None:
        role = self.role
        if source is not None:
            role.add_to_principal_policy(iam.PolicyStatement(
                sid="ReadTheSource", actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[source.arn_for_objects(lab.SOURCE_KEY)]))
            role.add_to_principal_policy(iam.PolicyStatement(
                sid="SourceBucketIsVersioned", actions=["s3:GetBucketVersioning", "s3:GetBucketLocation"],
                resources=[source.bucket_arn]))
        else:
            for prefix, arn in connection_arns(self.options.connection_arn).items():
                role.add_to_principal_policy(iam.PolicyStatement(
                    sid=f"UseTheConnection{prefix.title().replace('-', '')}", actions=[f"{prefix}:UseConnection"],
                    resources=[arn]))
            # The connection source action uploads the repository's zip with an ACL: without PutObjectAcl the
            # Source stage fails "Upload to S3 failed ... Access Denied" (aws-cdk issue #13557; aws-cdk's own
            # CodeStarConnectionsSourceAction grants it to the pipeline role for that reason).
            role.add_to_principal_policy(iam.PolicyStatement(
                sid="SourceZipWithItsAcl", actions=["s3:PutObjectAcl", "s3:PutObjectVersionAcl"],
                resources=[artifacts.arn_for_objects(f"{pipeline_artifacts(lab.CODE_PIPELINE)}*")]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="PipelineArtifacts", actions=["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
            resources=[artifacts.arn_for_objects(f"{pipeline_artifacts(lab.CODE_PIPELINE)}*")]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="ArtifactStore", actions=["s3:GetBucketVersioning", "s3:GetBucketLocation"],
            resources=[artifacts.bucket_arn]))
        allow_key_use(role, key)
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="RunTheBuilds", actions=["codebuild:StartBuild", "codebuild:BatchGetBuilds", "codebuild:StopBuild"],
            resources=[projects.build.attr_arn, projects.integration.attr_arn]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="InvokeTheActions", actions=["lambda:InvokeFunction"],
            resources=[actions.train.function.function_arn, actions.deploy.function.function_arn]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="FindFunctions", actions=["lambda:ListFunctions"], resources=["*"]))
        if self.topic is not None:
            role.add_to_principal_policy(iam.PolicyStatement(
                sid="AskForApproval", actions=["sns:Publish"], resources=[self.topic.topic_arn]))

    def _trigger(self, bucket: s3.IBucket) -> None:
        self.trigger_role = LabRole(self, "TriggerRole", assumed_by=service_of_this_account("events.amazonaws.com"),
                                    description=f"EventBridge: starts {lab.CODE_PIPELINE} when its source changes")
        self.trigger_role.add_to_principal_policy(iam.PolicyStatement(
            sid="StartThePipeline", actions=["codepipeline:StartPipelineExecution"],
            resources=[code_pipeline_arn()]))
        self.trigger = events.CfnRule(
            self, "OnSourceChange", state="ENABLED",
            description=f"A new {lab.SOURCE_KEY} starts {lab.CODE_PIPELINE}",
            event_pattern={"source": ["aws.s3"], "detail-type": ["Object Created"],
                           "detail": {"bucket": {"name": [bucket.bucket_name]},
                                      "object": {"key": [lab.SOURCE_KEY]}}},
            targets=[events.CfnRule.TargetProperty(
                id="Pipeline", arn=code_pipeline_arn(), role_arn=self.trigger_role.role_arn,
                retry_policy=events.CfnRule.RetryPolicyProperty(maximum_event_age_in_seconds=3600,
                                                                 maximum_retry_attempts=3))])
        self.trigger.node.add_dependency(self.trigger_role.policy)
        self.trigger.node.add_dependency(self.pipeline)
