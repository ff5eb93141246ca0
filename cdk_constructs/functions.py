"""The one factory for Lambda functions in every lab."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk_constructs.roles import LabRole
from cdk_constructs.settings import LabSettings

LAMBDAS_DIR = Path(__file__).resolve().parent.parent / "lambdas"
RUNTIME = lambda_.Runtime.PYTHON_3_14


class LabFunction(Construct):
    """A Python Lambda function from ``lambdas/<name>/`` with a log group the stack owns.

    Defaults: Python 3.14 on arm64, 256 MB, the given timeout (default 60 s),
    handler ``index.handler``, a stack-owned log group with the profile's retention,
    encrypted with ``log_key`` when given, and an execution role that may write
    only to that log group. With ``dead_letter_queue``, asynchronous invocations
    that fail every retry land there (permission in the role's managed policy).

    Attributes:
        function: the Lambda function.
        log_group: its log group.
        role: its execution role (a LabRole).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        settings: LabSettings,
        handler_dir: str,
        description: str,
        timeout: Duration = Duration.seconds(60),
        environment: dict[str, str] | None = None,
        log_key: kms.IKey | None = None,
        dead_letter_queue: sqs.IQueue | None = None,
    ) -> None:
        super().__init__(scope, id_)
        code_path = LAMBDAS_DIR / handler_dir
        if not (code_path / "index.py").is_file():
            raise FileNotFoundError(f"lambda handler not found: {code_path / 'index.py'}")
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            retention=settings.log_retention,
            removal_policy=settings.removal_policy,
            encryption_key=log_key,
        )
        self.role = LabRole(
            self,
            "Execution",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Lambda: {description}",
        )
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler="index.handler",
            code=lambda_.Code.from_asset(str(code_path), exclude=["__pycache__", "*.pyc", "test_*"]),
            description=description,
            memory_size=256,
            timeout=timeout,
            environment=environment,
            role=self.role.role,
            log_group=self.log_group,
        )
        if dead_letter_queue is not None:
            # Set on the L1 so the SendMessage grant goes to the LabRole's managed policy,
            # not to an inline policy aws-cdk-lib would add.
            cfn_function: lambda_.CfnFunction = self.function.node.default_child
            cfn_function.dead_letter_config = lambda_.CfnFunction.DeadLetterConfigProperty(
                target_arn=dead_letter_queue.queue_arn
            )
            self.role.add_to_principal_policy(
                iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[dead_letter_queue.queue_arn])
            )
            if dead_letter_queue.encryption_master_key is not None:
                self.role.add_to_principal_policy(
                    iam.PolicyStatement(actions=["kms:Decrypt", "kms:GenerateDataKey"],
                                        resources=[dead_letter_queue.encryption_master_key.key_arn])
                )
        # Only this function's own log group, and no CreateLogGroup: the group exists.
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
