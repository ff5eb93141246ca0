"""``labs list``, ``status``, ``synth`` and ``destroy``: the labs as the account sees them."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError

from labs.aws import credential_problem
from labs.errors import LabError

ROOT = Path(__file__).resolve().parent.parent
CDK = ROOT / "node_modules" / ".bin" / "cdk"
PROFILES = ("sandbox", "production")
Runner = Callable[[Sequence[str]], int]


def lab_names() -> list[str]:
    from labs.contracts import LABS

    return list(LABS)


def definition(lab: str) -> Any:
    from labs.contracts import contract

    return contract(lab)


@dataclass(frozen=True)
class Deployed:
    stack: str
    status: str
    created: datetime
    expires_at: datetime | None


def deployed_labs(session: Any) -> dict[str, Deployed]:
    """The labs' stacks in the session's account and region (none: {}); LabError on credential problems."""
    from labs.contracts import LABS

    cloudformation = session.client("cloudformation")
    found = {}
    try:
        for lab, definition_ in LABS.items():
            try:
                (stack,) = cloudformation.describe_stacks(StackName=definition_.stack_name)["Stacks"]
            except ClientError as error:
                if error.response["Error"]["Code"] == "ValidationError":
                    continue  # not deployed
                raise
            tags = {t["Key"]: t["Value"] for t in stack.get("Tags", [])}
            expires = tags.get("expires-at")
            found[lab] = Deployed(
                stack=definition_.stack_name, status=stack["StackStatus"], created=stack["CreationTime"],
                expires_at=datetime.fromisoformat(expires.replace("Z", "+00:00")) if expires else None)
    except (NoCredentialsError, NoRegionError, ClientError) as error:
        if problem := credential_problem(error):
            raise problem from error
        raise
    return found


def list_lines(session: Any | None) -> list[str]:
    """One line per lab; deployment state when the session can tell."""
    from labs.contracts import LABS

    state: dict[str, Deployed] | None = None
    note = ""
    if session is not None:
        try:
            state = deployed_labs(session)
        except LabError as error:
            note = f"deployed: unknown ({error})"
    lines = [f"{'lab':<14} {'domain':<17} {'idle/hour':>9} {'per run':>8}  {'deployed':<18} demonstrates"]
    for lab, item in LABS.items():
        cost = item.cost(item.default_options())
        if state is None:
            deployed = "unknown"
        else:
            deployed = state[lab].status if lab in state else "no"
        lines.append(f"{lab:<14} {item.exams.mls_c01:<17} {'$%.4f' % cost.idle_per_hour:>9} "
                     f"{'$%.2f' % cost.per_practice_run:>8}  {deployed:<18} {item.demonstrates}")
    if note:
        lines.append(note)
    return lines


def status_lines(session: Any, now: datetime | None = None) -> list[str]:
    now = now or datetime.now(timezone.utc)
    state = deployed_labs(session)
    if not state:
        return [f"no lab is deployed in {session.region_name}"]
    lines = []
    for lab, item in state.items():
        age_hours = (now - item.created).total_seconds() / 3600
        spent = definition(lab).cost(definition(lab).default_options()).idle_per_hour * age_hours
        if item.expires_at is None:
            expiry = "never expires"
        elif item.expires_at <= now:
            expiry = "expired, deletion pending"
        else:
            expiry = f"expires in {(item.expires_at - now).total_seconds() / 3600:.1f} h"
        lines.append(f"{lab:<14} {item.status:<18} age {age_hours:.1f} h, {expiry}, idle cost so far ~${spent:.2f} "
                     "(estimate, practice runs not included)")
    return lines


def run_cdk(arguments: Sequence[str]) -> int:
    """Runs the pinned CDK CLI from the repository, output streamed live."""
    if not CDK.exists():
        raise LabError(f"the CDK CLI is not installed at {CDK.relative_to(ROOT)}: run `make setup` first")
    env = dict(os.environ, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20", CDK_DISABLE_CLI_TELEMETRY="true")
    return subprocess.run([str(CDK), *arguments], cwd=ROOT, env=env).returncode


def synth(lab: str | None, profile: str, *, runner: Runner = run_cdk, out: Callable[[str], None] = print,
          outdir: Path | None = None) -> Path:
    if profile not in PROFILES:
        raise LabError(f"--profile {profile!r} is not a profile; use sandbox or production")
    labs = "all" if lab is None else definition(lab).name
    outdir = outdir or ROOT / ("cdk.out" if profile == "sandbox" else f"cdk.out.{profile}")
    code = runner(["synth", "--quiet", "-c", f"profile={profile}", "-c", f"labs={labs}", "-o", str(outdir)])
    if code != 0:
        raise LabError(f"cdk synth failed (exit {code}); the lines above say why")
    from labs.summary import summarize

    for summary in summarize(outdir):
        out(summary.line())
    return outdir


def _forget_saved(session: Any, stack_name: str) -> None:
    """Removes the outputs ``labs deploy`` saved for the stack in this account and region."""
    from labs.aws import caller_account
    from labs.state import forget, saved_for_region

    if session.region_name and saved_for_region(stack_name, session.region_name):
        forget(stack_name, caller_account(session), session.region_name)


def destroy(session: Any, lab: str, *, runner: Runner = run_cdk, out: Callable[[str], None] = print,
            yes: bool = False) -> int:
    """``cdk destroy`` the lab, then sweep what CloudFormation leaves and verify nothing tagged is left.

    Returns 0 when clean, 1 when anything is left (each leftover printed).
    """
    from lambdas.lab_sweep.sweep import Sweeper

    item = definition(lab)
    state = deployed_labs(session)
    if lab in state:
        arguments = ["destroy", item.stack_name, "-c", f"labs={lab}"] + (["--force"] if yes else [])
        code = runner(arguments)
        if code != 0:
            raise LabError(f"cdk destroy {item.stack_name} failed (exit {code}); fix what it printed and rerun "
                           f"`labs destroy {lab}` (the sweep runs after the stack is gone)")
    else:
        out(f"{item.stack_name} is not deployed in {session.region_name}; sweeping what a previous deployment left")
    _forget_saved(session, item.stack_name)
    report = Sweeper(session, lab, log=lambda _line: None).run()
    for line in report.lines():
        out(line)
    if report.clean:
        out(f"{lab}: nothing tagged lab={lab} is left in {session.region_name}")
        return 0
    out(f"{lab}: {len(report.failed) + len(report.left)} item(s) left: see above")
    return 1
