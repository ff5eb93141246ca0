"""The fsx-training lab: SageMaker training jobs reading FSx for Lustre linked to S3.

Maps to the study notes (Modeling / ML implementation): when training data lives in
S3 and jobs run many times, FSx for Lustre lazy-loads from S3 on the first job and
serves later jobs at file-system speed without downloading again; EFS is the
alternative when the data already lives in EFS. Deploying never starts a training
job: GPUs bill only when the user practises.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_s3 as s3
from constructs import Construct

from catalog import fsx_training as contract
from catalog.fsx_training import DATA_PREFIX, FsxTrainingOptions
from cdk_constructs.core.acknowledge import acknowledge, acknowledge_iam5, acknowledge_lab_buckets_nist, objects_finding
from cdk_constructs.core.budget import lab_budget
from cdk_constructs.core.encryption import LabKey
from cdk_constructs.core.outputs import emit_outputs
from cdk_constructs.core.profile import apply_lab_profile
from cdk_constructs.core.settings import LabSettings
from cdk_constructs.core.storage import LabBucket, access_log_bucket, empty_logs_last
from cdk_constructs.fsx_training.file_systems import EfsTrainingData, LustreTrainingData
from cdk_constructs.fsx_training.training_role import TrainingExecutionRole
from cdk_constructs.services.network import LabNetwork
from lambdas.shared.lab_names import TRAINING_LOG_GROUP

DEFAULT_OPTIONS = FsxTrainingOptions()


class FsxTrainingStack(Stack):
    """An isolated VPC, data and output buckets, a training file system and the job's role."""

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings,
                 options: FsxTrainingOptions = DEFAULT_OPTIONS, **kwargs) -> None:
        super().__init__(scope, id_, description="mlref-labs fsx-training: SageMaker training from FSx for Lustre",
                         **kwargs)
        self.settings, self.options = settings, options
        self.key = LabKey(self, "TrainingKey", settings=settings,
                          description="mlref fsx-training: data, output, file system and logs").key
        apply_lab_profile(self, settings, log_key=self.key)

        self.network = LabNetwork(self, "Network", settings=settings, key=self.key, public=False, zone_count=1,
                                  availability_zones=[options.availability_zone] if options.availability_zone else ())
        self.s3_endpoint = self.network.add_s3_gateway_endpoint()
        self.subnet = self.network.subnets[0]

        self.access_logs = access_log_bucket(self, settings)
        buckets = {"settings": settings, "encryption_key": self.key, "access_logs_bucket": self.access_logs.bucket}
        self.data = LabBucket(self, "TrainingData", **buckets)
        self.output = LabBucket(
            self, "TrainingOutput",
            lifecycle_rules=[s3.LifecycleRule(id="CheckpointsExpire", prefix="checkpoints/",
                                              expiration=Duration.days(14)),
                             s3.LifecycleRule(id="NoncurrentExpire", noncurrent_version_expiration=Duration.days(7))],
            **buckets,
        )
        empty_logs_last(self.access_logs, self.data, self.output)

        if options.fsx:
            self.file_system = LustreTrainingData(self, "Lustre", settings=settings, vpc=self.network.vpc,
                                                  subnet=self.subnet, bucket=self.data.bucket, key=self.key)
        else:
            self.file_system = EfsTrainingData(self, "Efs", settings=settings, vpc=self.network.vpc,
                                               subnet=self.subnet, key=self.key)
        self.role = TrainingExecutionRole(self, "SageMakerExecution", vpc=self.network.vpc,
                                          data_bucket=self.data.bucket, output_bucket=self.output.bucket, key=self.key,
                                          data_write_prefix=DATA_PREFIX)
        self.budget = lab_budget(self, settings, contract.cost(options))
        self._outputs()
        self._acknowledge_findings()

    def _outputs(self) -> None:
        values = {
            contract.TRAINING_SOURCE: self.options.source.value,
            contract.FILE_SYSTEM_TYPE: self.file_system.file_system_type,
            contract.FILE_SYSTEM_ID: self.file_system.file_system_id,
            contract.DIRECTORY_ROOT: self.file_system.directory_root or "/",
            contract.SUBNET: self.subnet.subnet_id,
            contract.SECURITY_GROUP: self.file_system.training_security_group.security_group_id,
            contract.EXECUTION_ROLE: self.role.role_arn,
            contract.DATA_BUCKET: self.data.bucket.bucket_name,
            contract.DATA_PREFIX_OUTPUT: DATA_PREFIX,
            contract.OUTPUT_BUCKET: self.output.bucket.bucket_name,
            contract.INSTANCE_TYPE_OUTPUT: self.options.instance_type,
            contract.KEY: self.key.key_arn,
        }
        if self.options.fsx:
            values[contract.MOUNT_NAME] = self.file_system.mount_name
        emit_outputs(self, contract.CONTRACT, self.options, values)

    # -- the one place for this stack's acknowledgments ---------------------------------

    def _acknowledge_findings(self) -> None:
        policy = self.role.policy
        acknowledge_iam5(policy, ["Resource::*"],
                         "EC2 Describe* and ecr:GetAuthorizationToken have no resource type; network interface "
                         "create/delete is conditioned on the lab VPC and metrics on the SageMaker namespace")
        acknowledge_iam5(policy, [objects_finding(b.bucket) for b in (self.data, self.output)]
                         + [objects_finding(self.data.bucket, DATA_PREFIX)],
                         "training reads every object of the lab's data bucket, the practice's data-set job writes "
                         "its generated shards under the training prefix only, and jobs write model artifacts and "
                         "checkpoints with job-generated names to the lab's output bucket")
        log_group = f"arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:{TRAINING_LOG_GROUP}"
        acknowledge_iam5(policy, [f"Resource::{log_group}:*", f"Resource::{log_group}:log-stream:*"],
                         "SageMaker names one log stream per job and instance in its service-named group")
        acknowledge_iam5(policy, ["Resource::arn:<AWS::Partition>:ecr:<AWS::Region>:763104351884:repository/*"],
                         "pull-only access to AWS Deep Learning Container images; the framework image is chosen "
                         "per job")
        if not self.settings.is_sandbox:
            acknowledge_lab_buckets_nist([self.data.bucket, self.output.bucket], self.access_logs.bucket)
            if isinstance(self.file_system, EfsTrainingData):
                acknowledge(self.file_system.file_system, "NIST.800.53.R5-EFSInBackupPlan",
                            "the file system's BackupPolicy is ENABLED, which puts it in AWS Backup's default "
                            "plan (daily, 35-day retention) without a plan resource in this stack")
