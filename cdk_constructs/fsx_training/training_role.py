"""The SageMaker execution role for training jobs that read a file system in a VPC."""

from __future__ import annotations

from aws_cdk import Aws, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_constructs.core.access import allow_key_use, allow_objects
from cdk_constructs.core.roles import LabRole
from lambdas.shared.lab_names import TRAINING_LOG_GROUP

# Account that publishes the AWS Deep Learning Containers in most regions.
DLC_ACCOUNT = "763104351884"
ENI_ACTIONS = ["ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission",
               "ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission"]
DESCRIBE_ACTIONS = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions",
                    "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ecr:GetAuthorizationToken"]


class TrainingExecutionRole(LabRole):
    """A role SageMaker assumes for the lab's training jobs, limited to:

    - reading the data bucket (File and FastFile inputs: s3:GetObject, s3:ListBucket), writing
      only under ``data_write_prefix`` there (default: nowhere; the fsx-training practice's
      data-set job syncs its shards there as checkpoints), and reading/writing the output
      bucket, with the lab key;
    - creating and deleting its network interfaces only in the lab VPC (describe calls
      have no resource type);
    - writing its own streams in ``/aws/sagemaker/TrainingJobs`` and metrics in that namespace;
    - pulling AWS Deep Learning Container images.
    """

    def __init__(self, scope: Construct, id_: str, *, vpc: ec2.IVpc, data_bucket: s3.IBucket,
                 output_bucket: s3.IBucket, key: kms.IKey, data_write_prefix: str | None = None) -> None:
        super().__init__(
            scope, id_,
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com",
                                            conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}),
            description="SageMaker training jobs of the fsx-training lab",
        )
        stack = Stack.of(self)
        allow_objects(self, data_bucket)
        if data_write_prefix:
            allow_objects(self, data_bucket, prefix=data_write_prefix, write=True)
        allow_objects(self, output_bucket, write=True)
        allow_key_use(self, key)
        vpc_arn = stack.format_arn(service="ec2", resource="vpc", resource_name=vpc.vpc_id)
        self.add_to_principal_policy(iam.PolicyStatement(
            sid="NetworkInterfacesInTheLabVpcOnly", actions=ENI_ACTIONS, resources=["*"],
            conditions={"ArnEqualsIfExists": {"ec2:Vpc": vpc_arn}},
        ))
        self.add_to_principal_policy(iam.PolicyStatement(sid="DescribeNetworkAndLogin", actions=DESCRIBE_ACTIONS,
                                                         resources=["*"]))
        log_group = f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:{TRAINING_LOG_GROUP}"
        self.add_to_principal_policy(iam.PolicyStatement(
            sid="TrainingJobLogs", actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                                            "logs:DescribeLogStreams"],
            resources=[f"{log_group}:*", f"{log_group}:log-stream:*"],
        ))
        self.add_to_principal_policy(iam.PolicyStatement(
            sid="TrainingJobMetrics", actions=["cloudwatch:PutMetricData"], resources=["*"],
            conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
        ))
        self.add_to_principal_policy(iam.PolicyStatement(
            sid="PullDeepLearningContainers",
            actions=["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
            resources=[f"arn:{Aws.PARTITION}:ecr:{Aws.REGION}:{DLC_ACCOUNT}:repository/*"],
        ))
