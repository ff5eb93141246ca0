"""``labs classroom status`` and ``destroy``: the class as the admin account sees it, and its teardown.

``destroy`` deletes every instance of the lab's StackSet itself (every account attempted, even
when some fail), then the classroom's stack, and verifies each account through the record its
janitor keeps of the lab's last sweep (``lambdas/lab_sweep/record.py``'s ``read_record``, reached
through the ``reader`` argument so tests can fake it). CDK-free.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from catalog import LABS, contract
from catalog import classroom as room
from labs.classroom import stacksets
from labs.classroom.stacksets import Caller, Clock, Instance, RecordReader, RecordView
from labs.engine.errors import LabError

Out = Callable[[str], None]
RECORD_WAIT_SECONDS = 20 * 60


@dataclass
class Board:
    """Each account's instance as last seen; prints a line when one changes (a bar per account on a
    terminal would need the accounts up front, which an OU target does not give)."""

    out: Out
    seen: dict[tuple[str, str], Instance] = field(default_factory=dict)

    def update(self, found: Sequence[Instance]) -> None:
        for instance in found:
            key = (instance.account, instance.region)
            before = self.seen.get(key)
            if before is None or (before.detailed, before.status) != (instance.detailed, instance.status):
                reason = f": {instance.reason}" if instance.reason and instance.failed else ""
                self.out(f"  {instance.account} {instance.region:<14} {instance.detailed or instance.status}{reason}")
            self.seen[key] = instance

    def summary(self) -> tuple[int, list[Instance]]:
        failed = [i for i in self.seen.values() if i.failed]
        return len(self.seen), failed


def classrooms(session: Any) -> dict[str, dict]:
    """The classroom stacks in the admin region, by lab."""
    names = {room.classroom_stack_name(lab): lab for lab in LABS}
    found = {}
    for page in session.client("cloudformation").get_paginator("describe_stacks").paginate():
        for stack in page.get("Stacks", []):
            if stack.get("StackName") in names and stack.get("StackStatus") != "DELETE_COMPLETE":
                found[names[stack["StackName"]]] = stack
    return found


def caller_of(stack: dict) -> Caller:
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    if outputs.get("PermissionModel") != room.SERVICE_MANAGED:
        return Caller()
    return Caller(outputs.get("CallAs", "SELF"))


def status_lines(session: Any, *, sessions: Callable[[str, str], Any], reader: RecordReader | None,
                 now: datetime | None = None) -> list[str]:
    now = now or datetime.now(UTC)
    found = classrooms(session)
    if not found:
        return [f"no classroom is deployed from {session.region_name}"]
    cfn = session.client("cloudformation")
    lines = []
    for lab, stack in found.items():
        caller, stack_set = caller_of(stack), LABS[lab].stack_name
        expires = stacksets.stack_set_tags(cfn, stack_set, caller).get("expires-at", "never")
        rows = stacksets.instances(cfn, stack_set, caller)
        lines.append(f"{lab}: {stack['StackStatus']}, {len(rows)} instance(s), expires {expires}")
        lines.append(f"  {'account':<12} {'region':<14} {'status':<10} {'detail':<10} {'drift':<11} janitor  reason")
        for row in rows:
            lines.append(f"  {row.account:<12} {row.region:<14} {row.status:<10} {row.detailed:<10} {row.drift:<11} "
                         f"{_record_text(sessions, reader, row, lab)}  {row.reason}")
    return lines


def _record_text(sessions: Callable[[str, str], Any], reader: RecordReader | None, row: Instance, lab: str) -> str:
    if reader is None:
        return "unknown"
    try:
        view = RecordView.of(reader(sessions(row.account, row.region), lab))
    except LabError as error:
        return f"unreadable ({error})"
    except Exception as error:  # noqa: BLE001 - a column of the table: say why, keep the table
        return f"unreadable ({stacksets.error_code(error) or type(error).__name__})"
    return view.text() if view else "no record"


def destroy(session: Any, lab: str, *, sessions: Callable[[str, str], Any], reader: RecordReader,
            out: Out = print, yes: bool = False, ask: Callable[[str], bool] | None = None,
            clock: Clock | None = None, wall: Callable[[], datetime] | None = None) -> int:
    """Deletes every instance of the lab's StackSet, then the classroom stack, and verifies each account
    through its janitor's record; 0 when every account is clean, 1 listing the accounts that are not."""
    clock, wall = clock or Clock(), wall or (lambda: datetime.now(UTC))
    name, stack_set = room.classroom_stack_name(lab), LABS[contract(lab).name].stack_name
    stack = classrooms(session).get(lab)
    caller = caller_of(stack) if stack else Caller()
    cfn = session.client("cloudformation")
    found = stacksets.instances(cfn, stack_set, caller)
    if stack is None and not found:
        out(f"no classroom of {lab} from {session.region_name}: nothing to destroy")
        return 0
    if not confirmed(f"Destroy {lab} in {len(found)} account/region(s) and {name}?", yes, ask):
        out("not destroyed")
        return 1
    started, board = wall(), Board(out)
    board.update(found)
    if found:
        accounts = sorted({i.account for i in found})
        operation = stacksets.delete_instances(
            cfn, stack_set, accounts=accounts if not caller.call_as else (), ous=_ous_of(stack),
            regions=sorted({i.region for i in found}), caller=caller, clock=clock,
            on_poll=lambda _op: board.update(stacksets.instances(cfn, stack_set, caller)))
        out(f"{stack_set}: delete {operation.get('Status', '?').lower()}")
    if stack is not None:
        _delete_stack(cfn, name, clock, out)
    elif stacksets.delete_stack_set(cfn, stack_set, caller):
        out(f"{stack_set}: deleted (its classroom stack was already gone)")
    left = list(stacksets.instances(cfn, stack_set, caller))
    dirty = {f"{i.account}/{i.region}": f"instance left ({i.detailed or i.status}: {i.reason})" for i in left}
    dirty.update(_verify(found, lab, sessions, reader, clock, started, out))
    if not dirty:
        out(f"{lab}: every account's janitor reports nothing left ({len(found)} account/region(s))")
        return 0
    out(f"{lab}: {len(dirty)} account/region(s) with leftovers:")
    for where, what in sorted(dirty.items()):
        out(f"  {where}: {what}")
    return 1


def confirmed(question: str, yes: bool, ask: Callable[[str], bool] | None) -> bool:
    """``--yes``, or the user's answer; a LabError when there is no terminal to ask on."""
    if yes:
        return True
    if ask is None:
        raise LabError("cannot ask for confirmation without a terminal: rerun with --yes")
    return ask(question)


def _ous_of(stack: dict | None) -> tuple[str, ...]:
    outputs = {o["OutputKey"]: o["OutputValue"] for o in (stack or {}).get("Outputs", [])}
    return tuple(filter(None, outputs.get("TargetOUs", "").split(",")))


def _delete_stack(cfn: Any, name: str, clock: Clock, out: Out) -> None:
    cfn.delete_stack(StackName=name)
    deadline = clock.deadline()
    while True:
        try:
            status = cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        except Exception as error:
            if "does not exist" in str(error):
                break
            raise
        if status == "DELETE_COMPLETE":
            break
        if status == "DELETE_FAILED":
            raise LabError(f"{name} could not be deleted (DELETE_FAILED): see its events, then rerun "
                           "`labs classroom destroy`")
        if clock.now() >= deadline:
            raise LabError(f"{name} is still {status}: rerun `labs classroom destroy` once it settles")
        clock.sleep(clock.poll_seconds)
    out(f"{name}: deleted")


def _verify(found: Sequence[Instance], lab: str, sessions: Callable[[str, str], Any], reader: RecordReader,
            clock: Clock, started: datetime, out: Out) -> dict[str, str]:
    """Each account's janitor record of ``lab``, waited for (bounded) until it is newer than ``started``."""
    pending = {(i.account, i.region) for i in found}
    problems: dict[str, str] = {}
    deadline = clock.now() + RECORD_WAIT_SECONDS
    while pending:
        for account, region in sorted(pending):
            where = f"{account}/{region}"
            try:
                view = RecordView.of(reader(sessions(account, region), lab))
            except LabError as error:
                problems[where] = str(error)
                pending.discard((account, region))
                continue
            if view is not None and view.state == "unreadable":
                problems[where] = f"janitor record unreadable: {view.error}"
                continue
            if view is None or not view.since(started):
                problems[where] = "no janitor record since the deletion (is the janitor deployed there?)"
                continue
            pending.discard((account, region))
            problems.pop(where, None)
            if view.clean:
                out(f"  {where}: janitor {view.text()}")
            else:
                problems[where] = f"janitor {view.text()}: {view.detail()}"
        if pending and clock.now() < deadline:
            clock.sleep(clock.poll_seconds)
        elif pending:
            break
    return problems
