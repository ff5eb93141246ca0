"""Talking to a deployed lab: its stack outputs and role sessions."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

import boto3
from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError

from labs.errors import LabError
from labs.state import SavedDeployment, load, saved_for_region


def stack_outputs(session: boto3.Session, stack_name: str, required: Iterable[str]) -> dict[str, str]:
    """The deployed stack's outputs; a LabError when the lab is not (fully) deployed."""
    return deployed_stack(session, stack_name, required)[0]


EXPIRED_TOKEN_CODES = {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}


def credential_problem(error: Exception) -> LabError | None:
    """The one-line LabError for a credential or region problem, None for anything else."""
    if isinstance(error, NoCredentialsError):
        return LabError("no AWS credentials found: run `aws configure` or set AWS_PROFILE, then retry")
    if isinstance(error, NoRegionError):
        return LabError("no AWS region set: pass --region or set AWS_DEFAULT_REGION (or `aws configure`)")
    if isinstance(error, ClientError) and error.response["Error"]["Code"] in EXPIRED_TOKEN_CODES:
        return LabError("your AWS session token has expired: refresh your credentials and retry")
    return None


# Stable states with a working deployment (an update that rolled back left the previous one).
USABLE_STATES = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE", "UPDATE_ROLLBACK_COMPLETE",
                 "IMPORT_ROLLBACK_COMPLETE"}


def stack_state_problem(lab: str, stack_name: str, status: str) -> str | None:
    """What to do about a stack in ``status`` before deploying or practising; None if nothing."""
    if status in USABLE_STATES:
        return None
    if status.endswith("_IN_PROGRESS"):
        return f"stack {stack_name} is busy ({status}): wait until it settles (`labs status`), then retry"
    if status == "UPDATE_ROLLBACK_FAILED":
        return (f"stack {stack_name} is in state {status}: run `aws cloudformation continue-update-rollback "
                f"--stack-name {stack_name}` or `labs destroy {lab}`, then retry")
    return f"stack {stack_name} is in state {status}: run `labs destroy {lab}`, then `labs deploy {lab}`"


def caller_account(session: boto3.Session) -> str:
    """The session's AWS account; a one-line LabError for credential and region problems."""
    try:
        return session.client("sts").get_caller_identity()["Account"]
    except (NoCredentialsError, NoRegionError, ClientError) as error:
        if problem := credential_problem(error):
            raise problem from error
        raise


def saved_deployment(session: boto3.Session, stack_name: str) -> SavedDeployment | None:
    """What ``labs deploy`` saved for this stack in the session's account and region, unless expired."""
    if not session.region_name or not saved_for_region(stack_name, session.region_name):
        return None  # nothing saved: no need to ask who the caller is
    record = load(stack_name, caller_account(session), session.region_name)
    if record is None or record.expired(datetime.now(timezone.utc)):
        return None
    return record


def deployed_stack(session: boto3.Session, stack_name: str,
                   required: Iterable[str]) -> tuple[dict[str, str], dict[str, str]]:
    """The deployed stack's outputs and tags; a LabError when the lab is not (fully) deployed.

    The outputs ``labs deploy`` saved are used when they are there and hold every required
    output; otherwise CloudFormation is asked.
    """
    required = list(required)
    saved = saved_deployment(session, stack_name)
    if saved is not None and all(name in saved.outputs for name in required):
        return dict(saved.outputs), dict(saved.tags)
    return described_stack(session, stack_name, required)


def described_stack(session: boto3.Session, stack_name: str,
                    required: Iterable[str]) -> tuple[dict[str, str], dict[str, str]]:
    """The stack's outputs and tags as CloudFormation describes them now."""
    lab = stack_name.removeprefix("mlref-")
    try:
        stacks = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except (NoCredentialsError, NoRegionError, ClientError) as error:
        if problem := credential_problem(error):
            raise problem from error
        code = error.response["Error"]["Code"]
        message = error.response["Error"].get("Message", "")
        if code == "ValidationError" and "does not exist" in message:
            raise LabError(
                f"lab {lab} is not deployed in {session.region_name}: deploy it with `labs deploy {lab}` "
                "(or pass the --region it is in)"
            ) from error
        raise LabError(f"cannot read stack {stack_name}: {code}: {message}") from error
    stack = stacks[0]
    status = stack["StackStatus"]
    if status not in USABLE_STATES:
        raise LabError(stack_state_problem(lab, stack_name, status))
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    missing = [name for name in required if name not in outputs]
    if missing:
        raise LabError(f"stack {stack_name} lacks outputs {', '.join(missing)}: redeploy it with `labs deploy {lab}`")
    return outputs, {t["Key"]: t["Value"] for t in stack.get("Tags", [])}


def assume_role(session: boto3.Session, role_arn: str, purpose: str) -> boto3.Session:
    """A session as ``role_arn``, for one practice step."""
    try:
        credentials = session.client("sts").assume_role(
            RoleArn=role_arn, RoleSessionName=f"mlref-{purpose}"[:64], DurationSeconds=3600
        )["Credentials"]
    except ClientError as error:
        raise LabError(
            f"cannot assume {role_arn}: {error.response['Error']['Code']}; your identity needs "
            "sts:AssumeRole on the lab's roles"
        ) from error
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=session.region_name,
    )
