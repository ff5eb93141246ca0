"""The data-lake lab: a Lake Formation governed data lake on S3.

Maps to the study notes (Data Engineering): S3 as the backbone of ML data, storage
classes and lifecycle transitions, SSE-KMS and bucket policies, date partitioning,
the raw -> curated -> archive data journey, the Glue Data Catalog and crawlers,
Lake Formation permissions, and Athena for ad-hoc SQL.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from catalog import data_lake as contract
from catalog.data_lake import CURATED_PREFIX, SAMPLE_PREFIX, DataLakeOptions
from cdk_constructs.core.access import allow_key_use, allow_objects, glue_catalog_arns, glue_tables_finding
from cdk_constructs.core.acknowledge import (
    acknowledge_iam5,
    acknowledge_lab_buckets_nist,
    acknowledge_lambda_nist,
    arn_in_finding,
    objects_finding,
)
from cdk_constructs.core.budget import lab_budget
from cdk_constructs.core.encryption import LabKey
from cdk_constructs.core.outputs import emit_outputs
from cdk_constructs.core.profile import apply_lab_profile
from cdk_constructs.core.roles import LabRole
from cdk_constructs.core.settings import LabSettings
from cdk_constructs.core.storage import LabBucket, access_log_bucket, empty_logs_last
from cdk_constructs.data_lake.lake_formation import (
    LakeFormationAdmins,
    LakeFormationGrant,
    RegisteredLocation,
    all_tables_resource,
    cfn_execution_role_arn,
    data_location_resource,
    database_resource,
)
from cdk_constructs.services.athena import GovernedWorkgroup
from cdk_constructs.services.glue_catalog import GovernedCrawler, ZoneDatabase


def raw_lifecycle() -> list[s3.LifecycleRule]:
    return [
        s3.LifecycleRule(
            id="RawToIntelligentTiering",
            transitions=[
                s3.Transition(storage_class=s3.StorageClass.INTELLIGENT_TIERING, transition_after=Duration.days(30))
            ],
        ),
        s3.LifecycleRule(id="RawScratchExpires", prefix="scratch/", expiration=Duration.days(7)),
        s3.LifecycleRule(id="RawNoncurrentVersionsExpire", noncurrent_version_expiration=Duration.days(30)),
    ]


def curated_lifecycle() -> list[s3.LifecycleRule]:
    return [
        s3.LifecycleRule(
            id="CuratedToStandardIA",
            transitions=[
                s3.Transition(storage_class=s3.StorageClass.INFREQUENT_ACCESS, transition_after=Duration.days(90))
            ],
        ),
        s3.LifecycleRule(
            id="CuratedNoncurrentToIAThenExpire",
            noncurrent_version_transitions=[
                s3.NoncurrentVersionTransition(
                    storage_class=s3.StorageClass.INFREQUENT_ACCESS, transition_after=Duration.days(30)
                )
            ],
            noncurrent_version_expiration=Duration.days(60),
        ),
    ]


def archive_lifecycle() -> list[s3.LifecycleRule]:
    return [
        s3.LifecycleRule(
            id="ArchiveToGlacierThenDeepArchive",
            transitions=[
                s3.Transition(storage_class=s3.StorageClass.GLACIER, transition_after=Duration.days(30)),
                s3.Transition(storage_class=s3.StorageClass.DEEP_ARCHIVE, transition_after=Duration.days(180)),
            ],
            expiration=Duration.days(3650),
        ),
        s3.LifecycleRule(id="ArchiveNoncurrentVersionsExpire", noncurrent_version_expiration=Duration.days(30)),
    ]


DEFAULT_OPTIONS = DataLakeOptions()


class DataLakeStack(Stack):
    """Zones on S3 under one KMS key, catalogued by Glue, governed by Lake Formation,
    queried through an Athena workgroup."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        settings: LabSettings,
        options: DataLakeOptions = DEFAULT_OPTIONS,
        **kwargs,
    ) -> None:
        super().__init__(scope, id_, description="mlref-labs data-lake: Lake Formation governed data lake on S3",
                         **kwargs)

        # Storage: one key, zone buckets logging to an access-log bucket.
        self.key = LabKey(self, "DataLakeKey", settings=settings,
                          description="mlref data-lake zones, logs and query results").key
        apply_lab_profile(self, settings, log_key=self.key)
        self.access_logs = access_log_bucket(self, settings)
        zone = {"settings": settings, "encryption_key": self.key, "access_logs_bucket": self.access_logs.bucket}
        self.raw = LabBucket(self, "RawZone", lifecycle_rules=raw_lifecycle(), **zone)
        self.curated = LabBucket(self, "CuratedZone", lifecycle_rules=curated_lifecycle(), **zone)
        self.archive = LabBucket(self, "ArchiveZone", lifecycle_rules=archive_lifecycle(), **zone)
        self.query_results = LabBucket(
            self, "QueryResults",
            lifecycle_rules=[s3.LifecycleRule(id="QueryResultsExpire", expiration=Duration.days(30),
                                              noncurrent_version_expiration=Duration.days(1))], **zone,
        )
        empty_logs_last(self.access_logs, self.raw, self.curated, self.archive, self.query_results)

        # Catalog: a database per zone, an on-demand crawler over the raw zone.
        self.databases = {
            name: ZoneDatabase(
                self, f"{name.capitalize()}Database", database_name=f"{options.database_prefix}_{name}",
                bucket=bucket.bucket, description=f"The {name} zone of the mlref data lake",
            )
            for name, bucket in (("raw", self.raw), ("curated", self.curated), ("archive", self.archive))
        }
        self.crawler = GovernedCrawler(
            self, "RawCrawler", settings=settings, database=self.databases["raw"],
            bucket=self.raw.bucket, prefix=SAMPLE_PREFIX, key=self.key,
        )

        # People: a data engineer who administers the lake, a read-only analyst.
        self.workgroup = GovernedWorkgroup(
            self, "Analytics", settings=settings, results_bucket=self.query_results.bucket,
            key=self.key, bytes_scanned_cutoff=options.bytes_scanned_cutoff,
        )
        self.engineer_role = LabRole(
            self, "DataEngineer", assumed_by=iam.AccountRootPrincipal(),
            description="Lake Formation admin of the lab: curates raw data into the curated zone",
            max_session_duration=Duration.hours(1),
        )
        self.analyst_role = LabRole(
            self, "Analyst", assumed_by=iam.AccountRootPrincipal(),
            description="Read-only analyst: queries the curated zone through Athena and Lake Formation",
            max_session_duration=Duration.hours(1),
        )
        for role in (self.engineer_role, self.analyst_role):
            self._allow_athena_queries(role)
        self._allow_catalog(self.analyst_role, ["curated"], write=False)
        self._allow_catalog(self.engineer_role, ["raw", "curated"], write=True)
        allow_objects(self.engineer_role, self.raw.bucket, prefix=SAMPLE_PREFIX)
        allow_objects(self.engineer_role, self.curated.bucket, prefix=CURATED_PREFIX, write=True)

        # Governance: admins, registered locations, grants in dependency order.
        self.admins = LakeFormationAdmins(
            self, "LakeFormationAdmins", settings=settings,
            kept_admin_arns=[cfn_execution_role_arn(self)],
            removable_admin_arns=[self.engineer_role.role_arn], log_key=self.key,
        )
        self.locations = {
            "raw": RegisteredLocation(self, "RawLocation", bucket=self.raw.bucket, key=self.key),
            "curated": RegisteredLocation(self, "CuratedLocation", bucket=self.curated.bucket, key=self.key),
        }
        self.grants = self._grant_lake_formation_permissions()
        self.settings, self.options = settings, options
        self.budget = lab_budget(self, settings, contract.cost(options))
        self._outputs()
        self._acknowledge_findings(settings)

    # -- wiring ------------------------------------------------------------------------

    def _allow_athena_queries(self, role: LabRole) -> None:
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="QueryInLabWorkgroup",
                actions=[
                    "athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults",
                    "athena:StopQueryExecution", "athena:GetWorkGroup",
                ],
                resources=[self.format_arn(service="athena", resource="workgroup",
                                           resource_name=self.workgroup.workgroup_name)],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="LakeFormationCredentials", actions=["lakeformation:GetDataAccess"], resources=["*"],
            )
        )
        allow_objects(role, self.query_results.bucket, prefix="athena/", write=True)
        allow_key_use(role, self.key)

    def _allow_catalog(self, role: LabRole, zones: list[str], *, write: bool) -> None:
        actions = ["glue:GetDatabase", "glue:GetDatabases", "glue:GetTable", "glue:GetTables",
                   "glue:GetPartition", "glue:GetPartitions", "glue:BatchGetPartition"]
        if write:
            actions += ["glue:CreateTable", "glue:UpdateTable", "glue:DeleteTable",
                        "glue:BatchCreatePartition", "glue:CreatePartition", "glue:UpdatePartition"]
        resources = list(dict.fromkeys(arn for zone in zones
                                       for arn in glue_catalog_arns(self.databases[zone].database_name)))
        role.add_to_principal_policy(iam.PolicyStatement(sid="CatalogOfZones", actions=actions, resources=resources))

    def _grant_lake_formation_permissions(self) -> dict[str, LakeFormationGrant]:
        catalog = self.account
        raw_db, curated_db = self.databases["raw"], self.databases["curated"]
        admins = self.admins.settings
        specs = {
            # The crawler creates and updates tables in the raw database.
            "CrawlerRawDatabase": (self.crawler.role, database_resource(catalog, raw_db.database_name),
                                   ["CREATE_TABLE", "ALTER", "DROP", "DESCRIBE"], [raw_db.database]),
            "CrawlerRawLocation": (self.crawler.role, data_location_resource(catalog, self.raw.bucket),
                                   ["DATA_LOCATION_ACCESS"], [self.locations["raw"].resource]),
            # The engineer reads raw tables and writes the curated zone (CTAS).
            "EngineerRawTables": (self.engineer_role, all_tables_resource(catalog, raw_db.database_name),
                                  ["SELECT", "DESCRIBE"], [raw_db.database]),
            "EngineerCuratedDatabase": (self.engineer_role, database_resource(catalog, curated_db.database_name),
                                        ["CREATE_TABLE", "ALTER", "DROP", "DESCRIBE"], [curated_db.database]),
            "EngineerCuratedTables": (self.engineer_role, all_tables_resource(catalog, curated_db.database_name),
                                      ["SELECT", "INSERT", "DELETE", "ALTER", "DROP", "DESCRIBE"],
                                      [curated_db.database]),
            "EngineerCuratedLocation": (self.engineer_role, data_location_resource(catalog, self.curated.bucket),
                                        ["DATA_LOCATION_ACCESS"], [self.locations["curated"].resource]),
            # The analyst only describes and selects in the curated zone.
            "AnalystCuratedDatabase": (self.analyst_role, database_resource(catalog, curated_db.database_name),
                                       ["DESCRIBE"], [curated_db.database]),
            "AnalystCuratedTables": (self.analyst_role, all_tables_resource(catalog, curated_db.database_name),
                                     ["SELECT", "DESCRIBE"], [curated_db.database]),
        }
        return {
            name: LakeFormationGrant(
                self, f"{name}Grant", principal_arn=role.role_arn, resource=resource,
                permissions=permissions, after=[admins, role.policy, *needs],
            )
            for name, (role, resource, permissions, needs) in specs.items()
        }

    def _outputs(self) -> None:
        emit_outputs(self, contract.CONTRACT, self.options, {
            contract.RAW_BUCKET: self.raw.bucket.bucket_name,
            contract.CURATED_BUCKET: self.curated.bucket.bucket_name,
            contract.ARCHIVE_BUCKET: self.archive.bucket.bucket_name,
            contract.QUERY_RESULTS_BUCKET: self.query_results.bucket.bucket_name,
            contract.RAW_DATABASE: self.databases["raw"].database_name,
            contract.CURATED_DATABASE: self.databases["curated"].database_name,
            contract.ARCHIVE_DATABASE: self.databases["archive"].database_name,
            contract.CRAWLER: self.crawler.crawler.ref,
            contract.SAMPLE_PREFIX_OUTPUT: SAMPLE_PREFIX,
            contract.CURATED_PREFIX_OUTPUT: CURATED_PREFIX,
            contract.WORKGROUP: self.workgroup.workgroup_name,
            contract.ENGINEER_ROLE: self.engineer_role.role_arn,
            contract.ANALYST_ROLE: self.analyst_role.role_arn,
            contract.KEY: self.key.key_arn,
        })

    # -- the one place for this stack's acknowledgments ---------------------------------

    def _acknowledge_findings(self, settings: LabSettings) -> None:
        raw_db, curated_db = (self.databases[z].database_name for z in ("raw", "curated"))
        get_data_access = (
            "lakeformation:GetDataAccess has no resource-level permissions (IAM service authorization "
            "reference); Lake Formation grants on the zone databases decide which data it vends"
        )
        results = (
            "Athena writes each query's result files under athena/ with generated names; the statement "
            "is limited to that prefix of the lab's own query-results bucket"
        )
        acknowledge_iam5(self.crawler.role.policy, [glue_tables_finding(raw_db)],
                         "the crawler creates tables named after the S3 folders it discovers, so table names "
                         "are unknown at deploy time; limited to tables of the raw zone database")
        acknowledge_iam5(self.crawler.role.policy, [objects_finding(self.raw.bucket, SAMPLE_PREFIX)],
                         "the crawler reads every object under the prefix it crawls; keys are date partitions "
                         "(dt=YYYY-MM-DD) created after deployment")
        acknowledge_iam5(self.crawler.role.policy, [f"Resource::{arn_in_finding(self.crawler.log_group)}:log-stream:*"],
                         "Glue names one log stream per crawler run; limited to streams of the crawler's own "
                         "encrypted log group")
        for role in (self.crawler.role, self.engineer_role, self.analyst_role):
            acknowledge_iam5(role.policy, ["Resource::*"], get_data_access)
        acknowledge_iam5(self.engineer_role.policy, [glue_tables_finding(raw_db), glue_tables_finding(curated_db)],
                         "the engineer reads crawler-made raw tables and creates curated tables with CTAS; "
                         "table names are chosen at run time and Lake Formation grants still apply per table")
        acknowledge_iam5(self.engineer_role.policy, [objects_finding(self.raw.bucket, SAMPLE_PREFIX)],
                         "reads the date-partitioned sample objects under sales/ in the raw zone, keys unknown "
                         "at deploy time")
        acknowledge_iam5(self.engineer_role.policy, [objects_finding(self.curated.bucket, CURATED_PREFIX)],
                         "CTAS writes Parquet files with generated names under sales/ in the curated zone")
        acknowledge_iam5(self.analyst_role.policy, [glue_tables_finding(curated_db)],
                         "the analyst may describe any curated table; Lake Formation SELECT grants decide "
                         "what data is returned")
        for role in (self.engineer_role, self.analyst_role):
            acknowledge_iam5(role.policy, [objects_finding(self.query_results.bucket, "athena/")], results)
        for name, location in self.locations.items():
            bucket = self.raw.bucket if name == "raw" else self.curated.bucket
            acknowledge_iam5(location.role.policy, [objects_finding(bucket)],
                             f"Lake Formation vends credentials for any object of the registered {name} zone; "
                             "the role is assumable only by lakeformation.amazonaws.com")
        acknowledge_iam5(self.admins.cleanup_function.role.policy, ["Resource::*"],
                         "lakeformation:GetDataLakeSettings and PutDataLakeSettings act on the account's "
                         "settings and have no resource type to scope them to")
        if not settings.is_sandbox:
            self._acknowledge_nist_findings()

    def _acknowledge_nist_findings(self) -> None:
        acknowledge_lab_buckets_nist([b.bucket for b in (self.raw, self.curated, self.archive, self.query_results)],
                                     self.access_logs.bucket)
        acknowledge_lambda_nist(self.admins.cleanup_function.function, synchronous_caller="CloudFormation")
