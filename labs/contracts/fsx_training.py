"""The fsx-training lab's contract: SageMaker training jobs reading FSx for Lustre (or EFS)."""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from labs.contracts.base import (
    MLA_D1,
    MLA_D2,
    MLS_MODELING,
    ConfigError,
    ContextKey,
    ExamDomains,
    Flag,
    LabContract,
    Output,
    Variant,
    choice,
    is_zone_of,
)
from labs.contracts.prices import HOURS_PER_MONTH, LabCost, has_price, per_month_as_hourly, price

DATA_PREFIX = "train/"
DEFAULT_INSTANCE_TYPE = "ml.p3.2xlarge"
SEED_INSTANCE_TYPE = "ml.m5.large"  # the EFS variant's job that copies the set from S3 into EFS
ALTERNATIVES = ("ml.g5.xlarge", "ml.g4dn.xlarge")  # GPU types that usually have quota where P3 has none
# SageMaker instance types: ml.<family>.<size>, families may carry a hyphen (p6-b200).
INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9-]+\.[0-9]*x?large$|^ml\.[a-z0-9-]+\.metal$")
FSX_SCRATCH_GIB = 1200
PRACTICE_JOBS = 2
PRACTICE_JOB_MINUTES = 10  # billable minutes per job: start-up, reading the small set, a few epochs
SEED_JOB_MINUTES = 5
SPOT_DISCOUNT = 0.7  # managed spot typically bills ~70% less (AWS says up to 90%)


class TrainingSource(str, enum.Enum):
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
    if not INSTANCE_TYPE.match(instance_type):
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


def job_cost(instance_type: str, minutes: float, *, spot: bool) -> float | None:
    """One training job of ``minutes`` billable minutes; None when the table has no price for the type."""
    key = instance_price_key(instance_type)
    if not has_price(key):
        return None
    return price(key) * minutes / 60 * ((1 - SPOT_DISCOUNT) if spot else 1)


def run_cost(options: FsxTrainingOptions, *, spot: bool = True, instance_type: str | None = None) -> float | None:
    """A practice run: two jobs (and, on EFS, the on-demand seed job that copies the set in)."""
    jobs = job_cost(instance_type or options.instance_type, PRACTICE_JOBS * PRACTICE_JOB_MINUTES, spot=spot)
    if jobs is None:
        return None
    seed = job_cost(SEED_INSTANCE_TYPE, SEED_JOB_MINUTES, spot=False) if not options.fsx else 0.0
    return jobs + (seed or 0.0)


def cost(options: FsxTrainingOptions) -> LabCost:
    """Idle: the file system (SCRATCH_2 1200 GiB, or EFS storing a few MB) and one key. Per run: two
    jobs of about ten billable minutes each on managed spot (EFS: plus a short on-demand seed job)."""
    file_system = price("fsx_lustre_scratch2_gb_month") * FSX_SCRATCH_GIB / HOURS_PER_MONTH if options.fsx else 0.0
    spot, on_demand = run_cost(options, spot=True), run_cost(options, spot=False)
    note = f"{PRACTICE_JOBS} {PRACTICE_JOB_MINUTES}-minute spot jobs on {options.instance_type}"
    if spot is None:
        note = f"no price for {options.instance_type} in pricing/prices.toml"
    return LabCost(idle_per_hour=file_system + per_month_as_hourly("kms_key_month"), per_practice_run=spot,
                   run_note=note, alternatives=(("--on-demand", on_demand),) if on_demand is not None else ())


def preflight(session: Any, options: FsxTrainingOptions, out: Callable[[str], None]) -> None:
    """The SageMaker training quota of the chosen instance type (spot, else on demand)."""
    from labs.practice.fsx_quota import check_training_quota

    check_training_quota(session, options.instance_type, session.region_name, out)


CONTRACT = LabContract(
    name="fsx-training",
    stack_name="mlref-fsx-training",
    demonstrates="SageMaker training from FSx for Lustre linked to S3 (or EFS), isolated VPC, P3 GPUs on spot",
    exams=ExamDomains(MLS_MODELING, (MLA_D1, MLA_D2)),
    options_type=FsxTrainingOptions,
    parse=parse,
    outputs=OUTPUTS,
    cost=cost,
    stack="stacks.fsx_training:FsxTrainingStack",
    practice="labs.practice.fsx_training:FsxTrainingPractice",
    context_keys=CONTEXT_KEYS,
    practice_flags=(
        Flag("instance_type", "training instance type (default: the stack's InstanceType output)", str,
             metavar="TYPE"),
        Flag("on_demand", "on-demand instead of managed spot", bool, False),
    ),
    preflight=preflight,
    variants=(Variant("efs", {"training_source": "efs", "training_instance_type": "ml.g5.xlarge"},
                      note="EFS, ml.g5.xlarge"),),
)
