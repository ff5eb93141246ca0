"""Shared file systems a SageMaker training job reads from: FSx for Lustre or EFS."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_efs as efs
from aws_cdk import aws_fsx as fsx
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_constructs.core.settings import LabSettings

LUSTRE_PORTS = (ec2.Port.tcp(988), ec2.Port.tcp_range(1018, 1023))
NFS_PORT = ec2.Port.tcp(2049)
SCRATCH_CAPACITY_GIB = 1200
# FSx reaches a linked bucket as this service-linked role, one per file system (suffix: its id).
FSX_S3_ROLE_PATH = "role/aws-service-role/s3.data-source.lustre.fsx.amazonaws.com/AWSServiceRoleForFSxS3Access_"


class TrainingFileSystem(Construct):
    """What a training job needs to know about its file system.

    Attributes:
        file_system_id: the file system id.
        file_system_type: ``FSxLustre`` or ``EFS`` (SageMaker's FileSystemType).
        directory_root: the path a job's DirectoryPath starts with (``/<mount name>`` or ``/``).
        security_group: the file system's group; it admits only the training group.
        training_security_group: the group training instances use.
    """

    file_system_id: str
    file_system_type: str
    directory_root: str

    def __init__(self, scope: Construct, id_: str, *, vpc: ec2.IVpc) -> None:
        super().__init__(scope, id_)
        self.training_security_group = ec2.SecurityGroup(
            self, "TrainingSecurityGroup", vpc=vpc, allow_all_outbound=False,
            description="SageMaker training instances: file system ports and HTTPS to the S3 gateway endpoint only",
        )
        self.training_security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443),
            "HTTPS: the subnets have no internet route, so this reaches only the S3 gateway endpoint",
        )
        self.security_group = ec2.SecurityGroup(
            self, "FileSystemSecurityGroup", vpc=vpc, allow_all_outbound=False,
            description="The training file system: admits only the training instances",
        )

    def _allow(self, ports: tuple[ec2.Port, ...], *, between_servers: bool) -> None:
        for port in ports:
            self.security_group.add_ingress_rule(self.training_security_group, port, "from training instances")
            self.training_security_group.add_egress_rule(self.security_group, port, "to the training file system")
            if between_servers:
                self.security_group.add_ingress_rule(self.security_group, port, "between file system servers")
                self.security_group.add_egress_rule(self.security_group, port, "between file system servers")


class LustreTrainingData(TrainingFileSystem):
    """FSx for Lustre linked to an S3 bucket, in one subnet.

    Sandbox: SCRATCH_2, 1200 GiB, ImportPath at the bucket root with auto-import of
    new and changed objects (no backups; destroyed with the stack). Production:
    PERSISTENT_2 (125 MB/s/TiB, KMS) with a data repository association at ``/``
    that imports and exports new, changed and deleted objects.
    Objects under ``s3://bucket/<prefix>`` appear at ``/<mount name>/<prefix>``.
    Lustre uses TCP 988 and 1018-1023; nothing else is open. The bucket's key lets FSx's
    service-linked role use it through S3 (``key_statement``): FSx cannot import SSE-KMS objects
    otherwise.
    """

    file_system_type = "FSxLustre"

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings, vpc: ec2.IVpc, subnet: ec2.ISubnet,
                 bucket: s3.IBucket, key: kms.IKey) -> None:
        super().__init__(scope, id_, vpc=vpc)
        self._allow(LUSTRE_PORTS, between_servers=True)
        bucket_root = f"s3://{bucket.bucket_name}"
        if settings.is_sandbox:
            lustre = fsx.CfnFileSystem.LustreConfigurationProperty(
                deployment_type="SCRATCH_2", import_path=bucket_root, auto_import_policy="NEW_CHANGED",
                data_compression_type="LZ4",
            )
        else:
            lustre = fsx.CfnFileSystem.LustreConfigurationProperty(
                deployment_type="PERSISTENT_2", per_unit_storage_throughput=125, data_compression_type="LZ4",
            )
        self.file_system = fsx.CfnFileSystem(
            self, "FileSystem", file_system_type="LUSTRE", file_system_type_version="2.15",
            storage_capacity=SCRATCH_CAPACITY_GIB, storage_type="SSD",
            subnet_ids=[subnet.subnet_id], security_group_ids=[self.security_group.security_group_id],
            kms_key_id=None if settings.is_sandbox else key.key_id, lustre_configuration=lustre,
        )
        self.association = None
        if not settings.is_sandbox:
            self.association = fsx.CfnDataRepositoryAssociation(
                self, "DataRepository", file_system_id=self.file_system.ref, file_system_path="/",
                data_repository_path=f"{bucket_root}/", batch_import_meta_data_on_create=True,
                s3=fsx.CfnDataRepositoryAssociation.S3Property(
                    auto_import_policy=fsx.CfnDataRepositoryAssociation.AutoImportPolicyProperty(
                        events=["NEW", "CHANGED", "DELETED"]),
                    auto_export_policy=fsx.CfnDataRepositoryAssociation.AutoExportPolicyProperty(
                        events=["NEW", "CHANGED", "DELETED"]),
                ),
            )
        self.file_system_id = self.file_system.ref
        self.mount_name = self.file_system.attr_lustre_mount_name
        self.directory_root = f"/{self.mount_name}"
        self.key_statement = self._let_fsx_use(key)

    def _let_fsx_use(self, key: kms.IKey) -> iam.PolicyStatement:
        """FSx reads (and, with export, writes) the linked bucket's objects as its service-linked role
        ``AWSServiceRoleForFSxS3Access_<file system id>``, which a customer managed key must allow in its
        key policy. That role only exists once the file system does, and a key policy cannot name a
        principal that does not exist yet (nor the bucket, which depends on the key), so the statement
        names any principal and narrows it by conditions: that role name in this account, through S3."""
        stack = Stack.of(self)
        statement = iam.PolicyStatement(
            sid="AllowFsxLinkedBucketObjectsThroughS3", principals=[iam.AnyPrincipal()], resources=["*"],
            actions=["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
            conditions={
                "StringEquals": {"kms:CallerAccount": stack.account,
                                 "kms:ViaService": f"s3.{stack.region}.amazonaws.com"},
                "ArnLike": {"aws:PrincipalArn": f"arn:{stack.partition}:iam::{stack.account}:{FSX_S3_ROLE_PATH}*"},
            },
        )
        key.add_to_resource_policy(statement)
        return statement


class EfsTrainingData(TrainingFileSystem):
    """EFS (the notes' alternative when the data already lives there), encrypted with the
    lab key, one mount target in the training subnet, NFS 2049 from training instances only."""

    file_system_type = "EFS"

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings, vpc: ec2.IVpc, subnet: ec2.ISubnet,
                 key: kms.IKey) -> None:
        super().__init__(scope, id_, vpc=vpc)
        self._allow((NFS_PORT,), between_servers=False)
        self.file_system = efs.CfnFileSystem(
            self, "FileSystem", encrypted=True, kms_key_id=key.key_arn, performance_mode="generalPurpose",
            throughput_mode="elastic",
            backup_policy=efs.CfnFileSystem.BackupPolicyProperty(
                status="DISABLED" if settings.is_sandbox else "ENABLED"),
            lifecycle_policies=[efs.CfnFileSystem.LifecyclePolicyProperty(transition_to_ia="AFTER_30_DAYS")],
        )
        self.mount_target = efs.CfnMountTarget(
            self, "MountTarget", file_system_id=self.file_system.ref, subnet_id=subnet.subnet_id,
            security_groups=[self.security_group.security_group_id],
        )
        self.file_system_id = self.file_system.ref
        self.mount_name = ""
        self.directory_root = ""
