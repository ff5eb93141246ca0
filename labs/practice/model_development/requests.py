"""Every request the model-development practice sends, built as data from the stack's outputs and the run's
choices (no SageMaker SDK: its tuner and Clarify processor stage files and call STS while they build). The
dry run prints these, the tests check each against botocore's model, and `labs permissions` proves them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from catalog import model_development as lab
from catalog import model_development_facts as facts
from catalog.endpoint import LOCAL_STORAGE_FAMILIES
from catalog.sagemaker_images import (
    BLAZINGTEXT_ACCOUNTS,
    BLAZINGTEXT_REPOSITORY,
    BLAZINGTEXT_VERSION,
    CLARIFY_ACCOUNTS,
    CLARIFY_REPOSITORY,
    CLARIFY_VERSION,
    XGBOOST_ACCOUNTS,
    XGBOOST_REPOSITORY,
    XGBOOST_VERSION,
    image_uri_in,
)

PROCESSING = "/opt/ml/processing"
# The Clarify container's fixed inputs and output (clarify-processing-job-configure-parameters.html, and the
# SDK's SageMakerClarifyProcessor): the config input must be named analysis_config, the data dataset.
CLARIFY_CONFIG = ("analysis_config", f"{PROCESSING}/input/config")
CLARIFY_DATA = ("dataset", f"{PROCESSING}/input/data")
CLARIFY_OUTPUT = ("analysis_result", f"{PROCESSING}/output")
SCRIPT_CODE, SCRIPT_MODEL = ("code", f"{PROCESSING}/input/code"), ("model", f"{PROCESSING}/model")
SCRIPT_FILE = "bias_report.py"
CONFIG_FILE, REPORT_FILE = "analysis_config.json", "analysis.json"
PROCESSING_VOLUME_GB = 20


def xgboost_image(region: str) -> str:
    return image_uri_in(region, XGBOOST_ACCOUNTS, XGBOOST_REPOSITORY, XGBOOST_VERSION)


def blazingtext_image(region: str) -> str:
    return image_uri_in(region, BLAZINGTEXT_ACCOUNTS, BLAZINGTEXT_REPOSITORY, BLAZINGTEXT_VERSION)


def clarify_image(region: str) -> str:
    return image_uri_in(region, CLARIFY_ACCOUNTS, CLARIFY_REPOSITORY, CLARIFY_VERSION)


def volume_key_allowed(instance_type: str) -> bool:
    """SageMaker refuses VolumeKmsKeyId for instance types with local NVMe storage (their disks are encrypted)."""
    family = instance_type.split(".")[1]
    return family not in LOCAL_STORAGE_FAMILIES and not family.endswith("d")


@dataclass(frozen=True)
class Plan:
    """One practice run: the stack's outputs, the region, the run id and the choices every request shares."""

    outputs: Mapping[str, str]
    region: str
    run: str
    seed: int = facts.DEFAULT_SEED
    instance_type: str = lab.DEFAULT_INSTANCE_TYPE
    spot: bool = True
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def bucket(self) -> str:
        return self.outputs[lab.BUCKET]

    @property
    def key(self) -> str:
        return self.outputs[lab.KEY]

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def tag_list(self) -> list[dict[str, str]]:
        return [{"Key": k, "Value": v} for k, v in sorted(self.tags.items())]

    def name(self, kind: str) -> str:
        return lab.job_name(kind, self.run)


# -- data -------------------------------------------------------------------------------------------

def tabular_key(seed: int, split: str) -> str:
    return f"{lab.data_prefix('tabular', seed)}{split}.csv"


def text_key(seed: int, items: int, name: str) -> str:
    """The text set of ``seed`` with ``items`` held-out texts (the training texts depend on both)."""
    return f"{lab.DATA_PREFIX}text-{seed}-{items}/{name}"


def upload(plan: Plan, key: str, body: bytes) -> dict[str, Any]:
    return {"Bucket": plan.bucket, "Key": key, "Body": body, "ServerSideEncryption": "aws:kms",
            "SSEKMSKeyId": plan.key}


# -- training ---------------------------------------------------------------------------------------

def channel(name: str, uri: str, content_type: str) -> dict[str, Any]:
    return {"ChannelName": name, "ContentType": content_type, "InputMode": "File",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri,
                                            "S3DataDistributionType": "FullyReplicated"}}}


def job_definition(plan: Plan, *, image: str, channels: list[dict], step: str) -> dict[str, Any]:
    """What a training job and a tuning job's training definition share: image, role, data, output and
    volume under the lab key, instance, time limits, managed spot, no network."""
    resources = {"InstanceType": plan.instance_type, "InstanceCount": 1, "VolumeSizeInGB": lab.VOLUME_GB}
    if volume_key_allowed(plan.instance_type):
        resources["VolumeKmsKeyId"] = plan.key
    stopping = {"MaxRuntimeInSeconds": lab.MAX_RUNTIME_SECONDS}
    if plan.spot:  # MaxWaitTimeInSeconds is refused without managed spot
        stopping["MaxWaitTimeInSeconds"] = lab.MAX_WAIT_SECONDS
    return {
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "RoleArn": plan.outputs[lab.TRAINING_ROLE],
        "InputDataConfig": channels,
        "OutputDataConfig": {"S3OutputPath": plan.uri(lab.run_prefix(plan.run, step)), "KmsKeyId": plan.key},
        "ResourceConfig": resources,
        "StoppingCondition": stopping,
        "EnableManagedSpotTraining": plan.spot,
        "EnableNetworkIsolation": True,
    }


def tabular_channels(plan: Plan) -> list[dict]:
    return [channel(split, plan.uri(tabular_key(plan.seed, split)), "text/csv") for split in ("train", "validation")]


def training_job(plan: Plan, name: str, *, image: str, hyperparameters: Mapping[str, str], channels: list[dict],
                 step: str) -> dict[str, Any]:
    return {"TrainingJobName": name, "HyperParameters": dict(hyperparameters),
            **job_definition(plan, image=image, channels=channels, step=step), "Tags": plan.tag_list()}


def blazingtext_job(plan: Plan, items: int) -> dict[str, Any]:
    """BlazingText, supervised: its validation channel is the held-out set, so validation:accuracy is the
    held-out accuracy (no endpoint needed to score it)."""
    channels = [channel(name, plan.uri(text_key(plan.seed, items, f"bt_{name}.txt")), "text/plain")
                for name in ("train", "validation")]
    return training_job(plan, plan.name("bt"), image=blazingtext_image(plan.region),
                        hyperparameters=facts.BLAZINGTEXT_HYPERPARAMETERS, channels=channels, step="approach")


def xgboost_job(plan: Plan, name: str, hyperparameters: Mapping[str, str], *, step: str) -> dict[str, Any]:
    return training_job(plan, name, image=xgboost_image(plan.region), hyperparameters=hyperparameters,
                        channels=tabular_channels(plan), step=step)


def baseline_job(plan: Plan) -> dict[str, Any]:
    """XGBoost with the static hyperparameters only (every tunable one at XGBoost's default)."""
    return xgboost_job(plan, plan.name("base"), facts.STATIC_HYPERPARAMETERS, step="tune")


def diagnose_job(plan: Plan, run: str) -> dict[str, Any]:
    hyperparameters = {"objective": "binary:logistic", "eval_metric": facts.DIAGNOSE_METRIC,
                       **facts.DIAGNOSE_RUNS[run]}
    return xgboost_job(plan, plan.name(f"diag-{run}"), hyperparameters, step="diagnose")


def parameter_ranges() -> dict[str, list[dict[str, str]]]:
    ranges: dict[str, list[dict[str, str]]] = {"ContinuousParameterRanges": [], "IntegerParameterRanges": [],
                                               "CategoricalParameterRanges": []}
    for item in facts.RANGES:
        ranges[f"{item.kind}ParameterRanges"].append(
            {"Name": item.name, "MinValue": item.low, "MaxValue": item.high, "ScalingType": item.scaling})
    return ranges


def tuning_job(plan: Plan, strategy: str, *, parent: str | None = None, identical_data: bool = True) -> dict[str, Any]:
    """Automatic model tuning of XGBoost on validation AUC: at most 6 jobs, 2 at a time, early stopping on,
    warm started from ``parent`` (the lab's previous tuning job) when given."""
    request = {
        "HyperParameterTuningJobName": plan.name("tune"),
        "HyperParameterTuningJobConfig": {
            "Strategy": facts.STRATEGIES[strategy],
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": facts.OBJECTIVE_METRIC},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": facts.MAX_TUNING_JOBS,
                               "MaxParallelTrainingJobs": facts.MAX_PARALLEL_JOBS,
                               "MaxRuntimeInSeconds": lab.TUNING_MAX_RUNTIME_SECONDS},
            "ParameterRanges": parameter_ranges(),
            "TrainingJobEarlyStoppingType": "Auto",
            "RandomSeed": plan.seed,
        },
        "TrainingJobDefinition": {"StaticHyperParameters": dict(facts.STATIC_HYPERPARAMETERS),
                                  **job_definition(plan, image=xgboost_image(plan.region),
                                                   channels=tabular_channels(plan), step="tune")},
        "Tags": plan.tag_list(),
    }
    if parent:
        request["WarmStartConfig"] = {
            "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": parent}],
            "WarmStartType": "IdenticalDataAndAlgorithm" if identical_data else "TransferLearning"}
    return request


# -- bias -------------------------------------------------------------------------------------------

def analysis_config(baseline: list[float], *, model_name: str | None, seed: int) -> dict[str, Any]:
    """The analysis configuration both engines read (clarify-processing-job-configure-analysis.html): the
    test split's columns, the label and its positive value, the sensitive facet value, the metrics, SHAP with
    the training medians as baseline, and (for Clarify) the model to host on a shadow endpoint."""
    config: dict[str, Any] = {
        "version": "1.0", "dataset_type": "text/csv", "headers": list(facts.HEADERS), "label": facts.LABEL,
        "label_values_or_threshold": [1], "facet": [{"name_or_index": facts.FACET,
                                                      "value_or_threshold": [facts.FACET_VALUE]}],
        "probability_threshold": 0.5,
        "methods": {"pre_training_bias": {"methods": list(facts.PRE_TRAINING)},
                    "post_training_bias": {"methods": list(facts.POST_TRAINING)},
                    "shap": {"baseline": [baseline], "num_samples": facts.SHAP_SAMPLES, "agg_method": "mean_abs",
                             "save_local_shap_values": False, "seed": seed},
                    "report": {"name": "report"}},
    }
    if model_name:
        config["predictor"] = {"model_name": model_name, "instance_type": lab.SHADOW_INSTANCE_TYPE,
                               "initial_instance_count": 1, "content_type": "text/csv", "accept_type": "text/csv",
                               "endpoint_name_prefix": lab.SHADOW_ENDPOINT_PREFIX}
    return config


def bias_key(plan: Plan, *parts: str) -> str:
    return lab.run_prefix(plan.run, "bias") + "/".join(parts)


def processing_input(name: str, uri: str, local_path: str) -> dict[str, Any]:
    return {"InputName": name, "S3Input": {"S3Uri": uri, "LocalPath": local_path, "S3DataType": "S3Prefix",
                                           "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated",
                                           "S3CompressionType": "None"}}


def processing_job(plan: Plan, engine: str, *, app: dict[str, Any], inputs: list[dict],
                   network_isolation: bool) -> dict[str, Any]:
    """The bias step's job, named per engine (``mlref-md-bias-clarify-<run>``): a fallback run gets its own."""
    return {
        "ProcessingJobName": plan.name(f"bias-{engine}"),
        "ProcessingInputs": inputs,
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": CLARIFY_OUTPUT[0], "S3Output": {
            "S3Uri": plan.uri(bias_key(plan, "output")), "LocalPath": CLARIFY_OUTPUT[1], "S3UploadMode": "EndOfJob"}}],
            "KmsKeyId": plan.key},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": lab.DEFAULT_INSTANCE_TYPE,
                                                  "VolumeSizeInGB": PROCESSING_VOLUME_GB, "VolumeKmsKeyId": plan.key}},
        "StoppingCondition": {"MaxRuntimeInSeconds": lab.PROCESSING_MAX_RUNTIME_SECONDS},
        "AppSpecification": app,
        "RoleArn": plan.outputs[lab.PROCESSING_ROLE],
        "NetworkConfig": {"EnableNetworkIsolation": network_isolation},
        "Tags": plan.tag_list(),
    }


def _bias_inputs(plan: Plan) -> list[dict]:
    return [processing_input(CLARIFY_CONFIG[0], plan.uri(bias_key(plan, "config") + "/"), CLARIFY_CONFIG[1]),
            processing_input(CLARIFY_DATA[0], plan.uri(tabular_key(plan.seed, "test")), CLARIFY_DATA[1])]


def clarify_job(plan: Plan) -> dict[str, Any]:
    """The Clarify container (no entrypoint or arguments: not supported). Network isolation off: the
    container calls SageMaker to create, invoke and delete its shadow endpoint."""
    return processing_job(plan, "clarify", app={"ImageUri": clarify_image(plan.region)}, inputs=_bias_inputs(plan),
                          network_isolation=False)


def script_job(plan: Plan, model_artifact: str) -> dict[str, Any]:
    """The lab's own engine in the XGBoost container, isolated from the network (it needs none)."""
    inputs = [*_bias_inputs(plan), processing_input(SCRIPT_CODE[0], plan.uri(bias_key(plan, "code") + "/"),
                                                    SCRIPT_CODE[1]),
              processing_input(SCRIPT_MODEL[0], model_artifact, SCRIPT_MODEL[1])]
    app = {"ImageUri": xgboost_image(plan.region),
           "ContainerEntrypoint": ["python3", f"{SCRIPT_CODE[1]}/{SCRIPT_FILE}"]}
    return processing_job(plan, "script", app=app, inputs=inputs, network_isolation=True)


def create_model(plan: Plan, model_artifact: str) -> dict[str, Any]:
    """The tuned model, for Clarify to host: the built-in XGBoost image, the lab's model role."""
    return {"ModelName": plan.name("tuned"),
            "PrimaryContainer": {"Image": xgboost_image(plan.region), "ModelDataUrl": model_artifact},
            "ExecutionRoleArn": plan.outputs[lab.MODEL_ROLE], "EnableNetworkIsolation": True,
            "Tags": plan.tag_list()}


# -- approach ---------------------------------------------------------------------------------------

def comprehend_request(texts: list[str]) -> dict[str, Any]:
    return {"TextList": texts, "LanguageCode": "en"}


def profile_id(model: str, region: str) -> str | None:
    """The cross-region inference profile of ``model`` for ``region``'s geography (``us.``, ``eu.``, ``apac.``)."""
    prefix = next((profile for start, profile in facts.BEDROCK_GEOGRAPHIES.items() if region.startswith(start)), None)
    return prefix + model if prefix else None


def bedrock_model_id(model: str, region: str) -> str:
    """The model id where it runs on demand, else its geography's cross-region inference profile."""
    if region in facts.BEDROCK_ON_DEMAND_REGIONS:
        return model
    return profile_id(model, region) or model


def converse_request(model_id: str, text: str) -> dict[str, Any]:
    return {"modelId": model_id, "system": [{"text": facts.BEDROCK_SYSTEM}],
            "messages": [{"role": "user", "content": [{"text": text}]}],
            "inferenceConfig": {"maxTokens": facts.BEDROCK_MAX_TOKENS, "temperature": 0}}
