"""The model-development lab's contract: choose an approach by measurement, tune, detect bias and explain,
and diagnose a model that overfits. CDK-free.

The stack holds only what bills nothing idle (a key, a bucket, three SageMaker roles); every job is started
by the practice and named ``mlref-md-<kind>-<run id>`` so the sweep, the roles and the practice agree. The
facts the practice steps read (hyperparameter sets and ranges, the overfitting rules, what each bias metric
means, the approaches' set-up effort) live in catalog/model_development_facts.py, next to this file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from catalog import model_development_facts as facts
from catalog.base import YES, ConfigError, ContextKey, Flag, LabContract, Output, Variant, choice
from catalog.calls import acting_as, arn, assumed, refused, via
from catalog.endpoint import hosting_price_key
from catalog.exam import MLS_MODELING, ExamDomains, Exercise
from catalog.fsx_training import job_cost
from catalog.prices import LabCost, per_month_as_hourly, price
from catalog.sagemaker_images import BLAZINGTEXT_ACCOUNTS, CLARIFY_ACCOUNTS, XGBOOST_ACCOUNTS
from catalog.shared_calls import SWEEP
from lambdas.shared.lab_names import SHADOW_ENDPOINT_PREFIXES

LAB = "model-development"
STACK_NAME = "mlref-model-development"
JOB_PREFIX = "mlref-md-"                      # every job, model and processing job the practice starts
SHADOW_ENDPOINT_PREFIX = SHADOW_ENDPOINT_PREFIXES["model-development"]  # Clarify's (endpoint_name_prefix)
DATA_PREFIX, RUNS_PREFIX, LINEAGE_PREFIX = "data/", "runs/", "lineage/"
STEPS = ("approach", "tune", "bias", "diagnose")

DEFAULT_INSTANCE_TYPE = "ml.m5.large"         # training and processing: one quota family for every job
SHADOW_INSTANCE_TYPE = "ml.c5.large"          # Clarify's shadow endpoint (the cheapest hosting type priced)
MAX_RUNTIME_SECONDS = 15 * 60                 # per training job
MAX_WAIT_SECONDS = 30 * 60                    # per spot training job (>= MaxRuntime: capacity waits)
TUNING_MAX_RUNTIME_SECONDS = 60 * 60          # the whole search
PROCESSING_MAX_RUNTIME_SECONDS = 30 * 60
VOLUME_GB = 10

# Billable minutes assumed for the estimate, start-up included (small data: most of it is start-up).
XGBOOST_MINUTES, BLAZINGTEXT_MINUTES, DIAGNOSE_MINUTES = 3, 3, 4
CLARIFY_MINUTES, SCRIPT_MINUTES, SHADOW_ENDPOINT_MINUTES = 10, 5, 12
BEDROCK_INPUT_TOKENS, BEDROCK_OUTPUT_TOKENS = 120, 3     # per held-out review, for the estimate


def run_id(moment) -> str:
    """``yymmddHHMMSS``: 12 characters, so the tuning job's name stays within SageMaker's 32."""
    return f"{moment:%y%m%d%H%M%S}"


def job_name(kind: str, run: str) -> str:
    """``mlref-md-<kind>-<run>``: every name the practice gives (training, tuning, processing jobs, models)."""
    return f"{JOB_PREFIX}{kind}-{run}"


def data_prefix(kind: str, seed: int) -> str:
    """Where the generated set ``kind`` (tabular, text) of ``seed`` lives: the same seed, the same objects."""
    return f"{DATA_PREFIX}{kind}-{seed}/"


def run_prefix(run: str, step: str) -> str:
    return f"{RUNS_PREFIX}{run}/{step}/"


def lineage_key(run: str) -> str:
    return f"{LINEAGE_PREFIX}{run}.json"


# Regions with every image a default deployment pulls (XGBoost and BlazingText; Clarify unless off).
REGIONS = tuple(region for region in XGBOOST_ACCOUNTS
                if region in BLAZINGTEXT_ACCOUNTS and not region.startswith("cn-"))


@dataclass(frozen=True)
class ModelDevelopmentOptions:
    """Options of the model-development lab.

    Attributes:
        clarify: the processing role may run the SageMaker Clarify container and let it create and delete
            its shadow endpoint (default on). Off: the bias step uses the lab's own script only.
    """

    clarify: bool = True


CONTEXT_KEYS = (ContextKey("clarify", "on", "on, off (model-development: Clarify's image and shadow endpoint)"),)


def parse(context: Mapping[str, object], region: str) -> ModelDevelopmentOptions:
    clarify = choice(context, "clarify", ["on", "off"], "on") == "on"
    if region not in REGIONS:
        raise ConfigError(f"model-development: no SageMaker XGBoost/BlazingText image is known for region {region}; "
                          f"deploy in one of {', '.join(REGIONS[:4])}, ... (or leave it out: -c labs=<other labs>)")
    if clarify and region not in CLARIFY_ACCOUNTS:
        raise ConfigError(f"model-development: SageMaker Clarify has no container in {region}; deploy with "
                          "-c clarify=off (the bias step then runs the lab's own script)")
    return ModelDevelopmentOptions(clarify=clarify)


def _clarify(options: ModelDevelopmentOptions) -> bool:
    return options.clarify


BUCKET = Output("LabBucketName", "generated data (data/), job outputs (runs/) and lineage (lineage/)")
KEY = Output("KeyArn", "the lab's KMS key (objects, job volumes and outputs)")
TRAINING_ROLE = Output("TrainingRoleArn", "the role of every training job (BlazingText, XGBoost, tuning)")
PROCESSING_ROLE = Output("ProcessingRoleArn", "the role of the bias step's processing job (Clarify or the script)")
MODEL_ROLE = Output("ModelRoleArn", "the role of the tuned model Clarify hosts on its shadow endpoint",
                    when=_clarify)
CLARIFY = Output("ClarifyEnabled", "on or off: whether the bias step may use SageMaker Clarify")
OUTPUTS = (BUCKET, KEY, TRAINING_ROLE, PROCESSING_ROLE, MODEL_ROLE, CLARIFY)


# -- cost --------------------------------------------------------------------------------------------

def training_cost(minutes: float, *, instance_type: str = DEFAULT_INSTANCE_TYPE, spot: bool = True) -> float | None:
    return job_cost(instance_type, minutes, spot=spot)


def step_cost(step: str, *, spot: bool = True, instance_type: str = DEFAULT_INSTANCE_TYPE, items: int = 150,
              clarify: bool = True, runs: int = 2) -> tuple[float | None, str]:
    """(USD, what it is made of) of one practice step with these choices: estimates from the price table."""
    def train(minutes: float) -> float | None:
        return training_cost(minutes, instance_type=instance_type, spot=spot)

    kind = "spot" if spot else "on demand"
    if step == "approach":
        blazingtext = train(BLAZINGTEXT_MINUTES)
        comprehend = items * facts.COMPREHEND_MIN_UNITS * price("comprehend_unit")
        bedrock = items * (BEDROCK_INPUT_TOKENS * price("bedrock_nova_micro_input_1k")
                           + BEDROCK_OUTPUT_TOKENS * price("bedrock_nova_micro_output_1k")) / 1000
        total = None if blazingtext is None else blazingtext + comprehend + bedrock
        return total, (f"BlazingText ~{BLAZINGTEXT_MINUTES} min {kind}, {items} texts through Comprehend "
                       f"({facts.COMPREHEND_MIN_UNITS} units each) and Bedrock (~{BEDROCK_INPUT_TOKENS} tokens each)")
    if step == "tune":
        jobs = 1 + facts.MAX_TUNING_JOBS
        one = train(XGBOOST_MINUTES)
        return (None if one is None else one * jobs), f"1 baseline + {facts.MAX_TUNING_JOBS} tuning jobs, " \
                                                      f"~{XGBOOST_MINUTES} min each, {kind}"
    if step == "bias":
        processing = price("sagemaker_processing_ml_m5_large_hour") / 60
        if not clarify:
            return processing * SCRIPT_MINUTES, f"one ~{SCRIPT_MINUTES}-minute processing job (the lab's script)"
        endpoint = price(hosting_price_key(SHADOW_INSTANCE_TYPE)) * SHADOW_ENDPOINT_MINUTES / 60
        return (processing * CLARIFY_MINUTES + endpoint,
                f"one ~{CLARIFY_MINUTES}-minute Clarify job and its {SHADOW_INSTANCE_TYPE} shadow endpoint "
                f"(~{SHADOW_ENDPOINT_MINUTES} min)")
    if step == "diagnose":
        one = train(DIAGNOSE_MINUTES)
        return (None if one is None else one * runs), f"{runs} training jobs, ~{DIAGNOSE_MINUTES} min each, {kind}"
    raise ValueError(f"unknown step {step!r}; the steps are {', '.join(STEPS)}")


def cost(options: ModelDevelopmentOptions) -> LabCost:
    """Idle: the key (nothing else bills while no job runs). Per run: the four steps with their defaults."""
    def total(**choices) -> float | None:
        parts = [step_cost(step, clarify=options.clarify, **choices)[0] for step in STEPS]
        return None if None in parts else sum(parts)

    alternatives = [("--on-demand", total(spot=False))]
    if options.clarify:
        alternatives.append(("--bias-engine script", sum(step_cost(s, clarify=False)[0] or 0 for s in STEPS)))
    return LabCost(idle_per_hour=per_month_as_hourly("kms_key_month"), per_practice_run=total(),
                   run_note="all four steps: 10 spot training jobs on ml.m5.large, one processing job"
                            + (" with Clarify's shadow endpoint" if options.clarify else "")
                            + ", Comprehend and Bedrock on the held-out texts",
                   alternatives=tuple((flag, value) for flag, value in alternatives if value is not None))


# -- what AWS does with the lab's roles, and what must be refused (labs permissions) ---------------
JOB_ROLE = "https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html"
CLARIFY_JOB = "https://docs.aws.amazon.com/sagemaker/latest/dg/clarify-processing-job-configure-parameters.html"
_BUCKET = "${LabBucket*.Arn}"
_MODEL = "/runs/260101000000/tune/mlref-md-tune-260101000000-001-abcd1234/output/model.tar.gz"
_ECR = "arn:${AWS::Partition}:ecr:${AWS::Region}:"
_SHADOW = "mlref-md-clarify-0101000000"
CALLS = (
    *(assumed(role, "sagemaker.amazonaws.com", JOB_ROLE) for role in ("JobsTrainingRole*", "JobsProcessingRole*")),
    assumed("JobsModelRole*", "sagemaker.amazonaws.com", JOB_ROLE, when=_clarify),
    *acting_as("JobsTrainingRole*", JOB_ROLE, [
        ("s3:GetObject", _BUCKET + "/data/tabular-29/train.csv"),
        ("s3:ListBucket", _BUCKET, {"s3:prefix": "data/tabular-29/"}),
        ("s3:PutObject", _BUCKET + _MODEL),
        ("kms:Decrypt", "${LabKey*.Arn}", via("s3")),
        ("kms:GenerateDataKey", "${LabKey*.Arn}", via("s3")),
        ("ecr:GetAuthorizationToken", "*"),
        ("ecr:BatchGetImage", _ECR + "683313688378:repository/sagemaker-xgboost"),
        ("ecr:BatchGetImage", _ECR + "811284229777:repository/blazingtext"),
        ("logs:CreateLogStream", arn("logs", "log-group:/aws/sagemaker/TrainingJobs:log-stream:mlref-md-x/algo-1")),
    ], purpose="SageMaker runs the training and tuning jobs"),
    *acting_as("JobsProcessingRole*", JOB_ROLE, [
        ("s3:GetObject", _BUCKET + "/runs/260101000000/bias/config/analysis_config.json"),
        ("s3:GetObject", _BUCKET + "/data/tabular-29/test.csv"),
        ("s3:PutObject", _BUCKET + "/runs/260101000000/bias/output/analysis.json"),
        ("ecr:BatchGetImage", _ECR + "683313688378:repository/sagemaker-xgboost"),
        ("logs:PutLogEvents", arn("logs", "log-group:/aws/sagemaker/ProcessingJobs:log-stream:mlref-md-bias-x/algo")),
    ], purpose="SageMaker runs the bias step's processing job"),
    # Clarify's container, as the processing role, hosts the model on a shadow endpoint it names from the
    # analysis config's endpoint_name_prefix, and removes it: derived from what the job does (unconfirmed).
    *acting_as("JobsProcessingRole*", CLARIFY_JOB, [
        ("ecr:BatchGetImage", _ECR + "205585389593:repository/sagemaker-clarify-processing"),
        ("sagemaker:DescribeModel", arn("sagemaker", "model/mlref-md-tuned-260101000000")),
        ("sagemaker:CreateEndpointConfig", arn("sagemaker", f"endpoint-config/{_SHADOW}")),
        ("sagemaker:CreateEndpoint", arn("sagemaker", f"endpoint/{_SHADOW}")),
        ("sagemaker:InvokeEndpoint", arn("sagemaker", f"endpoint/{_SHADOW}")),
        ("sagemaker:DeleteEndpoint", arn("sagemaker", f"endpoint/{_SHADOW}")),
    ], when=_clarify, purpose="Clarify's shadow endpoint"),
    *acting_as("JobsModelRole*", JOB_ROLE, [
        ("s3:GetObject", _BUCKET + _MODEL),
        ("ecr:BatchGetImage", _ECR + "683313688378:repository/sagemaker-xgboost"),
    ], when=_clarify, purpose="SageMaker hosts the tuned model for Clarify"),
    # The janitor deletes a shadow endpoint Clarify left only by its name (it carries no tags): the sweep
    # first proves every model it hosts tagged for the lab (lambdas/lab_sweep/sweep_sagemaker.py).
    *acting_as("JanitorSweepExecutionRole*", SWEEP, [
        ("sagemaker:DeleteEndpoint", arn("sagemaker", f"endpoint/{_SHADOW}")),
        ("sagemaker:DeleteEndpointConfig", arn("sagemaker", f"endpoint-config/{_SHADOW}")),
    ], purpose="the janitor removes a shadow endpoint Clarify left"),
    refused("JanitorSweepExecutionRole*", "sagemaker:DeleteEndpoint", arn("sagemaker", "endpoint/someone-elses"),
            "an untagged endpoint without a lab's shadow prefix is not the janitor's to delete"),
    refused("JobsTrainingRole*", "s3:PutObject", _BUCKET + "/data/tabular-29/train.csv",
            "training jobs write under runs/ only; the generated data is read-only to them"),
    refused("JobsProcessingRole*", "sagemaker:CreateEndpoint", arn("sagemaker", "endpoint/someone-elses-endpoint"),
            "Clarify's endpoints carry the lab's prefix; no other endpoint is the processing role's", when=_clarify),
    refused("JobsProcessingRole*", "sagemaker:CreateEndpoint", arn("sagemaker", f"endpoint/{_SHADOW}"),
            "with clarify=off the processing role runs the lab's script only",
            when=lambda options: not options.clarify),
)

EXERCISES = (
    Exercise("approach", ("2.1",), (
        "Comparing and selecting appropriate ML models or algorithms to solve specific problems",
        "Selecting AI services to solve common business needs",
        "Choosing built-in algorithms, foundation models, and solution templates (for example, in SageMaker "
        "JumpStart and Amazon Bedrock)",
        "Selecting models or algorithms based on costs")),
    Exercise("tune", ("2.2", "2.3"), (
        "Performing hyperparameter tuning (for example, by using SageMaker AI automatic model tuning [AMT])",
        "Hyperparameter tuning techniques (for example, random search, Bayesian optimization)",
        "Methods to reduce model training time (for example, early stopping, distributed training)",
        "Methods to create performance baselines")),
    Exercise("bias", ("1.3", "2.3"), (
        "Pre-training bias metrics for numeric, text, and image data (for example, class imbalance [CI], "
        "difference in proportions of labels [DPL])",
        "Identifying and mitigating sources of bias in data (for example, selection bias, measurement bias) by "
        "using AWS tools (for example, SageMaker Clarify)",
        "Metrics available in SageMaker Clarify to gain insights into ML training data and models",
        "Using SageMaker Clarify to interpret model outputs")),
    Exercise("diagnose", ("2.2", "2.3"), (
        "Preventing model overfitting, underfitting, and catastrophic forgetting (for example, by using "
        "regularization techniques, feature selection)",
        "Methods to identify model overfitting and underfitting",
        "Convergence issues",
        "Performing reproducible experiments by using AWS services")),
)

CONTRACT = LabContract(
    name=LAB,
    stack_name=STACK_NAME,
    demonstrates="Model development: Comprehend vs Bedrock vs BlazingText by measurement, XGBoost automatic "
                 "tuning, Clarify bias and SHAP, an overfitting run diagnosed from its learning curves",
    exams=ExamDomains(MLS_MODELING),
    options_type=ModelDevelopmentOptions,
    parse=parse,
    outputs=OUTPUTS,
    cost=cost,
    stack="stacks.model_development:ModelDevelopmentStack",
    practice="labs.practice.model_development.command:ModelDevelopmentPractice",
    context_keys=CONTEXT_KEYS,
    practice_flags=(
        Flag("step", "one step, or all four in order", str, "all", choices=(*STEPS, "all"), positional=True),
        Flag("items", f"held-out texts for the approach step ({facts.MIN_ITEMS}-{facts.MAX_ITEMS}, a multiple of 3)",
             int, facts.DEFAULT_ITEMS, metavar="N"),
        Flag("tuning_strategy", "tune: the search", str, "bayesian", choices=tuple(facts.STRATEGIES)),
        Flag("warm_start", "tune: start from the lab's previous tuning job (--no-warm-start: a cold start)", bool,
             True, negatable=True),
        Flag("bias_engine", "bias: auto (Clarify, else the lab's script), clarify or script", str, "auto",
             choices=("auto", "clarify", "script")),
        Flag("runs", "diagnose: comma-separated runs among overfit, regular, slow", str,
             ",".join(facts.DEFAULT_RUNS), metavar="RUNS"),
        Flag("bedrock_model", "approach: the Bedrock model id", str,
             facts.BEDROCK_MODEL, metavar="MODEL"),
        Flag("training_instance_type", "the training jobs' instance type", str,
             DEFAULT_INSTANCE_TYPE, metavar="TYPE"),
        Flag("on_demand", "on-demand instead of managed spot", bool, False),
        Flag("seed", "the generated data's seed (the same seed, the same data)",
             int, facts.DEFAULT_SEED, metavar="N"),
        YES,
    ),
    variants=(Variant("no-clarify", {"clarify": "off"}, note="Clarify off"),),
    exercises=EXERCISES,
    calls=CALLS,
)

