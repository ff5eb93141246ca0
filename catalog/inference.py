"""The inference lab's contract: one model served four ways (real-time, serverless, asynchronous,
batch transform) and measured side by side; blue/green rollouts with alarm-driven rollback; a
shadow variant. CDK-free.

The sample model is the endpoint lab's (``jobs/endpoint/model``: model A, and model B as the
second version); ``jobs/inference/broken_model.py`` makes the version whose invocations fail.
Every endpoint config the practice switches between is made by the stack (configs and models
bill nothing): the practice only calls ``UpdateEndpoint`` and creates one transform job per run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from catalog.base import YES, ConfigError, ContextKey, Flag, LabContract, Output, Variant
from catalog.calls import CALLER, Call, acting_as, arn, assumed, refused, via
from catalog.endpoint import hosting_price_key
from catalog.exam import MLA_D2, MLA_D3, MLA_D4, MLS_OPERATIONS, ExamDomains, Exercise
from catalog.prices import LabCost, has_price, per_month_as_hourly, price
from catalog.sagemaker_images import IMAGE_ACCOUNTS
from lambdas.shared.rollout import STRATEGIES

STACK_NAME = "mlref-inference"
# Every instance-based way runs one type: EBS only (so the lab key encrypts its volume), able to
# auto-scale (async scales to zero), and a batch transform type too (ml.c5.large is not one).
DEFAULT_INSTANCE_TYPE = "ml.m5.large"
INSTANCE_TYPES = ("ml.m5.large", "ml.m5.xlarge", "ml.c5.xlarge", "ml.m6i.large", "ml.c6i.large", "ml.m7i.large",
                  "ml.c7i.large")
VARIANT, SHADOW_VARIANT = "AllTraffic", "Shadow"  # blue/green keeps the variant's name across configs
ROLLOUT_INSTANCES = 2  # the new fleet of a rollout: canary and linear shift part of two instances
SERVERLESS_MEMORY_MB, SERVERLESS_MAX_CONCURRENCY = 2048, 5
ASYNC_BACKLOG_TARGET = 5.0  # queued requests per instance that target tracking aims at
ASYNC_SCALE_OUT_COOLDOWN, ASYNC_SCALE_IN_COOLDOWN = 60, 300
ASYNC_CONCURRENT_PER_INSTANCE = 4
ASYNC_REQUEST_TTL_SECONDS = 900  # an interrupted run's queued requests expire instead of waking it later
SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
ENDPOINT_LOG_GROUP_PREFIX = "/aws/sagemaker/Endpoints/"
TRANSFORM_LOG_GROUP = "/aws/sagemaker/TransformJobs"
METRICS_NAMESPACES = ("/aws/sagemaker/Endpoints/*", "aws/sagemaker/Endpoints/*", "/aws/sagemaker/TransformJobs",
                      "aws/sagemaker/TransformJobs")

# Where things sit in the lab's data bucket.
ASYNC_INPUT, ASYNC_OUTPUT, ASYNC_FAILURES = "async/input", "async/output", "async/failures"
TRANSFORM_INPUT, TRANSFORM_OUTPUT = "transform/input", "transform/output"
TRANSFORM_JOB_PREFIX = "mlref-inference-"  # + the run id; the practice's jobs and their IAM resource

WAYS = ("realtime", "serverless", "async", "batch")
STEPS = ("table", "rollout", "shadow")
PRACTICE_RECORDS, MAX_RECORDS = 100, 500
PRACTICE_CONCURRENCY, MAX_CONCURRENCY = 4, 8
DEFAULT_BAKE_SECONDS, BAKE_RANGE = 300, (120, 900)
ROLLOUT_STEP_PERCENT = 50  # the canary (or each linear step): one of the new fleet's two instances

# What a practice run keeps billing, in minutes (assumptions, printed with the estimate).
ASYNC_MINUTES = 25        # from zero: ~8 to start, the run, ~15 of target tracking before it scales in
TRANSFORM_MINUTES = 7     # the job's billed start-up and the records
SERVERLESS_SECONDS_PER_REQUEST = 0.05
ROLLOUT_MINUTES = 25      # the new two-instance fleet through provisioning, bakes and termination wait
RESTORE_MINUTES = 10      # one instance back to the first version
SHADOW_MINUTES = 20       # production and shadow instances while traffic runs and metrics arrive
ALARM_METRICS = 5         # rollback alarm (2 metrics), from-zero alarm, target tracking's two alarms


@dataclass(frozen=True)
class InferenceOptions:
    """Options of the inference lab.

    Attributes:
        instance_type: the real-time, asynchronous and batch type (default ml.m5.large).
        realtime_instances: instances of the real-time endpoint (default 1; AWS advises 2 or more in production).
        serverless_memory_mb: the serverless endpoint's memory, 1024 to 6144 in steps of 1024 (default 2048).
        serverless_max_concurrency: its concurrent invocations, 1 to 200 (default 5).
        serverless_provisioned: provisioned concurrency, 0 (default, nothing bills idle) to max concurrency.
        async_max_instances: the asynchronous endpoint's most instances, 1 to 4 (it scales to zero).
    """

    instance_type: str = DEFAULT_INSTANCE_TYPE
    realtime_instances: int = 1
    serverless_memory_mb: int = SERVERLESS_MEMORY_MB
    serverless_max_concurrency: int = SERVERLESS_MAX_CONCURRENCY
    serverless_provisioned: int = 0
    async_max_instances: int = 1


CONTEXT_KEYS = (
    ContextKey("inference_instance_type", DEFAULT_INSTANCE_TYPE, ", ".join(INSTANCE_TYPES)),
    ContextKey("inference_realtime_instances", "1", "1 to 4"),
    ContextKey("inference_serverless_memory_mb", str(SERVERLESS_MEMORY_MB), "1024 to 6144, a multiple of 1024"),
    ContextKey("inference_serverless_max_concurrency", str(SERVERLESS_MAX_CONCURRENCY), "1 to 200"),
    ContextKey("inference_serverless_provisioned", "0", "0 to the max concurrency (bills while provisioned)"),
    ContextKey("inference_async_max_instances", "1", "1 to 4"),
)


def _number(context: Mapping[str, object], key: str, default: int, low: int, high: int, step: int = 1) -> int:
    value = context.get(key)
    text = str(default if value is None or value == "" else value).strip()
    if not text.isdigit() or not low <= int(text) <= high or int(text) % step:
        every = f", a multiple of {step}" if step > 1 else ""
        raise ConfigError(f"{key}={text!r} is not allowed; use a whole number from {low} to {high}{every} "
                          f"(e.g. -c {key}={default})")
    return int(text)


def parse(context: Mapping[str, object], region: str) -> InferenceOptions:
    instance_type = str(context.get("inference_instance_type") or DEFAULT_INSTANCE_TYPE).strip()
    if instance_type not in INSTANCE_TYPES:
        raise ConfigError(f"inference_instance_type={instance_type!r} is not allowed; use one of: "
                          f"{', '.join(INSTANCE_TYPES)} (each hosts, auto-scales, takes the lab key and runs batch "
                          f"transform; e.g. -c inference_instance_type={DEFAULT_INSTANCE_TYPE})")
    concurrency = _number(context, "inference_serverless_max_concurrency", SERVERLESS_MAX_CONCURRENCY, 1, 200)
    if region not in IMAGE_ACCOUNTS:
        raise ConfigError(f"region {region} has no SageMaker XGBoost 1.7-1 image in this lab's map; deploy in one "
                          f"of: {', '.join(IMAGE_ACCOUNTS)} (e.g. AWS_REGION=us-east-1)")
    return InferenceOptions(
        instance_type=instance_type,
        realtime_instances=_number(context, "inference_realtime_instances", 1, 1, 4),
        serverless_memory_mb=_number(context, "inference_serverless_memory_mb", SERVERLESS_MEMORY_MB, 1024, 6144,
                                     1024),
        serverless_max_concurrency=concurrency,
        serverless_provisioned=_number(context, "inference_serverless_provisioned", 0, 0, concurrency),
        async_max_instances=_number(context, "inference_async_max_instances", 1, 1, 4),
    )


REALTIME_ENDPOINT = Output("RealtimeEndpointName", "the real-time endpoint (the rollout and shadow steps update it)")
SERVERLESS_ENDPOINT = Output("ServerlessEndpointName", "the serverless endpoint")
ASYNC_ENDPOINT = Output("AsyncEndpointName", "the asynchronous endpoint (scales to zero)")
VARIANT_NAME = Output("VariantName", "every endpoint's production variant")
SHADOW_VARIANT_NAME = Output("ShadowVariantName", "the shadow variant of the shadow config")
REALTIME_CONFIG = Output("RealtimeConfigName", "version 1 (model A): what the real-time endpoint serves when deployed")
ROLLOUT_CONFIG = Output("RolloutConfigName", "version 2 (model B) on two instances: the rollout's target")
BROKEN_CONFIG = Output("BrokenConfigName", "a version whose invocations fail (rollout --break)")
SHADOW_CONFIG = Output("ShadowConfigName", "model A in production with model B as its shadow")
ROLLBACK_ALARM = Output("RollbackAlarmName", "the alarm on the real-time variant's errors that rolls a rollout back")
TRANSFORM_MODEL = Output("TransformModelName", "the model batch transform jobs run (model A)")
DATA_BUCKET = Output("DataBucketName", "async requests, results and failures; batch input and output")
ASYNC_QUEUE = Output("AsyncQueueUrl", "the queue of the async success and error notifications (SNS)")
ASYNC_SCALABLE = Output("AsyncScalableResourceId", "the async variant's Application Auto Scaling resource id")
KEY = Output("KeyArn", "the lab's KMS key (data, volumes, logs, topics)")
INSTANCE_TYPE_OUTPUT = Output("InstanceType", "the instance type of the real-time, async and batch ways")
REALTIME_INSTANCES = Output("RealtimeInstances", "instances of the real-time endpoint")
SERVERLESS_MEMORY = Output("ServerlessMemoryMb", "the serverless endpoint's memory")
SERVERLESS_CONCURRENCY = Output("ServerlessMaxConcurrency", "the serverless endpoint's max concurrency")
SERVERLESS_PROVISIONED = Output("ServerlessProvisionedConcurrency", "its provisioned concurrency (0: none)")
OUTPUTS = (REALTIME_ENDPOINT, SERVERLESS_ENDPOINT, ASYNC_ENDPOINT, VARIANT_NAME, SHADOW_VARIANT_NAME, REALTIME_CONFIG,
           ROLLOUT_CONFIG, BROKEN_CONFIG, SHADOW_CONFIG, ROLLBACK_ALARM, TRANSFORM_MODEL, DATA_BUCKET, ASYNC_QUEUE,
           ASYNC_SCALABLE, KEY, INSTANCE_TYPE_OUTPUT, REALTIME_INSTANCES, SERVERLESS_MEMORY, SERVERLESS_CONCURRENCY,
           SERVERLESS_PROVISIONED)


# -- prices ---------------------------------------------------------------------------------------

def async_price_key(instance_type: str) -> str:
    """``ml.m5.large`` -> ``sagemaker_async_ml_m5_large_hour`` (asynchronous inference instance-hours)."""
    return hosting_price_key(instance_type).replace("sagemaker_hosting_", "sagemaker_async_")


def transform_price_key(instance_type: str) -> str:
    """``ml.m5.large`` -> ``sagemaker_transform_ml_m5_large_hour`` (batch transform instance-hours)."""
    return hosting_price_key(instance_type).replace("sagemaker_hosting_", "sagemaker_transform_")


def serverless_gb_second() -> float:
    return price("sagemaker_serverless_gb_hour") / 3600


def provisioned_per_hour(memory_mb: int, provisioned: int) -> float:
    """Provisioned concurrency while provisioned (the table's rate is an upper bound: see prices.toml)."""
    return provisioned * memory_mb / 1024 * price("sagemaker_serverless_pc_gb_hour")


@dataclass(frozen=True)
class RunCost:
    """What one practice step adds to the idle cost, by part; None where the table has no price."""

    parts: tuple[tuple[str, float | None], ...]

    @property
    def total(self) -> float | None:
        values = [usd for _, usd in self.parts]
        return None if any(v is None for v in values) else sum(values)


def _hours(key: str, instances: float, minutes: float) -> float | None:
    return price(key) * instances * minutes / 60 if has_price(key) else None


def step_cost(options: InferenceOptions, step: str, *, ways: tuple[str, ...] = WAYS,
              records: int = PRACTICE_RECORDS) -> RunCost:
    """One run of a practice step beyond the idle cost, with the minutes ``*_MINUTES`` assume."""
    host = hosting_price_key(options.instance_type)
    if step == "rollout":
        return RunCost((("new fleet, 2 instances", _hours(host, ROLLOUT_INSTANCES, ROLLOUT_MINUTES)),
                        ("back to version 1", _hours(host, options.realtime_instances, RESTORE_MINUTES))))
    if step == "shadow":
        return RunCost((("production and shadow instances", _hours(host, 2, SHADOW_MINUTES)),
                        ("back to version 1", _hours(host, options.realtime_instances, RESTORE_MINUTES))))
    parts: list[tuple[str, float | None]] = []
    if "serverless" in ways:
        seconds = options.serverless_memory_mb / 1024 * SERVERLESS_SECONDS_PER_REQUEST * (records + 1)
        parts.append((f"serverless, {records + 1} requests", seconds * serverless_gb_second()))
    if "async" in ways:
        parts.append((f"async, one instance ~{ASYNC_MINUTES} min", _hours(async_price_key(options.instance_type), 1,
                                                                         ASYNC_MINUTES)))
    if "batch" in ways:
        parts.append((f"batch transform, ~{TRANSFORM_MINUTES} billed min",
                      _hours(transform_price_key(options.instance_type), 1, TRANSFORM_MINUTES)))
    return RunCost(tuple(parts))


def idle_per_hour(options: InferenceOptions) -> float | None:
    """Real-time instances, provisioned concurrency, the key and the alarms; None without a hosting price."""
    host = hosting_price_key(options.instance_type)
    if not has_price(host):
        return None
    alarms = ALARM_METRICS * per_month_as_hourly("cloudwatch_alarm_metric_month")
    return (price(host) * options.realtime_instances + per_month_as_hourly("kms_key_month") + alarms
            + provisioned_per_hour(options.serverless_memory_mb, options.serverless_provisioned))


def cost(options: InferenceOptions) -> LabCost:
    """Idle: the real-time instance(s), serverless provisioned concurrency if any, the key and the alarms
    (async scales to zero, serverless bills per request). Per run: the table step's serverless requests,
    the async instance until it scales in again and the transform job; alternatives: rollout, shadow."""
    idle = idle_per_hour(options)
    table = step_cost(options, "table")
    if idle is None:
        return LabCost(idle_per_hour=per_month_as_hourly("kms_key_month"), per_practice_run=None,
                       run_note=f"no hosting price for {options.instance_type} in pricing/prices.toml (the idle "
                                "figure leaves the instances out)")
    others = tuple((step, total) for step in ("rollout", "shadow")
                   if (total := step_cost(options, step).total) is not None)
    return LabCost(idle_per_hour=idle, per_practice_run=table.total,
                   run_note=f"the table: {', '.join(label for label, _ in table.parts)}", alternatives=others)


# -- what AWS does with the lab's roles (labs permissions) ------------------------------------------
HOSTING_ROLE = "https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html#sagemaker-roles-createmodel-perms"
ASYNC_ROLE = "https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-create-endpoint-prerequisites.html"
TRANSFORM = "https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform.html"
GUARDRAILS = "https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html"
SNS_TO_SQS = "https://docs.aws.amazon.com/sns/latest/dg/subscribe-sqs-queue-to-sns-topic.html"
KMS_GRANTS = "https://docs.aws.amazon.com/sagemaker/latest/dg/api-permissions-reference.html"
_DATA = "${InferenceDataBucket*.Arn}"
_KEY = "${InferenceKey*.Arn}"
ROLE = "HostingRole*"

CALLS = (
    assumed(ROLE, "sagemaker.amazonaws.com", HOSTING_ROLE),
    *acting_as(ROLE, HOSTING_ROLE, [
        ("ecr:GetAuthorizationToken", "*"),
        ("ecr:BatchGetImage", "arn:${AWS::Partition}:ecr:${AWS::Region}:683313688378:repository/sagemaker-xgboost"),
        ("logs:PutLogEvents", arn("logs", f"log-group:{TRANSFORM_LOG_GROUP}:log-stream:mlref-inference-x/i-0")),
    ], purpose="SageMaker hosts the models and runs the transform job"),
    *acting_as(ROLE, ASYNC_ROLE, [
        ("s3:GetObject", f"{_DATA}/{ASYNC_INPUT}/run/0.csv"),
        ("s3:PutObject", f"{_DATA}/{ASYNC_OUTPUT}/x.out"),
        ("s3:PutObject", f"{_DATA}/{ASYNC_FAILURES}/x-error.out"),
        ("kms:GenerateDataKey", _KEY, via("s3")),
        ("kms:Decrypt", _KEY, via("s3")),
        ("sns:Publish", "${AsyncSuccessTopic*}"),
        ("sns:Publish", "${AsyncErrorTopic*}"),
        ("kms:GenerateDataKey", _KEY, via("sns")),
    ], purpose="SageMaker reads async requests, writes results and notifies"),
    *acting_as(ROLE, TRANSFORM, [
        ("s3:GetObject", f"{_DATA}/{TRANSFORM_INPUT}/run/records.csv"),
        ("s3:ListBucket", _DATA, {"s3:prefix": f"{TRANSFORM_INPUT}/run/"}),
        ("s3:PutObject", f"{_DATA}/{TRANSFORM_OUTPUT}/run/records.csv.out"),
    ], purpose="batch transform reads the file and writes the predictions"),
    *acting_as(ROLE, GUARDRAILS, [("cloudwatch:DescribeAlarms", arn("cloudwatch", "alarm:<RollbackAlarmName>"))],
               purpose="deployment guardrails read the rollback alarm"),
    *acting_as("sns.amazonaws.com", SNS_TO_SQS, [
        ("sqs:SendMessage", "${AsyncQueue*.Arn}", {"aws:SourceArn": "${AsyncSuccessTopic*}"}),
        ("sqs:SendMessage", "${AsyncQueue*.Arn}", {"aws:SourceArn": "${AsyncErrorTopic*}"}),
    ], purpose="SNS delivers the async notifications to the queue"),
    # A transform job's volume and output under the lab key: SageMaker makes a grant for the caller's job,
    # which the key allows only for an AWS resource (LabKey's DenyGrantsNotForAwsResources).
    Call(CALLER, "kms:CreateGrant", _KEY, KMS_GRANTS, {"kms:GrantIsForAWSResource": "true", **via("sagemaker")},
         purpose="SageMaker encrypts the transform job's volume and output for the caller"),
    refused("sns.amazonaws.com", "sqs:SendMessage", "${AsyncQueue*.Arn}",
            "only the lab's two topics deliver to its queue", SNS_TO_SQS,
            context={"aws:SourceArn": arn("sns", "someone-elses-topic")}),
    refused(ROLE, "s3:GetObject", f"{_DATA}/{TRANSFORM_OUTPUT}/run/records.csv.out",
            "the hosting role reads requests and batch input, never results"),
    refused(ROLE, "sns:Publish", arn("sns", "someone-elses-topic"), "SageMaker notifies the lab's topics only"),
)

EXERCISES = (
    Exercise("table", ("3.1", "3.2", "4.2"), (
        "Evaluating performance, cost, and latency tradeoffs",
        "Model and endpoint requirements for deployment endpoints",
        "How to compare scaling policies", "Difference between on-demand and provisioned resources")),
    Exercise("rollout", ("3.3", "4.1"), (
        "Deployment strategies and rollback actions",
        "Monitoring workflows to detect anomalies or errors in data processing or model inference")),
    Exercise("shadow", ("2.3", "4.1"), (
        "Comparing the performance of a shadow variant to the performance of a production variant",)),
)

CONTRACT = LabContract(
    name="inference",
    stack_name=STACK_NAME,
    demonstrates="One model served four ways (real-time, serverless, asynchronous scaling to zero, batch transform) "
                 "and measured side by side; blue/green rollouts with alarm rollback; a shadow variant",
    exams=ExamDomains(MLS_OPERATIONS, (MLA_D2, MLA_D3, MLA_D4)),
    options_type=InferenceOptions,
    parse=parse,
    outputs=OUTPUTS,
    cost=cost,
    stack="stacks.inference:InferenceStack",
    practice="labs.practice.inference.command:InferencePractice",
    context_keys=CONTEXT_KEYS,
    practice_flags=(
        Flag("step", "what to practise: the measured table, a rollout, or a shadow variant", str, "table",
             choices=STEPS, positional=True),
        Flag("ways", f"table rows, comma-separated: {', '.join(WAYS)} (default all)", str, None, metavar="W,W"),
        Flag("records", f"records sent through each way (1 to {MAX_RECORDS})", int, PRACTICE_RECORDS, metavar="N"),
        Flag("concurrency", f"parallel requests to real-time and serverless (1 to {MAX_CONCURRENCY})", int,
             PRACTICE_CONCURRENCY, metavar="C"),
        Flag("strategy", "rollout traffic shifting", str, "canary", choices=STRATEGIES),
        Flag("broken", "roll out a version whose invocations fail, to watch the alarm roll it back", bool, False,
             spelled="--break"),
        Flag("bake_seconds", f"rollout: seconds each traffic step bakes ({BAKE_RANGE[0]} to {BAKE_RANGE[1]})", int,
             DEFAULT_BAKE_SECONDS, metavar="S"),
        Flag("restore", "rollout: only put the real-time endpoint back on version 1", bool, False),
        YES,
    ),
    preflight="labs.practice.inference.checks:check_inference_account",
    variants=(Variant("provisioned", {"inference_serverless_provisioned": "1"},
                      note="serverless provisioned concurrency 1"),),
    exercises=EXERCISES,
    calls=CALLS,
)
