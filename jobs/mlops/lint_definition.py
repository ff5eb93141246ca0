"""Lints a SageMaker pipeline definition (the JSON of ``aws sagemaker describe-pipeline --query
PipelineDefinition``) before the pipeline is run: what SageMaker would only report at run time, or
never. Standard library only.

    python lint_definition.py definition.json

Checks: the 2020-12-01 format; unique step names, nested ones included; a Condition's steps only
inside it; every DependsOn and every ``Steps.X`` reference naming a step, every ``Parameters.X``
reference a declared parameter, each with a default; every job step with its role, KMS keys for its
output and volume, tags (the teardown finds jobs by them) and network isolation; a RegisterModel
step that leaves the version pending manual approval (CodePipeline's Approve stage is the gate).
Prints one line per problem and exits 1, or a one-line summary and exits 0.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from typing import Any

VERSION = "2020-12-01"
JOB_TYPES = {"Processing", "Training"}
STEP_REFERENCE = re.compile(r"Steps\.([A-Za-z0-9_-]+)")
PARAMETER_REFERENCE = re.compile(r"Parameters\.([A-Za-z0-9_-]+)")


def steps_of(steps: list[dict], nested: bool = False) -> Iterator[tuple[dict, bool]]:
    """Every step, a Condition's If/Else steps after it, each with whether it is nested."""
    for step in steps:
        yield step, nested
        if step.get("Type") == "Condition":
            arguments = step.get("Arguments", {})
            yield from steps_of([*arguments.get("IfSteps", []), *arguments.get("ElseSteps", [])], True)


def references(value: Any) -> Iterator[str]:
    """Every ``{"Get": ...}`` path under ``value``."""
    if isinstance(value, dict):
        if isinstance(value.get("Get"), str):
            yield value["Get"]
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def job_problems(step: dict) -> Iterator[str]:
    name, arguments = step["Name"], step.get("Arguments", {})
    if not arguments.get("RoleArn"):
        yield f"{name}: no RoleArn"
    if not arguments.get("Tags"):
        yield f"{name}: no Tags (the lab's teardown and sweep find its jobs by them)"
    if step["Type"] == "Processing":
        cluster = arguments.get("ProcessingResources", {}).get("ClusterConfig", {})
        keys = (cluster.get("VolumeKmsKeyId"), arguments.get("ProcessingOutputConfig", {}).get("KmsKeyId"))
        isolated = arguments.get("NetworkConfig", {}).get("EnableNetworkIsolation")
    else:
        keys = (arguments.get("ResourceConfig", {}).get("VolumeKmsKeyId"),
                arguments.get("OutputDataConfig", {}).get("KmsKeyId"))
        isolated = arguments.get("EnableNetworkIsolation")
    if not all(keys):
        yield f"{name}: output or volume not encrypted with a KMS key"
    if isolated is not True:
        yield f"{name}: network isolation is off"


def problems(definition: dict) -> list[str]:
    found: list[str] = []
    if definition.get("Version") != VERSION:
        found.append(f"Version is {definition.get('Version')!r}, not {VERSION}")
    parameters = {p.get("Name"): p for p in definition.get("Parameters", [])}
    found += [f"parameter {name} has no DefaultValue (an EventBridge-started run could not fill it)"
              for name, p in parameters.items() if "DefaultValue" not in p]
    every = list(steps_of(definition.get("Steps", [])))
    names = [step.get("Name", "") for step, _ in every]
    found += [f"step name {name} is used {names.count(name)} times" for name in sorted(set(names))
              if names.count(name) > 1]
    top = {step.get("Name") for step in definition.get("Steps", [])}
    for step, nested in every:
        name = step.get("Name", "?")
        if nested and name in top:
            found.append(f"{name}: inside a Condition and at the top level too")
        found += [f"{name}: DependsOn {other}, which is not a step" for other in step.get("DependsOn", [])
                  if other not in names]
        for path in references(step.get("Arguments", {})):
            for referred in STEP_REFERENCE.findall(path):
                if referred not in names:
                    found.append(f"{name}: refers to step {referred}, which does not exist")
            for referred in PARAMETER_REFERENCE.findall(path):
                if referred not in parameters:
                    found.append(f"{name}: refers to parameter {referred}, which is not declared")
        if step.get("Type") in JOB_TYPES:
            found += list(job_problems(step))
        if step.get("Type") == "RegisterModel" and \
                step.get("Arguments", {}).get("ModelApprovalStatus") != "PendingManualApproval":
            found.append(f"{name}: registers versions {step['Arguments'].get('ModelApprovalStatus')}, not "
                         "PendingManualApproval: the approval would be skipped")
    return found


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python lint_definition.py definition.json", file=sys.stderr)
        return 2
    try:
        with open(args[0], encoding="utf-8") as source:
            definition = json.load(source)
    except (OSError, json.JSONDecodeError) as error:
        print(f"{args[0]}: not a readable JSON pipeline definition ({error})")
        return 1
    found = problems(definition)
    for problem in found:
        print(problem)
    if found:
        return 1
    print(f"definition OK: {len(list(steps_of(definition['Steps'])))} steps, "
          f"{len(definition.get('Parameters', []))} parameters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
