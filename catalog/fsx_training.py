"""The fsx-training lab's contract: SageMaker training jobs reading FSx for Lustre (or EFS)."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass

from catalog.base import YES, ConfigError, ContextKey, Flag, LabContract, Output, Variant, choice, is_zone_of
from catalog.calls import acting_as, arn, assumed, refused, via
from catalog.exam import MLS_MODELING, ExamDomains, Exercise
from catalog.prices import HOURS_PER_MONTH, LabCost, has_price, per_month_as_hourly, price
from catalog.sagemaker import INSTANCE_TYPE
from lambdas.shared.lab_names import TRAINING_LOG_GROUP

DATA_PREFIX = "train/"
DEFAULT_INSTANCE_TYPE = "ml.p3.2xlarge"
SEED_INSTANCE_TYPE = "ml.m5.large"  # the short CPU job that writes the data set (S3, and EFS on that variant)
ALTERNATIVES = ("ml.g5.xlarge", "ml.g4dn.xlarge")  # GPU types that usually have quota where P3 has none
# SageMaker instance types: ml.<family>.<size>, families may carry a hyphen (p6-b200).
FSX_SCRATCH_GIB = 1200
SPOT_DISCOUNT = 0.7  # managed spot typically bills ~70% less (AWS says up to 90%)

# The practice: the same read job once per input mode, over one data set written in the region.
MODES = ("file", "fastfile", "fsx", "efs")
MODE_ROWS = {  # the table rows each mode adds (fsx runs twice on the same file system)
    "file": ("S3 File",), "fastfile": ("S3 FastFile",),
    "fsx": ("FSx for Lustre, first run", "FSx for Lustre, repeated run"), "efs": ("EFS",),
}
DEFAULT_DATASET_GIB = 4
MAX_DATASET_GIB = 16
# Planning figures for the estimate (assumptions, not measurements): billable minutes every job
# spends around its reading (image pull, set-up, upload), and one pass over the set at this rate.
JOB_OVERHEAD_MINUTES = 5
PLANNING_MB_PER_S = 100
PREPARE_LABEL = "writing the data set"
GB_PER_GIB = 1024**3 / 1e9


class TrainingSource(str, enum.Enum):  # noqa: UP042 - StrEnum would change what str() and f-strings print
    FSX = "fsx"
    EFS = "efs"


@dataclass(frozen=True)
class FsxTrainingOptions:
    """Options of the fsx-training lab.

    Attributes:
        source: fsx (FSx for Lustre linked to the data bucket, default) or efs.
        instance_type: the training instance type the practice step uses.
        availability_zone: the zone of the file system and the jobs (default: the region's first).
    """

    source: TrainingSource = TrainingSource.FSX
    instance_type: str = DEFAULT_INSTANCE_TYPE
    availability_zone: str | None = None

    @property
    def fsx(self) -> bool:
        return self.source is TrainingSource.FSX


CONTEXT_KEYS = (
    ContextKey("training_source", "fsx", "fsx (FSx for Lustre), efs"),
    ContextKey("training_instance_type", DEFAULT_INSTANCE_TYPE, "a SageMaker instance type, e.g. ml.g5.xlarge"),
    ContextKey("training_az", "the region's first zone", "the zone of the training subnet and file system"),
)


def parse(context: Mapping[str, object], region: str) -> FsxTrainingOptions:
    source = TrainingSource(choice(context, "training_source", [s.value for s in TrainingSource],
                                   TrainingSource.FSX.value))
    instance_type = str(context.get("training_instance_type") or DEFAULT_INSTANCE_TYPE).strip()
    if not INSTANCE_TYPE.fullmatch(instance_type):
        raise ConfigError(f"training_instance_type={instance_type!r} is not a SageMaker instance type "
                          f"(e.g. -c training_instance_type={ALTERNATIVES[0]})")
    zone = str(context.get("training_az") or "").strip() or None
    if zone and not is_zone_of(zone, region):
        raise ConfigError(f"training_az={zone!r} is not a zone of {region} (e.g. -c training_az={region}a)")
    return FsxTrainingOptions(source=source, instance_type=instance_type, availability_zone=zone)


TRAINING_SOURCE = Output("TrainingSource", "fsx or efs")
FILE_SYSTEM_TYPE = Output("FileSystemType", "FSxLustre or EFS, as SageMaker's FileSystemDataSource names it")
FILE_SYSTEM_ID = Output("FileSystemId", "the training file system")
DIRECTORY_ROOT = Output("DirectoryRoot", "where the file system's data starts (/<mount name> for FSx)")
SUBNET = Output("SubnetId", "the training subnet (the file system's)")
SECURITY_GROUP = Output("SecurityGroupId", "the training jobs' security group")
EXECUTION_ROLE = Output("ExecutionRoleArn", "the SageMaker execution role of the jobs")
DATA_BUCKET = Output("DataBucketName", "the data bucket the file system links to")
DATA_PREFIX_OUTPUT = Output("DataPrefix", "the prefix of the training data")
OUTPUT_BUCKET = Output("OutputBucketName", "model artifacts, checkpoints and staged code")
INSTANCE_TYPE_OUTPUT = Output("InstanceType", "the practice jobs' instance type")
KEY = Output("KeyArn", "the lab's KMS key")
MOUNT_NAME = Output("MountName", "the Lustre mount name", when=lambda options: options.fsx)
OUTPUTS = (TRAINING_SOURCE, FILE_SYSTEM_TYPE, FILE_SYSTEM_ID, DIRECTORY_ROOT, SUBNET, SECURITY_GROUP,
           EXECUTION_ROLE, DATA_BUCKET, DATA_PREFIX_OUTPUT, OUTPUT_BUCKET, INSTANCE_TYPE_OUTPUT, KEY, MOUNT_NAME)


def instance_price_key(instance_type: str) -> str:
    """``ml.g5.xlarge`` -> ``sagemaker_ml_g5_xlarge_hour`` in pricing/prices.toml."""
    return "sagemaker_" + re.sub(r"[.-]", "_", instance_type) + "_hour"


def default_modes(options: FsxTrainingOptions) -> tuple[str, ...]:
    """Every mode the deployed variant has: the S3 modes, then its file system."""
    return ("file", "fastfile", "fsx" if options.fsx else "efs")


def job_cost(instance_type: str, minutes: float, *, spot: bool) -> float | None:
    """One training job of ``minutes`` billable minutes; None when the table has no price for the type."""
    key = instance_price_key(instance_type)
    if not has_price(key):
        return None
    return price(key) * minutes / 60 * ((1 - SPOT_DISCOUNT) if spot else 1)


def billed_cost(instance_type: str, billable_seconds: float) -> float | None:
    """What a finished job cost: SageMaker's BillableTimeInSeconds (already net of the spot saving)."""
    key = instance_price_key(instance_type)
    return price(key) * billable_seconds / 3600 if has_price(key) else None


def pass_minutes(dataset_gib: float, passes: int) -> float:
    """Billable minutes of a job that goes over the set ``passes`` times (download, read, write, copy)."""
    return JOB_OVERHEAD_MINUTES + passes * dataset_gib * 1024 / PLANNING_MB_PER_S / 60


@dataclass(frozen=True)
class JobEstimate:
    label: str
    instance_type: str
    spot: bool
    minutes: float
    usd: float | None  # the instance's billable minutes, plus efs_usd
    efs_usd: float = 0.0  # EFS Elastic Throughput: the bytes the job reads from or writes to EFS


def run_estimate(options: FsxTrainingOptions, *, modes: tuple[str, ...] | None = None, spot: bool = True,
                 dataset_gib: float = DEFAULT_DATASET_GIB, instance_type: str | None = None,
                 prepare: bool = True) -> list[JobEstimate]:
    """Each job of a practice run: one read job per table row (File mode downloads, then reads: two
    passes), and, when the set is not there yet, the on-demand job that writes it (generate and upload;
    on the EFS variant also copy into EFS). EFS Elastic Throughput bills the bytes read and written;
    S3 requests and transfer through the gateway endpoint are left out (well under a cent)."""
    chosen = instance_type or options.instance_type
    gigabytes = dataset_gib * GB_PER_GIB
    jobs = []
    if prepare:
        minutes = pass_minutes(dataset_gib, 2 if options.fsx else 3)
        usd = job_cost(SEED_INSTANCE_TYPE, minutes, spot=False)
        efs_writes = 0.0 if options.fsx else price("efs_elastic_write_gb") * gigabytes
        jobs.append(JobEstimate(PREPARE_LABEL, SEED_INSTANCE_TYPE, False, minutes,
                                None if usd is None else usd + efs_writes, efs_writes))
    for mode in modes or default_modes(options):
        minutes = pass_minutes(dataset_gib, 2 if mode == "file" else 1)
        usd = job_cost(chosen, minutes, spot=spot)
        efs_reads = price("efs_elastic_read_gb") * gigabytes if mode == "efs" else 0.0
        jobs.extend(JobEstimate(row, chosen, spot, minutes, None if usd is None else usd + efs_reads, efs_reads)
                    for row in MODE_ROWS[mode])
    return jobs


def run_cost(options: FsxTrainingOptions, *, modes: tuple[str, ...] | None = None, spot: bool = True,
             dataset_gib: float = DEFAULT_DATASET_GIB, instance_type: str | None = None,
             prepare: bool = True) -> float | None:
    """A practice run's estimate in USD; None when the table has no price for an instance type."""
    costs = [job.usd for job in run_estimate(options, modes=modes, spot=spot, dataset_gib=dataset_gib,
                                              instance_type=instance_type, prepare=prepare)]
    return None if None in costs else sum(costs)


def cost(options: FsxTrainingOptions) -> LabCost:
    """Idle: the file system (SCRATCH_2 1200 GiB; or EFS holding the practice's default set once it
    ran) and one key. Per run: the default practice (one managed-spot read job per table row over a
    4 GiB set, plus the first run's on-demand job that writes the set)."""
    if options.fsx:
        file_system = price("fsx_lustre_scratch2_gb_month") * FSX_SCRATCH_GIB / HOURS_PER_MONTH
    else:
        file_system = price("efs_standard_gb_month") * DEFAULT_DATASET_GIB * GB_PER_GIB / HOURS_PER_MONTH
    spot, on_demand = run_cost(options, spot=True), run_cost(options, spot=False)
    rows = sum(len(MODE_ROWS[mode]) for mode in default_modes(options))
    note = (f"{rows} spot read jobs on {options.instance_type} over a {DEFAULT_DATASET_GIB} GiB set, "
            f"and the {SEED_INSTANCE_TYPE} job that writes it")
    if spot is None:
        note = f"no price for {options.instance_type} in pricing/prices.toml"
    return LabCost(idle_per_hour=file_system + per_month_as_hourly("kms_key_month"), per_practice_run=spot,
                   run_note=note, alternatives=(("--on-demand", on_demand),) if on_demand is not None else ())



# -- what AWS does with the lab's roles, and what must be refused (labs permissions) ----------------
TRAINING_ROLE = "https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html#sagemaker-roles-createtrainingjob-perms"
_ROLE = "SageMakerExecutionRole*"
_LOGS = arn("logs", f"log-group:{TRAINING_LOG_GROUP}")
CALLS = (
    assumed(_ROLE, "sagemaker.amazonaws.com", TRAINING_ROLE),
    *acting_as(_ROLE, TRAINING_ROLE, [
        ("s3:GetObject", "${TrainingDataBucket*.Arn}/train/random-4gib/shard-000.bin"),
        ("s3:ListBucket", "${TrainingDataBucket*.Arn}", {"s3:prefix": "train/"}),
        ("s3:PutObject", "${TrainingOutputBucket*.Arn}/jobs/x/output/model.tar.gz"),
        ("s3:GetObject", "${TrainingOutputBucket*.Arn}/code/x/source/sourcedir.tar.gz"),
        ("kms:GenerateDataKey", "${TrainingKey*.Arn}", via("s3")),
        ("kms:Decrypt", "${TrainingKey*.Arn}", via("s3")),
        ("logs:CreateLogStream", _LOGS + ":*"), ("logs:PutLogEvents", _LOGS + ":log-stream:x/algo-1"),
        ("ecr:BatchGetImage", "arn:${AWS::Partition}:ecr:${AWS::Region}:763104351884:repository/pytorch-training"),
        ("ec2:CreateNetworkInterface", "*"), ("ec2:DescribeSubnets", "*"),
    ], purpose="SageMaker runs the training job"),
    refused(_ROLE, "s3:PutObject", "${TrainingDataBucket*.Arn}/elsewhere/x", "jobs write the data set under train/ "
            "and their results to the output bucket, nowhere else"),
)

# The practice's steps, as it announces them, and what of MLA-C01 each exercises (catalog/exam.py).
STEP_QUOTAS = "check quotas"
STEP_ESTIMATE = "estimate cost"
STEP_STAGE = "stage data set"
STEP_READ = "read jobs"
EXERCISES = (
    Exercise(STEP_QUOTAS, ("4.2",), ("Troubleshooting capacity concerns that involve cost and performance",)),
    Exercise(STEP_ESTIMATE, ("4.2",), ("Optimizing infrastructure costs by selecting purchasing options",)),
    Exercise(STEP_STAGE, ("1.3",), ("Configuring data to load into the model training resource",)),
    Exercise(STEP_READ, ("1.1", "2.2"), (  # one job per input mode, same data and instance, timed side by side
        "How to use the core AWS data sources",
        "AWS storage options, including use cases and tradeoffs",
        "Extracting data from storage by using relevant AWS service options",  # File, FastFile, FSx, EFS
        "Making initial storage decisions based on cost, performance, and data structure",
        "Methods to reduce model training time",  # no download before the script starts
    )),
)

CONTRACT = LabContract(
    name="fsx-training",
    stack_name="mlref-fsx-training",
    demonstrates="SageMaker training from FSx for Lustre linked to S3 (or EFS), isolated VPC, P3 GPUs on spot",
    exams=ExamDomains(MLS_MODELING),
    options_type=FsxTrainingOptions,
    parse=parse,
    outputs=OUTPUTS,
    cost=cost,
    stack="stacks.fsx_training:FsxTrainingStack",
    practice="labs.practice.fsx_training.command:FsxTrainingPractice",
    context_keys=CONTEXT_KEYS,
    practice_flags=(
        Flag("modes", "input modes to compare, comma-separated: file, fastfile, fsx (a first and a repeated run), "
             "efs (default: every mode the deployed variant has)", str, metavar="MODES"),
        Flag("dataset_gib", f"size of the data set in GiB (1-{MAX_DATASET_GIB}), written in the region by a short "
             f"job and reused by later runs", int, DEFAULT_DATASET_GIB, metavar="N"),
        Flag("instance_type", "training instance type (default: the stack's InstanceType output)", str,
             metavar="TYPE"),
        Flag("on_demand", "on-demand instead of managed spot", bool, False),
        YES,
    ),
    preflight="labs.practice.fsx_training.quota:preflight",
    variants=(Variant("efs", {"training_source": "efs", "training_instance_type": "ml.g5.xlarge"},
                      note="EFS, ml.g5.xlarge"),),
    exercises=EXERCISES,
    calls=CALLS,
)
