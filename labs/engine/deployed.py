"""Talking to a deployed lab: its stack, outputs, tags and options, and role sessions."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from catalog import LabContract
from labs.engine.errors import BAD_CREDENTIAL_CODES, EXPIRED_TOKEN_CODES, LabError, explain
from labs.engine.state import SavedDeployment, load, saved_for_region

# Stable states with a working deployment (an update that rolled back left the previous one).
USABLE_STATES = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE", "UPDATE_ROLLBACK_COMPLETE",
                 "IMPORT_ROLLBACK_COMPLETE"}
METADATA_KEY = "mlref-labs"  # the template's Metadata entry that records the lab and its context


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


def credential_problem(error: Exception) -> LabError | None:
    """A LabError for a credential or region problem (worded by ``labs.engine.errors.explain``), None for
    anything else: for callers that word the other AWS errors themselves."""
    from botocore import exceptions as core

    credential_types = (core.NoCredentialsError, core.NoRegionError, core.PartialCredentialsError,
                        core.ProfileNotFound, core.CredentialRetrievalError, core.SSOError, core.TokenRetrievalError)
    code = error.response["Error"].get("Code") if isinstance(error, core.ClientError) else None
    if isinstance(error, credential_types) or code in EXPIRED_TOKEN_CODES | BAD_CREDENTIAL_CODES:
        return LabError(explain(error))
    return None


def caller_account(session: Any) -> str:
    """The session's AWS account (STS GetCallerIdentity)."""
    return session.client("sts").get_caller_identity()["Account"]


def describe(session: Any, stack_name: str) -> dict | None:
    """The stack as CloudFormation describes it now; None when it does not exist."""
    from botocore.exceptions import ClientError

    try:
        (stack,) = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "ValidationError" and \
                "does not exist" in error.response["Error"].get("Message", "does not exist"):
            return None
        raise
    return stack


def outputs_of(stack: dict) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def tags_of(stack: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in stack.get("Tags", [])}


def recorded_context(session: Any, stack_name: str) -> dict[str, str] | None:
    """The ``-c`` values the deployed template was synthesized with (its Metadata), None if unknown."""
    summary = session.client("cloudformation").get_template_summary(StackName=stack_name)
    try:
        entry = json.loads(summary.get("Metadata") or "{}").get(METADATA_KEY, {})
        context = entry.get("context", {})
    except (ValueError, AttributeError):
        return None
    return {str(k): str(v) for k, v in context.items()} if isinstance(context, dict) else None


def saved_deployment(session: Any, stack_name: str, warn: Callable[[str], None] = lambda _: None
                     ) -> SavedDeployment | None:
    """What ``labs deploy`` saved for this stack in the session's account and region, unless expired."""
    if not session.region_name or not saved_for_region(stack_name, session.region_name):
        return None  # nothing saved: no need to ask who the caller is
    record = load(stack_name, caller_account(session), session.region_name, warn=warn)
    if record is None or record.expired(datetime.now(UTC)):
        return None
    return record


def deployed_stack(session: Any, stack_name: str, required: Iterable[str]) -> tuple[dict[str, str], dict[str, str]]:
    """The deployed stack's outputs and tags; a LabError when the lab is not (fully) deployed.

    Always CloudFormation's answer now, never the outputs ``labs deploy`` saved: the stack they
    are of may since have been deleted (by its expiry, by hand), and the fixed resource names they
    hold may now be another deployment's (a classroom's copy), which a practice must not act on.
    """
    return described_stack(session, stack_name, required)


def stack_outputs(session: Any, stack_name: str, required: Iterable[str]) -> dict[str, str]:
    """The deployed stack's outputs; a LabError when the lab is not (fully) deployed."""
    return deployed_stack(session, stack_name, required)[0]


def classroom_copy(session: Any, stack_name: str) -> dict | None:
    """The classroom's copy of the lab in the session's account and region (``StackSet-<stack_name>-<UUID>``,
    what ``labs classroom deploy`` gives each student account in each region), described; None when there is
    none. A student practises on it as on a stack of their own."""
    from lambdas.shared.lab_names import is_classroom_copy, lab_of_stack

    lab = lab_of_stack(stack_name)
    pages = session.client("cloudformation").get_paginator("list_stacks").paginate()
    copies = sorted(summary["StackName"] for page in pages for summary in page["StackSummaries"]
                    if summary["StackStatus"] != "DELETE_COMPLETE" and is_classroom_copy(summary["StackName"])
                    and lab_of_stack(summary["StackName"]) == lab)
    if len(copies) > 1:
        raise LabError(f"{len(copies)} classroom copies of lab {lab} in {session.region_name} ({', '.join(copies)}): "
                       "ask the instructor which one is yours")
    return describe(session, copies[0]) if copies else None


def described_stack(session: Any, stack_name: str,
                    required: Iterable[str]) -> tuple[dict[str, str], dict[str, str]]:
    """The stack's outputs and tags as CloudFormation describes them now: the lab's own stack, or, in a
    student's account without one, the classroom's copy."""
    lab = stack_name.removeprefix("mlref-")
    stack = describe(session, stack_name) or classroom_copy(session, stack_name)
    if stack is None:
        raise LabError(f"lab {lab} is not deployed in {session.region_name}: deploy it with `labs deploy {lab}` "
                       "(or pass the --region it is in)")
    stack_name = stack["StackName"]
    status = stack["StackStatus"]
    if status not in USABLE_STATES:
        raise LabError(stack_state_problem(lab, stack_name, status))
    outputs = outputs_of(stack)
    missing = [str(name) for name in required if str(name) not in outputs]
    if missing:
        raise LabError(f"stack {stack_name} lacks outputs {', '.join(missing)}: redeploy it with `labs deploy {lab}`")
    return outputs, tags_of(stack)


def assume_role(session: Any, role_arn: str, purpose: str) -> Any:
    """A session as ``role_arn``, for one practice step (same timeouts and retries as every session)."""
    from botocore.exceptions import ClientError

    from labs.engine.session import aws_session

    try:
        credentials = session.client("sts").assume_role(
            RoleArn=role_arn, RoleSessionName=f"mlref-{purpose}"[:64], DurationSeconds=3600
        )["Credentials"]
    except ClientError as error:
        if error.response["Error"]["Code"] in {"AccessDenied", "AccessDeniedException"}:
            raise LabError(f"cannot assume {role_arn}: your identity needs sts:AssumeRole on the lab's roles") \
                from error
        raise
    return aws_session(region=session.region_name, credentials=credentials)


def deployed_context(session: Any, lab: LabContract) -> dict[str, str] | None:
    """The ``-c`` values a deployed lab was built with: its saved record, else its template's
    metadata; None when neither says (a deployment older than the metadata, or unreadable)."""
    record = saved_deployment(session, lab.stack_name)
    if record is not None:
        return dict(record.context)
    try:
        return recorded_context(session, lab.stack_name)
    except Exception as error:  # only AWS errors: the options only refine a figure
        if explain(error) is None:
            raise
        return None
