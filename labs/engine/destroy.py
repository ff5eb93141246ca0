"""``labs destroy LAB``: ``cdk destroy`` with the user's CLI runner, then the sweep, then what the
janitor says of it."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from catalog import JANITOR_STACK_NAME, LabContract, contract
from catalog.base import PROFILE_NAMES
from labs.engine.cdk_cli import CdkCli
from labs.engine.confirm import confirmed
from labs.engine.deployed import deployed_context, describe, tags_of
from labs.engine.errors import LabError
from labs.engine.state import state_problem
from labs.engine.synthesis import assembly_dir, lab_context

# How long the sweep after a destroy may ask AWS: a service that does not answer costs one line, not minutes.
SWEEP_SECONDS = 25.0
Out = Callable[[str], None]


def destroy(session: Any, lab: str, *, cdk: CdkCli | None, out: Out = print, yes: bool = False,
            ask: Callable[[str], bool] | None = None, clock: Callable[[], float] = time.monotonic) -> int:
    """``cdk destroy`` the lab, then sweep what CloudFormation leaves and verify nothing tagged is left.

    ``cdk`` is the CLI runner of the user's command (its AWS profile and region): None only where
    no stack is there to destroy. The sweep asks nothing after ``SWEEP_SECONDS``. Returns 0 when
    clean, 1 when anything is left, waiting, refused or not checked (each printed, then counted).
    """
    from lambdas.lab_sweep.sweep import Sweeper

    item = contract(lab)
    if not session.region_name:
        raise LabError("no AWS region set: pass --region or set AWS_DEFAULT_REGION (or `aws configure`)")
    stack = describe(session, item.stack_name)
    if stack is not None:
        if not confirmed(yes, ask, f"Destroy {item.stack_name} in {session.region_name}?", out, "not destroyed"):
            return 1
        if cdk is None:
            raise ValueError("destroying a stack needs the CDK CLI runner of the user's command (profile, region)")
        _destroy_stack(session, item, stack, cdk, out)
    else:
        out(f"{item.stack_name} is not deployed in {session.region_name}; sweeping what a previous deployment left")
    _forget_saved(session, item.stack_name, out)
    report = Sweeper(session, lab, log=lambda _line: None, clock=clock, deadline=clock() + SWEEP_SECONDS).run()
    for line in report.lines():
        out(line)
    out(janitor_after(session, lab, stack["StackId"] if stack is not None else None))
    out(report.closing_line(session.region_name))
    return 0 if report.clean else 1


def _destroy_stack(session: Any, item: LabContract, stack: dict, cdk: CdkCli, out: Out) -> None:
    """``cdk destroy`` from the assembly deploy built for this account and region, or a new synthesis
    of the deployed options (in a temporary folder when the state folder is unusable)."""
    profile = tags_of(stack).get("profile", "sandbox")
    profile = profile if profile in PROFILE_NAMES else "sandbox"
    assembly, scratch = assembly_dir(profile, item.name), None
    if not same_target(assembly, item.stack_name, stack["StackId"]):
        if (problem := state_problem()) is not None:
            out(f"warning: {problem}; synthesizing into a temporary folder instead")
            scratch = Path(tempfile.mkdtemp(prefix="mlref-destroy-"))
            assembly = scratch / item.name
        context = deployed_context(session, item) or {}
        pairs, _ = lab_context(item, profile, [f"{k}={v}" for k, v in context.items()], session.region_name)
        assembly = cdk.synth(pairs, assembly, on_line=lambda _line: None, on_failure=out)
    try:
        code = cdk.destroy(item.stack_name, assembly, out)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    if code != 0:
        raise LabError(f"cdk destroy {item.stack_name} failed (exit {code}); fix what it printed and rerun "
                       f"`labs destroy {item.name}` (the sweep runs after the stack is gone)")


def janitor_after(session: Any, lab: str, stack_id: str | None) -> str:
    """What the janitor says of this teardown: its record of the stack just deleted, else that it
    is still at work (or not deployed)."""
    from lambdas.lab_sweep.record import read_record

    record = read_record(session, lab)
    if record is not None and (stack_id is None or record.stack_id == stack_id):
        return record.line()
    if describe(session, JANITOR_STACK_NAME) is None:
        return (f"janitor: not deployed in {session.region_name}, so nothing verifies this teardown twice; "
                "deploy it with `labs janitor deploy`")
    earlier = f" (its last record is of an earlier teardown: {record.line()})" if record is not None else ""
    return f"janitor: still verifying {lab}'s teardown; see `labs status` in a few minutes{earlier}"


def same_target(assembly: Path, stack_name: str, stack_id: str) -> bool:
    """Whether ``assembly`` already holds ``stack_name`` for the account and region of the deployed
    stack (its id is ``arn:aws:cloudformation:<region>:<account>:stack/...``): then destroy needs no
    synthesis of its own."""
    from labs.engine.cdk_cli import stack_artifact

    try:
        artifact = stack_artifact(assembly, stack_name)
    except LabError:
        return False
    parts = stack_id.split(":")
    return artifact is not None and len(parts) > 4 and \
        artifact.get("environment") == f"aws://{parts[4]}/{parts[3]}"


def _forget_saved(session: Any, stack_name: str, out: Out) -> None:
    """Removes the outputs ``labs deploy`` saved for the stack in this account and region; a
    problem with the record is reported and never stops the sweep."""
    from labs.engine.deployed import caller_account
    from labs.engine.state import forget, saved_for_region

    if saved_for_region(stack_name, session.region_name):
        forget(stack_name, caller_account(session), session.region_name, warn=out)
