"""Redshift Serverless for a lab: namespace, workgroup, admin secret, audit logs, DDL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import CustomResource, Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_redshiftserverless as redshift
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from cdk_constructs.core.functions import LabFunction
from cdk_constructs.core.settings import LabSettings

PORT = 5439
LOG_EXPORTS = ("connectionlog", "userlog", "useractivitylog")
# Redshift Serverless exports every namespace's logs into these account-wide groups.
SHARED_LOG_GROUP = "/aws/redshift/serverless/{log_type}"
# Printable ASCII that Redshift refuses in passwords: ' " \ / @ and space.
PASSWORD_EXCLUDED = "'\"\\/@ "


@dataclass(frozen=True)
class WarehouseOptions:
    """Redshift Serverless settings.

    Attributes:
        name: namespace and workgroup name (lower case, 3-64 characters).
        database: the database created in the namespace.
        admin_username: the admin user; its password is generated into Secrets Manager.
        base_capacity: RPUs while queries run (4 is the lowest Redshift accepts).
    """

    name: str
    database: str = "clickstream"
    admin_username: str = "labadmin"
    base_capacity: int = 4


class ServerlessWarehouse(Construct):
    """A Redshift Serverless namespace and workgroup in the given subnets.

    - Admin credentials generated into a Secrets Manager secret encrypted with the
      lab key; the namespace receives them as dynamic references, so no password
      is ever in the template.
    - Data encrypted with the lab key; connections must use TLS (``require_ssl``);
      user activity logging on, and connection, user and user-activity logs
      exported to CloudWatch. Those groups are account-wide (shared by every
      namespace), so the stack does not own them: it sets their retention and
      leaves the groups in place.
    - ``public_ingress_cidr``: make the endpoint publicly accessible and allow only
      that CIDR on the Redshift port. Without it the endpoint is private and its
      security group has no ingress rule at all.

    Attributes:
        namespace, workgroup: the L1 resources.
        secret: the admin credentials (JSON with ``username`` and ``password``).
        security_group: the workgroup's security group.
        database: the database name.
        jdbc_url: the endpoint as a JDBC URL.
    """

    def __init__(
        self, scope: Construct, id_: str, *, settings: LabSettings, options: WarehouseOptions, key: kms.IKey,
        vpc: ec2.IVpc, subnets: Sequence[ec2.ISubnet], public_ingress_cidr: str | None = None,
        roles: Sequence[iam.IRole] = (),
    ) -> None:
        super().__init__(scope, id_)
        self.database = options.database
        self.secret = secretsmanager.Secret(
            self, "AdminSecret",
            description=f"Admin credentials of Redshift Serverless namespace {options.name}",
            encryption_key=key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=f'{{"username": "{options.admin_username}"}}',
                generate_string_key="password",
                exclude_characters=PASSWORD_EXCLUDED,
                password_length=32,
                require_each_included_type=True,
            ),
            removal_policy=settings.removal_policy,
        )
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, allow_all_outbound=False,
            description=f"Redshift Serverless {options.name}: "
                        + (f"port {PORT} from {public_ingress_cidr} only" if public_ingress_cidr else "no ingress"),
        )
        if public_ingress_cidr:
            self.security_group.add_ingress_rule(
                ec2.Peer.ipv4(public_ingress_cidr), ec2.Port.tcp(PORT),
                "Amazon Data Firehose in this region (its published CIDR)",
            )
        self.namespace = redshift.CfnNamespace(
            self, "Namespace",
            namespace_name=options.name,
            db_name=options.database,
            admin_username=self.secret.secret_value_from_json("username").unsafe_unwrap(),
            admin_user_password=self.secret.secret_value_from_json("password").unsafe_unwrap(),
            kms_key_id=key.key_arn,
            log_exports=list(LOG_EXPORTS),
            iam_roles=[role.role_arn for role in roles] or None,
            default_iam_role_arn=roles[0].role_arn if roles else None,
        )
        self.workgroup = redshift.CfnWorkgroup(
            self, "Workgroup",
            workgroup_name=options.name,
            namespace_name=self.namespace.namespace_name,
            base_capacity=options.base_capacity,
            publicly_accessible=public_ingress_cidr is not None,
            enhanced_vpc_routing=False,
            subnet_ids=[subnet.subnet_id for subnet in subnets],
            security_group_ids=[self.security_group.security_group_id],
            port=PORT,
            config_parameters=[
                redshift.CfnWorkgroup.ConfigParameterProperty(parameter_key="require_ssl", parameter_value="true"),
                redshift.CfnWorkgroup.ConfigParameterProperty(
                    parameter_key="enable_user_activity_logging", parameter_value="true"),
            ],
        )
        self.workgroup.node.add_dependency(self.namespace)
        self.log_retention = [
            logs.LogRetention(
                self, f"{log_type.capitalize()}Retention",
                log_group_name=SHARED_LOG_GROUP.format(log_type=log_type),
                retention=settings.log_retention,
            )
            for log_type in LOG_EXPORTS
        ]

    @property
    def endpoint_address(self) -> str:
        return self.workgroup.attr_workgroup_endpoint_address

    @property
    def jdbc_url(self) -> str:
        return f"jdbc:redshift://{self.endpoint_address}:{PORT}/{self.database}"

    @property
    def workgroup_name(self) -> str:
        return self.workgroup.attr_workgroup_workgroup_name

    @property
    def workgroup_arn(self) -> str:
        return self.workgroup.attr_workgroup_workgroup_arn


class RedshiftSql(Construct):
    """Runs idempotent DDL in a ServerlessWarehouse through the Data API at deploy time.

    A custom resource (``lambdas/clickstream_redshift_sql``) runs ``statements`` in order on
    create and on every update whose statements change; delete leaves the objects
    to the namespace. The function may run statements only on this workgroup, and
    read only this warehouse's secret.

    Attributes:
        function: the LabFunction.
        resource: the custom resource; depend on it to use the objects it creates.
    """

    def __init__(
        self, scope: Construct, id_: str, *, settings: LabSettings, warehouse: ServerlessWarehouse,
        key: kms.IKey, statements: Sequence[str], description: str,
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        self.function = LabFunction(
            self, "Function", settings=settings, handler_dir="clickstream_redshift_sql",
            shared_modules=["cfn_response"],
            description=description, timeout=Duration.minutes(10), log_key=key,
        )
        role = self.function.role
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="RunStatementsOnThisWorkgroup", actions=["redshift-data:ExecuteStatement"],
            resources=[warehouse.workgroup_arn],
        ))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="FollowOwnStatements",
            actions=["redshift-data:DescribeStatement", "redshift-data:CancelStatement"],
            resources=["*"],
            conditions={"StringEquals": {"redshift-data:statement-owner-iam-userid": "${aws:userid}"}},
        ))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="ReadTheAdminSecret", actions=["secretsmanager:GetSecretValue"],
            resources=[warehouse.secret.secret_arn],
        ))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="DecryptTheAdminSecret", actions=["kms:Decrypt"], resources=[key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"secretsmanager.{stack.region}.amazonaws.com"}},
        ))
        self.resource = CustomResource(
            self, "Resource",
            service_token=self.function.function.function_arn,
            resource_type="Custom::RedshiftSql",
            properties={
                "WorkgroupName": warehouse.workgroup_name,
                "Database": warehouse.database,
                "SecretArn": warehouse.secret.secret_arn,
                "Statements": list(statements),
            },
        )
        self.resource.node.add_dependency(role.policy)
        self.resource.node.add_dependency(warehouse.workgroup)
