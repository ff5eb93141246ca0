"""The two engines of a batch ETL lab: a Glue Spark job and an EMR Serverless Spark application.

Both run a script shipped as a CDK asset with a library archive beside it (the transform
rules that both engines share), and each exposes its role for the stack to grant data access.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from aws_cdk import Aws, CustomResource, Duration, Stack
from aws_cdk import aws_emrserverless as emrserverless
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from cdk_constructs.core.access import allow_key_use
from cdk_constructs.core.functions import LabFunction
from cdk_constructs.core.roles import LabRole
from cdk_constructs.core.settings import LabSettings


def job_code(
    scope: Construct, script: Path, library: Path, library_files: Sequence[str],
) -> tuple[s3_assets.Asset, s3_assets.Asset]:
    """The script as one file, and ``library_files`` of the ``library`` folder as a zip (``--py-files``)."""
    missing = [name for name in (script, *(library / f for f in library_files)) if not Path(name).is_file()]
    if missing:
        raise FileNotFoundError(f"job code not found: {', '.join(map(str, missing))}")
    return (s3_assets.Asset(scope, "Script", path=str(script)),
            s3_assets.Asset(scope, "Library", path=str(library),
                            exclude=["*", *(f"!{name}" for name in library_files)]))


def allow_assets(role: LabRole, *assets: s3_assets.Asset) -> None:
    """Reads of exactly these asset objects in the CDK bootstrap bucket."""
    role.add_to_principal_policy(iam.PolicyStatement(
        sid="ReadJobCode", actions=["s3:GetObject"],
        resources=[asset.bucket.arn_for_objects(asset.s3_object_key) for asset in assets]))


def service_role(scope: Construct, id_: str, service: str, description: str) -> LabRole:
    """A LabRole that only ``service`` of this account may assume."""
    principal = iam.PrincipalWithConditions(iam.ServicePrincipal(service),
                                            {"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}})
    return LabRole(scope, id_, assumed_by=principal, description=description)


def stack_log_group(scope: Construct, id_: str, name: str, *, settings: LabSettings, key: kms.IKey) -> logs.LogGroup:
    """A log group a service writes to at run time, created by the stack first: KMS, retention, deleted with it."""
    return logs.LogGroup(scope, id_, log_group_name=name, encryption_key=key, retention=settings.log_retention,
                         removal_policy=settings.removal_policy)


def allow_log_groups(role: LabRole, groups: Sequence[logs.LogGroup], *, sid: str) -> None:
    arns = [arn for group in groups for arn in (group.log_group_arn, f"{group.log_group_arn}:log-stream:*")]
    role.add_to_principal_policy(iam.PolicyStatement(
        sid=sid, actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"],
        resources=arns))


def allow_metrics(role: LabRole, namespace: str) -> None:
    role.add_to_principal_policy(iam.PolicyStatement(
        sid="PublishMetrics", actions=["cloudwatch:PutMetricData"], resources=["*"],
        conditions={"StringEquals": {"cloudwatch:namespace": namespace}}))


class GlueSparkJob(Construct):
    """A Glue Spark ETL job in Python, its role and the log groups Glue writes to.

    Defaults: Glue 5.0 (set explicitly: unset means the newest version), ``workers`` G.1X
    workers (1 DPU each), job bookmarks on, at most one run at a time, no retries, a
    30-minute timeout, job metrics on and job insights off; the ``security_configuration``
    encrypts S3 output, bookmarks and logs. With CloudWatch encryption Glue logs to
    ``/aws-glue/jobs-<role>-<configuration>/{output,error}``: the job names that prefix
    (``--custom-logGroup-prefix``) and the stack owns both groups, under ``key``.

    Attributes:
        role: the job's role (a LabRole; grant data access to it).
        job: the ``AWS::Glue::Job``.
        log_groups: ``output`` and ``error``.
        script, library: the code assets.
    """

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings, script: Path, library: Path,
                 library_files: Sequence[str], security_configuration: glue.CfnSecurityConfiguration, key: kms.IKey,
                 arguments: Mapping[str, str], description: str, glue_version: str = "5.0", workers: int = 2,
                 timeout_minutes: int = 30) -> None:
        super().__init__(scope, id_)
        self.role = service_role(self, "Access", "glue.amazonaws.com", f"Glue job: {description}")
        self.script, self.library = job_code(self, script, library, library_files)
        prefix = f"/aws-glue/jobs-{self.role.role_name}-{security_configuration.name}"
        self.log_groups = {kind: stack_log_group(self, f"{kind.capitalize()}Logs", f"{prefix}/{kind}",
                                                 settings=settings, key=key)
                           for kind in ("output", "error")}
        allow_assets(self.role, self.script, self.library)
        allow_log_groups(self.role, list(self.log_groups.values()), sid="ItsEncryptedLogs")
        allow_metrics(self.role, "Glue")
        allow_key_use(self.role, key)
        self.job = glue.CfnJob(
            self, "Job",
            role=self.role.role_arn,
            description=description,
            command=glue.CfnJob.JobCommandProperty(name="glueetl", python_version="3",
                                                   script_location=self.script.s3_object_url),
            glue_version=glue_version,
            worker_type="G.1X",
            number_of_workers=workers,
            timeout=timeout_minutes,
            max_retries=0,
            execution_property=glue.CfnJob.ExecutionPropertyProperty(max_concurrent_runs=1),
            security_configuration=security_configuration.name,
            default_arguments={
                "--job-bookmark-option": "job-bookmark-enable",
                "--extra-py-files": self.library.s3_object_url,
                "--enable-metrics": "true",
                "--enable-job-insights": "false",
                "--custom-logGroup-prefix": prefix,
                **arguments,
            },
        )
        for dependency in (security_configuration, self.role.policy, *self.log_groups.values()):
            self.job.node.add_dependency(dependency)


class ServerlessSparkApplication(Construct):
    """An EMR Serverless Spark application that bills nothing while idle, and what runs on it.

    Defaults: arm64 workers, no initial capacity (nothing pre-initialized, so nothing bills
    idle), auto-start on the first job, auto-stop after ``idle_minutes``, a maximum capacity.
    An application cannot be deleted while STARTED, so a custom resource that depends on it
    (``lambdas/batch_etl_emr_stopper``) cancels unfinished runs and stops it first on delete.

    Attributes:
        application: the ``AWS::EMRServerless::Application``.
        job_role: the runtime role of its job runs (grant data access to it).
        script, library: the code assets.
        stopper, stopper_function: the custom resource and its function.
    """

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings, release_label: str,
                 max_capacity: tuple[str, str], script: Path, library: Path, library_files: Sequence[str],
                 log_key: kms.IKey, idle_minutes: int = 5) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        self.application = emrserverless.CfnApplication(
            self, "Application",
            name=f"{stack.stack_name}-{id_}"[:64],
            release_label=release_label,
            type="Spark",
            architecture="ARM64",
            auto_start_configuration=emrserverless.CfnApplication.AutoStartConfigurationProperty(enabled=True),
            auto_stop_configuration=emrserverless.CfnApplication.AutoStopConfigurationProperty(
                enabled=True, idle_timeout_minutes=idle_minutes),
            maximum_capacity=emrserverless.CfnApplication.MaximumAllowedResourcesProperty(
                cpu=max_capacity[0], memory=max_capacity[1]),
        )
        self.job_role = service_role(self, "JobRuntime", "emr-serverless.amazonaws.com",
                                     "EMR Serverless job runs of the lab's Spark application")
        self.script, self.library = job_code(self, script, library, library_files)
        allow_assets(self.job_role, self.script, self.library)
        self.stopper_function = LabFunction(
            self, "StopperFunction", settings=settings, handler_dir="batch_etl_emr_stopper",
            shared_modules=["cfn_response"],
            description="Stops the lab's EMR Serverless application so that CloudFormation can delete it",
            timeout=Duration.minutes(15), log_key=log_key)
        self.stopper_function.role.add_to_principal_policy(iam.PolicyStatement(
            sid="StopTheApplication",
            actions=["emr-serverless:GetApplication", "emr-serverless:StopApplication", "emr-serverless:ListJobRuns",
                     "emr-serverless:CancelJobRun"],
            resources=[self.application.attr_arn, self.job_runs_arn]))
        self.stopper = CustomResource(
            self, "Stopper", service_token=self.stopper_function.function.function_arn,
            resource_type="Custom::EmrServerlessApplicationStopper",
            properties={"ApplicationId": self.application.attr_application_id})
        self.stopper.node.add_dependency(self.stopper_function.role.policy)

    @property
    def job_runs_arn(self) -> str:
        return f"{self.application.attr_arn}/jobruns/*"

    def submit_parameters(self, conf: Mapping[str, str]) -> str:
        """``--py-files <library> --conf k=v ...`` for a job run's SparkSubmitParameters."""
        return " ".join([f"--py-files {self.library.s3_object_url}", *(f"--conf {k}={v}" for k, v in conf.items())])
