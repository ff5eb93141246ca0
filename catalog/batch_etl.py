"""The batch-etl lab's contract: batch ingestion and transformation with Glue (or EMR Serverless
Spark), orchestrated by Step Functions, checked by Glue Data Quality."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass

from catalog.base import ConfigError, ContextKey, Flag, LabContract, Output, Variant, choice
from catalog.calls import GLUE_CRAWLER, GLUE_JOB_ROLE, acting_as, arn, assumed, refused, via
from catalog.exam import MLS_DATA_ENGINEERING, ExamDomains, Exercise
from catalog.prices import LabCost, athena_minimum_queries, per_month_as_hourly, price

DATABASE_PREFIX = "mlref_batch_etl"  # the janitor sweeps only mlref_* databases
INCOMING_PREFIX = "incoming/"  # arrivals here start the workflow
UPLOAD_PREFIX = "incoming/customers/"
CURATED_PREFIX = "customers/"
CURATED_TABLE = "customers"  # the curated crawler names the table after its folder
REJECTED_PREFIX = "rejected/"
RUNS_PREFIX = "_runs/"
STATE_PREFIX = "_state/"  # EMR's own bookmark, outside incoming/ so writing it starts nothing
TEMP_PREFIX = "glue-temp/"
EMR_RELEASE_LABEL = "emr-7.9.0"  # Spark 3.5.5; Glue 5.0 runs Spark 3.5.4
GLUE_VERSION = "5.0"
GLUE_WORKERS = 2  # G.1X: 1 DPU each; 2 is the smallest G.1X job
QUALITY_WORKERS = 2  # G.1X workers of each data-quality evaluation run
CRAWLER_DPUS = 2  # what a small crawl bills (unverified: AWS does not publish the count per crawl)
CRAWL_MINIMUM_MINUTES = 10
GLUE_MINIMUM_MINUTES = 1
PRACTICE_JOB_MINUTES = 2  # a practice batch: start-up plus well under a minute of work
PRACTICE_QUALITY_MINUTES = 2
PRACTICE_TRANSITIONS = 80  # state transitions of one execution, polling loops included
PRACTICE_QUERIES = 2
# EMR Serverless job size: driver 1 vCPU, one executor of 2 vCPU (workers get 2 GB + overhead per vCPU).
EMR_DRIVER = (1, 3)  # vCPU, GB billed
EMR_EXECUTOR = (2, 5)
EMR_MAX_CAPACITY = ("4 vCPU", "16 GB")
# What each job run asks for; EMR Serverless adds memory overhead and rounds workers up to whole GB.
SPARK_CONF = {"spark.driver.cores": str(EMR_DRIVER[0]), "spark.driver.memory": "2g",
              "spark.executor.cores": str(EMR_EXECUTOR[0]), "spark.executor.memory": "4g",
              "spark.executor.instances": "1", "spark.dynamicAllocation.enabled": "false"}
PRACTICE_EMR_MINUTES = 4  # workers up to job end; each worker bills at least a minute
DEFAULT_PRODUCTION_SCHEDULE = "cron(0 3 * * ? *)"  # daily at 03:00 UTC
PRACTICE_ROWS = 500
PRACTICE_DEFECT_RATE = 0.1
RATE = re.compile(r"rate\(([0-9]+) (minute|minutes|hour|hours|day|days)\)")  # fullmatch
CRON = re.compile(r"cron\((\S+( \S+){5})\)")  # fullmatch
MIN_RATE_MINUTES = 60  # a run takes 10-20 minutes (two crawls); more often only piles executions up


class Engine(str, enum.Enum):  # noqa: UP042 - StrEnum would change what str() and f-strings print
    GLUE = "glue"
    EMR_SERVERLESS = "emr-serverless"


@dataclass(frozen=True)
class BatchEtlOptions:
    """Options of the batch-etl lab.

    Attributes:
        engine: glue (a Glue 5.0 job, default) or emr-serverless (the same rules as a PySpark
            job on an EMR Serverless application).
        schedule: an EventBridge Scheduler expression (``rate(1 day)``, ``cron(0 3 * * ? *)``),
            ``off``, or None for the profile's default (sandbox: off; production: daily at 03:00 UTC).
        bytes_scanned_cutoff: Athena's per-query scan limit.
    """

    engine: Engine = Engine.GLUE
    schedule: str | None = None
    bytes_scanned_cutoff: int = 1024**3

    @property
    def glue(self) -> bool:
        return self.engine is Engine.GLUE

    def schedule_for(self, *, sandbox: bool) -> str | None:
        """The schedule expression the stack creates, None for no schedule."""
        if self.schedule == "off":
            return None
        return self.schedule or (None if sandbox else DEFAULT_PRODUCTION_SCHEDULE)


CONTEXT_KEYS = (
    ContextKey("etl_engine", "glue", "glue (Glue 5.0 job), emr-serverless (PySpark on EMR Serverless)"),
    ContextKey("etl_schedule", "off in sandbox, daily in production",
               "rate(N hours|days), cron(6 fields) or off: an EventBridge Scheduler expression"),
)


def check_schedule(value: str) -> str:
    """``value`` if it is ``off``, a rate of at least an hour or a six-field cron; else a one-line ConfigError."""
    hint = "(e.g. -c 'etl_schedule=rate(1 day)' or -c 'etl_schedule=cron(0 3 * * ? *)' or -c etl_schedule=off)"
    if value == "off" or CRON.fullmatch(value):
        return value
    rate = RATE.fullmatch(value)
    if not rate:
        raise ConfigError(f"etl_schedule={value!r} is not an EventBridge Scheduler expression {hint}")
    amount, unit = int(rate.group(1)), rate.group(2)
    if amount < 1 or (amount == 1) != (not unit.endswith("s")):
        raise ConfigError(f"etl_schedule={value!r}: write rate(1 day) but rate(2 days), and at least 1 {hint}")
    minutes = amount * {"minute": 1, "hour": 60, "day": 1440}[unit.rstrip("s")]
    if minutes < MIN_RATE_MINUTES:
        raise ConfigError(f"etl_schedule={value!r} runs more often than a run can finish (10-20 minutes); "
                          f"use rate(1 hour) or slower {hint}")
    return value


def parse(context: Mapping[str, object], _region: str) -> BatchEtlOptions:
    engine = Engine(choice(context, "etl_engine", [e.value for e in Engine], Engine.GLUE.value))
    raw = str(context.get("etl_schedule") or "").strip()
    return BatchEtlOptions(engine=engine, schedule=check_schedule(raw) if raw else None)


def _glue(options: BatchEtlOptions) -> bool:
    return options.glue


def _emr(options: BatchEtlOptions) -> bool:
    return not options.glue


ENGINE = Output("Engine", "glue or emr-serverless")
STATE_MACHINE = Output("StateMachineArn", "the ETL workflow")
RAW_BUCKET = Output("RawBucketName", "the raw zone bucket (arrivals under incoming/ start the workflow)")
UPLOAD_PREFIX_OUTPUT = Output("UploadPrefix", "where new customer files go")
CURATED_BUCKET = Output("CuratedBucketName", "the curated zone bucket (Parquet, rejected rows, run counts)")
CURATED_PREFIX_OUTPUT = Output("CuratedPrefix", "the curated table's location in the curated bucket")
REJECTED_PREFIX_OUTPUT = Output("RejectedPrefix", "quarantined rows with their reason")
RAW_DATABASE = Output("RawDatabaseName", "Glue database of the raw zone")
CURATED_DATABASE = Output("CuratedDatabaseName", "Glue database of the curated zone")
CURATED_TABLE_OUTPUT = Output("CuratedTableName", "the curated table the crawler maintains")
RAW_CRAWLER = Output("RawCrawlerName", "the raw zone's crawler")
CURATED_CRAWLER = Output("CuratedCrawlerName", "the curated zone's crawler")
RULESET = Output("RulesetName", "the Glue Data Quality ruleset over curated batches")
WORKGROUP = Output("WorkgroupName", "the Athena workgroup")
SCHEDULE = Output("Schedule", "the schedule expression, or off")
KEY = Output("KeyArn", "the lab's KMS key")
GLUE_JOB = Output("GlueJobName", "the Glue ETL job", when=_glue)
EMR_APPLICATION = Output("EmrApplicationId", "the EMR Serverless application", when=_emr)
OUTPUTS = (ENGINE, STATE_MACHINE, RAW_BUCKET, UPLOAD_PREFIX_OUTPUT, CURATED_BUCKET, CURATED_PREFIX_OUTPUT,
           REJECTED_PREFIX_OUTPUT, RAW_DATABASE, CURATED_DATABASE, CURATED_TABLE_OUTPUT, RAW_CRAWLER, CURATED_CRAWLER,
           RULESET, WORKGROUP, SCHEDULE, KEY, GLUE_JOB, EMR_APPLICATION)


def glue_minutes(workers: int, minutes: float) -> float:
    """USD of a Glue job or data-quality run on ``workers`` G.1X workers (1 DPU each), 1-minute minimum."""
    return price("glue_etl_dpu_hour") * workers * max(minutes, GLUE_MINIMUM_MINUTES) / 60


def emr_run(minutes: float = PRACTICE_EMR_MINUTES) -> float:
    """USD of one EMR Serverless job of the lab's size (arm64 workers) running ``minutes``."""
    vcpu = EMR_DRIVER[0] + EMR_EXECUTOR[0]
    memory = EMR_DRIVER[1] + EMR_EXECUTOR[1]
    return (vcpu * price("emr_serverless_arm_vcpu_hour") + memory * price("emr_serverless_arm_gb_hour")) * minutes / 60


def cost(options: BatchEtlOptions) -> LabCost:
    """Idle: one key (jobs, crawlers, the ruleset, the state machine and an EMR Serverless application
    with no initial capacity bill nothing while idle). Per run: two crawls at their 10-minute minimum,
    the transform (Glue: 2 DPU for about 2 minutes; EMR: 3 vCPU and 8 GB for about 4 minutes), one
    data-quality run (2 DPU, about 2 minutes), the state transitions and two Athena queries."""
    crawls = 2 * price("glue_crawler_dpu_hour") * CRAWLER_DPUS * CRAWL_MINIMUM_MINUTES / 60
    transform = glue_minutes(GLUE_WORKERS, PRACTICE_JOB_MINUTES) if options.glue else emr_run()
    quality = glue_minutes(QUALITY_WORKERS, PRACTICE_QUALITY_MINUTES)
    transitions = price("step_functions_transition_thousand") * PRACTICE_TRANSITIONS / 1000
    engine = "Glue job 2 DPU ~2 min" if options.glue else "EMR Serverless 3 vCPU/8 GB ~4 min"
    return LabCost(idle_per_hour=per_month_as_hourly("kms_key_month"),
                   per_practice_run=(crawls + transform + quality + transitions
                                     + athena_minimum_queries(PRACTICE_QUERIES)),
                   run_note=f"two crawls at the 10-minute minimum, {engine}, one data-quality run")




# -- the state machine's states, as the practice follows an execution -----------------------
# What each state belongs to, for following an execution (labs/practice/batch_etl/command.py).
PHASES = {"Start": "start", "ListRunningExecutions": "queue", "IsOldestExecution": "queue", "Transform": "transform",
          "TransformFailed": "transform", "ReadCounts": "counts", "AnyNewRows": "counts", "NothingNew": "report",
          "Report": "report", "WithdrawBatch": "data quality", "AllRulesPassed": "data quality",
          "ListFailedRules": "data quality"}
PHASE_MARKERS = (("RawCrawl", "crawl raw"), ("CuratedCrawl", "crawl curated"), ("Quality", "data quality"),
                 ("Queue", "queue"))


# The calls that repeat inside polling loops, and the loops' other states.
POLL_CALLS = frozenset({"ListRunningExecutions", "GetRawCrawl", "GetCuratedCrawl", "GetQualityRun"})
POLL_CHECKS = frozenset({"IsOldestExecution", "IsRawCrawlDone", "IsCuratedCrawlDone", "QualityRunState"})


def is_polling(state: str) -> bool:
    """Whether ``state`` repeats while the workflow waits (printed as one summary per phase)."""
    return state in POLL_CALLS or state in POLL_CHECKS or state.startswith(("Count", "Limit", "WaitFor"))


def phase_of(state: str) -> str:
    """The phase a state belongs to (``crawl raw``, ``transform``, ...), loop states included."""
    if state in PHASES:
        return PHASES[state]
    return next((phase for marker, phase in PHASE_MARKERS if marker in state), "other")


# -- what AWS does with the lab's roles, and what must be refused (labs permissions) ----------------
STEP_FUNCTIONS_GLUE = "https://docs.aws.amazon.com/step-functions/latest/dg/connect-glue.html"
EVENTBRIDGE_ROLE = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-identity-based.html"
_RAW = "${RawZoneBucket*.Arn}/incoming/dt=2026-01-05/x.csv"
CALLS = (
    assumed("WorkflowExecutionRole*", "states.amazonaws.com", STEP_FUNCTIONS_GLUE),
    *acting_as("WorkflowExecutionRole*", STEP_FUNCTIONS_GLUE, [
        ("glue:StartCrawler", arn("glue", "crawler/${RawCrawler*}")),
        ("glue:GetCrawler", arn("glue", "crawler/${RawCrawler*}")),
        ("iam:PassRole", "${CuratedQualityEvaluationRole*.Arn}", {"iam:PassedToService": "glue.amazonaws.com"}),
    ], purpose="the workflow's states"),
    *acting_as("WorkflowExecutionRole*", STEP_FUNCTIONS_GLUE, [
        ("glue:StartJobRun", arn("glue", "job/${GlueEtlJob*}")), ("glue:GetJobRun", arn("glue", "job/${GlueEtlJob*}")),
        ("glue:BatchStopJobRun", arn("glue", "job/${GlueEtlJob*}")),
    ], present="GlueEtlJob*", purpose="startJobRun.sync"),
    assumed("OnArrivalStarterRole*", "events.amazonaws.com", EVENTBRIDGE_ROLE),
    *acting_as("OnArrivalStarterRole*", EVENTBRIDGE_ROLE, [("states:StartExecution", "${WorkflowStateMachine*}")],
               purpose="an upload starts the workflow"),
    assumed("RawCrawlerAccessRole*", "glue.amazonaws.com", GLUE_CRAWLER),
    *acting_as("RawCrawlerAccessRole*", GLUE_CRAWLER, [
        ("s3:GetObject", _RAW), ("kms:Decrypt", "${BatchEtlKey*.Arn}", via("s3")),
        ("glue:CreateTable", arn("glue", "table/mlref_batch_etl_raw/incoming")),
    ], purpose="the raw-zone crawler"),
    assumed("GlueEtlAccessRole*", "glue.amazonaws.com", GLUE_JOB_ROLE, present="GlueEtlJob*"),
    *acting_as("GlueEtlAccessRole*", GLUE_JOB_ROLE, [
        ("s3:GetObject", _RAW), ("s3:PutObject", "${CuratedZoneBucket*.Arn}/customers/split=train/part-0.parquet"),
        ("kms:GenerateDataKey", "${BatchEtlKey*.Arn}", via("s3")),
    ], present="GlueEtlJob*", purpose="the Glue ETL job"),
    refused("GlueEtlAccessRole*", "s3:PutObject", _RAW, "the job reads the raw zone and never rewrites it",
            when=lambda o: o.engine.value == "glue"),
)

# The practice's steps, as it announces them, and what of MLA-C01 each exercises (catalog/exam.py).
STEP_UPLOAD = "upload batch"
STEP_FOLLOW = "follow workflow"
STEP_RESULTS = "check results"
EXERCISES = (
    Exercise(STEP_UPLOAD, ("1.1", "3.3"), (  # the file's arrival starts the workflow (EventBridge, Step Functions)
        "Automation and integration of data ingestion with orchestration services",
    )),
    Exercise(STEP_FOLLOW, ("1.2", "4.1"), (  # Glue (or EMR Serverless Spark) de-duplicates, imputes, standardizes
        "Data cleaning and transformation techniques", "Transforming data by using AWS tools",
        # every state as it ends; a failed state's error and cause
        "Monitoring workflows to detect anomalies or errors in data processing or model inference",
    )),
    Exercise(STEP_RESULTS, ("1.3",), (
        "Validating data quality",  # Glue Data Quality's rules and score
        "Preparing data to reduce prediction bias",  # train/validation/test split sizes, queried in Athena
    )),
)

CONTRACT = LabContract(
    name="batch-etl",
    stack_name="mlref-batch-etl",
    demonstrates="Batch ETL orchestrated by Step Functions: Glue 5.0 job (or EMR Serverless Spark) de-duplicates, "
                 "imputes or quarantines, standardizes and splits; Glue Data Quality; schedule and S3 arrival triggers",
    exams=ExamDomains(MLS_DATA_ENGINEERING),
    options_type=BatchEtlOptions,
    parse=parse,
    outputs=OUTPUTS,
    cost=cost,
    stack="stacks.batch_etl:BatchEtlStack",
    practice="labs.practice.batch_etl.command:BatchEtlPractice",
    context_keys=CONTEXT_KEYS,
    practice_flags=(
        Flag("rows", "how many raw rows to generate (20 to 20000)", int, PRACTICE_ROWS),
        Flag("defect_rate", "share of rows with one defect each (0 to 0.5)", float, PRACTICE_DEFECT_RATE),
    ),
    variants=(Variant("emr", {"etl_engine": "emr-serverless", "etl_schedule": "rate(1 day)"},
                      note="EMR Serverless Spark, daily schedule"),),
    exercises=EXERCISES,
    calls=CALLS,
)
