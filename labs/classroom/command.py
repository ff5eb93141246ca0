"""``labs classroom deploy|status|destroy``: one lab in every student account, with StackSets.

Run from the admin account (the organization's management account or a delegated
administrator). ``deploy`` checks the targets and the permission model, prices the whole class,
asks, synthesizes the classroom (``-c classroom=<lab>``) with the pinned CDK CLI and deploys its
admin stacks, showing each account's instance as StackSets reports it. ``status`` shows one row
per account and region. ``destroy`` deletes every instance, then the classroom's stack, and
verifies each account through its janitor's records. Nothing here imports aws-cdk-lib.
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from catalog import LABS, contract
from catalog import classroom as room
from catalog.prices import usd
from labs.classroom import checks, stacksets
from labs.classroom.stacksets import Caller, Clock, Instance, RecordReader
from labs.classroom.teardown import Board, caller_of, classrooms, confirmed, destroy, status_lines
from labs.engine.errors import LabError

Out = Callable[[str], None]
SERVICE_MANAGED_MEMBER_ROLE = "OrganizationAccountAccessRole"
__all__ = ["Board", "Plan", "deploy", "destroy", "plan", "register", "status_lines"]


@dataclass(frozen=True)
class Plan:
    """A checked classroom: its options, the context to synthesize it with, and what it reaches."""

    options: room.ClassroomOptions
    context: dict[str, str]
    accounts: tuple[str, ...]
    ttl_hours: int


class Watcher:
    """Polls a StackSet's instances in the background while the CDK CLI deploys, into a Board."""

    def __init__(self, cfn: Any, stack_set: str, caller: Caller, board: Board, clock: Clock) -> None:
        self.cfn, self.stack_set, self.caller, self.board, self.clock = cfn, stack_set, caller, board, clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.clock.poll_seconds):
            try:
                self.board.update(stacksets.instances(self.cfn, self.stack_set, self.caller))
            except Exception:  # noqa: BLE001 - progress only; the final poll reports for real
                continue

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.board.update(stacksets.instances(self.cfn, self.stack_set, self.caller))


# -- plan ------------------------------------------------------------------------------------

def plan(session: Any, lab: str, *, accounts: Sequence[str], ous: Sequence[str], regions: Sequence[str],
         permissions: str | None, context: Sequence[str], out: Out) -> Plan:
    """Validates the request by the app's own rules, then against the organization and the regions."""
    import json
    import os

    from catalog.config import ConfigError, read_config
    from catalog.paths import ROOT
    from labs.engine.synthesis import context_pairs

    if problem := room.stackset_problem(contract(lab).name):
        raise LabError(problem)
    admin = session.client("sts").get_caller_identity()["Account"]
    org = checks.organization_of(session)
    wanted = permissions or (room.SERVICE_MANAGED if ous else room.SELF_MANAGED)
    service_managed = wanted == room.SERVICE_MANAGED
    if accounts:
        checks.check_accounts(session, accounts, org, service_managed, out)
    pairs = {**context_pairs(context), "classroom": lab,
             "classroom_regions": ",".join(regions or [session.region_name])}
    pairs.update({"classroom_accounts": ",".join(accounts)} if accounts else {"classroom_ous": ",".join(ous)})
    pairs["classroom_permissions"] = wanted
    if service_managed:
        if org.id is None:
            raise LabError("service-managed StackSets need AWS Organizations, and this account is in none (or may not "
                           "read it): use --accounts with self-managed permissions")
        pairs.update(classroom_org=org.id, classroom_call_as=checks.caller_role(session, admin, org, wanted))
    defaults = json.loads((ROOT / "cdk.json").read_text()).get("context", {})
    environment = {"CDK_DEFAULT_REGION": session.region_name, "CDK_DEFAULT_ACCOUNT": admin,
                   "USER": os.environ.get("USER", "")}
    try:
        config = read_config({**defaults, **pairs}, environment)
    except ConfigError as error:
        raise LabError(str(error)) from None
    options = config.classroom
    checks.check_regions(session, sorted({*options.regions, session.region_name}))
    if service_managed:
        checks.check_trusted_access(session, options.call_as)
        reached = tuple(a for a in checks.accounts_in_ous(session, options.ous) if a != org.management_account)
        if not reached:
            raise LabError(f"OU(s) {', '.join(options.ous)} hold no active member account: move the students' "
                           "accounts there first")
    else:
        checks.check_execution_roles(session, options.accounts, out)
        reached = options.accounts
    return Plan(options=options, context=pairs, accounts=reached, ttl_hours=config.ttl_hours)


def cost_lines(plan_: Plan) -> list[str]:
    lab = LABS[plan_.options.lab]
    cost = lab.cost(lab.default_options())
    whole = room.class_cost(cost, accounts=len(plan_.accounts), regions=len(plan_.options.regions))
    copies = len(plan_.accounts) * len(plan_.options.regions)
    run = "unknown" if whole.per_practice_run is None else usd(whole.per_practice_run)
    lines = [f"class: {len(plan_.accounts)} account(s) x {len(plan_.options.regions)} region(s) = {copies} copies of "
             f"{lab.name} ({plan_.options.permissions})",
             f"cost for the class: ~${whole.idle_per_hour:.4f}/hour idle, {run} per practice run (every student once)"]
    if plan_.ttl_hours:
        lines.append(f"expires: in {plan_.ttl_hours} h, when the classroom stack deletes every copy; idle cost until "
                     f"then ~${whole.idle_per_hour * plan_.ttl_hours:.2f}")
    else:
        lines.append("expires: never (ttl_hours=0): remove it with `labs classroom destroy`")
    return lines


# -- commands --------------------------------------------------------------------------------

def deploy(session: Any, plan_: Plan, *, cdk: Any, out: Out = print, yes: bool = False,
           ask: Callable[[str], bool] | None = None, clock: Clock | None = None, watch: bool = True) -> int:
    """Deploys the classroom's admin stacks; 0 when every account's copy is CURRENT, 1 when some failed
    within the tolerance (listed); a LabError when the StackSet operation stopped."""
    from labs.engine.synthesis import assembly_dir

    options, clock = plan_.options, clock or Clock()
    for line in cost_lines(plan_):
        out(line)
    if not confirmed(f"Deploy {options.lab} to {len(plan_.accounts)} account(s)?", yes, ask):
        out("not deployed")
        return 1
    assembly = cdk.synth(plan_.context, assembly_dir("classroom", options.lab), on_line=lambda _l: None,
                         on_failure=out)
    cfn, caller = session.client("cloudformation"), Caller(options.call_as if options.service_managed else None)
    for stack in options.assets_stack_names:
        _deploy_stack(cdk, stack, assembly, out)
    for stack, stack_set in ((options.janitor_stack_name, options.janitor_stack_set_name),
                             (options.stack_name, options.stack_set_name)):
        out(f"{stack_set}: one stack per account and region")
        board = Board(out)
        code = _deploy_watched(cdk, stack, assembly, cfn, stack_set, caller, board, clock, watch)
        total, failed = board.summary()
        if code != 0 and not failed:
            raise LabError(f"cdk deploy {stack} failed (exit {code}): run it with --verbose to see why")
        if code != 0:
            raise LabError(f"{stack} failed (exit {code}): the StackSet operation stopped with {len(failed)} of "
                           f"{total} account(s) failed, beyond the {room.FAILURE_TOLERANCE_PERCENTAGE}% tolerance "
                           f"({_listed(failed)}); CloudFormation rolled back: fix those accounts and deploy again")
        if failed:
            out(f"{stack_set}: {len(failed)} of {total} account(s) failed, within the tolerance: {_listed(failed)}")
            out("  fix each account (the reason above), then run `labs classroom deploy` again")
            return 1
    out(f"deployed {options.lab} to {len(plan_.accounts)} account(s); `labs classroom status` shows each one")
    return 0


def _deploy_stack(cdk: Any, stack: str, assembly: Any, out: Out) -> None:
    code = cdk.deploy(stack, assembly, lambda _line: None)
    if code != 0:
        raise LabError(f"cdk deploy {stack} failed (exit {code}): run it with --verbose to see why")
    out(f"{stack}: deployed")


def _deploy_watched(cdk: Any, stack: str, assembly: Any, cfn: Any, stack_set: str, caller: Caller, board: Board,
                    clock: Clock, watch: bool) -> int:
    if not watch:
        code = cdk.deploy(stack, assembly, lambda _line: None)
        board.update(stacksets.instances(cfn, stack_set, caller))
        return code
    with Watcher(cfn, stack_set, caller, board, clock):
        return cdk.deploy(stack, assembly, lambda _line: None)


def _listed(failed: Sequence[Instance]) -> str:
    return "; ".join(f"{i.account}/{i.region}: {i.reason or i.detailed}" for i in failed) or "none reported"


# -- the parser ------------------------------------------------------------------------------

def register(subparsers: Any, parents: Sequence[argparse.ArgumentParser]) -> None:
    """Adds ``classroom deploy|status|destroy`` to the labs command (``parents``: its --region/--aws-profile
    and -c parsers)."""
    command = subparsers.add_parser("classroom", help="one lab in every student account (StackSets)",
                                    description=__doc__.splitlines()[0])
    actions = command.add_subparsers(dest="classroom_action", required=True, parser_class=type(command))
    labs = list(LABS)
    create = actions.add_parser("deploy", parents=list(parents), help="check, price, ask, deploy to every account")
    create.add_argument("lab", choices=labs, metavar="LAB")
    targets = create.add_mutually_exclusive_group(required=True)
    targets.add_argument("--accounts", type=_ids, help="comma-separated account ids (self-managed)")
    targets.add_argument("--ous", type=_ids, help="comma-separated OU ids (service-managed)")
    create.add_argument("--regions", type=_ids, default=(), help="comma-separated regions (default: --region)")
    create.add_argument("--permissions", choices=room.PERMISSION_MODELS, default=None,
                        help="default: self-managed for --accounts, service-managed for --ous")
    create.add_argument("--yes", action="store_true", help="do not ask before deploying")
    create.set_defaults(handler=_deploy)
    show = actions.add_parser("status", parents=list(parents), help="one row per account and region")
    show.add_argument("--member-role", default=None, help=_MEMBER_ROLE_HELP)
    show.set_defaults(handler=_status)
    remove = actions.add_parser("destroy", parents=list(parents), help="delete every copy, verify every account")
    remove.add_argument("lab", choices=labs, metavar="LAB")
    remove.add_argument("--yes", action="store_true", help="do not ask before destroying")
    remove.add_argument("--member-role", default=None, help=_MEMBER_ROLE_HELP)
    remove.set_defaults(handler=_destroy)


_MEMBER_ROLE_HELP = (f"role to read each account's janitor record with (default: {room.EXECUTION_ROLE_NAME} "
                     f"for self-managed, {SERVICE_MANAGED_MEMBER_ROLE} for service-managed)")


def _ids(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _session_and_cdk(args: argparse.Namespace) -> tuple[Any, Any]:
    from labs.cli.common import cdk_of, session_of

    session = session_of(args)
    if not session.region_name:
        raise LabError("no AWS region set: pass --region or set AWS_DEFAULT_REGION (or `aws configure`)")
    return session, cdk_of(args, session)


def _members(session: Any, role: str | None, service_managed: bool) -> Callable[[str, str], Any]:
    name = role or (SERVICE_MANAGED_MEMBER_ROLE if service_managed else room.EXECUTION_ROLE_NAME)
    return lambda account, region: stacksets.member_session(session, account, region, name)


def _deploy(args: argparse.Namespace) -> int:
    from labs.cli.common import asker

    session, cdk = _session_and_cdk(args)
    checked = plan(session, args.lab, accounts=args.accounts or (), ous=args.ous or (), regions=args.regions,
                   permissions=args.permissions, context=args.context or (), out=print)
    return deploy(session, checked, cdk=cdk, yes=args.yes, ask=asker())


def _status(args: argparse.Namespace) -> int:
    session, _ = _session_and_cdk(args)
    try:
        reader: RecordReader | None = stacksets.default_record_reader()
    except LabError:
        reader = None
    service = any(caller_of(s).call_as for s in classrooms(session).values())
    for line in status_lines(session, sessions=_members(session, args.member_role, service), reader=reader):
        print(line)
    return 0


def _destroy(args: argparse.Namespace) -> int:
    from labs.cli.common import asker

    session, _ = _session_and_cdk(args)
    stack = classrooms(session).get(args.lab)
    service = bool(stack and caller_of(stack).call_as)
    return destroy(session, args.lab, sessions=_members(session, args.member_role, service),
                   reader=stacksets.default_record_reader(), yes=args.yes, ask=asker())
