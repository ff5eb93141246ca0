"""The fsx-training practice's jobs: one ``JobPlan`` per training job, the sagemaker 3.x
``ModelTrainer`` built from it, and the dry run's offline sessions and requests."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labs.contracts import fsx_training as contract
from labs.contracts.fsx_training import DATA_PREFIX, DEFAULT_INSTANCE_TYPE, SEED_INSTANCE_TYPE
from labs.practice.fsx_data import DATASET

JOB_DIR = Path(__file__).with_name("fsx_job")
FRAMEWORK, FRAMEWORK_VERSION, PY_VERSION = "pytorch", "2.8.0", "py312"
MAX_RUNTIME_SECONDS = 30 * 60
MAX_WAIT_SECONDS = 60 * 60
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
EFS_PLACEHOLDERS = {contract.TRAINING_SOURCE: "efs", contract.FILE_SYSTEM_TYPE: "EFS",
                    contract.FILE_SYSTEM_ID: "fs-0123456789abcdef0", contract.DIRECTORY_ROOT: "/"}


def has_local_storage(instance_type: str) -> bool:
    family = instance_type.split(".")[1]
    return family in LOCAL_STORAGE_FAMILIES or re.search(r"\dd", family) is not None or family.endswith("d")


@dataclass(frozen=True)
class JobPlan:
    """One training job of the practice step, from the stack's outputs."""

    outputs: dict[str, str]
    instance_type: str
    mode: str = "read"  # read: the measured job; seed: copy the set from S3 into EFS
    spot: bool = True
    run_id: str = "run"
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def source(self) -> str:
        return self.outputs[contract.TRAINING_SOURCE]

    @property
    def dataset_path(self) -> str:
        """Where the training set sits in the file system (the FSx path mirrors the S3 key)."""
        root = self.outputs[contract.DIRECTORY_ROOT].rstrip("/")
        return f"{root}/{self.outputs[contract.DATA_PREFIX_OUTPUT]}{DATASET}"

    @property
    def dataset_s3_uri(self) -> str:
        return f"s3://{self.outputs[contract.DATA_BUCKET]}/{self.outputs[contract.DATA_PREFIX_OUTPUT]}{DATASET}/"

    @property
    def base_job_name(self) -> str:
        return f"mlref-{self.source}-{self.mode}"

    def image_uri(self, region: str) -> str:
        from sagemaker.core import image_uris

        return image_uris.retrieve(framework=FRAMEWORK, region=region, version=FRAMEWORK_VERSION,
                                   py_version=PY_VERSION, instance_type=self.instance_type, image_scope="training")

    def channels(self) -> list[Any]:
        from sagemaker.core.training.configs import FileSystemDataSource, InputData

        file_system = dict(file_system_id=self.outputs[contract.FILE_SYSTEM_ID],
                           file_system_type=self.outputs[contract.FILE_SYSTEM_TYPE])
        if self.mode == "seed":
            return [
                InputData(channel_name="source", data_source=self.dataset_s3_uri),
                InputData(channel_name="efs", data_source=FileSystemDataSource(
                    directory_path="/", file_system_access_mode="rw", **file_system)),
            ]
        return [InputData(channel_name="train", data_source=FileSystemDataSource(
            directory_path=self.dataset_path, file_system_access_mode="ro", **file_system))]

    def trainer(self, sagemaker_session: Any, region: str) -> Any:
        """The ``ModelTrainer`` for this job."""
        from sagemaker.core.shapes import MetricDefinition, StoppingCondition, Tag
        from sagemaker.core.training.configs import (CheckpointConfig, Compute, Networking, OutputDataConfig,
                                                     SourceCode)
        from sagemaker.train import ModelTrainer

        output, key = self.outputs[contract.OUTPUT_BUCKET], self.outputs[contract.KEY]
        spot = self.spot and self.mode == "read"
        compute = Compute(
            instance_type=self.instance_type, instance_count=1, volume_size_in_gb=30,
            enable_managed_spot_training=spot,
            **({} if has_local_storage(self.instance_type) else {"volume_kms_key_id": key}),
        )
        stopping = (StoppingCondition(max_runtime_in_seconds=MAX_RUNTIME_SECONDS,
                                      max_wait_time_in_seconds=MAX_WAIT_SECONDS)
                    if spot else StoppingCondition(max_runtime_in_seconds=MAX_RUNTIME_SECONDS))
        command = "python train.py --mode seed --target " + self.dataset_path.lstrip("/") if self.mode == "seed" \
            else "python train.py --mode read"
        trainer = ModelTrainer(
            sagemaker_session=sagemaker_session, role=self.outputs[contract.EXECUTION_ROLE],
            base_job_name=self.base_job_name, training_image=self.image_uri(region),
            source_code=SourceCode(source_dir=str(JOB_DIR), command=command),
            compute=compute, stopping_condition=stopping,
            networking=Networking(subnets=[self.outputs[contract.SUBNET]],
                                  security_group_ids=[self.outputs[contract.SECURITY_GROUP]]),
            output_data_config=OutputDataConfig(s3_output_path=f"s3://{output}/jobs/", kms_key_id=key),
            checkpoint_config=(CheckpointConfig(s3_uri=f"s3://{output}/checkpoints/{self.run_id}/",
                                                local_path="/opt/ml/checkpoints") if spot else None),
            input_data_config=self.channels(),
            tags=[Tag(key=k, value=v) for k, v in self.tags.items()] or None,
        )
        if self.mode == "read":
            trainer.with_metric_definitions([
                MetricDefinition(name="read_seconds", regex=r"read_seconds=([0-9.]+);"),
                MetricDefinition(name="read_mb_per_s", regex=r"read_mb_per_s=([0-9.]+);"),
            ])
        return trainer


def sagemaker_modules(region: str) -> None:
    """Imports the SDK with a region set (some of its modules create clients at import).

    The SDK's client-side role check simulates the role's policy without request
    context, so it would refuse the lab role's namespace-conditioned
    cloudwatch:PutMetricData; the role is the lab's own (its policy is asserted by the
    template tests), so that check is turned off unless the user set it.
    """
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    os.environ.setdefault("SAGEMAKER_VALIDATE_ROLE", "false")
    import sagemaker.train  # noqa: F401


class AwsCallBlocked(RuntimeError):
    """A dry run tried to send a request."""


def offline_session(region: str) -> Any:
    """A boto3 session that refuses to send anything (with inert credentials, so that
    nothing looks them up either): the dry run's guarantee that AWS is not called."""
    import boto3

    session = boto3.Session(region_name=region, aws_access_key_id="dry-run", aws_secret_access_key="dry-run")
    attempts: list[str] = []

    def refuse(request: Any = None, **_: Any) -> None:
        attempts.append(getattr(request, "url", "?"))
        raise AwsCallBlocked(f"dry run: refused to send {getattr(request, 'url', 'a request')}")

    session.events.register("before-send", refuse)
    session.blocked_attempts = attempts  # type: ignore[attr-defined]
    return session


def planning_session(boto_session: Any, bucket: str) -> Any:
    """A SageMaker session that stages nothing: it answers with the S3 URIs it would upload to."""
    from sagemaker.core.helper.session_helper import Session

    class PlanningSession(Session):
        planned: list[tuple[str, str]] = []

        def default_bucket(self) -> str:
            return bucket

        def upload_data(self, path, bucket=None, key_prefix="data", callback=None, extra_args=None):  # noqa: ANN001
            uri = f"s3://{bucket}/{key_prefix}"
            self.planned.append((str(path), uri))
            return uri

    return PlanningSession(boto_session=boto_session, default_bucket=bucket, default_bucket_prefix="code")


def create_request(plan: JobPlan, sagemaker_session: Any, region: str) -> dict[str, Any]:
    """The CreateTrainingJob request the SDK sends for ``plan`` (its boto3 form)."""
    trainer = plan.trainer(sagemaker_session, region)
    # The SDK's own request builder (what train() and pipelines send), in boto3 form.
    return trainer._create_training_job_args(boto3=True)  # noqa: SLF001


def dry_run_requests(region: str, instance_type: str | None = None, *, spot: bool = True) -> list[tuple[str, dict]]:
    """(title, CreateTrainingJob request) for the FSx job, the EFS seed job and the EFS job."""
    sagemaker_modules(region)
    boto_session = offline_session(region)
    session = planning_session(boto_session, PLACEHOLDER_OUTPUTS[contract.OUTPUT_BUCKET])
    fsx = dict(PLACEHOLDER_OUTPUTS)
    efs = {**fsx, **EFS_PLACEHOLDERS}
    chosen = instance_type or fsx[contract.INSTANCE_TYPE_OUTPUT]
    plans = [
        ("FSx for Lustre training job (each of the two runs)", JobPlan(fsx, chosen, spot=spot, run_id="<run>-1")),
        ("EFS variant: seed job (copies the set from S3 into EFS)",
         JobPlan(efs, SEED_INSTANCE_TYPE, mode="seed", spot=False, run_id="<run>-seed")),
        ("EFS variant: training job", JobPlan(efs, chosen, spot=spot, run_id="<run>-1")),
    ]
    return [(title, create_request(plan, session, region)) for title, plan in plans]

