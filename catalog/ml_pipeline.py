"""The ml-pipeline lab's contract: a SageMaker pipeline from raw data to an approved, registered
and deployed model.

The names the stack, the pipeline definition, the approval function and the practice step must
agree on live here: the pipeline's parameters and steps, where each step writes in the
artifacts bucket, the model package group and the endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from catalog.base import ConfigError, Flag, LabContract, Output
from catalog.calls import acting_as, arn, assumed, refused, via
from catalog.exam import MLS_OPERATIONS, ExamDomains, Exercise
from catalog.prices import LabCost, per_month_as_hourly, price
from catalog.sagemaker import INSTANCE_TYPE
from catalog.sagemaker_images import XGBOOST_ACCOUNTS

PIPELINE_NAME = "mlref-ml-pipeline"
MODEL_PACKAGE_GROUP = "mlref-ml-pipeline-models"
ENDPOINT_NAME = "mlref-ml-pipeline"

# Where things sit in the lab's buckets.
RAW_PREFIX = "raw/"                # data bucket: the practice uploads raw CSV under raw/<run id>/
RUNS_PREFIX = "runs/"              # artifacts bucket: runs/<execution id>/<step output>/
CHECKPOINTS_PREFIX = "checkpoints/"  # artifacts bucket: checkpoints/<execution id>/ (spot training)

# The pipeline's steps, as the definition names them and ListPipelineExecutionSteps reports them.
PREPROCESS_STEP = "PreprocessData"
TRAIN_STEP = "TrainModel"
EVALUATE_STEP = "EvaluateModel"
CONDITION_STEP = "CheckAuc"
REGISTER_STEP = "RegisterModel"
FAIL_STEP = "AucBelowThreshold"
EVALUATION_PROPERTY_FILE = "EvaluationReport"
AUC_PATH = "binary_classification_metrics.auc.value"  # in evaluation.json

# Processing outputs: name -> folder under runs/<execution id>/.
PREPROCESS_OUTPUTS = {"train": "preprocess/train", "validation": "preprocess/validation",
                      "test": "preprocess/test", "report": "preprocess/report"}
EVALUATION_OUTPUT = "evaluation"
MODEL_OUTPUT = "model"
TEST_FILE = "test.csv"  # the preprocessing step writes train.csv, validation.csv and test.csv
REPORT_FILE, EVALUATION_FILE = "preprocessing.json", "evaluation.json"

# Pipeline parameters.
INPUT_PARAMETER = "InputDataUri"
THRESHOLD_PARAMETER = "AucThreshold"
PROCESSING_INSTANCE_PARAMETER = "ProcessingInstanceType"
TRAINING_INSTANCE_PARAMETER = "TrainingInstanceType"
HYPERPARAMETERS = {"max_depth": "MaxDepth", "eta": "Eta", "num_round": "NumRound", "subsample": "Subsample"}

DEFAULT_THRESHOLD = 0.75
PRACTICE_ROWS = 5000            # raw rows the practice uploads (about 300 KB)
MAX_ROWS = 20_000
PREDICTION_ROWS = 5             # test rows the practice sends to the endpoint, in one InvokeEndpoint

# Billable minutes of one practice run, for the cost estimate: each job's instance time
# including start-up (processing and training bill per second while the instance runs).
PREPROCESS_MINUTES, TRAINING_MINUTES, EVALUATION_MINUTES = 4, 4, 3
SPOT_DISCOUNT = 0.7  # managed spot typically bills ~70% less (AWS says up to 90%)
INVOCATION_SECONDS = 1.0  # billed compute of the practice's one InvokeEndpoint (a few rows; generous)

# Regions with the SageMaker scikit-learn and XGBoost images, which share an account there
# (catalog/sagemaker_images.py); the commercial partition only (image_registry's suffix).
ALGORITHM_IMAGE_ACCOUNTS = {region: account for region, account in XGBOOST_ACCOUNTS.items()
                            if not region.startswith("cn-")}
SKLEARN_IMAGE = ("sagemaker-scikit-learn", "1.2-1-cpu-py3")  # scikit-learn 1.2, pandas, numpy
XGBOOST_IMAGE = ("sagemaker-xgboost", "1.7-1")  # built-in XGBoost 1.7 (also runs the evaluation)


def image_registry(region: str, account: str | None = None, url_suffix: str = "amazonaws.com") -> str:
    """``<account>.dkr.ecr.<region>.<suffix>``: the algorithm images' registry in a region of the map (or
    of ``account``, for a template that looks it up per region)."""
    return f"{account or ALGORITHM_IMAGE_ACCOUNTS[region]}.dkr.ecr.{region}.{url_suffix}"


def image_uri(image: tuple[str, str], registry: str) -> str:
    """``<registry>/<repository>:<tag>``."""
    repository, tag = image
    return f"{registry}/{repository}:{tag}"


def run_prefix(execution_id: str) -> str:
    """Where one execution writes in the artifacts bucket."""
    return f"{RUNS_PREFIX}{execution_id}/"


def holdout_key(execution_id: str) -> str:
    """The test split (label first, no header) the evaluation and the practice's predictions use."""
    return f"{run_prefix(execution_id)}{PREPROCESS_OUTPUTS['test']}/{TEST_FILE}"


def report_key(execution_id: str) -> str:
    return f"{run_prefix(execution_id)}{PREPROCESS_OUTPUTS['report']}/{REPORT_FILE}"


def evaluation_key(execution_id: str) -> str:
    return f"{run_prefix(execution_id)}{EVALUATION_OUTPUT}/{EVALUATION_FILE}"


@dataclass(frozen=True)
class Hyperparameters:
    """Built-in XGBoost hyperparameters: the pipeline parameters' defaults (an execution may override)."""

    max_depth: int = 4
    eta: float = 0.2
    num_round: int = 100
    subsample: float = 0.8


@dataclass(frozen=True)
class MlPipelineOptions:
    """Options of the ml-pipeline lab (the defaults of the pipeline's parameters and the endpoint).

    Attributes:
        processing_instance_type: the processing and evaluation jobs' instance type.
        training_instance_type: the training job's instance type (managed spot).
        threshold: the AUC an execution must reach to register its model.
        hyperparameters: XGBoost's.
        serverless_memory_mb: the serverless endpoint's memory (1024-6144 in 1024 steps).
        serverless_max_concurrency: its maximum concurrent invocations (1-200).
    """

    processing_instance_type: str = "ml.m5.large"
    training_instance_type: str = "ml.m5.large"
    threshold: float = DEFAULT_THRESHOLD
    hyperparameters: Hyperparameters = field(default_factory=Hyperparameters)
    serverless_memory_mb: int = 2048
    serverless_max_concurrency: int = 2

    def __post_init__(self) -> None:
        for name in ("processing_instance_type", "training_instance_type"):
            if not INSTANCE_TYPE.fullmatch(getattr(self, name)):
                raise ValueError(f"{name}={getattr(self, name)!r} is not a SageMaker instance type")
        if self.serverless_memory_mb not in range(1024, 6145, 1024):
            raise ValueError("serverless_memory_mb must be 1024-6144 in steps of 1024")
        if not 1 <= self.serverless_max_concurrency <= 200:
            raise ValueError("serverless_max_concurrency must be 1-200")
        if not 0 < self.threshold <= 1:
            raise ValueError("threshold must be an AUC in (0, 1]")


def parse(_context: Mapping[str, object], region: str) -> MlPipelineOptions:
    if region not in ALGORITHM_IMAGE_ACCOUNTS:
        raise ConfigError(f"ml-pipeline: no SageMaker scikit-learn/XGBoost image is known for region {region}; "
                          f"deploy it in one of {', '.join(sorted(ALGORITHM_IMAGE_ACCOUNTS)[:4])}, ... "
                          "(or leave it out: -c labs=<other labs>)")
    return MlPipelineOptions()


PIPELINE = Output("PipelineName", "the SageMaker pipeline")
MODEL_GROUP = Output("ModelPackageGroupName", "the model package group the pipeline registers into")
ENDPOINT = Output("EndpointName", "the serverless endpoint the approval function creates or updates")
DATA_BUCKET = Output("DataBucketName", "raw input data (raw/)")
ARTIFACTS_BUCKET = Output("ArtifactsBucketName", "each execution's splits, model, evaluation (runs/) and checkpoints")
KEY = Output("KeyArn", "the lab's KMS key (data, artifacts, volumes, logs)")
DEPLOY_LOG_GROUP = Output("DeployLogGroupName", "the approval function's log group")
OUTPUTS = (PIPELINE, MODEL_GROUP, ENDPOINT, DATA_BUCKET, ARTIFACTS_BUCKET, KEY, DEPLOY_LOG_GROUP)


def cost(options: MlPipelineOptions) -> LabCost:
    """Idle: one key (the pipeline, the model registry and a serverless endpoint bill nothing idle).
    Per run: the preprocessing and evaluation jobs on demand, the training job on managed spot, and
    one serverless invocation (a run that takes the Fail path costs the same, less the invocation)."""
    processing = price("sagemaker_processing_ml_m5_large_hour") * (PREPROCESS_MINUTES + EVALUATION_MINUTES) / 60
    training = price("sagemaker_ml_m5_large_hour") * TRAINING_MINUTES / 60 * (1 - SPOT_DISCOUNT)
    gigabytes = options.serverless_memory_mb / 1024
    invocation = price("sagemaker_serverless_gb_hour") * gigabytes * INVOCATION_SECONDS / 3600
    return LabCost(
        idle_per_hour=per_month_as_hourly("kms_key_month"),
        per_practice_run=processing + training + invocation,
        run_note=f"{PREPROCESS_MINUTES}+{EVALUATION_MINUTES} processing minutes and {TRAINING_MINUTES} spot training "
                 f"minutes on ml.m5.large, one serverless invocation",
    )



# -- what AWS does with the lab's roles, and what must be refused (labs permissions) ----------------
PIPELINE_ROLE = "https://docs.aws.amazon.com/sagemaker/latest/dg/build-and-manage-access.html"
JOB_ROLE = "https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html"
_ARTIFACTS = "${ArtifactsBucket*.Arn}/runs/x/"
CALLS = (
    assumed("ModelBuildPipelineRole*", "sagemaker.amazonaws.com", PIPELINE_ROLE),
    *acting_as("ModelBuildPipelineRole*", PIPELINE_ROLE, [
        ("sagemaker:CreateProcessingJob", arn("sagemaker", "processing-job/pipelines-x-preprocess")),
        ("sagemaker:CreateTrainingJob", arn("sagemaker", "training-job/pipelines-x-train")),
        ("sagemaker:CreateModelPackage", arn("sagemaker", "model-package/mlref-ml-pipeline-models/1")),
        ("iam:PassRole", "${ModelBuildTrainingRole*.Arn}", {"iam:PassedToService": "sagemaker.amazonaws.com"}),
    ], purpose="SageMaker Pipelines runs the steps"),
    *(assumed(role, "sagemaker.amazonaws.com", JOB_ROLE) for role in (
        "ModelBuildPreprocessRole*", "ModelBuildTrainingRole*", "ModelBuildEvaluationRole*",
        "DeployOnApprovalModelRole*")),
    *acting_as("ModelBuildPreprocessRole*", JOB_ROLE, [
        ("s3:GetObject", "${RawDataBucket*.Arn}/raw/x/customers.csv"),
        ("s3:PutObject", _ARTIFACTS + "preprocess/train/train.csv"),
        ("kms:GenerateDataKey", "${PipelineKey*.Arn}", via("s3")),
        ("ecr:BatchGetImage",
         "arn:${AWS::Partition}:ecr:${AWS::Region}:683313688378:repository/sagemaker-scikit-learn"),
    ], purpose="the processing step"),
    *acting_as("ModelBuildTrainingRole*", JOB_ROLE, [
        ("s3:GetObject", _ARTIFACTS + "preprocess/train/train.csv"),
        ("s3:PutObject", _ARTIFACTS + "model/x/output/model.tar.gz"),
        ("ecr:BatchGetImage", "arn:${AWS::Partition}:ecr:${AWS::Region}:683313688378:repository/sagemaker-xgboost"),
    ], purpose="the training step"),
    *acting_as("ModelBuildEvaluationRole*", JOB_ROLE, [
        ("s3:GetObject", _ARTIFACTS + "model/x/output/model.tar.gz"),
        ("s3:PutObject", _ARTIFACTS + "evaluation/evaluation.json"),
    ], purpose="the evaluation step"),
    refused("ModelBuildTrainingRole*", "s3:GetObject", "${RawDataBucket*.Arn}/raw/x/customers.csv",
            "training reads the preprocessed split, never the raw upload"),
)

# The practice's steps, as it announces them, and what of MLA-C01 each exercises (catalog/exam.py).
STEP_UPLOAD = "upload raw data"
STEP_RUN = "run pipeline"
STEP_RESULTS = "read results"
STEP_APPROVE = "approve model"
STEP_PREDICT = "predict"
_ORCHESTRATION = "Using AWS services to automate orchestration"
EXERCISES = (
    Exercise(STEP_UPLOAD, ("1.1", "1.3"), ("Techniques to encrypt data",)),  # SSE-KMS with the lab's key
    Exercise(STEP_RUN, ("1.2", "2.2", "3.3"), (
        # its processing step: deduplicates, imputes, scales, one-hot encodes (SageMaker Processing)
        "Data cleaning and transformation techniques", "Feature engineering techniques", "Encoding techniques",
        "Transforming data by using AWS tools",
        "Using SageMaker AI built-in algorithms and common ML libraries to develop ML models",  # XGBoost
        _ORCHESTRATION, "Configuring training and inference jobs",  # SageMaker Pipelines, with parameters
    )),
    Exercise(STEP_RESULTS, ("1.3", "2.3"), (
        "Preparing data to reduce prediction bias",  # stratified train/validation/test split
        "Model evaluation techniques and metrics",  # AUC and accuracy against the threshold
    )),
    Exercise(STEP_APPROVE, ("2.2", "3.3"), (
        "Managing model versions for repeatability and audits",  # the model registry's approval
        _ORCHESTRATION,  # the approval's event deploys the version
    )),
    Exercise(STEP_PREDICT, ("3.1",), ("Model and endpoint requirements for deployment endpoints",)),  # serverless
)

CONTRACT = LabContract(
    name="ml-pipeline",
    stack_name="mlref-ml-pipeline",
    demonstrates="SageMaker Pipelines: process, train (XGBoost, spot), evaluate, register on a metric "
                 "threshold; approval deploys a serverless endpoint",
    exams=ExamDomains(MLS_OPERATIONS),
    options_type=MlPipelineOptions,
    parse=parse,
    outputs=OUTPUTS,
    cost=cost,
    stack="stacks.ml_pipeline:MlPipelineStack",
    practice="labs.practice.ml_pipeline.command:MlPipelinePractice",
    practice_flags=(
        Flag("threshold", f"the AUC an execution must reach to register its model (default {DEFAULT_THRESHOLD}; "
                          "0.99 shows the Fail path)", float, DEFAULT_THRESHOLD, metavar="AUC"),
        Flag("approve", "approve the registered model package, which deploys it (--no-approve: leave it pending)",
             bool, True, negatable=True),
    ),
    exercises=EXERCISES,
    calls=CALLS,
)
