"""Glue Data Catalog pieces: zone databases and a governed crawler."""

from __future__ import annotations

import json
from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_constructs.core.access import allow_key_use, allow_objects, glue_catalog_arns
from cdk_constructs.core.roles import LabRole, service_of_this_account
from cdk_constructs.core.settings import LabSettings


class ZoneDatabase(Construct):
    """A Glue database for one data-lake zone, governed by Lake Formation by default.

    ``governed`` (default): ``CreateTableDefaultPermissions`` is empty, which revokes the
    ``IAMAllowedPrincipals`` grant for new tables in this database only (the
    account-wide defaults are left alone): tables the crawler creates are readable
    only through Lake Formation grants. ``governed=False`` keeps the account's defaults,
    so IAM policies alone decide who reads the tables (labs without Lake Formation).

    Attributes:
        database: the ``AWS::Glue::Database``.
        database_name: its name.
    """

    def __init__(self, scope: Construct, id_: str, *, database_name: str, bucket: s3.IBucket, description: str,
                 governed: bool = True) -> None:
        super().__init__(scope, id_)
        self.database_name = database_name
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=Stack.of(self).account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=database_name,
                description=description,
                location_uri=f"s3://{bucket.bucket_name}/",
                create_table_default_permissions=[] if governed else None,
            ),
        )


def glue_security_configuration(
    scope: Construct, id_: str, *, name: str, key: kms.IKey,
) -> glue.CfnSecurityConfiguration:
    """A Glue security configuration that encrypts CloudWatch logs (SSE-KMS), job bookmarks (CSE-KMS)
    and S3 output (SSE-KMS) with ``key``. Glue then writes a job's or crawler's logs to log groups
    named after the role and this configuration."""
    kms_mode = {"kms_key_arn": key.key_arn}
    return glue.CfnSecurityConfiguration(
        scope,
        id_,
        name=name,
        encryption_configuration=glue.CfnSecurityConfiguration.EncryptionConfigurationProperty(
            cloud_watch_encryption=glue.CfnSecurityConfiguration.CloudWatchEncryptionProperty(
                cloud_watch_encryption_mode="SSE-KMS", **kms_mode
            ),
            job_bookmarks_encryption=glue.CfnSecurityConfiguration.JobBookmarksEncryptionProperty(
                job_bookmarks_encryption_mode="CSE-KMS", **kms_mode
            ),
            s3_encryptions=[
                glue.CfnSecurityConfiguration.S3EncryptionProperty(s3_encryption_mode="SSE-KMS", **kms_mode),
            ],
        ),
    )


class GovernedCrawler(Construct):
    """An on-demand Glue crawler over one S3 prefix, with its own role and encryption.

    Defaults: no schedule (a crawler bills $0.44 per DPU-hour, 10-minute minimum, so
    it runs only when asked); a Glue security configuration of its own that encrypts its
    CloudWatch logs, job bookmarks and S3 output with the lab key (or the given
    ``security_configuration``, shared with jobs); Lake Formation credentials off but
    ``lakeformation:GetDataAccess`` allowed (``lake_formation=False`` drops both); no
    exclusions unless given (glob patterns relative to the prefix); the log group
    Glue writes to under that configuration
    (``/aws-glue/crawlers-role/<role name>-<configuration name>``) owned by the
    stack with the profile's retention; schema changes update the catalog and
    deletions are only logged.

    Attributes:
        role: the crawler's role (a LabRole).
        security_configuration: the Glue security configuration.
        log_group: the crawler's log group.
        crawler: the ``AWS::Glue::Crawler``.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        settings: LabSettings,
        database: ZoneDatabase,
        bucket: s3.IBucket,
        prefix: str,
        key: kms.IKey,
        zone: str = "raw",
        security_configuration: glue.CfnSecurityConfiguration | None = None,
        lake_formation: bool = True,
        exclusions: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        self.role = LabRole(
            self,
            "Access",
            # aws:SourceAccount, as the batch-etl lab's Glue job roles have it
            # (cdk_constructs.batch_etl.jobs.service_role).
            assumed_by=service_of_this_account("glue.amazonaws.com"),
            description=f"Glue crawler over s3://<{zone}>/{prefix}",
        )
        if security_configuration is None:
            security_configuration = glue_security_configuration(
                self, "SecurityConfiguration", name=f"{stack.stack_name}-{id_}"[:128], key=key)
        self.security_configuration = security_configuration
        configuration_name = security_configuration.name
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            log_group_name=f"/aws-glue/crawlers-role/{self.role.role_name}-{configuration_name}",
            encryption_key=key,
            retention=settings.log_retention,
            removal_policy=settings.removal_policy,
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="CatalogInItsDatabase",
                actions=[
                    "glue:GetDatabase",
                    "glue:GetTable",
                    "glue:GetTables",
                    "glue:CreateTable",
                    "glue:UpdateTable",
                    "glue:GetPartition",
                    "glue:GetPartitions",
                    "glue:BatchGetPartition",
                    "glue:CreatePartition",
                    "glue:BatchCreatePartition",
                    "glue:UpdatePartition",
                    "glue:BatchUpdatePartition",
                ],
                resources=glue_catalog_arns(database.database_name),
            )
        )
        allow_objects(self.role, bucket, prefix=prefix)
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ItsEncryptedLogs",
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"],
                resources=[self.log_group.log_group_arn, f"{self.log_group.log_group_arn}:log-stream:*"],
            )
        )
        if lake_formation:
            self.role.add_to_principal_policy(
                iam.PolicyStatement(
                    sid="LakeFormationCredentials",
                    actions=["lakeformation:GetDataAccess"],
                    resources=["*"],
                )
            )
        allow_key_use(self.role, key, encrypt=False)
        self.crawler = glue.CfnCrawler(
            self,
            "Crawler",
            role=self.role.role_arn,
            database_name=database.database_name,
            description=f"On-demand crawler over s3://<{zone} zone>/{prefix} (date-partitioned dt=YYYY-MM-DD)"
            if zone == "raw" else f"On-demand crawler over s3://<{zone} zone>/{prefix}",
            targets=glue.CfnCrawler.TargetsProperty(
                s3_targets=[glue.CfnCrawler.S3TargetProperty(path=f"s3://{bucket.bucket_name}/{prefix}",
                                                             exclusions=list(exclusions) or None)]
            ),
            crawler_security_configuration=configuration_name,
            schema_change_policy=glue.CfnCrawler.SchemaChangePolicyProperty(
                update_behavior="UPDATE_IN_DATABASE", delete_behavior="LOG"
            ),
            recrawl_policy=glue.CfnCrawler.RecrawlPolicyProperty(recrawl_behavior="CRAWL_EVERYTHING"),
            lake_formation_configuration=glue.CfnCrawler.LakeFormationConfigurationProperty(
                use_lake_formation_credentials=False
            ) if lake_formation else None,
            configuration=json.dumps(
                {
                    "Version": 1.0,
                    "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"},
                    "CrawlerOutput": {"Partitions": {"AddOrUpdateBehavior": "InheritFromTable"}},
                },
                separators=(",", ":"),
            ),
        )
        self.crawler.node.add_dependency(self.security_configuration)
        self.crawler.node.add_dependency(self.log_group)
        self.crawler.node.add_dependency(self.role.policy)
