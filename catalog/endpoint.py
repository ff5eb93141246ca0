"""The endpoint lab's contract: a SageMaker real-time endpoint (HA, A/B variants, auto scaling,
data capture, Model Monitor), or a serverless one."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from catalog.base import ConfigError, ContextKey, Flag, LabContract, Output, Variant, choice
from catalog.calls import acting_as, assumed, refused, via
from catalog.exam import MLS_OPERATIONS, ExamDomains, Exercise
from catalog.prices import LabCost, has_price, per_month_as_hourly, price
from catalog.sagemaker import INSTANCE_TYPE
from catalog.sagemaker_images import IMAGE_ACCOUNTS

# The cheapest SageMaker hosting type that auto-scales: burstable ml.t* types cannot, and
# ml.c5.large (2 vCPU, 4 GiB, EBS only, so the volume takes the lab key) lists below ml.m5.large.
DEFAULT_INSTANCE_TYPE = "ml.c5.large"
BURSTABLE_PREFIX = "ml.t"
# Families with local NVMe storage: SageMaker refuses KmsKeyId on their endpoint configs.
LOCAL_STORAGE_FAMILIES = {"g4dn", "g5", "g6", "g6e", "p3dn", "p4d", "p4de", "p5", "p5e", "inf2", "trn1"}

VARIANT_A, VARIANT_B = "VariantA", "VariantB"
INSTANCES_A, INSTANCES_B = 2, 1  # two for A, so AWS places them in different zones
WEIGHTS = {VARIANT_A: 0.8, VARIANT_B: 0.2}
SHIFTED_WEIGHTS = {VARIANT_A: 0.9, VARIANT_B: 0.1}  # what the practice shifts traffic to
MIN_CAPACITY, MAX_CAPACITY = INSTANCES_A, 4
TARGET_INVOCATIONS_PER_INSTANCE = 100.0  # per minute (SageMakerVariantInvocationsPerInstance)
SCALE_OUT_COOLDOWN, SCALE_IN_COOLDOWN = 60, 300
SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
SERVERLESS_MEMORY_MB, SERVERLESS_MAX_CONCURRENCY = 2048, 5

CAPTURE_PREFIX, BASELINE_PREFIX, MONITORING_PREFIX = "capture", "baseline", "monitoring"
BASELINE_DATASET, BASELINE_RESULTS = f"{BASELINE_PREFIX}/dataset", f"{BASELINE_PREFIX}/results"
CAPTURE_SAMPLING_PERCENT = 100
MONITOR_INSTANCE_TYPE, MONITOR_VOLUME_GB = "ml.m5.large", 20
MONITOR_MAX_RUNTIME_SECONDS = 1800
MONITOR_JOB_MINUTES = 10  # billable minutes of a baseline job or a monitoring execution on this data
SCHEDULE_NAME = "mlref-endpoint-data-quality"
HOURLY = "cron(0 * ? * * *)"
# Service log groups: the endpoint's (created by the stack), and the monitoring jobs' (shared).
METRICS_NAMESPACES = ("/aws/sagemaker/Endpoints/*", "aws/sagemaker/Endpoints/*")

PRACTICE_REQUESTS, MAX_REQUESTS = 100, 2000
DRIFT_FACTOR = 3  # drifted requests per normal request, so drift dominates the analysed hour
MAX_LOAD_MINUTES = 15
LOAD_REQUESTS_PER_SECOND = 10  # the load step's hard cap on its rate
SERVERLESS_SECONDS_PER_REQUEST = 0.05  # billed duration, warm; the cold start adds a few seconds once


class EndpointType(str, enum.Enum):  # noqa: UP042 - StrEnum would change what str() and f-strings print
    REALTIME = "realtime"
    SERVERLESS = "serverless"


@dataclass(frozen=True)
class EndpointOptions:
    """Options of the endpoint lab.

    Attributes:
        endpoint_type: realtime (instances, A/B, scaling, capture, monitor; default) or serverless.
        instance_type: the real-time variants' instance type (not burstable: those cannot auto-scale).
        monitor: real-time only: the Model Monitor job definition and hourly schedule (default on).
    """

    endpoint_type: EndpointType = EndpointType.REALTIME
    instance_type: str = DEFAULT_INSTANCE_TYPE
    monitor: bool = True

    @property
    def realtime(self) -> bool:
        return self.endpoint_type is EndpointType.REALTIME

    @property
    def monitored(self) -> bool:
        return self.realtime and self.monitor

    @property
    def variants(self) -> tuple[str, ...]:
        return (VARIANT_A, VARIANT_B) if self.realtime else (VARIANT_A,)

    @property
    def volume_key_allowed(self) -> bool:
        """KmsKeyId on the endpoint config: refused for instance types with local NVMe storage."""
        family = self.instance_type.split(".")[1]
        return self.realtime and family not in LOCAL_STORAGE_FAMILIES and not family.endswith("d")


CONTEXT_KEYS = (
    ContextKey("endpoint_type", EndpointType.REALTIME.value, "realtime, serverless"),
    ContextKey("endpoint_instance_type", DEFAULT_INSTANCE_TYPE,
               "a non-burstable SageMaker hosting type, e.g. ml.m5.large"),
    ContextKey("endpoint_monitor", "on", "on, off (realtime: the Model Monitor schedule)"),
)


def parse(context: Mapping[str, object], region: str) -> EndpointOptions:
    endpoint_type = EndpointType(choice(context, "endpoint_type", [t.value for t in EndpointType],
                                        EndpointType.REALTIME.value))
    instance_type = str(context.get("endpoint_instance_type") or DEFAULT_INSTANCE_TYPE).strip()
    if instance_type.startswith(BURSTABLE_PREFIX):
        raise ConfigError(f"endpoint_instance_type={instance_type!r} is burstable and cannot auto-scale; use "
                          f"e.g. -c endpoint_instance_type={DEFAULT_INSTANCE_TYPE}")
    if not INSTANCE_TYPE.fullmatch(instance_type):
        raise ConfigError(f"endpoint_instance_type={instance_type!r} is not a SageMaker instance type "
                          f"(e.g. -c endpoint_instance_type={DEFAULT_INSTANCE_TYPE})")
    monitor = choice(context, "endpoint_monitor", ["on", "off"], "on") == "on"
    if region not in IMAGE_ACCOUNTS:
        raise ConfigError(f"region {region} has no SageMaker XGBoost 1.7-1 and Model Monitor images in this lab's "
                          f"map; deploy in one of: {', '.join(IMAGE_ACCOUNTS)} (e.g. AWS_REGION=us-east-1)")
    return EndpointOptions(endpoint_type=endpoint_type, instance_type=instance_type, monitor=monitor)


def _realtime(options: EndpointOptions) -> bool:
    return options.realtime


def _monitored(options: EndpointOptions) -> bool:
    return options.monitored


ENDPOINT = Output("EndpointName", "the endpoint")
ENDPOINT_TYPE = Output("EndpointType", "realtime or serverless")
VARIANTS = Output("VariantNames", "the production variants, comma-separated")
LOG_GROUP = Output("EndpointLogGroupName", "the endpoint's log group (the stack owns it)")
KEY = Output("KeyArn", "the lab's KMS key")
SCALABLE_RESOURCE = Output("ScalableResourceId", "variant A's Application Auto Scaling resource id",
                           when=_realtime)
DATA_BUCKET = Output("InferenceDataBucketName", "captured requests, the baseline and monitoring reports",
                     when=_realtime)
CAPTURE_URI = Output("CaptureS3Uri", "where data capture writes", when=_realtime)
BASELINE_URI = Output("BaselineS3Uri", "baseline dataset and results (statistics.json, constraints.json)",
                      when=_monitored)
MONITORING_URI = Output("MonitoringS3Uri", "where monitoring executions write their reports", when=_monitored)
MONITOR_ROLE = Output("MonitorRoleArn", "the role of the baseline job and the monitoring executions",
                      when=_monitored)
JOB_DEFINITION = Output("DataQualityJobDefinitionName", "the data-quality job definition", when=_monitored)
SCHEDULE = Output("MonitoringScheduleName", "the hourly monitoring schedule", when=_monitored)
OUTPUTS = (ENDPOINT, ENDPOINT_TYPE, VARIANTS, LOG_GROUP, KEY, SCALABLE_RESOURCE, DATA_BUCKET, CAPTURE_URI,
           BASELINE_URI, MONITORING_URI, MONITOR_ROLE, JOB_DEFINITION, SCHEDULE)


def hosting_price_key(instance_type: str) -> str:
    """``ml.c5.large`` -> ``sagemaker_hosting_ml_c5_large_hour`` in pricing/prices.toml."""
    return "sagemaker_hosting_" + instance_type.replace(".", "_").replace("-", "_") + "_hour"


def load_cost(options: EndpointOptions, minutes: int) -> float | None:
    """Scaling out under ``minutes`` of load: up to two more instances of A, for the load and
    the ~15 minutes target tracking waits before scaling in again."""
    key = hosting_price_key(options.instance_type)
    if not has_price(key):
        return None
    return price(key) * (MAX_CAPACITY - MIN_CAPACITY) * (minutes + 15) / 60


def cost(options: EndpointOptions) -> LabCost:
    """Idle: the instances (realtime) and one key; a serverless endpoint bills only while it
    answers. Per run: the baseline job and one monitoring execution (ml.m5.large, about ten
    billable minutes each); serverless: each request's duration at its memory size."""
    key = per_month_as_hourly("kms_key_month")
    if not options.realtime:
        requests = PRACTICE_REQUESTS + 1  # one cold, the rest warm
        gb_seconds = SERVERLESS_MEMORY_MB / 1024 * SERVERLESS_SECONDS_PER_REQUEST * requests
        return LabCost(idle_per_hour=key, per_practice_run=price("sagemaker_serverless_gb_hour") * gb_seconds / 3600,
                       run_note=f"{requests} requests at {SERVERLESS_MEMORY_MB} MB; no idle instances")
    hosting = hosting_price_key(options.instance_type)
    jobs = price("sagemaker_processing_ml_m5_large_hour") * MONITOR_JOB_MINUTES / 60 * 2 if options.monitored else 0.0
    if not has_price(hosting):
        return LabCost(idle_per_hour=key, per_practice_run=None,
                       run_note=f"no hosting price for {options.instance_type} in pricing/prices.toml "
                                "(the idle figure leaves the instances out)")
    instances = (INSTANCES_A + INSTANCES_B) * price(hosting)
    load = load_cost(options, 10)
    return LabCost(idle_per_hour=instances + key, per_practice_run=jobs,
                   run_note=(f"baseline job + one monitoring execution, ~{MONITOR_JOB_MINUTES} minutes each on "
                             f"{MONITOR_INSTANCE_TYPE}" if options.monitored else "requests only; no jobs"),
                   alternatives=(("--load-minutes 10", jobs + load),) if load is not None else ())



# -- what AWS does with the lab's roles, and what must be refused (labs permissions) ----------------
HOSTING_ROLE = "https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html#sagemaker-roles-createmodel-perms"
MONITOR_ROLE_PAGE = "https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-quality.html"
DATA_CAPTURE = "https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture-endpoint.html"
_DATA = "${InferenceDataBucket*.Arn}"


def _realtime(options: EndpointOptions) -> bool:
    return options.endpoint_type is EndpointType.REALTIME


CALLS = (
    assumed("HostingRole*", "sagemaker.amazonaws.com", HOSTING_ROLE),
    *acting_as("HostingRole*", HOSTING_ROLE, [
        ("ecr:GetAuthorizationToken", "*"),
        ("ecr:BatchGetImage", "arn:${AWS::Partition}:ecr:${AWS::Region}:683313688378:repository/sagemaker-xgboost"),
    ], purpose="SageMaker hosts the model"),
    *acting_as("HostingRole*", DATA_CAPTURE, [
        ("s3:PutObject", _DATA + "/capture/x/VariantA/2026/12/01/12/capture.jsonl"),
        ("kms:GenerateDataKey", "${EndpointKey*.Arn}", via("s3")),
    ], when=_realtime, purpose="SageMaker captures the endpoint's traffic"),
    assumed("MonitorRole*", "sagemaker.amazonaws.com", MONITOR_ROLE_PAGE, present="MonitorRole*"),
    *acting_as("MonitorRole*", MONITOR_ROLE_PAGE, [
        ("s3:GetObject", _DATA + "/capture/x/VariantA/2026/12/01/12/capture.jsonl"),
        ("s3:ListBucket", _DATA, {"s3:prefix": "capture/x"}), ("s3:GetBucketLocation", _DATA),
        ("s3:PutObject", _DATA + "/monitoring/x/constraint_violations.json"),
        ("kms:Decrypt", "${EndpointKey*.Arn}", via("s3")),
        ("ecr:GetAuthorizationToken", "*"),
    ], present="MonitorRole*", purpose="Model Monitor's baseline and executions"),
    refused("HostingRole*", "s3:PutObject", _DATA + "/baseline/results/statistics.json",
            "the hosting role writes captured traffic only", when=_realtime),
)

# The practice's steps, as it announces them, and what of MLA-C01 each exercises (catalog/exam.py).
STEP_BASELINE = "start baseline"
STEP_INVOKE = "invoke variants"
STEP_SHIFT = "traffic shift"
STEP_SCALING = "auto scaling"
STEP_CAPTURE = "data capture"
STEP_DRIFT = "drift check"
STEP_SERVERLESS = "serverless cold start"
_REQUIREMENTS = "Model and endpoint requirements for deployment endpoints"
_MODEL_MONITOR = "Monitoring models in production"
EXERCISES = (
    Exercise(STEP_BASELINE, ("4.1",), (_MODEL_MONITOR, "Techniques to monitor data quality and model performance")),
    Exercise(STEP_INVOKE, ("3.1",), (_REQUIREMENTS,)),  # a real-time endpoint with two production variants
    Exercise(STEP_SHIFT, ("3.1", "4.1"), (
        "Deployment best practices",  # weights shifted, then restored
        "Monitoring model performance in production by using A/B testing",
    )),
    Exercise(STEP_SCALING, ("3.2", "4.2"), (
        "How to use SageMaker AI endpoint auto scaling policies to meet scalability requirements",
        "Choosing specific metrics for auto scaling",  # invocations per instance
        "Monitoring and resolving latency and scaling issues",
    )),
    Exercise(STEP_CAPTURE, ("4.1",), (_MODEL_MONITOR,)),
    Exercise(STEP_DRIFT, ("4.1",), (
        "Drift in ML models", _MODEL_MONITOR,
        "Detecting changes in the distribution of data that can affect model performance",
    )),
    Exercise(STEP_SERVERLESS, ("3.1",), (_REQUIREMENTS, "Evaluating performance, cost, and latency tradeoffs")),
)

CONTRACT = LabContract(
    name="endpoint",
    stack_name="mlref-endpoint",
    demonstrates="SageMaker real-time endpoint: two AZ-spread instances, A/B variants, auto scaling, data capture, "
                 "Model Monitor; or serverless",
    exams=ExamDomains(MLS_OPERATIONS),
    options_type=EndpointOptions,
    parse=parse,
    outputs=OUTPUTS,
    cost=cost,
    stack="stacks.endpoint:EndpointStack",
    practice="labs.practice.endpoint.command:EndpointPractice",
    context_keys=CONTEXT_KEYS,
    practice_flags=(
        Flag("requests", f"requests per traffic step (1 to {MAX_REQUESTS})", int, PRACTICE_REQUESTS, metavar="N"),
        Flag("load_minutes", f"minutes of load to trigger auto scaling (0 to {MAX_LOAD_MINUTES}; 0: show the policy)",
             int, 0, metavar="M"),
    ),
    preflight="labs.practice.endpoint.checks:check_endpoint_account",
    variants=(Variant("serverless", {"endpoint_type": "serverless"}, note="serverless"),),
    exercises=EXERCISES,
    calls=CALLS,
)
