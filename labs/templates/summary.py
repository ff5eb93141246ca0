"""One line per synthesized stack: lab, profile, resources, findings."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from catalog import NAME_WIDTH
from labs.engine.errors import LabError


@dataclass(frozen=True)
class StackSummary:
    lab: str
    profile: str
    stack: str
    resources: int
    acknowledged: int
    open_findings: int

    def line(self) -> str:
        return (
            f"{self.lab:<{NAME_WIDTH}} {self.profile:<11} {self.stack:<24} resources={self.resources:<4} "
            f"findings: {self.open_findings} open, {self.acknowledged} acknowledged"
        )


def stack_tags(resources: dict) -> dict[str, str]:
    """The lab tags, read from the first resource that carries a tag list."""
    for resource in resources.values():
        tags = resource.get("Properties", {}).get("Tags")
        if isinstance(tags, list) and any(t.get("Key") == "lab" for t in tags):
            return {t["Key"]: t["Value"] for t in tags if isinstance(t.get("Value"), str)}
    return {}


def _json(path: Path) -> dict:
    """A JSON object from the assembly; a LabError that says how to rebuild it otherwise."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise LabError(f"{path} cannot be read ({error}): synthesize again (`make synth` or `labs synth`)") from None
    if not isinstance(data, dict):
        raise LabError(f"{path} is not a JSON object: synthesize again (`make synth` or `labs synth`)")
    return data


def summarize(assembly: Path) -> list[StackSummary]:
    assembly = Path(assembly)
    manifest_path = assembly / "manifest.json"
    if not manifest_path.is_file():
        raise LabError(f"{assembly} is not a cloud assembly (no manifest.json): run `make synth` first")
    manifest = _json(manifest_path)
    report = assembly / "validation-report.json"
    plugin_reports = _json(report).get("pluginReports", []) if report.is_file() else []
    # Construct annotations (warnings such as "never expires") are not checker findings.
    open_findings = sum(
        len(p.get("violations", [])) for p in plugin_reports if p.get("pluginName") != "Construct Annotations"
    )
    summaries = []
    for name, artifact in sorted(manifest.get("artifacts", {}).items()):
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        template = _json(assembly / artifact.get("properties", {}).get("templateFile", "missing.template.json"))
        resources = template.get("Resources", {})
        tags = stack_tags(resources)
        acknowledged = sum(
            len(r.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])) for r in resources.values()
        )
        summaries.append(
            StackSummary(
                lab=tags.get("lab", "?"), profile=tags.get("profile", "?"),
                stack=artifact.get("properties", {}).get("stackName", name), resources=len(resources),
                acknowledged=acknowledged, open_findings=open_findings,
            )
        )
    return summaries


def print_summary(assemblies: list[str]) -> int:
    print(f"{'lab':<{NAME_WIDTH}} {'profile':<11} {'stack':<24} resources / findings (cdk-nag)")
    for directory in assemblies:
        for summary in summarize(Path(directory)):
            print(summary.line())
    return 0
