"""The churn model's SageMaker pipeline (ml-pipeline and mlops labs), written as data (no aws-cdk-lib,
no SDK, no network).

``pipeline_definition(resources, options)`` returns the pipeline in the 2020-12-01 definition
format as plain Python structures; ``cdk_constructs.services.sagemaker_pipeline`` serializes it into
the ``PipelineDefinitionBody`` of an ``AWS::SageMaker::Pipeline``. Building it needs only strings:
CDK tokens at synth (bucket names, role ARNs, the scripts' S3 URIs), placeholders in the tests.
The scripts come from CDK file assets (ml-pipeline) or from a pipeline parameter naming where a
build put them (mlops: ``Std:Join`` of the parameter and the file name). The SageMaker SDK would
stage code in a default bucket at build time (STS and S3 calls) and add an Experiment and a Trial
per execution; nothing here does either.

Each step's ``Arguments`` is the request SageMaker sends for it, minus the job name that
Pipelines generates: Processing -> CreateProcessingJob, Training -> CreateTrainingJob,
RegisterModel -> CreateModelPackage (tests/stacks/test_pipeline_definition.py checks each against
botocore's models). References are the format's own: ``{"Get": "Parameters.X"}``,
``{"Get": "Steps.S.<property path>"}``, ``{"Get": "Execution.PipelineExecutionId"}``,
``{"Std:Join": ...}`` and ``{"Std:JsonGet": ...}``.

Layout in the artifacts bucket: ``runs/<execution id>/preprocess/{train,validation,test,report}/``,
``runs/<execution id>/model/<training job>/output/model.tar.gz``,
``runs/<execution id>/evaluation/evaluation.json`` and ``checkpoints/<execution id>/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from catalog import ml_pipeline as lab

VERSION = "2020-12-01"
CODE_DIR = "/opt/ml/processing/input/code"
RAW_DIR = "/opt/ml/processing/input/raw"
OUTPUT_DIR = "/opt/ml/processing/output"
MODEL_DIR, TEST_DIR = "/opt/ml/processing/model", "/opt/ml/processing/test"
EVALUATION_DIR = "/opt/ml/processing/evaluation"
CHECKPOINT_DIR = "/opt/ml/checkpoints"
MAX_RUNTIME_SECONDS = 30 * 60
MAX_WAIT_SECONDS = 60 * 60  # spot: how long a training job may wait for capacity, runtime included
PROCESSING_VOLUME_GB, TRAINING_VOLUME_GB = 30, 10
# Retried by Pipelines besides its default throttling and service faults: an instance type
# without capacity, and SageMaker's own internal errors; twice, a minute apart, then doubling.
JOB_RETRY = {"ExceptionType": ["SageMaker.CAPACITY_ERROR", "SageMaker.JOB_INTERNAL_ERROR"],
             "IntervalSeconds": 60, "BackoffRate": 2.0, "MaxAttempts": 2}


@dataclass(frozen=True)
class Script:
    """A processing script: its S3 URI (text, or a reference resolved at run time) and its file name."""

    s3_uri: Any
    file_name: str

    @property
    def entrypoint(self) -> list[str]:
        return ["python3", f"{CODE_DIR}/{self.file_name}"]


@dataclass(frozen=True)
class PipelineResources:
    """What the pipeline's jobs use, as strings (CDK tokens at synth).

    Attributes:
        image_registry: where the algorithm images are (``catalog.ml_pipeline.image_registry``).
        data_bucket: raw input data under ``raw/``.
        artifacts_bucket: everything the steps write.
        key_arn: the KMS key for job outputs and volumes.
        preprocess_role_arn, training_role_arn, evaluation_role_arn: each step's role.
        model_package_group: where RegisterModel puts versions.
        preprocess_script, evaluate_script: the processing scripts.
        tags: put on every job (lab, profile, owner), so the sweep finds them.
        pipeline_name: the pipeline's name, in the registered packages' description.
        extra_parameters: more String parameters (name, default) the definition declares.
    """

    image_registry: str
    data_bucket: str
    artifacts_bucket: str
    key_arn: str
    preprocess_role_arn: str
    training_role_arn: str
    evaluation_role_arn: str
    model_package_group: str
    preprocess_script: Script
    evaluate_script: Script
    tags: Mapping[str, str]
    pipeline_name: str = lab.PIPELINE_NAME
    extra_parameters: tuple[tuple[str, str], ...] = ()


# -- the format's references ---------------------------------------------------------------

def get(path: str) -> dict[str, str]:
    return {"Get": path}


def parameter(name: str) -> dict[str, str]:
    return get(f"Parameters.{name}")


def join(*values: Any, on: str = "") -> dict[str, Any]:
    return {"Std:Join": {"On": on, "Values": list(values)}}


def output_uri(step: str, output: str) -> dict[str, str]:
    """Where a processing step's named output went (its S3Uri, resolved at run time)."""
    return get(f"Steps.{step}.ProcessingOutputConfig.Outputs['{output}'].S3Output.S3Uri")


EXECUTION_ID = get("Execution.PipelineExecutionId")
MODEL_ARTIFACTS = get(f"Steps.{lab.TRAIN_STEP}.ModelArtifacts.S3ModelArtifacts")
AUC = {"Std:JsonGet": {"PropertyFile": get(f"Steps.{lab.EVALUATE_STEP}.PropertyFiles.{lab.EVALUATION_PROPERTY_FILE}"),
                       "Path": lab.AUC_PATH}}


def run_uri(bucket: str, folder: str) -> dict[str, Any]:
    """``s3://<bucket>/runs/<execution id>/<folder>``."""
    return join(f"s3://{bucket}/{lab.RUNS_PREFIX}", EXECUTION_ID, f"/{folder}")


# -- request pieces ------------------------------------------------------------------------

def processing_input(name: str, s3_uri: Any, local_path: str) -> dict[str, Any]:
    return {"InputName": name, "AppManaged": False,
            "S3Input": {"S3Uri": s3_uri, "LocalPath": local_path, "S3DataType": "S3Prefix", "S3InputMode": "File",
                        "S3DataDistributionType": "FullyReplicated", "S3CompressionType": "None"}}


def processing_output(name: str, s3_uri: Any, local_path: str) -> dict[str, Any]:
    return {"OutputName": name, "AppManaged": False,
            "S3Output": {"S3Uri": s3_uri, "LocalPath": local_path, "S3UploadMode": "EndOfJob"}}


def training_channel(name: str, s3_uri: Any) -> dict[str, Any]:
    return {"ChannelName": name, "ContentType": "text/csv", "CompressionType": "None",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": s3_uri,
                                            "S3DataDistributionType": "FullyReplicated"}}}


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def processing_arguments(resources: PipelineResources, *, image: str, role_arn: str, script: Script,
                         inputs: list[dict], outputs: list[dict], arguments: list[str]) -> dict[str, Any]:
    """A CreateProcessingJob request (without ProcessingJobName): one instance of the chosen type,
    encrypted volume and outputs, no network access from the container, bounded runtime."""
    return {
        "ProcessingResources": {"ClusterConfig": {
            "InstanceCount": 1, "InstanceType": parameter(lab.PROCESSING_INSTANCE_PARAMETER),
            "VolumeSizeInGB": PROCESSING_VOLUME_GB, "VolumeKmsKeyId": resources.key_arn}},
        "AppSpecification": {"ImageUri": image, "ContainerEntrypoint": script.entrypoint,
                             "ContainerArguments": arguments},
        "RoleArn": role_arn,
        "ProcessingInputs": [*inputs, processing_input("code", script.s3_uri, CODE_DIR)],
        "ProcessingOutputConfig": {"Outputs": outputs, "KmsKeyId": resources.key_arn},
        "StoppingCondition": {"MaxRuntimeInSeconds": MAX_RUNTIME_SECONDS},
        "NetworkConfig": {"EnableNetworkIsolation": True},
        "Tags": tag_list(resources.tags),
    }


# -- the steps -------------------------------------------------------------------------------

def preprocess_step(resources: PipelineResources) -> dict[str, Any]:
    outputs = [processing_output(name, run_uri(resources.artifacts_bucket, folder), f"{OUTPUT_DIR}/{name}")
               for name, folder in lab.PREPROCESS_OUTPUTS.items()]
    return {
        "Name": lab.PREPROCESS_STEP, "Type": "Processing",
        "Arguments": processing_arguments(
            resources, image=lab.image_uri(lab.SKLEARN_IMAGE, resources.image_registry),
            role_arn=resources.preprocess_role_arn,
            script=resources.preprocess_script, outputs=outputs,
            inputs=[processing_input("raw", parameter(lab.INPUT_PARAMETER), RAW_DIR)],
            arguments=["--input", RAW_DIR, "--output", OUTPUT_DIR]),
        "RetryPolicies": [JOB_RETRY],
    }


def train_step(resources: PipelineResources) -> dict[str, Any]:
    hyperparameters = {"objective": "binary:logistic", "eval_metric": "auc"}
    hyperparameters.update({name: join(parameter(parameter_name))
                            for name, parameter_name in lab.HYPERPARAMETERS.items()})
    return {
        "Name": lab.TRAIN_STEP, "Type": "Training",
        "Arguments": {
            "AlgorithmSpecification": {"TrainingImage": lab.image_uri(lab.XGBOOST_IMAGE, resources.image_registry),
                                       "TrainingInputMode": "File"},
            "RoleArn": resources.training_role_arn,
            "HyperParameters": hyperparameters,
            "InputDataConfig": [
                training_channel("train", output_uri(lab.PREPROCESS_STEP, "train")),
                training_channel("validation", output_uri(lab.PREPROCESS_STEP, "validation")),
            ],
            "OutputDataConfig": {"S3OutputPath": run_uri(resources.artifacts_bucket, lab.MODEL_OUTPUT),
                                 "KmsKeyId": resources.key_arn},
            "ResourceConfig": {"InstanceCount": 1, "InstanceType": parameter(lab.TRAINING_INSTANCE_PARAMETER),
                               "VolumeSizeInGB": TRAINING_VOLUME_GB, "VolumeKmsKeyId": resources.key_arn},
            # Managed spot: SageMaker may wait for capacity and resume from the checkpoints.
            "EnableManagedSpotTraining": True,
            "StoppingCondition": {"MaxRuntimeInSeconds": MAX_RUNTIME_SECONDS, "MaxWaitTimeInSeconds": MAX_WAIT_SECONDS},
            "CheckpointConfig": {"S3Uri": join(f"s3://{resources.artifacts_bucket}/{lab.CHECKPOINTS_PREFIX}",
                                               EXECUTION_ID, "/"),
                                 "LocalPath": CHECKPOINT_DIR},
            "EnableNetworkIsolation": True,
            "Tags": tag_list(resources.tags),
        },
        "RetryPolicies": [JOB_RETRY],
    }


def evaluate_step(resources: PipelineResources) -> dict[str, Any]:
    return {
        "Name": lab.EVALUATE_STEP, "Type": "Processing",
        "Arguments": processing_arguments(
            resources, image=lab.image_uri(lab.XGBOOST_IMAGE, resources.image_registry),
            role_arn=resources.evaluation_role_arn,
            script=resources.evaluate_script,
            inputs=[processing_input("model", MODEL_ARTIFACTS, MODEL_DIR),
                    processing_input("test", output_uri(lab.PREPROCESS_STEP, "test"), TEST_DIR)],
            outputs=[processing_output(lab.EVALUATION_OUTPUT,
                                       run_uri(resources.artifacts_bucket, lab.EVALUATION_OUTPUT), EVALUATION_DIR)],
            arguments=["--model", MODEL_DIR, "--test", TEST_DIR, "--output", EVALUATION_DIR]),
        "PropertyFiles": [{"PropertyFileName": lab.EVALUATION_PROPERTY_FILE, "OutputName": lab.EVALUATION_OUTPUT,
                           "FilePath": lab.EVALUATION_FILE}],
        "RetryPolicies": [JOB_RETRY],
    }


def register_step(resources: PipelineResources) -> dict[str, Any]:
    """A CreateModelPackage request: a new version in the group, pending manual approval, with the
    evaluation attached as its model quality statistics. (A versioned package takes its group's
    tags; CreateModelPackage refuses Tags together with a group name.)"""
    return {
        "Name": lab.REGISTER_STEP, "Type": "RegisterModel",
        "Arguments": {
            "ModelPackageGroupName": resources.model_package_group,
            "ModelPackageDescription": f"Churn classifier (built-in XGBoost) from pipeline {resources.pipeline_name}",
            "ModelApprovalStatus": "PendingManualApproval",
            "InferenceSpecification": {
                "Containers": [{"Image": lab.image_uri(lab.XGBOOST_IMAGE, resources.image_registry),
                                "ModelDataUrl": MODEL_ARTIFACTS}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            "ModelMetrics": {"ModelQuality": {"Statistics": {
                "ContentType": "application/json",
                "S3Uri": join(output_uri(lab.EVALUATE_STEP, lab.EVALUATION_OUTPUT), f"/{lab.EVALUATION_FILE}"),
            }}},
        },
    }


def fail_step() -> dict[str, Any]:
    return {"Name": lab.FAIL_STEP, "Type": "Fail", "Arguments": {
        "ErrorMessage": join("AUC ", AUC, " is below the threshold ", parameter(lab.THRESHOLD_PARAMETER),
                             ": no model was registered")}}


def condition_step(resources: PipelineResources) -> dict[str, Any]:
    return {
        "Name": lab.CONDITION_STEP, "Type": "Condition",
        "Arguments": {
            "Conditions": [{"Type": "GreaterThanOrEqualTo", "LeftValue": AUC,
                            "RightValue": parameter(lab.THRESHOLD_PARAMETER)}],
            "IfSteps": [register_step(resources)],
            "ElseSteps": [fail_step()],
        },
    }


def parameters(resources: PipelineResources, options: lab.MlPipelineOptions) -> list[dict[str, Any]]:
    hyper = options.hyperparameters
    types = {int: "Integer", float: "Float", str: "String"}
    declared: list[tuple[str, Any]] = [
        (lab.INPUT_PARAMETER, f"s3://{resources.data_bucket}/{lab.RAW_PREFIX}"),
        (lab.PROCESSING_INSTANCE_PARAMETER, options.processing_instance_type),
        (lab.TRAINING_INSTANCE_PARAMETER, options.training_instance_type),
        (lab.THRESHOLD_PARAMETER, float(options.threshold)),
        *((name, getattr(hyper, field)) for field, name in lab.HYPERPARAMETERS.items()),
        *resources.extra_parameters,
    ]
    return [{"Name": name, "Type": types[type(value)], "DefaultValue": value} for name, value in declared]


DEFAULT_OPTIONS = lab.MlPipelineOptions()


def pipeline_definition(resources: PipelineResources,
                        options: lab.MlPipelineOptions = DEFAULT_OPTIONS) -> dict[str, Any]:
    """The whole definition. It has no ``PipelineExperimentConfig``: executions create no
    SageMaker Experiment, run group or runs (AWS: "Disable Experiments Integration")."""
    return {
        "Version": VERSION,
        "Metadata": {},
        "Parameters": parameters(resources, options),
        "Steps": [preprocess_step(resources), train_step(resources), evaluate_step(resources),
                  condition_step(resources)],
    }
