"""The churn model's SageMaker pipeline, its step roles and its model package group (ml-pipeline, mlops).

The definition is data (``cdk_constructs/services/pipeline_definition.py``); this construct supplies
what it names (buckets, key, roles, scripts) and serializes it into ``PipelineDefinitionBody``.
The two processing scripts (``jobs/ml_pipeline/``) either ship as CDK file assets (the default: the
CDK CLI uploads them to the bootstrap bucket with the stack, so synth makes no network call and
nothing is staged at run time), or, with ``code``, are read at run time from where a build put them
(the mlops lab's CodeBuild stage, under a prefix a pipeline parameter names).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Aws, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as assets
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from catalog import ml_pipeline as lab
from catalog.paths import JOBS_DIR
from cdk_constructs.core.access import allow_key_use
from cdk_constructs.core.roles import LabRole
from cdk_constructs.services.pipeline_definition import PipelineResources, Script, join, parameter, pipeline_definition
from cdk_constructs.services.sagemaker_roles import SAGEMAKER, SageMakerJobRole, algorithm_images, allow_volume_key
from lambdas.shared.lab_names import PROCESSING_LOG_GROUP, TRAINING_LOG_GROUP

CODE_DIR = JOBS_DIR / "ml_pipeline"
SCRIPTS = ("preprocess", "evaluate")


def sagemaker_arn(resource: str) -> str:
    return f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:{resource}"


def run_prefix(folder: str) -> str:
    """``runs/*/<folder>/``: what every execution writes under ``folder`` (IAM and list conditions)."""
    return f"{lab.RUNS_PREFIX}*/{folder}/"


def step_output(folder: str) -> str:
    """``runs/*/<folder>``, no trailing slash: how a step reads another step's output. Its S3Uri has no
    trailing slash, so SageMaker lists exactly that prefix (``runs/<id>/preprocess/train``)."""
    return f"{lab.RUNS_PREFIX}*/{folder}"


@dataclass(frozen=True)
class PipelineNames:
    """What one lab calls its pipeline and model package group (defaults: the ml-pipeline lab's)."""

    pipeline: str = lab.PIPELINE_NAME
    group: str = lab.MODEL_PACKAGE_GROUP
    description: str = "Preprocess, train (XGBoost, spot), evaluate, register when the AUC passes"
    role_description: str = "SageMaker Pipelines: runs the ml-pipeline lab's steps"


ML_PIPELINE = PipelineNames()


@dataclass(frozen=True)
class BuiltCode:
    """Scripts a build uploads at run time: ``<parameter>`` (an S3 prefix ending in ``/``, given per
    execution) holds ``preprocess.py`` and ``evaluate.py``; ``prefix`` of ``bucket`` holds every build's
    folder (what the processing roles may read); the parameter defaults to ``default_uri``."""

    bucket: s3.IBucket
    prefix: str
    parameter: str
    default_uri: str


class ModelBuildPipeline(Construct):
    """A SageMaker pipeline that preprocesses, trains, evaluates and conditionally registers.

    Defaults: the ml-pipeline lab's names (``names``); the scripts as file assets unless ``code``
    says where a build puts them; the pipeline's parameters default to ``options``, plus
    ``extra_parameters`` (String); no experiment tracking; every job tagged with ``tags``. Roles: one
    per step kind (preprocessing, training, evaluation), each limited to the prefixes it reads and
    writes, and the pipeline's own role, which may create, describe and stop only Pipelines-named
    jobs, register into the one group, read the evaluation report (the condition's property file)
    and pass only the three step roles, to SageMaker only.

    Attributes:
        definition: the pipeline definition (Python structures, tokens unresolved).
        scripts: the preprocessing and evaluation script assets, by name (empty with ``code``).
        preprocess_role, training_role, evaluation_role: the step roles.
        role: the pipeline's role.
        group: the ``AWS::SageMaker::ModelPackageGroup``.
        pipeline: the ``AWS::SageMaker::Pipeline``.
    """

    def __init__(self, scope: Construct, id_: str, *, options: lab.MlPipelineOptions, data_bucket: s3.IBucket,
                 artifacts_bucket: s3.IBucket, key: kms.IKey, tags: Mapping[str, str],
                 names: PipelineNames = ML_PIPELINE, code: BuiltCode | None = None,
                 extra_parameters: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        region = stack.region  # a token in a StackSet member's template
        account, registry = algorithm_images(self)
        self.names = names
        if code is None:
            self.scripts = {name: assets.Asset(self, f"{name.capitalize()}Script", path=str(CODE_DIR / f"{name}.py"))
                            for name in SCRIPTS}
            scripts = {name: Script(asset.s3_object_url, asset.s3_object_key) for name, asset in self.scripts.items()}
            code_reads = {name: {"objects": [asset.bucket.arn_for_objects(asset.s3_object_key)]}
                          for name, asset in self.scripts.items()}
            declared = extra_parameters
        else:
            self.scripts = {}
            scripts = {name: Script(join(parameter(code.parameter), f"{name}.py"), f"{name}.py") for name in SCRIPTS}
            code_reads = {name: {"reads": [(code.bucket, code.prefix)]} for name in SCRIPTS}
            declared = ((code.parameter, code.default_uri), *extra_parameters)
        artifacts = artifacts_bucket
        preprocess_reads = code_reads["preprocess"].get("reads", [])
        evaluate_reads = code_reads["evaluate"].get("reads", [])

        self.preprocess_role = SageMakerJobRole(
            self, "PreprocessRole", description="SageMaker processing: raw data to train/validation/test splits",
            key=key, region=region, log_group=PROCESSING_LOG_GROUP, images=[(account, lab.SKLEARN_IMAGE[0])],
            reads=[(data_bucket, lab.RAW_PREFIX), *preprocess_reads], writes=[(artifacts, run_prefix("preprocess"))],
            objects=code_reads["preprocess"].get("objects", []))
        self.training_role = SageMakerJobRole(
            self, "TrainingRole", description="SageMaker training: built-in XGBoost on the train and validation splits",
            key=key, region=region, log_group=TRAINING_LOG_GROUP, images=[(account, lab.XGBOOST_IMAGE[0])],
            reads=[(artifacts, step_output("preprocess/train")), (artifacts, step_output("preprocess/validation"))],
            writes=[(artifacts, run_prefix(lab.MODEL_OUTPUT)), (artifacts, lab.CHECKPOINTS_PREFIX)])
        self.evaluation_role = SageMakerJobRole(
            self, "EvaluationRole", description="SageMaker processing: the model's AUC and accuracy on the test split",
            key=key, region=region, log_group=PROCESSING_LOG_GROUP, images=[(account, lab.XGBOOST_IMAGE[0])],
            reads=[(artifacts, step_output("preprocess/test")), (artifacts, run_prefix(lab.MODEL_OUTPUT)),
                   *evaluate_reads],
            writes=[(artifacts, run_prefix(lab.EVALUATION_OUTPUT))],
            objects=code_reads["evaluate"].get("objects", []))

        self.group = sagemaker.CfnModelPackageGroup(
            self, "Models", model_package_group_name=names.group,
            model_package_group_description=f"Churn classifiers registered by the {names.pipeline} pipeline")
        self.role = LabRole(self, "PipelineRole", description=names.role_description,
                            assumed_by=iam.ServicePrincipal(SAGEMAKER, conditions={
                                "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}))
        self._allow_pipeline(artifacts, key)

        self.definition = pipeline_definition(PipelineResources(
            image_registry=registry, data_bucket=data_bucket.bucket_name, artifacts_bucket=artifacts.bucket_name,
            key_arn=key.key_arn, preprocess_role_arn=self.preprocess_role.role_arn,
            training_role_arn=self.training_role.role_arn, evaluation_role_arn=self.evaluation_role.role_arn,
            model_package_group=names.group, preprocess_script=scripts["preprocess"],
            evaluate_script=scripts["evaluate"], tags=tags, pipeline_name=names.pipeline,
            extra_parameters=tuple(declared)), options)
        self.pipeline = sagemaker.CfnPipeline(
            self, "Pipeline", pipeline_name=names.pipeline, role_arn=self.role.role_arn,
            pipeline_display_name=names.pipeline, pipeline_description=names.description,
            pipeline_definition={"PipelineDefinitionBody": stack.to_json_string(self.definition)})
        self.pipeline.node.add_dependency(self.role.policy)
        self.pipeline.node.add_dependency(self.group)

    def _allow_pipeline(self, artifacts: s3.IBucket, key: kms.IKey) -> None:
        role, group = self.role, self.names.group
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="RunPipelineJobs",
            actions=["sagemaker:CreateProcessingJob", "sagemaker:DescribeProcessingJob", "sagemaker:StopProcessingJob",
                     "sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob",
                     "sagemaker:AddTags"],
            resources=[sagemaker_arn("processing-job/pipelines-*"), sagemaker_arn("training-job/pipelines-*")]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="RegisterIntoTheLabGroup",
            actions=["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage",
                     "sagemaker:DescribeModelPackageGroup"],
            resources=[sagemaker_arn(f"model-package-group/{group}"), sagemaker_arn(f"model-package/{group}/*")]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="PassStepRoles", actions=["iam:PassRole"],
            resources=[r.role_arn for r in (self.preprocess_role, self.training_role, self.evaluation_role)],
            conditions={"StringEquals": {"iam:PassedToService": SAGEMAKER}}))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="ReadEvaluationReports", actions=["s3:GetObject"],
            resources=[artifacts.arn_for_objects(f"{run_prefix(lab.EVALUATION_OUTPUT)}*")]))
        allow_key_use(role, key, encrypt=False)
        allow_volume_key(role, key)
