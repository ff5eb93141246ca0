"""The cdk-nag findings the churn model's SageMaker pipeline and its teardown bring into a stack
(ml-pipeline, mlops), each with its reason: called from each stack's one acknowledgment method."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aws_cdk import aws_s3 as s3

from catalog import ml_pipeline as lab
from cdk_constructs.core.acknowledge import acknowledge_iam5, objects_finding
from cdk_constructs.core.roles import LabRole
from cdk_constructs.services.pipeline_teardown import PipelineTeardown
from cdk_constructs.services.sagemaker_pipeline import ModelBuildPipeline, PipelineNames, run_prefix, step_output
from cdk_constructs.services.sagemaker_roles import (
    SageMakerJobRole,
    acknowledge_job_role,
    log_group_findings,
    sagemaker_finding,
)
from lambdas.shared.lab_names import ENDPOINT_LOG_GROUP_PREFIX

PER_RUN = ("each execution writes under runs/<execution id>/, an id known only at run time, and SageMaker "
           "names the files; limited to this one step output folder")


def acknowledge_model_build(build: ModelBuildPipeline, *, data_bucket: s3.IBucket, artifacts_bucket: s3.IBucket,
                            model_roles: Sequence[SageMakerJobRole] = ()) -> None:
    """The step roles' and the pipeline role's findings (and those of roles hosting its models)."""
    artifacts = artifacts_bucket
    for role in (build.preprocess_role, build.training_role, build.evaluation_role, *model_roles):
        acknowledge_job_role(role)
    for role, folders in ((build.preprocess_role, ["preprocess"]),
                          (build.training_role, [lab.MODEL_OUTPUT]),
                          (build.evaluation_role, [lab.MODEL_OUTPUT, lab.EVALUATION_OUTPUT]),
                          (build.role, [lab.EVALUATION_OUTPUT]),
                          *((model_role, [lab.MODEL_OUTPUT]) for model_role in model_roles)):
        acknowledge_iam5(role.policy, [objects_finding(artifacts, run_prefix(f)) for f in folders], PER_RUN)
    for role, folders in ((build.training_role, ["preprocess/train", "preprocess/validation"]),
                          (build.evaluation_role, ["preprocess/test"])):
        acknowledge_iam5(role.policy, [objects_finding(artifacts, step_output(f)) for f in folders], PER_RUN)
    acknowledge_iam5(build.preprocess_role.policy, [objects_finding(data_bucket, lab.RAW_PREFIX)],
                     "preprocessing reads the raw uploads under raw/ (each practice run adds a folder of its own; "
                     "the InputDataUri parameter picks one)")
    acknowledge_iam5(build.training_role.policy, [objects_finding(artifacts, lab.CHECKPOINTS_PREFIX)],
                     "managed spot training syncs checkpoint files it names itself under checkpoints/<execution "
                     "id>/ to resume after an interruption")
    acknowledge_iam5(build.role.policy, [sagemaker_finding("processing-job/pipelines-*"),
                                         sagemaker_finding("training-job/pipelines-*")],
                     "Pipelines names every job pipelines-<execution id>-<step>-<suffix> at run time; "
                     "pipelines-* is the narrowest ARN a policy can name")


def acknowledge_versions(roles: Iterable[LabRole], group: str) -> None:
    for role in roles:
        acknowledge_iam5(role.policy, [sagemaker_finding(f"model-package/{group}/*")],
                         "model package versions are numbered by the registry at registration; limited to the "
                         "lab's one model package group")


def acknowledge_deployed(roles: Iterable[LabRole], endpoints: Sequence[str], maker: str) -> None:
    """Models and endpoint configs named ``<endpoint>-v<N>``, made at run time by ``maker``."""
    deployed = [sagemaker_finding(f"{kind}/{endpoint}-v*") for endpoint in endpoints for kind in
                ("model", "endpoint-config")]
    for role in roles:
        acknowledge_iam5(role.policy, deployed, f"{maker} makes one model and one endpoint config per approved "
                                                "version, named <endpoint>-v<N>; only those names")


def acknowledge_teardown(teardown: PipelineTeardown, names: PipelineNames, endpoints: Sequence[str]) -> None:
    policy = teardown.function.role.policy
    acknowledge_iam5(policy, ["Resource::*"], "ListPipelineExecutions, ListModelPackages, ListModels and "
                                              "ListEndpointConfigs have no resource type; every delete is named")
    acknowledge_iam5(policy, [sagemaker_finding(f"pipeline/{names.pipeline}/execution/*")],
                     "executions get generated ids; StopPipelineExecution is limited to this lab's one pipeline")
    groups = [log_group_findings(f"{ENDPOINT_LOG_GROUP_PREFIX}{endpoint}")[0] for endpoint in endpoints]
    acknowledge_iam5(policy, groups,
                     "DeleteLogGroup acts on the group ARN ending in :*; only the log group SageMaker makes "
                     "for the lab's endpoint")
