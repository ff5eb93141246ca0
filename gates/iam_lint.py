"""The IAM semantics gate: every policy statement of the lab templates against the service
authorization reference, with ``parliament`` (PyPI, pinned in requirements.txt).

A statement fails when it grants nothing for part of what it names:
- ``UNKNOWN_ACTION`` / ``UNKNOWN_PREFIX``: an action or service IAM does not know;
- ``UNKNOWN_CONDITION_FOR_ACTION``: a condition key the action never carries (the statement then
  never applies to that action: ``s3:prefix`` on ``s3:GetBucketLocation``);
- ``RESOURCE_MISMATCH``: no resource of the statement has a type the action acts on;
- ``MALFORMED`` / ``INVALID_ARN``: a statement or an ARN IAM would not read.
An action written with a wildcard (``s3:*`` in a bucket policy's TLS deny) fails only when the
finding holds for every action the wildcard stands for.

Templates are read resolved (``labs.templates.resolved``) and each distinct statement is judged once.
Acknowledgments live in ``gates/iam-lint-acks.toml``: the issue, the stacks (a shell pattern on
``<variant>/<lab>``), the policy (a shell pattern on its name, ``labs.templates.policies``), the action or
key the finding names (a shell pattern) and a reason.
"""

from __future__ import annotations

import fnmatch
import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gates import reasons
from labs.templates.policies import documents, policies_of, statement_name
from labs.templates.resolved import TemplateValues

ISSUES = frozenset({"UNKNOWN_ACTION", "UNKNOWN_PREFIX", "UNKNOWN_CONDITION_FOR_ACTION", "RESOURCE_MISMATCH",
                    "MALFORMED", "INVALID_ARN"})
ACK_KEYS = {"issue", "stack", "policy", "subject", "reason"}


@dataclass(frozen=True)
class Finding:
    stack: str  # "<variant>/<lab>"
    policy: str  # "<policy name>/<Sid or number>"
    issue: str
    subject: str  # the action ("s3:GetBucketLocation"), "<action> <key>" for a condition, or the detail

    def __str__(self) -> str:
        return f"{self.issue} {self.stack} {self.policy}: {self.subject}"


@dataclass(frozen=True)
class Ack:
    issue: str
    stack: str
    policy: str
    subject: str
    reason: str

    @property
    def rule(self) -> str:
        return self.issue

    def covers(self, finding: Finding) -> bool:
        return (finding.issue == self.issue and fnmatch.fnmatchcase(finding.stack, self.stack)
                and fnmatch.fnmatchcase(finding.policy, self.policy)
                and fnmatch.fnmatchcase(finding.subject, self.subject))

    def __str__(self) -> str:
        return f"{self.issue} stack={self.stack} policy={self.policy} subject={self.subject}"


def load_acks(path: Path) -> list[Ack]:
    return reasons.load_acks(path, ACK_KEYS, Ack)


def problems(findings: list[Finding], acks: list[Ack]) -> list[str]:
    return reasons.ack_problems(findings, acks, set(ISSUES), reasons.reason_problem,
                                f"not an issue of the gate: {', '.join(sorted(ISSUES))}")


def _plain(value: Any) -> Any:
    """Condition values as IAM reads them (text): parliament's type checks expect strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return {k: _plain(v) for k, v in value.items()} if isinstance(value, dict) else value


def _listed(value: Any) -> list[str]:
    return [str(v) for v in (value if isinstance(value, list) else [value])]


@functools.cache
def _expanded(pattern: str) -> frozenset[str]:
    from parliament import expand_action

    try:
        return frozenset(f"{a['service']}:{a['action']}".lower()
                         for a in expand_action(pattern, raise_exceptions=False))
    except Exception:  # noqa: BLE001 - an unknown service: parliament reports it as a finding
        return frozenset()


def _counts(action: str, named: list[str], reported: set[str]) -> bool:
    """A finding on ``action`` counts when the statement names it, or when every action of the
    wildcard that brought it in has the same finding."""
    action = action.lower()
    if action in {n.lower() for n in named}:
        return True
    patterns = [n for n in named if ("*" in n or "?" in n) and fnmatch.fnmatchcase(action, n.lower())]
    return any(_expanded(p) and _expanded(p) <= reported for p in patterns)


@functools.lru_cache(maxsize=4096)
def _statement_findings(statement_json: str) -> tuple[tuple[str, str], ...]:
    """(issue, subject) for one statement (a JSON text), filtered as the module docstring says."""
    from parliament import analyze_policy_string

    statement = json.loads(statement_json)
    policy = analyze_policy_string(json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
    named = _listed(statement.get("Action", statement.get("NotAction", [])))
    by_issue: dict[str, list[tuple[str, str]]] = {}
    for finding in policy.findings:
        if finding.issue not in ISSUES:
            continue
        if finding.issue == "UNKNOWN_CONDITION_FOR_ACTION":  # "Unknown condition K for action A"
            words = str(finding.detail).split()
            by_issue.setdefault(finding.issue, []).append((words[-1], words[2]))
        elif finding.issue == "RESOURCE_MISMATCH":
            by_issue.setdefault(finding.issue, []).extend((d["action"], "") for d in finding.detail)
        else:
            subject = finding.location.get("string") or str(finding.detail)
            by_issue.setdefault(finding.issue, []).append((str(subject), ""))
    found = set()
    for issue, items in by_issue.items():
        if issue not in {"UNKNOWN_CONDITION_FOR_ACTION", "RESOURCE_MISMATCH"}:
            found |= {(issue, subject) for subject, _ in items}
            continue
        for key in {key for _, key in items}:
            reported = {action.lower() for action, k in items if k == key}
            found |= {(issue, f"{action} {key}".strip()) for action, k in items
                      if k == key and _counts(action, named, reported)}
    return tuple(sorted(found))


def lint(template: dict, stack: str, stack_name: str) -> list[Finding]:
    """The gate's findings for one template, named ``stack`` ("<variant>/<lab>")."""
    values = TemplateValues(template, stack_name=stack_name)
    found = []
    for name, _kind, document in documents(policies_of(values)):
        statements = document.get("Statement", [])
        for number, statement in enumerate(statements if isinstance(statements, list) else [statements], 1):
            text = json.dumps(_plain(statement), sort_keys=True)
            found += [Finding(stack, statement_name(name, statement, number), issue, subject)
                      for issue, subject in _statement_findings(text)]
    return found


def lint_all(templates: Iterable[tuple[str, str, dict]]) -> list[Finding]:
    """Findings for (stack, stack name, template) triples; identical templates are judged once."""
    by_content: dict[str, list[Finding]] = {}
    found = []
    for stack, stack_name, template in templates:
        key = json.dumps(template, sort_keys=True) + stack_name
        if key not in by_content:
            by_content[key] = lint(template, "", stack_name)
        found += [Finding(stack, f.policy, f.issue, f.subject) for f in by_content[key]]
    return sorted(set(found), key=str)
