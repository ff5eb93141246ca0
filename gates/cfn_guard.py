"""The cfn-guard gate: AWS Control Tower's proactive-control rules over the lab templates.

The rules and the cfn-guard binary come from the PyPI package
``cdklabs.cdk-validator-cfnguard`` (pinned in requirements.txt): its jsii tarball bundles
cfn-guard 3.1 for Linux and macOS and the Control Tower rule files. They are extracted
once into the temp directory; nothing needs the network.

Speed: cfn-guard costs about 5 ms per (rule file, template) pair, so the gate runs the
binary once over all templates with only the rule files that can apply: a rule file is
kept when a resource type it names occurs in the templates, or when it names none.
Identical templates (the janitor in every variant of a profile) are evaluated once.

Acknowledgments live in ``gates/cfn-guard-acks.toml``: each names one rule, the stacks it
covers (a shell pattern on ``<variant>/<lab>``, e.g. ``sandbox*/*``), the resources (a
shell pattern on ``<Type>.<LogicalId>``) and a reason.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "cdklabs.cdk-validator-cfnguard"
RULES_IN_TARBALL = "package/rules/control-tower/cfn-guard/"
RESOURCE_TYPE = re.compile(r"AWS::[A-Za-z0-9]+::[A-Za-z0-9]+")
ACK_KEYS = {"rule", "stack", "resource", "reason"}


@dataclass(frozen=True)
class Failure:
    """One rule that one resource of one stack fails."""

    stack: str  # "<variant>/<lab>", e.g. "sandbox-streaming/clickstream"
    rule: str  # the guard rule's name, e.g. "s3_bucket_logging_enabled_check"
    resource: str  # "<Type>.<LogicalId>", or "" when the failure names no resource

    def __str__(self) -> str:
        return f"{self.rule} {self.stack} {self.resource or '(template)'}"


@dataclass(frozen=True)
class Ack:
    """An acknowledged failure: rule, scope (stack and resource patterns) and reason."""

    rule: str
    stack: str
    resource: str
    reason: str

    def covers(self, failure: Failure) -> bool:
        return (failure.rule == self.rule and fnmatch.fnmatchcase(failure.stack, self.stack)
                and fnmatch.fnmatchcase(failure.resource, self.resource))

    def __str__(self) -> str:
        return f"{self.rule} stack={self.stack} resource={self.resource}"


@dataclass(frozen=True)
class RuleFile:
    path: Path
    control: str  # the Control Tower control id, e.g. "CT.S3.PR.2"
    rules: frozenset[str]  # its primary rule names
    types: frozenset[str]  # the resource types it names


@dataclass(frozen=True)
class Report:
    failures: list[Failure]
    passed: dict[str, set[str]]  # stack -> rules it was evaluated on and complies with

    def to_json(self) -> str:
        return json.dumps({"failures": [[f.stack, f.rule, f.resource] for f in self.failures],
                           "passed": {stack: sorted(rules) for stack, rules in self.passed.items()}})

    @classmethod
    def from_json(cls, text: str) -> Report:
        data = json.loads(text)
        return cls(failures=[Failure(*f) for f in data["failures"]],
                   passed={stack: set(rules) for stack, rules in data["passed"].items()})


def bundle(cache: Path | None = None) -> tuple[Path, Path]:
    """(cfn-guard binary, Control Tower rules directory), extracted from the installed package."""
    version = metadata.version(DISTRIBUTION)
    tarball = next((f for f in metadata.files(DISTRIBUTION) or () if f.name.endswith(".jsii.tgz")), None)
    if tarball is None:
        raise FileNotFoundError(f"{DISTRIBUTION} {version} has no jsii tarball: reinstall it (make setup)")
    system = {"Linux": "ubuntu", "Darwin": "macos"}[platform.system()]
    machines = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}
    machine = machines[platform.machine().lower()]
    binary_in_tarball = f"package/bin/{system}/{machine}/cfn-guard"
    target = (cache or Path(tempfile.gettempdir()) / "mlref-cfn-guard") / version
    if not (target / "cfn-guard").is_file():
        building = target.with_name(f"{target.name}.{os.getpid()}")
        with tarfile.open(tarball.locate()) as archive:
            for member in archive.getmembers():
                if member.isfile() and (member.name == binary_in_tarball or member.name.startswith(RULES_IN_TARBALL)):
                    name = "cfn-guard" if member.name == binary_in_tarball else member.name[len("package/"):]
                    (building / name).parent.mkdir(parents=True, exist_ok=True)
                    (building / name).write_bytes(archive.extractfile(member).read())
        (building / "cfn-guard").chmod(0o755)
        try:
            building.rename(target)
        except OSError:  # another process extracted it first
            shutil.rmtree(building, ignore_errors=True)
    return target / "cfn-guard", target / "rules" / "control-tower" / "cfn-guard"


def rule_files(rules_dir: Path) -> list[RuleFile]:
    found = []
    for path in sorted(rules_dir.rglob("*.guard")):
        text = path.read_text()
        control = re.search(r"\[(CT\.[A-Z0-9-]+\.PR\.\d+)\]", text)
        found.append(RuleFile(
            path=path, control=control.group(1) if control else path.stem,
            rules=frozenset(re.findall(r"^rule (\w+) when", text, flags=re.MULTILINE)),
            types=frozenset(RESOURCE_TYPE.findall(text)),
        ))
    return found


def applicable(files: list[RuleFile], templates: list[dict]) -> list[RuleFile]:
    """The rule files that can apply: they name a resource type present, or no type at all."""
    present = {r.get("Type") for t in templates for r in t.get("Resources", {}).values()}
    return [f for f in files if not f.types or f.types & present]


def run(binary: Path, files: list[RuleFile], templates: dict[str, Path]) -> Report:
    """Runs cfn-guard once with ``files`` over ``templates`` ({stack: path}); what failed and passed."""
    loaded = {stack: json.loads(path.read_text()) for stack, path in templates.items()}
    by_content: dict[str, list[str]] = {}
    for stack, path in templates.items():
        by_content.setdefault(hashlib.sha256(path.read_bytes()).hexdigest(), []).append(stack)
    unique = {str(templates[stacks[0]]): stacks for stacks in by_content.values()}
    selected = applicable(files, list(loaded.values()))
    command = [str(binary), "validate", "--output-format", "json", "--show-summary", "none", "--structured"]
    for rule_file in selected:
        command += ["--rules", str(rule_file.path)]
    for path in unique:
        command += ["--data", path]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode not in (0, 19):  # 19: some rule failed
        raise RuntimeError(f"cfn-guard exited {result.returncode}: {result.stderr[-2000:]}")
    return parse(json.loads(result.stdout), unique, loaded)


def _resource_ids(value, found: set[str]) -> set[str]:
    if isinstance(value, dict):
        path = value.get("path")
        if isinstance(path, str) and path.startswith("/Resources/"):
            found.add(path.split("/")[2])
        for item in value.values():
            _resource_ids(item, found)
    elif isinstance(value, list):
        for item in value:
            _resource_ids(item, found)
    return found


def parse(report: list[dict], stacks_of: dict[str, list[str]], templates: dict[str, dict]) -> Report:
    """cfn-guard's structured JSON report as failures per stack and resource, and passes per stack."""
    failures, passed = [], {}
    for file_result in report:
        stacks = stacks_of[file_result["name"]]
        resources = templates[stacks[0]].get("Resources", {})
        for stack in stacks:
            passed[stack] = set(file_result.get("compliant", []))
        for not_compliant in file_result.get("not_compliant", []):
            (check,) = not_compliant.values()  # {"Rule": {...}}
            ids = sorted(_resource_ids(check, set())) or [None]
            for logical_id in ids:
                resource = f"{resources[logical_id]['Type']}.{logical_id}" if logical_id in resources else ""
                failures += [Failure(stack, check["name"], resource) for stack in stacks]
    return Report(failures=sorted(set(failures), key=str), passed=passed)


def load_acks(path: Path) -> list[Ack]:
    from gates.reasons import load_acks as load

    return load(path, ACK_KEYS, Ack)


def problems(failures: list[Failure], acks: list[Ack], known_rules: set[str], reason_problem) -> list[str]:
    """Every unacknowledged failure, stale or unknown acknowledgment and weak reason, one line each."""
    from gates.reasons import ack_problems

    return ack_problems(failures, acks, known_rules, reason_problem, "not a Control Tower rule name")


def controls_to_exempt(failures: list[Failure], files: list[RuleFile]) -> dict[str, dict[str, set[str]]]:
    """{lab: {control id: profiles}} for the failures (the acknowledged ones, once the gate passes)."""
    control_of = {rule: f.control for f in files for rule in f.rules}
    exempt: dict[str, dict[str, set[str]]] = {}
    for failure in failures:
        variant, lab = failure.stack.split("/", 1)
        exempt.setdefault(lab, {}).setdefault(control_of[failure.rule], set()).add(variant.split("-", 1)[0])
    return exempt


def exemption_cell(controls: dict[str, set[str]]) -> str:
    """The sandbox-accounts page's cell for one lab: "yes", or its controls in id order, "(sandbox)" when
    only one profile fails."""
    def natural(control: str) -> list:
        return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", control)]

    if not controls:
        return "yes"
    return ", ".join(control + ("" if len(profiles) > 1 else f" ({next(iter(profiles))})")
                     for control, profiles in sorted(controls.items(), key=lambda item: natural(item[0])))
