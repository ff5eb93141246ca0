"""``labs deploy LAB``: check, show, ask, deploy with live progress, verify, save the outputs.

The order matters: what needs no AWS call is checked first (the region and the ``-c``
values, validated once by the app's own rules into the lab's options), then the account
(credentials, CDK bootstrap, the stack's current state, the lab's own preflight such as
SageMaker quotas), then the lab is synthesized once into its own cloud assembly, the template
is checked against the account's quotas, cost (from the options) and expiry (from the
assembly) are shown, and only after a yes is that same assembly deployed. A deployment counts
only when the stack is complete and has every output the lab's contract declares. A first
deployment that fails is removed again (the stack, then the sweep), so nothing is left
half-created.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from catalog import LabContract, contract
from labs.engine.cdk_cli import CdkCli, DeployProgress, read_stack
from labs.engine.confirm import confirmed
from labs.engine.deployed import describe, outputs_of, tags_of
from labs.engine.errors import LabError
from labs.engine.preflight import (
    Target,
    bootstrap_version,
    check_network_quotas,
    current_status,
    janitor_note,
    target_of,
)
from labs.engine.state import SavedDeployment, parse_moment, save, state_problem
from labs.engine.synthesis import RESERVED_KEYS, assembly_dir, lab_context

COMPLETE_STATES = {"CREATE_COMPLETE", "UPDATE_COMPLETE"}
Out = Callable[[str], None]


@dataclass(frozen=True)
class DeployRequest:
    """What the user asked for.

    Attributes:
        lab: the lab's name.
        profile: sandbox or production.
        context: extra ``KEY=VALUE`` context pairs for the app.
        yes: deploy without asking.
        verbose: show every line the CDK CLI prints.
    """

    lab: str
    profile: str = "sandbox"
    context: tuple[str, ...] = ()
    yes: bool = False
    verbose: bool = False


def hours_until(moment: str, now: datetime) -> float:
    return (parse_moment(moment) - now).total_seconds() / 3600


def deploy(session: Any, request: DeployRequest, *, cdk: CdkCli,
           ask: Callable[[str], bool] | None = None, out: Out = print,
           now: Callable[[], datetime] = lambda: datetime.now(UTC),
           interactive: bool | None = None) -> SavedDeployment | None:
    """Deploys the lab with ``cdk``, the CLI runner of the user's command (its AWS profile and
    region, which every later step, the cleanup of a failed first deployment included, reuses);
    returns what was saved, None when the user said no.

    LabError, with nothing created, on every check that fails.
    """
    lab = contract(request.lab)
    if not session.region_name:
        raise LabError("no AWS region set: pass --region or set AWS_DEFAULT_REGION (or `aws configure`)")
    pairs, options = lab_context(lab, request.profile, request.context, session.region_name)
    if (problem := state_problem()) is not None:
        raise LabError(problem)
    target = target_of(session)
    out(f"account {target.account}, region {target.region}")
    version = bootstrap_version(session, target, out)
    if version is not None:
        out(f"CDK bootstrap: version {version}")
    status = current_status(session, lab.name, lab.stack_name)
    janitor_note(session, target, out)
    if (preflight := lab.preflight_function()) is not None:
        preflight(session, options, out)

    out(f"synthesizing {lab.stack_name} ({request.profile})...")
    assembly = cdk.synth(pairs, assembly_dir(request.profile, lab.name), on_line=out if request.verbose else _quiet,
                         on_failure=None if request.verbose else out)
    template, tags = read_stack(assembly, lab.stack_name)
    if status is None:
        check_network_quotas(session, template, target.region, out)
    else:
        out(f"{lab.stack_name} exists ({status}): this deployment updates it")
    expires_at = show_cost_and_expiry(lab, options, tags.get("expires-at"), now(), out)
    check_permissions(lab, assembly, out)

    resources = len(template.get("Resources", {}))
    if not confirmed(request.yes, ask, f"Deploy {lab.stack_name} ({resources} resources) to {target.account} "
                     f"{target.region}?", out, "not deployed"):
        return None

    with DeployProgress(total=resources + 1, verbose=request.verbose, out=out,
                        interactive=sys.stdout.isatty() if interactive is None else interactive) as progress:
        code = cdk.deploy(lab.stack_name, assembly, progress.line)
    if code != 0:
        progress.show_tail()
        failure = LabError(f"cdk deploy {lab.stack_name} failed (exit {code}): the failed resources are listed "
                           "above; fix the cause and run `labs deploy` again")
        _clean_up_failed_create(session, lab, status, cdk, out)
        raise failure
    return _saved(session, lab, request, target, options, pairs, expires_at, now(), out)


def check_permissions(lab: LabContract, assembly: Path, out: Out) -> None:
    """The permissions proof (``labs permissions``) on the template about to be deployed; a LabError
    naming the first call that does not hold, before anything is created."""
    from labs.permissions.proof import prove

    report = prove(lab, assembly)
    if report.failures:
        first = report.failures[0]
        raise LabError(f"the permissions proof found {len(report.failures)} call(s) not as expected, e.g. {first.who} "
                       f"{first.action} on {first.resource}: {first.result} (expected {first.expected}); run "
                       f"`labs permissions {lab.name}` for each one and the statement meant to decide it")
    out(f"permissions: {len(report.verdicts)} calls proven against the template (`labs permissions {lab.name}`)")


def show_cost_and_expiry(lab: LabContract, options: Any, expires_at: str | None, moment: datetime,
                         out: Out) -> str | None:
    cost = lab.cost(options)
    others = "".join(f"; {flag}: ~${usd:.2f}" for flag, usd in cost.alternatives)
    out(f"cost: {cost.idle_text} while deployed, {cost.run_text} per practice run{others} (estimates from "
        "pricing/prices.toml)")
    if not expires_at:
        out(f"expires: never (production profile or ttl_hours=0): remove it with `labs destroy {lab.name}`")
        return None
    hours = hours_until(expires_at, moment)
    out(f"expires: {expires_at} (in {hours:.1f} h), when it deletes itself; idle cost until then "
        f"~${cost.idle_per_hour * hours:.2f}")
    return expires_at


def _saved(session: Any, lab: LabContract, request: DeployRequest, target: Target, options: Any,
           pairs: dict[str, str], expires_at: str | None, moment: datetime, out: Out) -> SavedDeployment:
    """Checks that the stack is complete with every declared output, then saves its record."""
    stack = describe(session, lab.stack_name)
    if stack is None or stack["StackStatus"] not in COMPLETE_STATES:
        state = "gone" if stack is None else stack["StackStatus"]
        raise LabError(f"cdk deploy reported success but {lab.stack_name} is {state}: see its events in the "
                       "CloudFormation console, then run `labs deploy` again")
    outputs, stack_tags = outputs_of(stack), tags_of(stack)
    missing = [str(o) for o in lab.outputs_for(options) if str(o) not in outputs]
    if missing:
        raise LabError(f"{lab.stack_name} is {stack['StackStatus']} but lacks the outputs {', '.join(missing)}: the "
                       "practice needs them; run `labs deploy` again, or `labs destroy` and deploy anew")
    record = SavedDeployment(
        lab=lab.name, stack=lab.stack_name, account=target.account, region=target.region, profile=request.profile,
        deployed_at=moment.replace(microsecond=0).isoformat(),
        expires_at=(stack_tags.get("expires-at") or expires_at or "").replace("Z", "+00:00") or None,
        outputs=outputs, tags=stack_tags, context={k: v for k, v in pairs.items() if k not in RESERVED_KEYS})
    try:
        path = save(record)
        where = _shown(path)
    except OSError as error:
        where = None
        out(f"warning: cannot save the outputs ({error.strerror or error}); `labs practice` will ask "
            "CloudFormation instead")
    out(f"deployed {lab.stack_name}: {len(outputs)} outputs" + (f" saved to {where}" if where else ""))
    for key in sorted(outputs):
        out(f"  {key} = {outputs[key]}")
    out(f"next: `labs practice {lab.name}`; when done: `labs destroy {lab.name}`")
    return record


def _clean_up_failed_create(session: Any, lab: LabContract, status_before: str | None, cdk: CdkCli,
                            out: Out) -> None:
    """A first deployment that failed leaves an empty ROLLBACK_COMPLETE stack: remove it and sweep,
    with the same CLI runner and session (the account and region the user named). A cleanup that
    fails too is reported, and the deployment's own failure stays the last word."""
    if status_before is not None:
        return  # an update rolls back to the previous, working deployment
    from labs.engine.destroy import destroy

    out(f"the first deployment of {lab.name} failed: removing the rolled-back stack and anything it left")
    try:
        destroy(session, lab.name, cdk=cdk, out=out, yes=True)
    except LabError as error:
        out(f"cleanup failed too: {error}")


def _quiet(_line: str) -> None:
    return None


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
