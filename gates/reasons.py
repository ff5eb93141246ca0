"""What a reviewer accepts as the reason for an acknowledged finding (cdk-nag, checkov, cfn-guard, the IAM
semantics gate), and the problems of a gate's acknowledgment file."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

GENERIC_REASONS = re.compile(
    r"^(n/?a|none|todo|tbd|ok|fine|false positive|not needed|not applicable|suppress(ed)?|ignore(d)?|"
    r"by design|intended|expected|acknowledged|known issue|lab|sandbox|wildcard( needed)?)\.?$",
    re.IGNORECASE,
)


def reason_problem(reason: str) -> str | None:
    words = re.findall(r"[A-Za-z0-9:/._*-]+", reason or "")
    if not reason or not reason.strip():
        return "empty"
    if GENERIC_REASONS.match(reason.strip()):
        return "generic"
    if len(words) < 8:
        return "too short to say why (fewer than 8 words)"
    return None


def ack_problems(findings, acks, known_rules: set[str], reason_problem, unknown: str) -> list[str]:
    """Every unacknowledged finding, stale or unknown acknowledgment and weak reason, one line each.
    An acknowledgment has ``rule`` (looked up in ``known_rules``; ``unknown`` says what it should be) and
    ``covers(finding)``."""
    found = [f"not acknowledged: {f}" for f in findings if not any(a.covers(f) for a in acks)]
    for ack in acks:
        if ack.rule not in known_rules:
            found.append(f"unknown rule ({unknown}): {ack}")
        elif not any(ack.covers(f) for f in findings):
            found.append(f"stale (acknowledges nothing that fails now; remove it): {ack}")
        if problem := reason_problem(ack.reason):
            found.append(f"reason is {problem}: {ack}")
    return found


def load_acks(path: Path, keys: set[str], make) -> list:
    """The ``[[ack]]`` entries of a gate's TOML file, each made with ``make(**entry)``; an entry with
    other keys than ``keys`` is refused, naming its number."""
    acks = []
    for index, entry in enumerate(tomllib.loads(path.read_text()).get("ack", [])):
        if set(entry) != keys:
            raise ValueError(f"{path.name} entry {index + 1} needs exactly the keys {sorted(keys)}, "
                             f"has {sorted(entry)}")
        acks.append(make(**entry))
    return acks
