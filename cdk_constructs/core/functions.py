"""The one factory for Lambda functions in every lab."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from catalog.paths import LAMBDAS_DIR
from cdk_constructs.core.roles import LabRole
from cdk_constructs.core.settings import LabSettings

SHARED_DIR = LAMBDAS_DIR / "shared"
RUNTIME = lambda_.Runtime.PYTHON_3_14
DEFAULT_TIMEOUT = Duration.seconds(60)
ASSET_EXCLUDES = ["__pycache__", "*.pyc", "test_*"]


def _staged_with_shared_modules(code_path: Path, shared: Sequence[str]) -> Path:
    """A copy of ``code_path`` with the shared modules beside ``index.py``.

    Staged under the temp directory in a folder named by the content's hash, so
    a synth reuses an identical copy and the asset hash depends only on content.
    """
    files = sorted(p for p in code_path.rglob("*.py")
                   if "__pycache__" not in p.parts and not p.name.startswith("test_"))
    sources = [(p.relative_to(code_path).as_posix(), p) for p in files]
    sources += [(f"{m}.py", SHARED_DIR / f"{m}.py") for m in shared]
    digest = hashlib.sha256()
    for name, path in sources:
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    staged = Path(tempfile.gettempdir()) / "mlref-lambda-assets" / f"{code_path.name}-{digest.hexdigest()[:16]}"
    if not staged.is_dir():
        building = staged.with_name(f"{staged.name}.{os.getpid()}")
        for name, path in sources:
            (building / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, building / name)
        try:
            building.rename(staged)
        except OSError:  # another process staged the same content first
            shutil.rmtree(building, ignore_errors=True)
    return staged


def function_code(handler_dir: str, shared: Sequence[str] = ()) -> lambda_.Code:
    """The asset for ``lambdas/<handler_dir>``, with the named ``lambdas/shared`` modules beside it."""
    code_path = LAMBDAS_DIR / handler_dir
    if not (code_path / "index.py").is_file():
        raise FileNotFoundError(f"lambda handler not found: {code_path / 'index.py'}")
    missing = [m for m in shared if not (SHARED_DIR / f"{m}.py").is_file()]
    if missing:
        raise FileNotFoundError(f"shared lambda modules not found in {SHARED_DIR}: {', '.join(missing)}")
    source = _staged_with_shared_modules(code_path, shared) if shared else code_path
    return lambda_.Code.from_asset(str(source), exclude=ASSET_EXCLUDES)


class LabFunction(Construct):
    """A Python Lambda function from ``lambdas/<name>/`` with a log group the stack owns.

    Defaults: Python 3.14 on arm64, 256 MB, the given timeout (default 60 s),
    handler ``index.handler``, a stack-owned log group with the profile's retention,
    encrypted with ``log_key`` when given, and an execution role that may write
    only to that log group. With ``dead_letter_queue``, asynchronous invocations
    that fail every retry land there (permission in the role's managed policy).
    ``shared_modules`` names modules of ``lambdas/shared/`` copied beside the handler.

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
        timeout: Duration = DEFAULT_TIMEOUT,
        environment: dict[str, str] | None = None,
        log_key: kms.IKey | None = None,
        dead_letter_queue: sqs.IQueue | None = None,
        shared_modules: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, id_)
        code = function_code(handler_dir, shared_modules)
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
            code=code,
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
