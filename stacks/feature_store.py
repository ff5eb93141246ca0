"""The feature-store lab: SageMaker Feature Store with online and offline stores.

Maps to the study notes (Data Engineering / ML implementation): a shared feature store
where features are built once and reused by several teams and models, with the same
values at training (the offline store in S3, queried through Athena) and at inference
(the online store, millisecond reads).
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from catalog import feature_store as contract
from catalog.feature_store import DATABASE_NAME, OFFLINE_PREFIX, FeatureStoreOptions
from cdk_constructs.core.access import allow_key_use, allow_objects, glue_catalog_arns
from cdk_constructs.core.acknowledge import acknowledge_iam5, acknowledge_lab_buckets_nist, objects_finding
from cdk_constructs.core.budget import lab_budget
from cdk_constructs.core.encryption import LabKey
from cdk_constructs.core.outputs import emit_outputs
from cdk_constructs.core.profile import apply_lab_profile
from cdk_constructs.core.roles import LabRole
from cdk_constructs.core.settings import LabSettings
from cdk_constructs.core.storage import LabBucket, access_log_bucket, empty_logs_last
from cdk_constructs.feature_store.feature_groups import LabFeatureGroup, OfflineStoreRole
from cdk_constructs.services.athena import GovernedWorkgroup

DEFAULT_OPTIONS = FeatureStoreOptions()


class FeatureStoreStack(Stack):
    """Feature groups with online and offline stores, their catalog, roles and Athena workgroup."""

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings,
                 options: FeatureStoreOptions = DEFAULT_OPTIONS, **kwargs) -> None:
        super().__init__(scope, id_, description="mlref-labs feature-store: SageMaker Feature Store online and offline",
                         **kwargs)
        self.settings, self.options = settings, options
        self.key = LabKey(self, "FeatureStoreKey", settings=settings,
                          description="mlref feature-store: online and offline stores, query results, logs").key
        apply_lab_profile(self, settings, log_key=self.key)

        self.access_logs = access_log_bucket(self, settings)
        buckets = {"settings": settings, "encryption_key": self.key, "access_logs_bucket": self.access_logs.bucket}
        self.offline = LabBucket(self, "OfflineStore", **buckets)
        self.query_results = LabBucket(
            self, "QueryResults",
            lifecycle_rules=[s3.LifecycleRule(id="QueryResultsExpire", expiration=Duration.days(30),
                                              noncurrent_version_expiration=Duration.days(1))], **buckets,
        )
        empty_logs_last(self.access_logs, self.offline, self.query_results)

        self.database = glue.CfnDatabase(
            self, "Catalog", catalog_id=self.account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=DATABASE_NAME, description="Offline stores of the mlref feature-store lab (stack-owned tables)",
                location_uri=f"s3://{self.offline.bucket.bucket_name}/{OFFLINE_PREFIX}/",
            ),
        )
        self.offline_role = OfflineStoreRole(self, "OfflineStoreWriter", bucket=self.offline.bucket, key=self.key)
        self.groups = {
            spec.id: LabFeatureGroup(self, spec.camel_id, settings=settings, spec=spec, bucket=self.offline.bucket,
                                     key=self.key, role=self.offline_role, database_name=DATABASE_NAME,
                                     database=self.database)
            for spec in options.groups
        }
        self.workgroup = GovernedWorkgroup(self, "OfflineQueries", settings=settings,
                                           results_bucket=self.query_results.bucket, key=self.key,
                                           bytes_scanned_cutoff=options.bytes_scanned_cutoff)
        self.ingestion_role = LabRole(self, "Ingestion", assumed_by=iam.AccountRootPrincipal(),
                                      description="Writes records into the lab's feature groups",
                                      max_session_duration=Duration.hours(1))
        self.consumer_role = LabRole(self, "Consumer", assumed_by=iam.AccountRootPrincipal(),
                                     description="Reads the online store and queries the offline store",
                                     max_session_duration=Duration.hours(1))
        self._allow_ingestion()
        self._allow_consumption()
        self.budget = lab_budget(self, settings, contract.cost(options))
        self._outputs()
        self._acknowledge_findings()

    # -- wiring ------------------------------------------------------------------------

    def _group_arns(self) -> list[str]:
        return [group.feature_group_arn for group in self.groups.values()]

    def _allow_ingestion(self) -> None:
        role = self.ingestion_role
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="WriteRecords", actions=["sagemaker:PutRecord", "sagemaker:DescribeFeatureGroup"],
            resources=self._group_arns()))
        allow_key_use(role, self.key)

    def _allow_consumption(self) -> None:
        role = self.consumer_role
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="ReadOnlineStore",
            actions=["sagemaker:GetRecord", "sagemaker:BatchGetRecord", "sagemaker:DescribeFeatureGroup"],
            resources=self._group_arns()))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="QueryInLabWorkgroup",
            actions=["athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults",
                     "athena:StopQueryExecution", "athena:GetWorkGroup"],
            resources=[self.format_arn(service="athena", resource="workgroup",
                                       resource_name=self.workgroup.workgroup_name)]))
        catalog, database, _ = glue_catalog_arns(DATABASE_NAME)
        tables = [f"{catalog.rsplit(':', 1)[0]}:table/{DATABASE_NAME}/{group.table.table_name}"
                  for group in self.groups.values()]
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="OfflineStoreCatalog",
            actions=["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartitions"],
            resources=[catalog, database, *tables]))
        allow_objects(role, self.offline.bucket, prefix=f"{OFFLINE_PREFIX}/")
        allow_objects(role, self.query_results.bucket, prefix="athena/", write=True)
        allow_key_use(role, self.key)

    def _outputs(self) -> None:
        values = {
            contract.DATABASE: DATABASE_NAME,
            contract.WORKGROUP: self.workgroup.workgroup_name,
            contract.INGESTION_ROLE: self.ingestion_role.role_arn,
            contract.CONSUMER_ROLE: self.consumer_role.role_arn,
            contract.OFFLINE_BUCKET: self.offline.bucket.bucket_name,
            contract.KEY: self.key.key_arn,
        }
        for group in self.groups.values():
            values[group.spec.group_output] = group.feature_group_name
            values[group.spec.table_output] = group.table.table_name
        emit_outputs(self, contract.CONTRACT, self.options, values)

    # -- the one place for this stack's acknowledgments ---------------------------------

    def _acknowledge_findings(self) -> None:
        acknowledge_iam5(self.offline_role.policy, [objects_finding(self.offline.bucket, f"{OFFLINE_PREFIX}/")],
                         "Feature Store writes Parquet files with generated names under each group's offline "
                         "prefix (account, region, group name and creation time, then hourly partitions)")
        acknowledge_iam5(self.consumer_role.policy, [objects_finding(self.offline.bucket, f"{OFFLINE_PREFIX}/")],
                         "Athena reads every offline-store file of the lab's feature groups; file names are "
                         "generated by Feature Store")
        acknowledge_iam5(self.consumer_role.policy, [objects_finding(self.query_results.bucket, "athena/")],
                         "Athena writes each query's result files under athena/ with generated names; limited to "
                         "that prefix of the lab's own query-results bucket")
        if not self.settings.is_sandbox:
            acknowledge_lab_buckets_nist([self.offline.bucket, self.query_results.bucket], self.access_logs.bucket)
