"""The fsx-training practice's jobs: one ``JobPlan`` per training job, the sagemaker 3.x
``ModelTrainer`` built from it, and the dry run's offline sessions and requests.

Every job runs ``fsx_job/train.py`` in the PyTorch Deep Learning Container, in the lab's
subnet with its training security group (S3 through the VPC's gateway endpoint), with output
and volumes encrypted by the lab key. The read jobs differ only in their ``train`` channel:

- ``file``: S3, input mode File (SageMaker downloads the set before the script starts);
- ``fastfile``: S3, input mode FastFile (streamed from S3 as the script reads);
- ``fsx``: FSx for Lustre, ``/<mount name>/train/cold/<run>/random-<N>gib``, read-only;
- ``efs``: EFS, ``/train/random-<N>gib``, read-only.

The ``prepare`` job writes the set: its checkpoint location is the set's S3 prefix (SageMaker
syncs what it writes there), and on the EFS variant it mounts EFS read-write to copy it in.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from catalog import fsx_training as contract
from catalog.fsx_training import DATA_PREFIX, DEFAULT_DATASET_GIB, DEFAULT_INSTANCE_TYPE, SEED_INSTANCE_TYPE
from catalog.paths import JOBS_DIR
from labs.engine.session import offline_session
from labs.practice.fsx_training.data import DataSet

JOB_DIR = JOBS_DIR / "fsx_training"
FRAMEWORK, FRAMEWORK_VERSION, PY_VERSION = "pytorch", "2.8.0", "py312"
MAX_RUNTIME_SECONDS = 30 * 60
MAX_WAIT_SECONDS = 60 * 60
PREPARE = "prepare"
S3_INPUT_MODES = {"file": "File", "fastfile": "FastFile"}
# Families whose instances have local NVMe storage: SageMaker refuses VolumeKmsKeyId for them
# (their local volumes are encrypted by the hardware).
LOCAL_STORAGE_FAMILIES = {"g5", "g6", "g6e", "gr6", "p4d", "p4de", "p5", "p5e", "p5en", "p6-b200", "trn1", "trn1n",
                          "trn2", "inf2"}
# Placeholders the dry run uses where a deployed stack's outputs would go.
PLACEHOLDER_OUTPUTS = {
    contract.TRAINING_SOURCE: "fsx", contract.FILE_SYSTEM_TYPE: "FSxLustre",
    contract.FILE_SYSTEM_ID: "fs-0123456789abcdef0", contract.DIRECTORY_ROOT: "/<MountName>",
    contract.MOUNT_NAME: "<MountName>", contract.SUBNET: "subnet-<SubnetId>",
    contract.SECURITY_GROUP: "sg-<SecurityGroupId>",
    contract.EXECUTION_ROLE: "arn:aws:iam::111122223333:role/<ExecutionRoleArn output>",
    contract.DATA_BUCKET: "<DataBucketName>", contract.DATA_PREFIX_OUTPUT: DATA_PREFIX,
    contract.OUTPUT_BUCKET: "<OutputBucketName>", contract.INSTANCE_TYPE_OUTPUT: DEFAULT_INSTANCE_TYPE,
    contract.KEY: "arn:aws:kms:<region>:111122223333:key/<KeyArn output>",
}
EFS_PLACEHOLDERS = {**PLACEHOLDER_OUTPUTS, contract.TRAINING_SOURCE: "efs", contract.FILE_SYSTEM_TYPE: "EFS",
                    contract.FILE_SYSTEM_ID: "fs-0fedcba9876543210", contract.DIRECTORY_ROOT: "/"}


def has_local_storage(instance_type: str) -> bool:
    family = instance_type.split(".")[1]
    return family in LOCAL_STORAGE_FAMILIES or re.search(r"\dd", family) is not None or family.endswith("d")


def data_set(outputs: Mapping[str, str], gib: int) -> DataSet:
    return DataSet(outputs[contract.DATA_BUCKET], outputs[contract.DATA_PREFIX_OUTPUT], gib)


@cache
def image_uri(region: str, instance_type: str) -> str:
    from sagemaker.core import image_uris

    return image_uris.retrieve(framework=FRAMEWORK, region=region, version=FRAMEWORK_VERSION,
                               py_version=PY_VERSION, instance_type=instance_type, image_scope="training")


@dataclass(frozen=True)
class JobPlan:
    """One training job of the practice step, from the stack's outputs.

    ``mode`` is a read mode of the contract (file, fastfile, fsx, efs) or ``prepare``; ``data``
    is the set it reads or writes; ``step`` tells the FSx runs apart (first, repeated).
    """

    outputs: Mapping[str, str]
    instance_type: str
    mode: str
    data: DataSet
    spot: bool = True
    run_id: str = "run"
    tags: dict[str, str] = field(default_factory=dict)
    step: str = ""

    @property
    def reads(self) -> bool:
        return self.mode != PREPARE

    @property
    def managed_spot(self) -> bool:
        return self.spot and self.reads

    @property
    def base_job_name(self) -> str:
        return f"mlref-{self.mode}" + (f"-{self.step}" if self.step else "")

    @property
    def efs_target(self) -> str:
        """prepare on the EFS variant: the set's directory under the EFS channel."""
        if self.mode == PREPARE and self.outputs[contract.FILE_SYSTEM_TYPE] == "EFS":
            return self.data.key_prefix.rstrip("/")
        return ""

    @property
    def command(self) -> str:
        if self.reads:
            return f"python train.py --mode read --expect-files {len(self.data.shard_names)}"
        efs = (f" --efs-target {self.efs_target} --efs-id {self.outputs[contract.FILE_SYSTEM_ID]}"
               if self.efs_target else "")
        return f"python train.py --mode prepare --gib {self.data.gib}{efs}"

    @property
    def checkpoint_uri(self) -> str | None:
        if not self.reads:
            return self.data.s3_uri
        if self.managed_spot:
            return f"s3://{self.outputs[contract.OUTPUT_BUCKET]}/checkpoints/{self.run_id}/{self.base_job_name}/"
        return None

    def channels(self) -> list[Any]:
        from sagemaker.core.shapes import Channel, DataSource, S3DataSource
        from sagemaker.core.training.configs import FileSystemDataSource, InputData

        file_system = {"file_system_id": self.outputs[contract.FILE_SYSTEM_ID],
                       "file_system_type": self.outputs[contract.FILE_SYSTEM_TYPE]}
        if self.mode == PREPARE:
            return [InputData(channel_name="efs", data_source=FileSystemDataSource(
                directory_path="/", file_system_access_mode="rw", **file_system))] if self.efs_target else []
        if self.mode in S3_INPUT_MODES:
            return [Channel(channel_name="train", input_mode=S3_INPUT_MODES[self.mode], data_source=DataSource(
                s3_data_source=S3DataSource(s3_data_type="S3Prefix", s3_uri=self.data.s3_uri,
                                            s3_data_distribution_type="FullyReplicated")))]
        directory = self.data.directory(self.outputs[contract.DIRECTORY_ROOT])
        return [InputData(channel_name="train", data_source=FileSystemDataSource(
            directory_path=directory, file_system_access_mode="ro", **file_system))]

    def trainer(self, sagemaker_session: Any, region: str) -> Any:
        """The ``ModelTrainer`` for this job."""
        from sagemaker.core.shapes import MetricDefinition, StoppingCondition, Tag
        from sagemaker.core.training.configs import CheckpointConfig, Compute, Networking, OutputDataConfig, SourceCode
        from sagemaker.train import ModelTrainer

        output, key = self.outputs[contract.OUTPUT_BUCKET], self.outputs[contract.KEY]
        compute = Compute(
            instance_type=self.instance_type, instance_count=1, volume_size_in_gb=max(30, 2 * self.data.gib + 10),
            enable_managed_spot_training=self.managed_spot,
            **({} if has_local_storage(self.instance_type) else {"volume_kms_key_id": key}),
        )
        wait = {"max_wait_time_in_seconds": MAX_WAIT_SECONDS} if self.managed_spot else {}
        checkpoints = self.checkpoint_uri
        trainer = ModelTrainer(
            sagemaker_session=sagemaker_session, role=self.outputs[contract.EXECUTION_ROLE],
            base_job_name=self.base_job_name, training_image=image_uri(region, self.instance_type),
            source_code=SourceCode(source_dir=str(JOB_DIR), command=self.command, ignore_patterns=["__pycache__"]),
            compute=compute, stopping_condition=StoppingCondition(max_runtime_in_seconds=MAX_RUNTIME_SECONDS, **wait),
            networking=Networking(subnets=[self.outputs[contract.SUBNET]],
                                  security_group_ids=[self.outputs[contract.SECURITY_GROUP]]),
            output_data_config=OutputDataConfig(s3_output_path=f"s3://{output}/jobs/", kms_key_id=key),
            checkpoint_config=(CheckpointConfig(s3_uri=checkpoints, local_path="/opt/ml/checkpoints")
                               if checkpoints else None),
            input_data_config=self.channels() or None,
            tags=[Tag(key=k, value=v) for k, v in self.tags.items()] or None,
        )
        if self.reads:
            trainer.with_metric_definitions([
                MetricDefinition(name="read_seconds", regex=r"read_seconds=([0-9.]+);"),
                MetricDefinition(name="read_mb_per_s", regex=r"read_mb_per_s=([0-9.]+);"),
            ])
        return trainer


def read_plans(outputs: Mapping[str, str], modes: tuple[str, ...], data: DataSet, instance_type: str, *,
               spot: bool, run_id: str, tags: dict[str, str], fsx_data: DataSet | None = None) -> list[JobPlan]:
    """One read job per table row, in the order they run: S3 File, FastFile, FSx first and repeated, EFS."""
    plans = []
    for mode in contract.MODES:
        if mode not in modes:
            continue
        steps = ("first", "repeated") if mode == "fsx" else ("",)
        source = fsx_data if mode == "fsx" and fsx_data else data
        plans.extend(JobPlan(outputs, instance_type, mode, source, spot=spot, run_id=run_id, tags=tags, step=step)
                     for step in steps)
    return plans


def prepare_plan(outputs: Mapping[str, str], data: DataSet, *, run_id: str, tags: dict[str, str]) -> JobPlan:
    return JobPlan(outputs, SEED_INSTANCE_TYPE, PREPARE, data, spot=False, run_id=run_id, tags=tags)


def sagemaker_modules(region: str) -> None:
    """Imports the SDK with a region set (some of its modules create clients at import).

    The SDK's client-side role check simulates the role's policy without request
    context, so it would refuse the lab role's namespace-conditioned
    cloudwatch:PutMetricData; the role is the lab's own (its policy is asserted by the
    template tests), so that check is turned off unless the user set it.
    """
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    os.environ.setdefault("SAGEMAKER_VALIDATE_ROLE", "false")
    import sagemaker.train  # noqa: F401 - imported for its effect: the SDK loaded with the region set


@cache
def planning_session(region: str, bucket: str) -> Any:
    """A SageMaker session over an offline boto3 session that stages nothing: it answers with
    the S3 URIs it would upload to. One per region and bucket (building one loads every model)."""
    sagemaker_modules(region)
    from sagemaker.core.helper.session_helper import Session

    class PlanningSession(Session):
        def default_bucket(self) -> str:
            return bucket

        def upload_data(self, path, bucket=None, key_prefix="data", callback=None, extra_args=None):
            return f"s3://{bucket}/{key_prefix}"

    return PlanningSession(boto_session=offline_session(region), default_bucket=bucket, default_bucket_prefix="code")


def create_request(plan: JobPlan, sagemaker_session: Any, region: str) -> dict[str, Any]:
    """The CreateTrainingJob request the SDK sends for ``plan`` (its boto3 form)."""
    trainer = plan.trainer(sagemaker_session, region)
    # The SDK's own request builder (what train() and pipelines send), in boto3 form.
    return trainer._create_training_job_args(boto3=True)


def dry_run_plans(instance_type: str | None = None, *, spot: bool = True, modes: tuple[str, ...] = contract.MODES,
                  dataset_gib: int = DEFAULT_DATASET_GIB) -> list[tuple[str, JobPlan]]:
    """(title, plan) of every job a run may start, on placeholder outputs of both variants."""
    chosen = instance_type or DEFAULT_INSTANCE_TYPE
    fsx, efs = PLACEHOLDER_OUTPUTS, EFS_PLACEHOLDERS
    data = data_set(fsx, dataset_gib)
    common = {"spot": spot, "run_id": "<run>", "tags": {}}
    plans = [(f"data set: the job that writes it ({data.s3_uri}; FSx variant, first run only)",
              prepare_plan(fsx, data, run_id="<run>", tags={}))]
    if "efs" in modes:
        plans.append(("data set, EFS variant: the same job, which also copies it into EFS",
                      prepare_plan(efs, data, run_id="<run>", tags={})))
    titles = {"file": "S3 File mode", "fastfile": "S3 FastFile mode",
              "fsx": "FSx for Lustre (the first and the repeated run send the same request)",
              "efs": "EFS variant: EFS"}
    for mode in contract.MODES:
        if mode in modes:
            plan = read_plans(efs if mode == "efs" else fsx, (mode,), data, chosen, **common,
                              fsx_data=data.cold_copy("<run>"))[0]
            plans.append((titles[mode], plan))
    return plans


def dry_run_requests(region: str, instance_type: str | None = None, *, spot: bool = True,
                     modes: tuple[str, ...] = contract.MODES,
                     dataset_gib: int = DEFAULT_DATASET_GIB) -> list[tuple[str, dict]]:
    """(title, CreateTrainingJob request) of every job a run may start, built without credentials or network."""
    session = planning_session(region, PLACEHOLDER_OUTPUTS[contract.OUTPUT_BUCKET])
    return [(title, create_request(plan, session, region))
            for title, plan in dry_run_plans(instance_type, spot=spot, modes=modes, dataset_gib=dataset_gib)]
