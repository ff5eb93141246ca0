"""``labs list`` and ``labs status``: the labs as the account sees them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from catalog import LABS, NAME_WIDTH, LabContract
from catalog.prices import usd
from labs.engine.deployed import deployed_context, tags_of
from labs.engine.errors import explain
from labs.engine.state import parse_moment


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
        except Exception as error:  # any AWS problem: still list, and say why
            reason = explain(error)
            if reason is None:
                raise
            note = f"deployed: unknown ({reason})"
    mla = max(len("MLA-C01"), *(len(lab.mla_short) for lab in LABS.values()))
    lines = [f"{'lab':<{NAME_WIDTH}} {'MLS-C01':<17} {'MLA-C01':<{mla}} {'idle/hour':>9} {'per run':>8}  "
             f"{'deployed':<18} demonstrates"]
    for name, lab in LABS.items():
        cost = lab.cost(lab.default_options())
        deployed = "unknown" if state is None else (state[name].status if name in state else "no")
        per_run = "?" if cost.per_practice_run is None else usd(cost.per_practice_run)
        lines.append(f"{name:<{NAME_WIDTH}} {lab.exams.mls_c01[:17]:<17} {lab.mla_short:<{mla}} "
                     f"{f'${cost.idle_per_hour:.4f}':>9} {per_run:>8}  {deployed:<18} {lab.demonstrates}")
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
    now = now or datetime.now(UTC)
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
        lines.append(f"{name:<{NAME_WIDTH}} {item.status:<18} age {age_hours:.1f} h, {expiry}, "
                     f"idle cost so far ~${spent:.2f} (estimate, practice runs not included){note}")
    return lines + janitor_lines(session)
