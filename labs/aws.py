"""Talking to a deployed lab: its stack outputs and role sessions."""

from __future__ import annotations

from collections.abc import Iterable

import boto3
from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError

from labs.errors import LabError


def stack_outputs(session: boto3.Session, stack_name: str, required: Iterable[str]) -> dict[str, str]:
    """The deployed stack's outputs; a LabError when the lab is not (fully) deployed."""
    return deployed_stack(session, stack_name, required)[0]


EXPIRED_TOKEN_CODES = {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}


def credential_problem(error: Exception) -> LabError | None:
    """The one-line LabError for a credential or region problem, None for anything else."""
    if isinstance(error, NoCredentialsError):
        return LabError("no AWS credentials found: run `aws configure` or set AWS_PROFILE, then retry")
    if isinstance(error, NoRegionError):
        return LabError("no AWS region set: pass --region or set AWS_REGION")
    if isinstance(error, ClientError) and error.response["Error"]["Code"] in EXPIRED_TOKEN_CODES:
        return LabError("your AWS session token has expired: refresh your credentials and retry")
    return None


def deployed_stack(session: boto3.Session, stack_name: str,
                   required: Iterable[str]) -> tuple[dict[str, str], dict[str, str]]:
    """The deployed stack's outputs and tags; a LabError when the lab is not (fully) deployed."""
    try:
        stacks = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except (NoCredentialsError, NoRegionError, ClientError) as error:
        if problem := credential_problem(error):
            raise problem from error
        code = error.response["Error"]["Code"]
        message = error.response["Error"].get("Message", "")
        if code == "ValidationError" and "does not exist" in message:
            raise LabError(
                f"stack {stack_name} is not deployed in {session.region_name}: deploy it with "
                f"`npx cdk deploy {stack_name}` first"
            ) from error
        raise LabError(f"cannot read stack {stack_name}: {code}: {message}") from error
    stack = stacks[0]
    status = stack["StackStatus"]
    if not status.endswith("_COMPLETE") or "ROLLBACK" in status or status.startswith("DELETE"):
        raise LabError(f"stack {stack_name} is in state {status}: fix or destroy it, then deploy again")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    missing = [name for name in required if name not in outputs]
    if missing:
        raise LabError(f"stack {stack_name} lacks outputs {', '.join(missing)}: redeploy the lab with this version")
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
