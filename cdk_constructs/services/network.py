"""A lab VPC: three Availability Zones, no NAT gateway, flow logs to a log group the stack owns."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws, Fn
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_constructs.core.roles import LabRole, service_of_this_account
from cdk_constructs.core.settings import LabSettings


class LabNetwork(Construct):
    """A VPC whose subnets are either all public or all isolated; never a NAT gateway.

    Public subnets (an internet gateway, no public IPs on launch) are for a service
    endpoint that an AWS service outside the VPC must reach; isolated subnets have
    no route out at all. Subnets span ``availability_zones`` (default: the first
    ``zone_count`` the region lists). REJECT flow logs go to a KMS-encrypted log group the
    stack owns, written by a role that may write only there.

    Attributes:
        vpc: the VPC.
        subnets: its subnets (one per Availability Zone).
        flow_log_group: the flow-log group.
    """

    def __init__(
        self, scope: Construct, id_: str, *, settings: LabSettings, key: kms.IKey, public: bool,
        availability_zones: Sequence[str] = (), zone_count: int = 3, cidr: str = "10.40.0.0/16",
    ) -> None:
        super().__init__(scope, id_)
        zones = list(availability_zones) or [Fn.select(i, Fn.get_azs()) for i in range(zone_count)]
        subnet_type = ec2.SubnetType.PUBLIC if public else ec2.SubnetType.PRIVATE_ISOLATED
        self.vpc = ec2.Vpc(
            self, "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            availability_zones=zones,
            nat_gateways=0,
            subnet_configuration=[ec2.SubnetConfiguration(
                name="Public" if public else "Isolated", subnet_type=subnet_type, cidr_mask=24,
                map_public_ip_on_launch=False if public else None,
            )],
        )
        self.subnets = self.vpc.public_subnets if public else self.vpc.isolated_subnets
        self.flow_log_group = logs.LogGroup(
            self, "FlowLogs", retention=settings.log_retention, removal_policy=settings.removal_policy,
            encryption_key=key,
        )
        # The flow log's owner account and ARN, per "IAM role for publishing flow logs to CloudWatch Logs"
        # (docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html).
        flow_logs = service_of_this_account("vpc-flow-logs.amazonaws.com", source_arn=(
            f"arn:{Aws.PARTITION}:ec2:{Aws.REGION}:{Aws.ACCOUNT_ID}:vpc-flow-log/*"))
        writer = LabRole(self, "FlowLogWriter", assumed_by=flow_logs,
                         description="VPC flow logs write to the lab's flow-log group")
        writer.add_to_principal_policy(iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            resources=[self.flow_log_group.log_group_arn],
        ))
        self.flow_log = ec2.CfnFlowLog(
            self, "FlowLog",
            resource_id=self.vpc.vpc_id, resource_type="VPC", traffic_type="REJECT",
            log_destination_type="cloud-watch-logs", log_group_name=self.flow_log_group.log_group_name,
            deliver_logs_permission_arn=writer.role_arn,
        )
        self.flow_log.node.add_dependency(writer.policy)
        self.flow_log_writer = writer

    def add_s3_gateway_endpoint(self) -> ec2.GatewayVpcEndpoint:
        """S3 through a gateway endpoint (free): isolated subnets reach S3 without NAT."""
        return self.vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3,
                                             subnets=[ec2.SubnetSelection(subnets=list(self.subnets))])
