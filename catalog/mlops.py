"""The mlops lab's contract: CI/CD for a model. A CodePipeline (V2) takes the model-build code from S3
(or GitHub), runs its unit tests and a lint of the SageMaker pipeline in CodeBuild, trains through the
SageMaker pipeline, waits for a person's approval, deploys to a serverless staging endpoint, tests it,
and rolls production out blue/green with an alarm that rolls it back. A drift alarm (or a schedule)
starts it again, saying why; a CloudTrail trail keeps who approved what.

Every name the stack, the Lambda handlers, the buildspecs, the practice and the tests share lives
here: the stages and actions, the variables and namespaces, the buckets' prefixes, the endpoints,
alarms and trail, and the commands each CodeBuild project runs (the suite runs the same ones).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from catalog import ml_pipeline as sm
from catalog.base import ConfigError, ContextKey, Flag, LabContract, Output, Variant, choice
from catalog.exam import MLA_D3, MLA_D4, MLS_OPERATIONS, ExamDomains, Exercise
from catalog.mlops_calls import CALLS, CONNECTION_EXAMPLE
from catalog.prices import LabCost, per_month_as_hourly, price
from lambdas.shared.rollout import STRATEGIES

STACK_NAME = "mlref-mlops"
CODE_PIPELINE = "mlref-mlops"
SAGEMAKER_PIPELINE = "mlref-mlops-build"
MODEL_PACKAGE_GROUP = "mlref-mlops-models"
STAGING_ENDPOINT, PRODUCTION_ENDPOINT = "mlref-mlops-staging", "mlref-mlops-prod"
BUILD_PROJECT, INTEGRATION_PROJECT = "mlref-mlops-build-test", "mlref-mlops-integration"
TRAIL = "mlref-mlops-audit"
ROLLBACK_ALARM, DRIFT_ALARM = "mlref-mlops-prod-errors", "mlref-mlops-drift"
DRIFT_NAMESPACE, DRIFT_METRIC = "mlref/mlops", "FeatureDrift"  # what your own drift check publishes
VARIANT = "AllTraffic"  # blue/green keeps the variant's name (deployment guardrails' exclusions page)

# Where things sit: the source bucket's one object, each build's copy of the scripts in the artifacts
# bucket (code/<CodePipeline execution id>/), and the SageMaker pipeline's runs (as ml-pipeline's).
SOURCE_KEY = "source/model-code.zip"
CODE_PREFIX = "code/"
CODE_PARAMETER = "CodeUri"
RUN_REASON_PARAMETER, CODE_PIPELINE_EXECUTION_PARAMETER = "RunReason", "CodePipelineExecutionId"

# The stages, each with its one action, in order; the namespaces its variables are read under.
(SOURCE_STAGE, BUILD_STAGE, TRAIN_STAGE, APPROVE_STAGE, STAGING_STAGE, INTEGRATION_STAGE,
 PRODUCTION_STAGE) = (
    ("Source", "FetchCode"), ("BuildAndTest", "UnitTestsAndLint"), ("Train", "RunSageMakerPipeline"),
    ("Approve", "ApproveModel"), ("Staging", "DeployStaging"), ("IntegrationTest", "InvokeStaging"),
    ("Production", "DeployProduction"))
STAGES = (SOURCE_STAGE, BUILD_STAGE, TRAIN_STAGE, APPROVE_STAGE, STAGING_STAGE, INTEGRATION_STAGE, PRODUCTION_STAGE)
SOURCE_NS, BUILD_NS, TRAIN_NS, STAGING_NS, PRODUCTION_NS = "Src", "Build", "Train", "Staging", "Prod"
# What the train action emits (PutJobSuccessResult outputVariables) and the build exports.
TRAIN_OUTPUTS = ("ModelPackageArn", "ModelPackageVersion", "Auc", "HoldoutUri", "SageMakerExecutionArn")
CODE_URI_VARIABLE = "CODE_URI"
RUN_REASON_VARIABLE, CODE_CHANGE = "RunReason", "code-change"
APPROVAL_TIMEOUT_MINUTES = 120  # a forgotten approval blocks the queue (QUEUED) for this long, not 7 days
DRIFT, SCHEDULE = "drift", "schedule"  # how a retraining run's RunReason starts

# What each CodeBuild project runs. One copy: the stack renders the buildspecs from these and the
# suite runs the build's test and lint commands as they are on the model code (jobs/mlops/).
PYTHON = "3.11"  # aws/codebuild/standard:7.0 offers 3.11 and 3.12 (its runtimes.yml); the suite runs 3.11
INSTALL_COMMANDS = ("pip install --quiet -r requirements.txt",)
TEST_COMMAND = "python -m unittest discover -s tests -v"
LINT_COMMAND = "python lint_definition.py definition.json"
BUILD_COMMANDS = (
    TEST_COMMAND,
    'aws sagemaker describe-pipeline --pipeline-name "$SM_PIPELINE" --query PipelineDefinition --output text '
    '> definition.json',
    LINT_COMMAND,
    f'export {CODE_URI_VARIABLE}="s3://$ARTIFACTS_BUCKET/{CODE_PREFIX}$PIPELINE_EXECUTION_ID/"',
    f'aws s3 cp code/ "${CODE_URI_VARIABLE}" --recursive --sse aws:kms --sse-kms-key-id "$KEY_ARN"',
)
INTEGRATION_ROWS = 20
LATENCY_LIMIT_SECONDS = 30  # a serverless cold start included
INTEGRATION_COMMANDS = (
    'aws s3 cp "$HOLDOUT_URI" holdout.csv',
    f"python integration_check.py prepare --holdout holdout.csv --rows {INTEGRATION_ROWS} --out rows.csv",
    "START=$(date +%s)",
    'aws sagemaker-runtime invoke-endpoint --endpoint-name "$ENDPOINT" --content-type text/csv --accept text/csv '
    "--body fileb://rows.csv predictions.csv",
    'python integration_check.py check --rows rows.csv --predictions predictions.csv '
    f'--seconds "$(( $(date +%s) - START ))" --max-seconds {LATENCY_LIMIT_SECONDS}',
)

SOURCES = ("s3", "github")
RETRAIN = ("drift", "schedule", "both", "off")
PRODUCTION_KINDS = ("instances", "serverless")
PRODUCTION_INSTANCE_TYPE = "ml.t2.medium"  # the cheapest hosting type botocore lists; burstable, so no scaling
DEFAULT_SCHEDULE = "rate(7 days)"
SANDBOX_IDLE_LIMIT = 0.15  # USD per hour once production serves a model
CONNECTION_ARN = re.compile(r"arn:aws[a-z-]*:(codestar-connections|codeconnections):([a-z0-9-]+):[0-9]{12}:"
                            r"connection/[0-9a-f-]{36}")
REPOSITORY = re.compile(r"[\w.-]+/[\w.-]+")
SCHEDULE_EXPRESSION = re.compile(r"rate\(([1-9][0-9]*) (minutes?|hours?|days?)\)|cron\((\S+ ){5}\S+\)")

# Billable minutes of one green practice run, for the cost estimate (an estimate, said so).
ACTION_MINUTES = {SOURCE_STAGE: 1, BUILD_STAGE: 4, TRAIN_STAGE: 20, STAGING_STAGE: 5, INTEGRATION_STAGE: 2,
                  PRODUCTION_STAGE: 25}
SERVERLESS_PRODUCTION_MINUTES = 8
BUILD_MINUTES = {BUILD_PROJECT: 4, INTEGRATION_PROJECT: 2}


@dataclass(frozen=True)
class MlopsOptions:
    """Options of the mlops lab.

    Attributes:
        source: where the model-build code comes from: ``s3`` (a zip the practice uploads; default) or
            ``github`` (a CodeConnections connection you made and completed in the console).
        connection_arn, repository, branch: github only: the connection, ``owner/name`` and its branch.
        retrain: what starts a retraining run: ``drift`` (the drift alarm; default), ``schedule``,
            ``both`` or ``off``.
        retrain_schedule: the schedule's EventBridge expression (default weekly).
        production: ``instances`` (default: blue/green canary or linear with alarm rollback) or
            ``serverless`` (blue/green all at once, no idle cost).
        traffic: instances only: ``canary`` (default), ``linear`` or ``all-at-once``.
        instance_count: production instances (2-4; a canary or linear step is at most half the fleet).
        bake_minutes: how long each traffic step bakes under the rollback alarm (1-60).
        pipeline: the SageMaker pipeline's defaults (the ml-pipeline lab's), and staging's serverless size.
    """

    source: str = "s3"
    connection_arn: str = ""
    repository: str = ""
    branch: str = "main"
    retrain: str = "drift"
    retrain_schedule: str = DEFAULT_SCHEDULE
    production: str = "instances"
    traffic: str = "canary"
    instance_count: int = 2
    bake_minutes: int = 5
    pipeline: sm.MlPipelineOptions = field(default_factory=sm.MlPipelineOptions)

    @property
    def github(self) -> bool:
        return self.source == "github"

    @property
    def drift(self) -> bool:
        return self.retrain in {"drift", "both"}

    @property
    def scheduled(self) -> bool:
        return self.retrain in {"schedule", "both"}

    @property
    def serverless_production(self) -> bool:
        return self.production == "serverless"

    @property
    def strategy(self) -> str:
        """The blue/green traffic shifting production gets (serverless: all at once)."""
        return "all-at-once" if self.serverless_production else self.traffic


CONTEXT_KEYS = (
    ContextKey("mlops_source", "s3", "s3, github"),
    ContextKey("mlops_connection_arn", "none", "github: a CodeConnections (or CodeStar) connection ARN in the region"),
    ContextKey("mlops_repository", "none", "github: owner/name"),
    ContextKey("mlops_branch", "main", "github: the branch that starts the pipeline"),
    ContextKey("mlops_retrain", "drift", "drift, schedule, both, off"),
    ContextKey("mlops_retrain_schedule", DEFAULT_SCHEDULE, "rate(N days) or cron(6 fields): at most daily"),
    ContextKey("mlops_production", "instances", "instances, serverless"),
    ContextKey("mlops_traffic", "canary", "canary, linear, all-at-once (instances only)"),
    ContextKey("mlops_instance_count", "2", "2-4 production instances (sandbox: within the idle limit)"),
    ContextKey("mlops_bake_minutes", "5", "1-60 minutes each traffic step bakes"),
)


def _number(context: Mapping[str, object], key: str, default: int, low: int, high: int) -> int:
    text = str(context.get(key) or default).strip()
    if not text.isdigit() or not low <= int(text) <= high:
        raise ConfigError(f"{key}={text!r} is not allowed; use a whole number from {low} to {high} "
                          f"(e.g. -c {key}={default})")
    return int(text)


def _github(context: Mapping[str, object], region: str) -> dict[str, str]:
    arn = str(context.get("mlops_connection_arn") or "").strip()
    repository = str(context.get("mlops_repository") or "").strip()
    match = CONNECTION_ARN.fullmatch(arn)
    if not match:
        raise ConfigError("mlops_source=github needs -c mlops_connection_arn=arn:aws:codeconnections:<region>:"
                          "<account>:connection/<id> (create it in the console and complete the handshake)")
    if match.group(2) != region:
        raise ConfigError(f"mlops_connection_arn is in {match.group(2)}, the lab deploys in {region}: "
                          "use a connection of the lab's region")
    if not REPOSITORY.fullmatch(repository):
        raise ConfigError(f"mlops_repository={repository!r} is not owner/name "
                          "(e.g. -c mlops_repository=you/churn-model)")
    branch = str(context.get("mlops_branch") or "main").strip()
    return {"connection_arn": arn, "repository": repository, "branch": branch}


def parse(context: Mapping[str, object], region: str) -> MlopsOptions:
    sm.parse(context, region)  # the SageMaker images' regions
    source = choice(context, "mlops_source", SOURCES, "s3")
    github = _github(context, region) if source == "github" else {}
    if source == "s3" and (context.get("mlops_connection_arn") or context.get("mlops_repository")):
        raise ConfigError("mlops_connection_arn and mlops_repository are for -c mlops_source=github; drop them "
                          "or add -c mlops_source=github")
    retrain = choice(context, "mlops_retrain", RETRAIN, "drift")
    schedule = str(context.get("mlops_retrain_schedule") or DEFAULT_SCHEDULE).strip()
    matched = SCHEDULE_EXPRESSION.fullmatch(schedule)
    if not matched or (matched.group(2) or "day").startswith(("minute", "hour")):
        raise ConfigError(f"mlops_retrain_schedule={schedule!r} is not allowed; use rate(N days) or a cron(...) "
                          f"of six fields, at most daily (each run trains and waits for approval; e.g. "
                          f"-c mlops_retrain_schedule=\"{DEFAULT_SCHEDULE}\")")
    production = choice(context, "mlops_production", PRODUCTION_KINDS, "instances")
    traffic = choice(context, "mlops_traffic", STRATEGIES, "canary")
    if production == "serverless" and context.get("mlops_traffic"):
        raise ConfigError("a serverless production endpoint has no instances to shift in steps: drop -c mlops_traffic "
                          "(it rolls out all at once)")
    options = MlopsOptions(
        source=source, retrain=retrain, retrain_schedule=schedule, production=production, traffic=traffic,
        instance_count=_number(context, "mlops_instance_count", 2, 2 if traffic != "all-at-once" else 1, 4),
        bake_minutes=_number(context, "mlops_bake_minutes", 5, 1, 60), **github)
    idle = cost(options).idle_per_hour
    if str(context.get("profile") or "sandbox") == "sandbox" and idle > SANDBOX_IDLE_LIMIT:
        raise ConfigError(f"{options.instance_count} production instances idle at ${idle:.3f}/hour, above the "
                          f"sandbox's ${SANDBOX_IDLE_LIMIT}/hour: use -c mlops_instance_count=2 or "
                          "-c mlops_production=serverless")
    return options


CODE_PIPELINE_OUTPUT = Output("CodePipelineName", "the CodePipeline (V2) that builds, tests, trains and deploys")
SAGEMAKER_PIPELINE_OUTPUT = Output("SageMakerPipelineName", "the SageMaker pipeline the Train stage runs")
MODEL_GROUP = Output("ModelPackageGroupName", "the model package group the SageMaker pipeline registers into")
SOURCE_BUCKET = Output("SourceBucketName", "the versioned bucket the model-build code is uploaded to",
                       when=lambda o: not o.github)
SOURCE_OBJECT = Output("SourceObjectKey", "the zip that starts the pipeline when it changes",
                       when=lambda o: not o.github)
DATA_BUCKET = Output("DataBucketName", "raw training data (raw/)")
ARTIFACTS_BUCKET = Output("ArtifactsBucketName", "pipeline artifacts, each build's scripts (code/) and runs (runs/)")
TRAIL_OUTPUT = Output("TrailName", "the CloudTrail trail (write management events, validated log files)")
TRAIL_BUCKET = Output("TrailBucketName", "where the trail delivers its log files")
STAGING_OUTPUT = Output("StagingEndpointName", "the serverless staging endpoint the Staging stage creates or updates")
PRODUCTION_OUTPUT = Output("ProductionEndpointName", "the production endpoint the Production stage rolls out")
ROLLBACK = Output("RollbackAlarmName", "the alarm that rolls a production rollout back")
DRIFT_OUTPUT = Output("DriftAlarmName", "the alarm whose ALARM state starts a retraining run", when=lambda o: o.drift)
BUILD_LOG_GROUP = Output("BuildLogGroupName", "the CodeBuild projects' log group")
KEY = Output("KeyArn", "the lab's KMS key")
OUTPUTS = (CODE_PIPELINE_OUTPUT, SAGEMAKER_PIPELINE_OUTPUT, MODEL_GROUP, SOURCE_BUCKET, SOURCE_OBJECT, DATA_BUCKET,
           ARTIFACTS_BUCKET, TRAIL_OUTPUT, TRAIL_BUCKET, STAGING_OUTPUT, PRODUCTION_OUTPUT, ROLLBACK, DRIFT_OUTPUT,
           BUILD_LOG_GROUP, KEY)


def hosting_hour() -> float:
    return price("sagemaker_hosting_ml_t2_medium_hour")


def cost(options: MlopsOptions) -> LabCost:
    """Idle, once production serves a model: the key, the alarms and (instances) the production fleet;
    CodePipeline V2, CodeBuild, the serverless staging endpoint and the trail's first copy of management
    events bill nothing idle. Per run: action minutes, build minutes, the SageMaker jobs (as ml-pipeline)
    and the blue/green green fleet while it bakes."""
    alarms = 1 + options.drift
    idle = per_month_as_hourly("kms_key_month") + alarms * per_month_as_hourly("cloudwatch_alarm_metric_month")
    minutes = dict(ACTION_MINUTES)
    green = 0.0
    if options.serverless_production:
        minutes[PRODUCTION_STAGE] = SERVERLESS_PRODUCTION_MINUTES
    else:
        idle += options.instance_count * hosting_hour()
        green = options.instance_count * hosting_hour() * ACTION_MINUTES[PRODUCTION_STAGE] / 60
    actions = price("codepipeline_v2_action_minute") * sum(minutes.values())
    builds = price("codebuild_general1_small_minute") * sum(BUILD_MINUTES.values())
    jobs = sm.cost(options.pipeline).per_practice_run or 0.0
    return LabCost(
        idle_per_hour=idle, per_practice_run=actions + builds + jobs + green,
        run_note=f"{sum(minutes.values())} action minutes, {sum(BUILD_MINUTES.values())} build minutes, the "
                 "SageMaker jobs" + ("" if options.serverless_production else ", the green fleet while it bakes")
                 + "; free tiers ignored; the idle figure is after the first production deploy",
        alternatives=(("--break-test", price("codepipeline_v2_action_minute")
                       * (minutes[SOURCE_STAGE] + minutes[BUILD_STAGE])
                       + price("codebuild_general1_small_minute") * BUILD_MINUTES[BUILD_PROJECT]),))


EXERCISES = (
    Exercise("push", ("3.3",), ("How code repositories and pipelines work together",
                                "Applying continuous deployment flow structures to invoke pipelines",
                                "Version control systems and basic usage")),
    Exercise("build-and-test", ("3.3",), ("Creating automated tests in CI/CD pipelines",
                                          "Configuring and troubleshooting CodeBuild, CodeDeploy, and CodePipeline, "
                                          "including stages")),
    Exercise("train", ("3.3",), ("Configuring training and inference jobs",
                                 "Using AWS services to automate orchestration")),
    Exercise("approve", ("3.3", "4.3"), ("CI/CD principles and how they fit into ML workflows",
                                         "Security best practices for CI/CD pipelines")),
    Exercise("staging", ("3.3",), ("Creating automated tests in CI/CD pipelines",)),
    Exercise("production", ("3.3",), ("Deployment strategies and rollback actions",)),
    Exercise("retrain", ("3.3", "4.2"), ("Building and integrating mechanisms to retrain models",
                                        "Monitoring infrastructure")),
    Exercise("audit", ("4.2", "4.3"), ("Creating CloudTrail trails",
                                       "Monitoring, auditing, and logging ML systems to ensure continued security "
                                       "and compliance")),
)

CONTRACT = LabContract(
    name="mlops",
    stack_name=STACK_NAME,
    demonstrates="CodePipeline V2 for a model: unit tests and a pipeline lint in CodeBuild, SageMaker Pipelines "
                 "training, manual approval, serverless staging with an integration test, blue/green production "
                 "with alarm rollback; retraining on drift; a CloudTrail audit trail",
    exams=ExamDomains(MLS_OPERATIONS, (MLA_D3, MLA_D4)),
    options_type=MlopsOptions,
    parse=parse,
    outputs=OUTPUTS,
    cost=cost,
    stack="stacks.mlops:MlopsStack",
    practice="labs.practice.mlops.command:MlopsPractice",
    context_keys=CONTEXT_KEYS,
    practice_flags=(
        Flag("break_test", "push a change that fails the unit tests: the pipeline stops at BuildAndTest", bool, False),
        Flag("reject", "reject the model at the approval (the run stops there)", bool, False),
        Flag("leave_pending", "leave the approval to a person (it prints the command they run); by default the "
                              "practice approves from the command line", bool, False),
        Flag("rollback", "force the rollback alarm while production bakes: SageMaker rolls traffic back", bool, False),
        Flag("retrain", "start a run through the drift alarm instead of a code change", bool, False),
        Flag("audit", "only print who approved which model version, when (from the trail)", bool, False),
        Flag("days", "the audit's window in days (1-90)", int, 7, metavar="N"),
    ),
    preflight="labs.practice.mlops.checks:preflight",
    class_refusal=lambda options: ("mlops_source=github needs a CodeConnections connection made with a console "
                                   "handshake in each account and region, which no StackSet can give every student: "
                                   "a class uses the S3 source (drop -c mlops_source)") if options.github else None,
    variants=(
        Variant("mlops-github", {"mlops_source": "github", "mlops_repository": "example/churn-model",
                                 "mlops_connection_arn": CONNECTION_EXAMPLE,
                                 "mlops_retrain": "both"}, note="GitHub source, drift and weekly retraining"),
        Variant("mlops-serverless", {"mlops_production": "serverless", "mlops_retrain": "off"},
                note="serverless production, no retraining rule"),
    ),
    exercises=EXERCISES,
    calls=CALLS,
)
