"""Lake Formation governance: admins, registered S3 locations, and grants."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws, CfnResource, CustomResource, Duration, Fn, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lakeformation as lakeformation
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_constructs.core.access import allow_key_use, allow_objects
from cdk_constructs.core.functions import LabFunction
from cdk_constructs.core.roles import LabRole, service_of_this_account
from cdk_constructs.core.settings import LabSettings


def cfn_execution_role_arn(stack: Stack) -> str:
    """ARN of the role CloudFormation uses to deploy this stack (CDK bootstrap)."""
    return Fn.sub(stack.synthesizer.cloud_formation_execution_role_arn)


class LakeFormationAdmins(Construct):
    """Makes principals Lake Formation data lake administrators without removing others.

    ``PutDataLakeSettings`` replaces the whole admin list, so the settings resource
    uses ``MutationType: APPEND``. The CloudFormation execution role must be an admin
    or every grant fails ("requester is not authorized"): grants depend on
    ``self.settings``. Settings are account-wide and outlive the stack, and a deleted
    role left in the admin list breaks every later ``PutDataLakeSettings``
    ("Invalid principal"). So a custom resource (``lambdas/data_lake_lf_cleanup``)
    removes the principals this stack created (``removable_admin_arns``) from the
    list after the settings resource is deleted. The execution role belongs to the
    CDK bootstrap, outlives the lab, and stays.

    Attributes:
        settings: the ``AWS::LakeFormation::DataLakeSettings`` resource.
        cleanup: the custom resource that removes the lab's admins on delete.
        cleanup_function: its Lambda function.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        settings: LabSettings,
        kept_admin_arns: Sequence[str],
        removable_admin_arns: Sequence[str],
        log_key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, id_)
        self.cleanup_function = LabFunction(
            self,
            "CleanupFunction",
            settings=settings,
            handler_dir="data_lake_lf_cleanup",
            shared_modules=["cfn_response"],
            description="Removes the lab's own Lake Formation admins when the lab is deleted",
            timeout=Duration.seconds(60),
            log_key=log_key,
        )
        self.cleanup_function.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["lakeformation:GetDataLakeSettings", "lakeformation:PutDataLakeSettings"],
                resources=["*"],
            )
        )
        self.cleanup = CustomResource(
            self,
            "Cleanup",
            service_token=self.cleanup_function.function.function_arn,
            resource_type="Custom::LakeFormationAdminCleanup",
            properties={"Principals": list(removable_admin_arns)},
        )
        self.cleanup.node.add_dependency(self.cleanup_function.role.policy)
        self.settings = lakeformation.CfnDataLakeSettings(
            self,
            "Settings",
            mutation_type="APPEND",
            admins=[
                lakeformation.CfnDataLakeSettings.DataLakePrincipalProperty(data_lake_principal_identifier=arn)
                for arn in [*kept_admin_arns, *removable_admin_arns]
            ],
        )
        # Created after the cleanup resource, so deleted before it: cleanup runs last.
        self.settings.node.add_dependency(self.cleanup)


class RegisteredLocation(Construct):
    """Registers an S3 bucket with Lake Formation using a dedicated role.

    Lake Formation vends temporary credentials from ``role`` to integrated
    services (Athena, Glue) for principals granted access through Lake Formation.

    Attributes:
        role: the registration role, a LabRole (read/write on the bucket, use of its key).
        resource: the ``AWS::LakeFormation::Resource``.
    """

    def __init__(self, scope: Construct, id_: str, *, bucket: s3.IBucket, key: kms.IKey) -> None:
        super().__init__(scope, id_)
        self.role = LabRole(
            self,
            "Access",
            # Lake Formation sets both keys, aws:SourceArn as arn:<partition>:lakeformation:<region>:<account>:*
            # (docs.aws.amazon.com/lake-formation/latest/dg/cross-service-confused-deputy-prevention.html).
            assumed_by=service_of_this_account("lakeformation.amazonaws.com", source_arn=(
                f"arn:{Aws.PARTITION}:lakeformation:{Aws.REGION}:{Aws.ACCOUNT_ID}:*")),
            description=f"Lake Formation reads and writes the {id_} location with this role",
        )
        allow_objects(self.role, bucket, write=True)
        allow_key_use(self.role, key)
        self.resource = lakeformation.CfnResource(
            self,
            "Resource",
            resource_arn=bucket.bucket_arn,
            use_service_linked_role=False,
            role_arn=self.role.role_arn,
            hybrid_access_enabled=False,
        )
        # The role's policy must exist before Lake Formation validates the registration.
        self.resource.node.add_dependency(self.role.policy)


class LakeFormationGrant(Construct):
    """One Lake Formation grant, ordered after everything it needs.

    Attributes:
        permissions: the ``AWS::LakeFormation::PrincipalPermissions`` resource.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        principal_arn: str,
        resource: lakeformation.CfnPrincipalPermissions.ResourceProperty,
        permissions: Sequence[str],
        after: Sequence[Construct | CfnResource],
    ) -> None:
        super().__init__(scope, id_)
        self.permissions = lakeformation.CfnPrincipalPermissions(
            self,
            "Permissions",
            principal=lakeformation.CfnPrincipalPermissions.DataLakePrincipalProperty(
                data_lake_principal_identifier=principal_arn
            ),
            resource=resource,
            permissions=list(permissions),
            permissions_with_grant_option=[],
        )
        for dependency in after:
            self.permissions.node.add_dependency(dependency)


def database_resource(catalog_id: str, database_name: str) -> lakeformation.CfnPrincipalPermissions.ResourceProperty:
    return lakeformation.CfnPrincipalPermissions.ResourceProperty(
        database=lakeformation.CfnPrincipalPermissions.DatabaseResourceProperty(
            catalog_id=catalog_id, name=database_name
        )
    )


def all_tables_resource(catalog_id: str, database_name: str) -> lakeformation.CfnPrincipalPermissions.ResourceProperty:
    return lakeformation.CfnPrincipalPermissions.ResourceProperty(
        table=lakeformation.CfnPrincipalPermissions.TableResourceProperty(
            catalog_id=catalog_id, database_name=database_name, table_wildcard={}
        )
    )


def data_location_resource(
    catalog_id: str, bucket: s3.IBucket,
) -> lakeformation.CfnPrincipalPermissions.ResourceProperty:
    return lakeformation.CfnPrincipalPermissions.ResourceProperty(
        data_location=lakeformation.CfnPrincipalPermissions.DataLocationResourceProperty(
            catalog_id=catalog_id, resource_arn=bucket.bucket_arn
        )
    )
