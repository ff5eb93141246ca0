"""``labs list``, ``status``, ``synth``, ``destroy`` and the janitor: the labs as the account sees them."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from labs.engine.deployed import describe, recorded_context, saved_deployment, tags_of
from labs.engine.cdk_cli import ROOT, CdkCli
from catalog import JANITOR_STACK_NAME, LABS, LabContract, contract
from catalog.prices import usd
from labs.engine.deploy import assembly_dir, confirmed, context_pairs, lab_context
from labs.engine.errors import LabError, explain
from labs.engine.state import parse_moment, state_problem

PROFILES = ("sandbox", "production")
# How long the sweep after a destroy may ask AWS: a service that does not answer costs one line, not minutes.
SWEEP_SECONDS = 25.0
Out = Callable[[str], None]


def all_labs_dir(profile: str) -> Path:
    """Where ``labs synth --all`` (and ``make synth``) put every lab of a profile."""
    return ROOT / ("cdk.out" if profile == "sandbox" else f"cdk.out.{profile}")


@dataclass(frozen=True)
class Deployed:
    stack: str
    status: str
    created: datetime
    expires_at: datetime | None
    tags: dict[str, str]
    expiry_problem: str = ""


def deployed_labs(session: Any) -> dict[str, Deployed]:
    """The labs' stacks in the session's account and region (none: {})."""
    names = {lab.stack_name: name for name, lab in LABS.items()}
    found: dict[str, Deployed] = {}
    for page in session.client("cloudformation").get_paginator("describe_stacks").paginate():
        for stack in page.get("Stacks", []):
            lab = names.get(stack.get("StackName"))
            if lab is None or stack.get("StackStatus") == "DELETE_COMPLETE":
                continue
            tags = tags_of(stack)
            expires, problem = None, ""
            if "expires-at" in tags:
                try:
                    expires = parse_moment(tags["expires-at"])
                except ValueError:
                    problem = f"unreadable expires-at tag {tags['expires-at']!r}"
            found[lab] = Deployed(stack=stack["StackName"], status=stack["StackStatus"],
                                  created=stack["CreationTime"], expires_at=expires, tags=tags, expiry_problem=problem)
    return {lab: found[lab] for lab in LABS if lab in found}


def list_lines(session: Any | None, offline: str = "not asked (--offline)") -> list[str]:
    """One line per lab; its deployment state when the session can tell, else why not."""
    state: dict[str, Deployed] | None = None
    note = f"deployed: {offline}"
    if session is not None:
        try:
            state = deployed_labs(session)
            note = ""
        except Exception as error:  # noqa: BLE001 - any AWS problem: still list, and say why
            reason = explain(error)
            if reason is None:
                raise
            note = f"deployed: unknown ({reason})"
    lines = [f"{'lab':<14} {'MLS-C01':<17} {'MLA-C01':<8} {'idle/hour':>9} {'per run':>8}  {'deployed':<18} "
             "demonstrates"]
    for name, lab in LABS.items():
        cost = lab.cost(lab.default_options())
        deployed = "unknown" if state is None else (state[name].status if name in state else "no")
        per_run = "?" if cost.per_practice_run is None else usd(cost.per_practice_run)
        lines.append(f"{name:<14} {lab.exams.mls_c01[:17]:<17} {lab.exams.mla_short:<8} "
                     f"{'$%.4f' % cost.idle_per_hour:>9} {per_run:>8}  {deployed:<18} {lab.demonstrates}")
    if note:
        lines.append(note)
    return lines


def deployed_options(session: Any, lab: LabContract) -> tuple[Any, str]:
    """The options a deployed lab was built with (saved record, else the template's metadata), and a
    note when they are not known and the defaults stand in."""
    from catalog.config import ConfigError

    context = deployed_context(session, lab)
    if context is None:
        return lab.default_options(), " (cost with the lab's defaults: its options are not recorded)"
    try:
        return lab.parse(context, session.region_name), ""
    except ConfigError:
        return lab.default_options(), " (cost with the lab's defaults: its recorded options no longer parse)"


def janitor_lines(session: Any, labs: Sequence[str] | None = None) -> list[str]:
    """The janitor's last teardown record of each lab that has one (``labs status``)."""
    from lambdas.lab_sweep.record import read_record

    lines = []
    for name in labs if labs is not None else LABS:
        record = read_record(session, name)
        if record is not None:
            lines.append(record.line())
    return lines


def status_lines(session: Any, now: datetime | None = None) -> list[str]:
    now = now or datetime.now(timezone.utc)
    state = deployed_labs(session)
    if not state:
        return [f"no lab is deployed in {session.region_name}", *janitor_lines(session)]
    lines = []
    for name, item in state.items():
        lab = LABS[name]
        options, note = deployed_options(session, lab)
        age_hours = (now - item.created).total_seconds() / 3600
        spent = lab.cost(options).idle_per_hour * age_hours
        if item.expiry_problem:
            expiry = f"expiry unknown ({item.expiry_problem})"
        elif item.expires_at is None:
            expiry = "never expires"
        elif item.expires_at <= now:
            expiry = "expired, deletion pending"
        else:
            expiry = f"expires in {(item.expires_at - now).total_seconds() / 3600:.1f} h"
        lines.append(f"{name:<14} {item.status:<18} age {age_hours:.1f} h, {expiry}, idle cost so far ~${spent:.2f} "
                     f"(estimate, practice runs not included){note}")
    return lines + janitor_lines(session)


def synth(lab: str | None, profile: str, *, cdk: CdkCli, context: Sequence[str] = (), region: str = "us-east-1",
          out: Out = print, outdir: Path | None = None) -> Path:
    """Every lab into cdk.out (``lab`` None), or one lab into its own folder; then a summary."""
    from labs.templates.summary import summarize

    if profile not in PROFILES:
        raise LabError(f"--profile {profile!r} is not a profile; use sandbox or production")
    if lab is None:
        pairs = {**context_pairs(context), "profile": profile, "labs": "all"}
        target = outdir or all_labs_dir(profile)
    else:
        pairs, _ = lab_context(contract(lab), profile, context, region)
        target = outdir or assembly_dir(profile, lab)
    cdk.synth(pairs, target, on_line=out)
    for summary in summarize(target):
        out(summary.line())
    return target


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
    profile = profile if profile in PROFILES else "sandbox"
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

    from catalog import JANITOR_STACK_NAME

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


def deployed_context(session: Any, lab: LabContract) -> dict[str, str] | None:
    """The ``-c`` values a deployed lab was built with: its saved record, else its template's
    metadata; None when neither says (a deployment older than the metadata, or unreadable)."""
    record = saved_deployment(session, lab.stack_name)
    if record is not None:
        return dict(record.context)
    try:
        return recorded_context(session, lab.stack_name)
    except Exception as error:  # noqa: BLE001 - only AWS errors: the options only refine a figure
        if explain(error) is None:
            raise
        return None


def _forget_saved(session: Any, stack_name: str, out: Out) -> None:
    """Removes the outputs ``labs deploy`` saved for the stack in this account and region; a
    problem with the record is reported and never stops the sweep."""
    from labs.engine.deployed import caller_account
    from labs.engine.state import forget, saved_for_region

    if saved_for_region(stack_name, session.region_name):
        forget(stack_name, caller_account(session), session.region_name, warn=out)


def janitor(session: Any, action: str, *, cdk: CdkCli, profile: str = "sandbox", out: Out = print,
            yes: bool = False, ask: Callable[[str], bool] | None = None) -> int:
    """``labs janitor deploy|destroy``: the account-level sweep stack, once per account and region."""
    if not session.region_name:
        raise LabError("no AWS region set: pass --region or set AWS_DEFAULT_REGION (or `aws configure`)")
    if not confirmed(yes, ask, f"{action.capitalize()} {JANITOR_STACK_NAME} in {session.region_name}?", out,
                     f"not {action}ed"):
        return 1
    assembly = cdk.synth({"profile": profile, "labs": "none"}, assembly_dir(profile, "janitor"),
                         on_line=lambda _line: None, on_failure=out)
    code = (cdk.deploy if action == "deploy" else cdk.destroy)(JANITOR_STACK_NAME, assembly, out)
    if code != 0:
        raise LabError(f"cdk {action} {JANITOR_STACK_NAME} failed (exit {code}): the lines above say why")
    out(f"{JANITOR_STACK_NAME}: {action} done in {session.region_name}")
    return 0
