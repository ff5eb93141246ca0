"""Sandbox expiry: the lab deletes itself at ``expires-at``."""

from __future__ import annotations

import json

from aws_cdk import Aws, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from cdk_constructs.core.functions import LabFunction
from cdk_constructs.core.roles import LabRole
from cdk_constructs.core.settings import LabSettings
from cdk_constructs.data_lake.lake_formation import cfn_execution_role_arn
from lambdas.lab_expiry.index import SCHEDULER_ROLE_ENV
from lambdas.shared.lab_names import expiry_retry_schedule

SCHEDULE_NAME_LIMIT = 64  # EventBridge Scheduler: a schedule's name


class LabExpiry(Construct):
    """A one-time EventBridge Scheduler schedule that deletes the stack when the lab expires.

    At ``settings.expires_at`` (synth time + ``ttl_hours``, so each deploy moves it)
    the schedule invokes ``lambdas/lab_expiry``, which calls DeleteStack on this
    stack only, passing the CDK bootstrap's CloudFormation execution role. The
    function may delete and describe only its own stack and pass only that role, to
    CloudFormation only. The scheduler retries three times within an hour. When the
    stack cannot be deleted yet (an update under way, which may roll back to this
    already-fired schedule), the function leaves a retry: one more one-time schedule
    of its own name, with the same invoker role.

    Attributes:
        function: the expiry LabFunction.
        scheduler_role: the role the schedule invokes the function with.
        schedule: the ``AWS::Scheduler::Schedule``.
    """

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings, log_key: kms.IKey | None = None) -> None:
        super().__init__(scope, id_)
        if not settings.expires_at:
            raise ValueError("LabExpiry needs a sandbox lab with ttl_hours > 0")
        stack = Stack.of(self)
        if len(expiry_retry_schedule(stack.stack_name)) > SCHEDULE_NAME_LIMIT:
            raise ValueError(f"stack name {stack.stack_name!r} is too long for its expiry's retry schedule "
                             f"(at most {SCHEDULE_NAME_LIMIT} characters with the suffix)")
        exec_role = cfn_execution_role_arn(stack)
        self.function = LabFunction(
            self, "Expire", settings=settings, handler_dir="lab_expiry", shared_modules=["lab_names"],
            description=f"Deletes stack {stack.stack_name} when the lab expires",
            environment={"STACK_ID": Aws.STACK_ID, "CFN_ROLE_ARN": exec_role}, log_key=log_key,
        )
        self.function.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="DeleteOnlyThisStack",
                actions=["cloudformation:DeleteStack", "cloudformation:DescribeStacks"],
                resources=[Aws.STACK_ID],
            )
        )
        self.function.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PassTheDeployRoleToCloudFormation",
                actions=["iam:PassRole"],
                resources=[exec_role],
                conditions={"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}},
            )
        )
        self.scheduler_role = LabRole(
            self, "Invoker",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
            ),
            description=f"EventBridge Scheduler invokes the expiry of {stack.stack_name}",
        )
        self.scheduler_role.add_to_principal_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[self.function.function.function_arn])
        )
        self._leave_a_retry()
        self.schedule = scheduler.CfnSchedule(
            self, "Schedule",
            description=f"Deletes {stack.stack_name} at its expires-at tag",
            schedule_expression=f"at({settings.expires_at.removesuffix('Z')})",
            schedule_expression_timezone="UTC",
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            state="ENABLED",
            target=scheduler.CfnSchedule.TargetProperty(
                arn=self.function.function.function_arn,
                role_arn=self.scheduler_role.role_arn,
                input=json.dumps({"reason": "lab expired", "expires-at": settings.expires_at}),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_retry_attempts=3, maximum_event_age_in_seconds=3600
                ),
            ),
        )
        self.schedule.node.add_dependency(self.scheduler_role.policy)

    def _leave_a_retry(self) -> None:
        """What an expiry that cannot delete now needs to try again later: its one retry schedule
        (named after the stack, so no wildcard), invoking this function with the same role."""
        self.function.function.add_environment(SCHEDULER_ROLE_ENV, self.scheduler_role.role_arn)
        retry = expiry_retry_schedule(Aws.STACK_NAME)
        self.function.role.add_to_principal_policy(iam.PolicyStatement(
            sid="LeaveARetry", actions=["scheduler:CreateSchedule", "scheduler:UpdateSchedule"],
            resources=[f"arn:{Aws.PARTITION}:scheduler:{Aws.REGION}:{Aws.ACCOUNT_ID}:schedule/default/{retry}"],
        ))
        self.function.role.add_to_principal_policy(iam.PolicyStatement(
            sid="PassTheInvokerToScheduler", actions=["iam:PassRole"], resources=[self.scheduler_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
        ))
