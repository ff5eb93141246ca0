"""The batch-etl lab: batch ingestion and transformation orchestrated by Step Functions.

Maps to the study notes (Data Engineering): batch ingestion on a schedule or on a
condition (arrival of new data), Glue for ETL and Step Functions to automate it, the
transformations raw data needs before ML (de-duplication, incomplete data, standardized
attributes, splitting the data set), and Spark on EMR (here EMR Serverless) for volume.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from catalog import batch_etl as contract
from catalog.batch_etl import BatchEtlOptions
from catalog.paths import JOBS_DIR
from cdk_constructs.batch_etl import workflow as etl_workflow
from cdk_constructs.batch_etl.jobs import GlueSparkJob, ServerlessSparkApplication
from cdk_constructs.batch_etl.orchestration import ArrivalTrigger, QualityRuleset, ScheduleTrigger, Workflow
from cdk_constructs.core.access import (
    allow_key_use,
    allow_objects,
    allow_prefixes,
    glue_catalog_arns,
    glue_tables_finding,
)
from cdk_constructs.core.acknowledge import (
    acknowledge_iam5,
    acknowledge_lab_buckets_nist,
    acknowledge_lambda_nist,
    arn_in_finding,
    objects_finding,
)
from cdk_constructs.core.budget import LabBudget
from cdk_constructs.core.encryption import LabKey
from cdk_constructs.core.outputs import emit_outputs
from cdk_constructs.core.profile import apply_lab_profile
from cdk_constructs.core.settings import LabSettings
from cdk_constructs.core.storage import LabBucket, access_log_bucket, empty_logs_last
from cdk_constructs.services.athena import GovernedWorkgroup
from cdk_constructs.services.glue_catalog import GovernedCrawler, ZoneDatabase, glue_security_configuration
from jobs.batch_etl import etl_rules

ETL_JOBS_DIR = JOBS_DIR / "batch_etl"
LIBRARY_FILES = ("etl_rules.py", "etl_spark.py")
CURATED_WRITES = [p.rstrip("/") for p in (contract.CURATED_PREFIX, contract.REJECTED_PREFIX, contract.RUNS_PREFIX)]
SPARK_MARKERS = ["**/_SUCCESS", "**/_temporary/**", "_SUCCESS"]  # what Spark leaves beside the Parquet files


def expiring(*rules: tuple[str, str, int]) -> list[s3.LifecycleRule]:
    return [s3.LifecycleRule(id=rule_id, prefix=prefix, expiration=Duration.days(days),
                             noncurrent_version_expiration=Duration.days(1)) for rule_id, prefix, days in rules]


DEFAULT_OPTIONS = BatchEtlOptions()


class BatchEtlStack(Stack):
    """Raw and curated zones, their catalog and crawlers, the ETL job (Glue or EMR Serverless), a
    data-quality ruleset, and the state machine that runs them on arrival or on a schedule."""

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings,
                 options: BatchEtlOptions = DEFAULT_OPTIONS, **kwargs) -> None:
        super().__init__(scope, id_,
                         description="mlref-labs batch-etl: Glue or EMR Serverless ETL run by Step Functions",
                         **kwargs)
        self.settings, self.options = settings, options
        self.key = LabKey(self, "BatchEtlKey", settings=settings,
                          description="mlref batch-etl: zones, job bookmarks, logs and query results").key
        apply_lab_profile(self, settings, log_key=self.key)

        # Storage: a raw zone that tells EventBridge about arrivals, a curated zone, query results.
        self.access_logs = access_log_bucket(self, settings)
        zone = {"settings": settings, "encryption_key": self.key, "access_logs_bucket": self.access_logs.bucket}
        self.raw = LabBucket(self, "RawZone", event_bridge=True, **zone)
        self.curated = LabBucket(self, "CuratedZone", lifecycle_rules=expiring(
            ("RejectedRowsExpire", contract.REJECTED_PREFIX, 90), ("GlueTempExpires", contract.TEMP_PREFIX, 7)), **zone)
        self.query_results = LabBucket(self, "QueryResults", lifecycle_rules=expiring(("QueryResultsExpire", "", 30)),
                                       **zone)
        empty_logs_last(self.access_logs, self.raw, self.curated, self.query_results)

        # Catalog: a database and a crawler per zone, one Glue security configuration for crawlers and job.
        self.databases = {
            name: ZoneDatabase(self, f"{name.capitalize()}Database", database_name=f"{contract.DATABASE_PREFIX}_{name}",
                               bucket=bucket.bucket, description=f"The {name} zone of the mlref batch-etl lab",
                               governed=False)
            for name, bucket in (("raw", self.raw), ("curated", self.curated))
        }
        self.glue_security = glue_security_configuration(self, "GlueSecurity", name=f"{self.stack_name}-glue",
                                                         key=self.key)
        crawl = {"settings": settings, "key": self.key, "security_configuration": self.glue_security,
                 "lake_formation": False}
        self.crawlers = {
            "raw": GovernedCrawler(self, "RawCrawler", database=self.databases["raw"], bucket=self.raw.bucket,
                                   prefix=contract.INCOMING_PREFIX, **crawl),
            "curated": GovernedCrawler(self, "CuratedCrawler", database=self.databases["curated"],
                                       bucket=self.curated.bucket, prefix=contract.CURATED_PREFIX, zone="curated",
                                       exclusions=SPARK_MARKERS, **crawl),
        }
        self.quality = QualityRuleset(
            self, "CuratedQuality", settings=settings, name=f"{self.stack_name}-curated-customers",
            rules=etl_rules.dqdl(),
            description="Completeness, uniqueness and ranges of each curated batch", key=self.key,
            database_name=self.databases["curated"].database_name, bucket=self.curated.bucket,
            prefix=contract.CURATED_PREFIX.rstrip("/"))

        # The transform, on the chosen engine, and the state machine that runs everything.
        self.glue_job = self._glue_job() if options.glue else None
        self.spark = None if options.glue else self._spark_application()
        self.workflow = Workflow(
            self, "Workflow", settings=settings, name=f"{self.stack_name}-workflow", key=self.key,
            definition=etl_workflow.definition(options.engine.value, job_tags=settings.tags),
            substitutions=self._substitutions())
        self._allow_workflow()
        self.arrivals = ArrivalTrigger(self, "OnArrival", bucket=self.raw.bucket, prefix=contract.INCOMING_PREFIX,
                                       state_machine_arn=self.workflow.state_machine_arn)
        schedule = options.schedule_for(sandbox=settings.is_sandbox)
        self.schedule = ScheduleTrigger(self, "OnSchedule", expression=schedule,
                                        state_machine_arn=self.workflow.state_machine_arn) if schedule else None
        for trigger in filter(None, (self.arrivals, self.schedule)):
            trigger.node.add_dependency(self.workflow.state_machine)

        self.workgroup = GovernedWorkgroup(self, "Queries", settings=settings, results_bucket=self.query_results.bucket,
                                           key=self.key, bytes_scanned_cutoff=options.bytes_scanned_cutoff)
        self.budget = (LabBudget(self, "CostGuard", settings=settings, cost=contract.cost(options),
                                 email=settings.alert_email) if settings.alert_email else None)
        self._outputs(schedule)
        self._acknowledge_findings()

    # -- the engines -----------------------------------------------------------------

    def _uri(self, bucket: LabBucket, prefix: str) -> str:
        return f"s3://{bucket.bucket.bucket_name}/{prefix}"

    def _glue_job(self) -> GlueSparkJob:
        job = GlueSparkJob(
            self, "GlueEtl", settings=self.settings, script=ETL_JOBS_DIR / "glue_job.py", library=ETL_JOBS_DIR,
            library_files=LIBRARY_FILES, security_configuration=self.glue_security, key=self.key,
            glue_version=contract.GLUE_VERSION, workers=contract.GLUE_WORKERS,
            description="De-duplicates, imputes or quarantines, standardizes and splits new raw customer files",
            arguments={"--raw_path": self._uri(self.raw, contract.INCOMING_PREFIX),
                       "--curated_path": self._uri(self.curated, contract.CURATED_PREFIX),
                       "--rejected_path": self._uri(self.curated, contract.REJECTED_PREFIX),
                       "--runs_path": self._uri(self.curated, contract.RUNS_PREFIX),
                       "--TempDir": self._uri(self.curated, contract.TEMP_PREFIX)})
        allow_prefixes(job.role, self.raw.bucket, [contract.INCOMING_PREFIX.rstrip("/")])
        allow_prefixes(job.role, self.curated.bucket, [*CURATED_WRITES, contract.TEMP_PREFIX.rstrip("/")], write=True)
        return job

    def _spark_application(self) -> ServerlessSparkApplication:
        spark = ServerlessSparkApplication(
            self, "Spark", settings=self.settings, release_label=contract.EMR_RELEASE_LABEL,
            max_capacity=contract.EMR_MAX_CAPACITY, script=ETL_JOBS_DIR / "spark_job.py", library=ETL_JOBS_DIR,
            library_files=LIBRARY_FILES, log_key=self.key)
        allow_prefixes(spark.job_role, self.raw.bucket, [contract.INCOMING_PREFIX.rstrip("/")])
        allow_prefixes(spark.job_role, self.raw.bucket, [contract.STATE_PREFIX.rstrip("/")], write=True)
        allow_prefixes(spark.job_role, self.curated.bucket, CURATED_WRITES, write=True)
        allow_key_use(spark.job_role, self.key)
        return spark

    # -- the workflow ------------------------------------------------------------------

    def _substitutions(self) -> dict[str, str]:
        values = {
            "RawCrawler": self.crawlers["raw"].crawler.ref, "CuratedCrawler": self.crawlers["curated"].crawler.ref,
            "CuratedBucket": self.curated.bucket.bucket_name,
            "CuratedDatabase": self.databases["curated"].database_name, "CuratedTable": contract.CURATED_TABLE,
            "Ruleset": self.quality.ruleset.name, "QualityRole": self.quality.role.role_arn,
            "QualityLogPrefix": self.quality.log_prefix, "RunsPrefix": contract.RUNS_PREFIX,
        }
        if self.glue_job is not None:
            values["GlueJob"] = self.glue_job.job.ref
        else:
            values.update({
                "EmrApplication": self.spark.application.attr_application_id, "EmrRole": self.spark.job_role.role_arn,
                "EmrEntryPoint": self.spark.script.s3_object_url,
                "EmrSubmitParameters": self.spark.submit_parameters(contract.SPARK_CONF),
                "RawPath": self._uri(self.raw, contract.INCOMING_PREFIX),
                "CuratedPath": self._uri(self.curated, contract.CURATED_PREFIX),
                "RejectedPath": self._uri(self.curated, contract.REJECTED_PREFIX),
                "RunsPath": self._uri(self.curated, contract.RUNS_PREFIX),
                "StatePath": self._uri(self.raw, f"{contract.STATE_PREFIX}emr-bookmark.json"),
            })
        assert set(values) == set(etl_workflow.placeholders(self.options.engine.value))
        return values

    @staticmethod
    def _arn(service: str, resource: str, name: str) -> str:
        """Built from pseudo parameters, so the acknowledgments naming it are the same in every region."""
        return f"arn:{Aws.PARTITION}:{service}:{Aws.REGION}:{Aws.ACCOUNT_ID}:{resource}/{name}"

    def _allow_workflow(self) -> None:
        allow = self.workflow.allow
        allow(iam.PolicyStatement(sid="Crawl", actions=["glue:StartCrawler", "glue:GetCrawler"],
                                  resources=[self._arn("glue", "crawler", c.crawler.ref)
                                             for c in self.crawlers.values()]))
        allow_objects(self.workflow.role, self.curated.bucket, prefix=contract.RUNS_PREFIX)
        allow_key_use(self.workflow.role, self.key, encrypt=False)
        catalog, database, _ = glue_catalog_arns(self.databases["curated"].database_name)
        table = f"{database.replace(':database/', ':table/')}/{contract.CURATED_TABLE}"
        allow(iam.PolicyStatement(sid="CuratedTable", resources=[catalog, database, table],
                                  actions=["glue:GetDatabase", "glue:GetTable", "glue:BatchDeletePartition"]))
        allow(iam.PolicyStatement(sid="EvaluateQuality", resources=[self.quality.ruleset_arn],
                                  actions=["glue:StartDataQualityRulesetEvaluationRun", "glue:GetDataQualityResult"]))
        allow(iam.PolicyStatement(sid="FollowQualityRuns", actions=["glue:GetDataQualityRulesetEvaluationRun"],
                                  resources=[self._arn("glue", "dataQualityRuleset", "*")]))
        self._allow_pass(self.quality.role.role_arn, "glue.amazonaws.com")
        if self.glue_job is not None:
            allow(iam.PolicyStatement(
                sid="RunTheJob", resources=[self._arn("glue", "job", self.glue_job.job.ref)],
                actions=["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"]))
            return
        application = self.spark.application.attr_arn
        allow(iam.PolicyStatement(sid="StartSparkJobs",
                                  actions=["emr-serverless:StartJobRun", "emr-serverless:TagResource"],
                                  resources=[application, self.spark.job_runs_arn]))
        allow(iam.PolicyStatement(sid="FollowSparkJobs",
                                  actions=["emr-serverless:GetJobRun", "emr-serverless:CancelJobRun"],
                                  resources=[self.spark.job_runs_arn]))
        allow(iam.PolicyStatement(
            sid="SyncRule", actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            resources=[self._arn("events", "rule", "StepFunctionsGetEventsForEMRServerlessJobRule")]))
        self._allow_pass(self.spark.job_role.role_arn, "emr-serverless.amazonaws.com")

    def _allow_pass(self, role_arn: str, service: str) -> None:
        self.workflow.allow(iam.PolicyStatement(actions=["iam:PassRole"], resources=[role_arn],
                                                conditions={"StringEquals": {"iam:PassedToService": service}}))

    def _outputs(self, schedule: str | None) -> None:
        values = {
            contract.ENGINE: self.options.engine.value,
            contract.STATE_MACHINE: self.workflow.state_machine.attr_arn,
            contract.RAW_BUCKET: self.raw.bucket.bucket_name,
            contract.UPLOAD_PREFIX_OUTPUT: contract.UPLOAD_PREFIX,
            contract.CURATED_BUCKET: self.curated.bucket.bucket_name,
            contract.CURATED_PREFIX_OUTPUT: contract.CURATED_PREFIX,
            contract.REJECTED_PREFIX_OUTPUT: contract.REJECTED_PREFIX,
            contract.RAW_DATABASE: self.databases["raw"].database_name,
            contract.CURATED_DATABASE: self.databases["curated"].database_name,
            contract.CURATED_TABLE_OUTPUT: contract.CURATED_TABLE,
            contract.RAW_CRAWLER: self.crawlers["raw"].crawler.ref,
            contract.CURATED_CRAWLER: self.crawlers["curated"].crawler.ref,
            contract.RULESET: self.quality.ruleset.name,
            contract.WORKGROUP: self.workgroup.workgroup_name,
            contract.SCHEDULE: schedule or "off",
            contract.KEY: self.key.key_arn,
        }
        if self.glue_job is not None:
            values[contract.GLUE_JOB] = self.glue_job.job.ref
        else:
            values[contract.EMR_APPLICATION] = self.spark.application.attr_application_id
        emit_outputs(self, contract.CONTRACT, self.options, values)

    # -- the one place for this stack's acknowledgments ---------------------------------

    def _acknowledge_findings(self) -> None:
        raw, curated = self.raw.bucket, self.curated.bucket
        streams = "names one log stream per run; limited to streams of its own encrypted, stack-owned log group"
        crawled = {"raw": (raw, contract.INCOMING_PREFIX,
                           "dated customer files (dt=YYYY-MM-DD) uploaded after deployment"),
                   "curated": (curated, contract.CURATED_PREFIX, "Parquet files the job writes per batch and split")}
        for zone, crawler in self.crawlers.items():
            bucket, prefix, what = crawled[zone]
            acknowledge_iam5(crawler.role.policy, [glue_tables_finding(self.databases[zone].database_name)],
                             f"the crawler creates tables named after the folders it finds, unknown at deploy time; "
                             f"limited to tables of the {zone} zone database")
            acknowledge_iam5(crawler.role.policy, [objects_finding(bucket, prefix)],
                             f"the crawler reads every object under {prefix}: {what}")
            acknowledge_iam5(crawler.role.policy, [f"Resource::{arn_in_finding(crawler.log_group)}:log-stream:*"],
                             f"Glue {streams}")
        spark_prefixes = "Spark writes part files with generated names and probes the prefix itself as a directory"
        job_role = self.glue_job.role if self.glue_job is not None else self.spark.job_role
        writes = [objects_finding(curated, prefix) for prefix in CURATED_WRITES]
        acknowledge_iam5(job_role.policy, [objects_finding(raw, contract.INCOMING_PREFIX.rstrip("/"))],
                         "the job reads the new customer files under incoming/, keys unknown at deploy time; "
                         f"{spark_prefixes}")
        acknowledge_iam5(job_role.policy, writes,
                         f"curated Parquet, rejected rows and run counts per batch: {spark_prefixes}")
        quality = self.quality.role.policy
        acknowledge_iam5(quality, [glue_tables_finding(self.databases["curated"].database_name)],
                         "evaluation runs read the table the curated crawler creates and its partitions; limited to "
                         "the curated zone database")
        acknowledge_iam5(quality, [objects_finding(curated, contract.CURATED_PREFIX.rstrip("/"))],
                         "evaluation runs read the Parquet files of the batch's partitions, whose names Spark "
                         "generates")
        acknowledge_iam5(quality,
                         [f"Resource::{arn_in_finding(g)}:log-stream:*" for g in self.quality.log_groups.values()],
                         f"Glue Data Quality {streams}")
        metrics = ("cloudwatch:PutMetricData has no resource type; the statement is limited to the service's own "
                   "metric namespace by the cloudwatch:namespace condition")
        acknowledge_iam5(quality, ["Resource::*"], metrics)
        workflow = self.workflow.role.policy
        acknowledge_iam5(workflow, ["Resource::*"],
                         "CloudWatch Logs log delivery and X-Ray actions have no resource types (Step Functions "
                         "logging and tracing need them on *); every other statement names its resources")
        acknowledge_iam5(workflow, [objects_finding(curated, contract.RUNS_PREFIX)],
                         "the workflow reads the counts file the job writes under _runs/<batch id>/, one per "
                         "execution")
        acknowledge_iam5(workflow,
                         ["Resource::arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:dataQualityRuleset/*"],
                         "GetDataQualityRulesetEvaluationRun authorizes on no single ruleset (a run id is not a "
                         "resource type); read-only and limited to data-quality rulesets of this account and region")
        if self.glue_job is not None:
            acknowledge_iam5(self.glue_job.role.policy, [objects_finding(curated, contract.TEMP_PREFIX.rstrip("/"))],
                             f"Glue's temporary directory for the job run, expiring after 7 days; {spark_prefixes}")
            acknowledge_iam5(self.glue_job.role.policy,
                             [f"Resource::{arn_in_finding(g)}:log-stream:*" for g in self.glue_job.log_groups.values()],
                             f"Glue {streams}")
            acknowledge_iam5(self.glue_job.role.policy, ["Resource::*"], metrics)
        else:
            acknowledge_iam5(self.spark.job_role.policy, [objects_finding(raw, contract.STATE_PREFIX.rstrip("/"))],
                             "the Spark job keeps its own bookmark (newest file time processed) under _state/ of the "
                             "raw zone, outside incoming/ so writing it starts no execution")
            runs = f"Resource::<{self.resolve(self.get_logical_id(self.spark.application))}.Arn>/jobruns/*"
            acknowledge_iam5(workflow, [runs], "job run ids are generated per execution; limited to the runs of the "
                                               "lab's own EMR Serverless application")
            acknowledge_iam5(self.spark.stopper_function.role.policy, [runs],
                             "on stack deletion the stopper cancels whichever job runs of the lab's own application "
                             "are unfinished, ids unknown at deploy time")
        if not self.settings.is_sandbox:
            acknowledge_lab_buckets_nist([raw, curated, self.query_results.bucket], self.access_logs.bucket)
            if self.spark is not None:
                acknowledge_lambda_nist(self.spark.stopper_function.function, synchronous_caller="CloudFormation")
