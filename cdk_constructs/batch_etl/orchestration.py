"""Orchestrating a batch ETL lab: the state machine, its two triggers, and the data-quality ruleset."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk_constructs.batch_etl.jobs import allow_log_groups, allow_metrics, service_role, stack_log_group
from cdk_constructs.core.access import allow_key_use, allow_prefixes, glue_catalog_arns
from cdk_constructs.core.roles import LabRole
from cdk_constructs.core.settings import LabSettings

# Step Functions delivers execution logs through CloudWatch Logs' log delivery API, which has no resource type.
LOG_DELIVERY_ACTIONS = ["logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
                        "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
                        "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"]
XRAY_ACTIONS = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]


class Workflow(Construct):
    """A standard Step Functions state machine from a definition written as data.

    Defaults: logging at level ALL with execution data into a stack-owned
    ``/aws/vendedlogs/states/<name>`` group (``key``, the profile's retention), X-Ray tracing,
    a role only Step Functions of this account may assume, holding the log-delivery and
    X-Ray actions and ``states:ListExecutions`` on itself; grant the rest with ``allow``.
    The name is fixed so that the role can name the state machine without a cycle.

    Attributes:
        role: the execution role (a LabRole).
        log_group: the execution log group.
        state_machine: the ``AWS::StepFunctions::StateMachine``.
        state_machine_arn: its ARN.
    """

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings, name: str, definition: Mapping[str, Any],
                 substitutions: Mapping[str, str], key: kms.IKey) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        self.log_group = stack_log_group(self, "Logs", f"/aws/vendedlogs/states/{name}", settings=settings, key=key)
        self.role = service_role(self, "Execution", "states.amazonaws.com", f"Step Functions: {name}")
        self.state_machine_arn = stack.format_arn(service="states", resource="stateMachine", resource_name=name,
                                                  arn_format=ArnFormat.COLON_RESOURCE_NAME)
        self.allow(iam.PolicyStatement(sid="DeliverExecutionLogs", actions=LOG_DELIVERY_ACTIONS, resources=["*"]))
        self.allow(iam.PolicyStatement(sid="Tracing", actions=XRAY_ACTIONS, resources=["*"]))
        self.allow(iam.PolicyStatement(sid="TakeTurns", actions=["states:ListExecutions"],
                                       resources=[self.state_machine_arn]))
        self.state_machine = sfn.CfnStateMachine(
            self, "StateMachine",
            state_machine_name=name,
            state_machine_type="STANDARD",
            role_arn=self.role.role_arn,
            definition=dict(definition),
            definition_substitutions=dict(substitutions),
            logging_configuration=sfn.CfnStateMachine.LoggingConfigurationProperty(
                level="ALL", include_execution_data=True,
                destinations=[sfn.CfnStateMachine.LogDestinationProperty(
                    cloud_watch_logs_log_group=sfn.CfnStateMachine.CloudWatchLogsLogGroupProperty(
                        log_group_arn=self.log_group.log_group_arn))]),
            tracing_configuration=sfn.CfnStateMachine.TracingConfigurationProperty(enabled=True),
        )
        self.state_machine.node.add_dependency(self.role.policy)

    def allow(self, statement: iam.PolicyStatement) -> None:
        self.role.add_to_principal_policy(statement)


def starter_role(scope: Construct, id_: str, service: str, state_machine_arn: str, description: str) -> LabRole:
    role = service_role(scope, id_, service, description)
    role.add_to_principal_policy(iam.PolicyStatement(actions=["states:StartExecution"], resources=[state_machine_arn]))
    return role


class ArrivalTrigger(Construct):
    """Starts the state machine for every object created under ``prefix`` of ``bucket``.

    The bucket must send its events to EventBridge (``LabBucket(event_bridge=True)``). Objects
    the workflow writes elsewhere (another prefix, another bucket) start nothing.

    Attributes:
        role: what EventBridge assumes to start executions.
        rule: the ``AWS::Events::Rule``.
    """

    def __init__(self, scope: Construct, id_: str, *, bucket: s3.IBucket, prefix: str, state_machine_arn: str) -> None:
        super().__init__(scope, id_)
        self.role = starter_role(self, "Starter", "events.amazonaws.com", state_machine_arn,
                                 f"EventBridge: starts the workflow when objects arrive under {prefix}")
        self.rule = events.CfnRule(
            self, "Rule",
            description=f"New objects under {prefix} of the raw zone start the ETL workflow",
            state="ENABLED",
            event_pattern={"source": ["aws.s3"], "detail-type": ["Object Created"],
                           "detail": {"bucket": {"name": [bucket.bucket_name]},
                                      "object": {"key": [{"prefix": prefix}]}}},
            targets=[events.CfnRule.TargetProperty(
                id="Workflow", arn=state_machine_arn, role_arn=self.role.role_arn,
                retry_policy=events.CfnRule.RetryPolicyProperty(maximum_event_age_in_seconds=3600,
                                                                 maximum_retry_attempts=3))],
        )
        self.rule.node.add_dependency(self.role.policy)


class ScheduleTrigger(Construct):
    """Starts the state machine on an EventBridge Scheduler expression (UTC), input ``{"trigger": "schedule"}``.

    Attributes:
        role: what the scheduler assumes.
        schedule: the ``AWS::Scheduler::Schedule``.
    """

    def __init__(self, scope: Construct, id_: str, *, expression: str, state_machine_arn: str) -> None:
        super().__init__(scope, id_)
        self.role = starter_role(self, "Starter", "scheduler.amazonaws.com", state_machine_arn,
                                 f"EventBridge Scheduler: starts the workflow on {expression}")
        self.schedule = scheduler.CfnSchedule(
            self, "Schedule",
            description="Periodic batch: the ETL workflow picks up whatever arrived since the last run",
            schedule_expression=expression, schedule_expression_timezone="UTC", state="ENABLED",
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            target=scheduler.CfnSchedule.TargetProperty(
                arn=state_machine_arn, role_arn=self.role.role_arn, input=json.dumps({"trigger": "schedule"}),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(maximum_event_age_in_seconds=3600,
                                                                        maximum_retry_attempts=2)),
        )
        self.schedule.node.add_dependency(self.role.policy)


class QualityRuleset(Construct):
    """A Glue Data Quality ruleset over a catalogued table, and the role its evaluation runs use.

    Evaluation runs read the table through the Data Catalog and S3 as ``role``; they log to
    ``<log_prefix>/{output,error}`` (passed as ``CustomLogGroupPrefix``), groups the stack
    owns under ``key``, and publish results and metrics (namespace ``Glue Data Quality``).

    Attributes:
        ruleset: the ``AWS::Glue::DataQualityRuleset``.
        ruleset_arn: its ARN.
        role: the evaluation runs' role.
        log_prefix: the log group prefix for the runs.
        log_groups: ``output`` and ``error``.
    """

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings, name: str, rules: str, description: str,
                 database_name: str, bucket: s3.IBucket, prefix: str, key: kms.IKey) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        self.ruleset = glue.CfnDataQualityRuleset(self, "Ruleset", name=name, ruleset=rules, description=description)
        self.ruleset_arn = stack.format_arn(service="glue", resource="dataQualityRuleset", resource_name=name)
        self.log_prefix = f"/aws-glue/data-quality/{name}"
        self.log_groups = {kind: stack_log_group(self, f"{kind.capitalize()}Logs", f"{self.log_prefix}/{kind}",
                                                 settings=settings, key=key) for kind in ("output", "error")}
        self.role = service_role(self, "Evaluation", "glue.amazonaws.com", f"Glue Data Quality runs of {name}")
        self.role.add_to_principal_policy(iam.PolicyStatement(
            sid="ReadTheTable", resources=glue_catalog_arns(database_name),
            actions=["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartition", "glue:GetPartitions",
                     "glue:BatchGetPartition"]))
        self.role.add_to_principal_policy(iam.PolicyStatement(
            sid="PublishResults", actions=["glue:GetDataQualityRuleset", "glue:PublishDataQuality"],
            resources=[self.ruleset_arn]))
        allow_prefixes(self.role, bucket, [prefix])
        allow_key_use(self.role, key, encrypt=False)
        allow_log_groups(self.role, list(self.log_groups.values()), sid="ItsEncryptedLogs")
        allow_metrics(self.role, "Glue Data Quality")
