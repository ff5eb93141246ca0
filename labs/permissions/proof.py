"""``labs permissions LAB``: the proof that a synthesized lab's policies allow every call the lab makes
and refuse the calls it must not make.

The calls come from labs/permissions/calls.py; each is evaluated against the template's identity
policies, permission boundaries, trust policies and resource policies (bucket, key, queue, topic,
function), conditions included, by ``@cloud-copilot/iam-simulate`` (npm, AGPL-3.0, an unmodified
development dependency pinned in package.json) run as its own Node.js process, one per lab, with
every request in one batch. It proves nothing about service control policies or Lake Formation
grants, nor how AWS behaves: only a deploy shows that.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from catalog.base import LabContract
from catalog.calls import CALLER, Call
from catalog.paths import ROOT
from labs.engine.errors import LabError
from labs.permissions.calls import LabTemplate, all_calls, resolved

SCRIPT = Path(__file__).with_name("iam_simulate.mjs")
PACKAGE = ROOT / "node_modules" / "@cloud-copilot" / "iam-simulate"
# The caller: an administrator of the sandbox account (AdministratorAccess).
CALLER_SESSION = "role/mlref-sandbox-administrator"
ADMINISTRATOR = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
TIMEOUT_SECONDS = 60


@dataclass
class Verdict:
    who: str
    action: str
    resource: str
    expected: str  # "allowed" or "refused"
    result: str  # Allowed, ImplicitlyDenied, ExplicitlyDenied, Error
    source: str
    purpose: str = ""
    decisive: list[str] = field(default_factory=list)
    near: list[str] = field(default_factory=list)
    error: str = ""
    group: str = ""  # the calls of one refused request
    holds: bool = False  # as expected: set by ``judge``


def judge(verdicts: list[Verdict]) -> list[Verdict]:
    """Marks each verdict as holding or not: a call as expected; the calls of a refused request
    together, when any of them is refused."""
    refused_groups = {v.group for v in verdicts if v.group and v.result != "Allowed"}
    for verdict in verdicts:
        if verdict.result == "Error":
            verdict.holds = False
        elif verdict.group:
            verdict.holds = verdict.group in refused_groups
        else:
            verdict.holds = (verdict.result == "Allowed") == (verdict.expected == "allowed")
    return verdicts


@dataclass
class PermissionsReport:
    lab: str
    stack: str
    verdicts: list[Verdict]

    @property
    def failures(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.holds]

    def to_json(self) -> str:
        return json.dumps({"lab": self.lab, "stack": self.stack, "calls": len(self.verdicts),
                           "failures": len(self.failures), "verdicts": [asdict(v) for v in self.verdicts]}, indent=1)


def principal_arn(who: str, template: LabTemplate) -> str:
    if who == CALLER:
        return f"arn:{template.values.partition}:iam::{template.values.account}:{CALLER_SESSION}"
    if who.endswith(".amazonaws.com"):
        return who
    return template.role(who).arn


def simulation(call: Call, template: LabTemplate) -> dict[str, Any]:
    """One iam-simulate request for ``call`` (already resolved), with the policies that judge it."""
    values = template.values
    principal = principal_arn(call.who, template)
    identity, boundary = [], []
    if call.who == CALLER:
        identity = [{"name": "AdministratorAccess", "policy": ADMINISTRATOR}]
    elif not call.who.endswith(".amazonaws.com"):
        role = template.role(call.who)
        identity = [{"name": p.name, "policy": p.document} for p in role.identity]
        boundary = [{"name": p.name, "policy": p.document} for p in role.boundary]
    resource_policy = _resource_policy(call, template)
    context = {"aws:SecureTransport": "true", "aws:RequestedRegion": values.region,
               "aws:PrincipalIsAWSService": "true" if principal.endswith(".amazonaws.com") else "false",
               **({} if principal.endswith(".amazonaws.com") else
                  {"aws:PrincipalArn": principal, "aws:PrincipalAccount": values.account}),
               **call.context}
    request = {"principal": principal, "action": call.action,
               "resource": {"resource": call.resource, "accountId": values.account}, "contextVariables": context}
    found: dict[str, Any] = {"request": request, "identityPolicies": identity, "serviceControlPolicies": [],
                             "resourceControlPolicies": []}
    if boundary:
        found["permissionBoundaryPolicies"] = boundary
    if resource_policy is not None:
        found["resourcePolicy"] = resource_policy[1]
    return {"simulation": found, "resourcePolicyName": resource_policy[0] if resource_policy else None}


def _resource_policy(call: Call, template: LabTemplate) -> tuple[str, dict] | None:
    """The policy of the resource the call acts on: the role's trust policy for sts:AssumeRole, the
    bucket's policy for S3, the key's, queue's, topic's or function's policy."""
    arn = call.resource
    if call.action.lower().startswith("sts:assumerole"):
        role = template.policies.role_of(arn) or (template.janitor_policies.role_of(arn)
                                                   if template.janitor_policies else None)
        return (role.trust.name, role.trust.document) if role else None
    if arn.startswith(f"arn:{template.values.partition}:s3:::"):
        arn = arn.split("/", 1)[0]
    for policies in (template.policies, template.janitor_policies):
        if policies is not None and arn in policies.resource:
            return policies.resource[arn].name, policies.resource[arn].document
    return None


def evaluate(simulations: list[dict[str, Any]], *, run: Callable[..., Any] = subprocess.run) -> list[dict]:
    """Evaluates every simulation in one Node.js process; a missing Node or package is a one-line LabError."""
    node = shutil.which("node")
    if node is None:
        raise LabError("Node.js is not installed (node not on PATH): install Node.js 18 or newer, then `make setup`")
    if not (PACKAGE / "package.json").is_file():
        raise LabError("@cloud-copilot/iam-simulate is not installed in node_modules: run `make setup` "
                       "(or `npm ci`)")
    payload = json.dumps({"simulations": [{"id": index, **item} for index, item in enumerate(simulations)]})
    try:
        result = run([node, str(SCRIPT)], input=payload, capture_output=True, text=True, timeout=TIMEOUT_SECONDS,
                     cwd=ROOT)
    except subprocess.TimeoutExpired:
        raise LabError(f"iam-simulate did not finish within {TIMEOUT_SECONDS} s: rerun, or check "
                       "`node labs/permissions/iam_simulate.mjs` by hand") from None
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise LabError(f"iam-simulate failed: {last} (reinstall with `npm ci`)")
    return sorted(json.loads(result.stdout), key=lambda item: item["id"])


def prove(lab: LabContract, assembly: Path, *, run: Callable[..., Any] = subprocess.run) -> PermissionsReport:
    return prove_many([(lab, assembly)], run=run)[0]


def prove_many(labs: list[tuple[LabContract, Path]], *,
               run: Callable[..., Any] = subprocess.run) -> list[PermissionsReport]:
    """The proof of each (lab, assembly), every request of them all in one Node.js process. A template
    proven before in this process is not evaluated again."""
    prepared = []
    for lab, assembly in labs:
        template = LabTemplate.read(lab, assembly)
        key = _digest(lab, template)
        distinct: dict[tuple, Call] = {}  # a call the practice repeats (polling) is proven once
        if key not in _PROVEN:
            for call in (resolved(call, template) for call in all_calls(lab, template)):
                distinct.setdefault((call.who, call.action, call.resource, tuple(sorted(call.context.items())),
                                     call.refused, call.group), call)
        prepared.append((lab, template, key, list(distinct.values())))
    simulations = [simulation(call, template) for _, template, _, chosen in prepared for call in chosen]
    results = iter(evaluate(simulations, run=run) if simulations else [])
    for lab, template, key, chosen in prepared:
        if key not in _PROVEN:
            verdicts = [_verdict(call, next(results), template) for call in chosen]
            _PROVEN[key] = PermissionsReport(lab=lab.name, stack=lab.stack_name, verdicts=judge(verdicts))
    return [_PROVEN[key] for _, _, key, _ in prepared]


_PROVEN: dict[str, PermissionsReport] = {}


def _digest(lab: LabContract, template: LabTemplate) -> str:
    janitor = template.janitor.template if template.janitor else {}
    text = json.dumps([lab.name, template.values.template, janitor, template.values.region], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _verdict(call: Call, found: dict, template: LabTemplate) -> Verdict:
    return Verdict(who=_who(call.who, template), action=call.action, resource=call.resource,
                   expected="refused" if call.refused else "allowed", result=found["result"], source=call.source,
                   purpose=call.refused or call.purpose, decisive=[_statement(d) for d in found["decisive"]],
                   near=[f"{_statement(n)} ({n['why']})" for n in found["near"]], error=found["error"],
                   group=call.group)


def _who(who: str, template: LabTemplate) -> str:
    if who == CALLER:
        return "caller (a sandbox administrator)"
    return who if who.endswith(".amazonaws.com") else template.role(who).logical_id


def _statement(found: dict) -> str:
    return f"{found['where']} {found['policy']}/{found['statement']}"


def text_report(report: PermissionsReport) -> list[str]:
    """The calls grouped by who makes them; then each that does not hold, with what was meant to decide it."""
    lines = [f"{report.lab} ({report.stack}): {len(report.verdicts)} calls, {len(report.failures)} not as expected"]
    by_who: dict[str, list[Verdict]] = {}
    for verdict in report.verdicts:
        by_who.setdefault(verdict.who, []).append(verdict)
    for who, verdicts in by_who.items():
        lines.append(f"{who}:")
        for verdict in verdicts:
            mark = "ok  " if verdict.holds else "FAIL"
            said = "allowed" if verdict.result == "Allowed" else verdict.result.lower()
            note = ""
            if verdict.expected == "refused" and (not verdict.group or verdict.result != "Allowed"):
                note = f" (must be refused: {verdict.purpose})"
            lines.append(f"  {mark} {verdict.action} {verdict.resource}: {said}{note}")
    for verdict in report.failures:
        lines.append(f"not as expected: {verdict.who} {verdict.action} on {verdict.resource}: {verdict.result}"
                     f" (expected {verdict.expected}; from {verdict.source})")
        if verdict.error:
            lines.append(f"  iam-simulate: {verdict.error}")
        if verdict.decisive:
            lines.append(f"  decided by: {', '.join(verdict.decisive)}")
        if verdict.expected == "allowed":
            lines.append("  meant to allow it: " + (", ".join(verdict.near) if verdict.near else
                                                     f"no statement names {verdict.action}"))
    return lines
