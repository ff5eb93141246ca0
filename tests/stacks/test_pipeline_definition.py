"""The ml-pipeline definition as data: each step's Arguments against botocore's request shapes,
every reference resolved against the definition and botocore's response shapes, the step graph
(unique names, no step both in a condition and at the top level, no cycle), spot and encryption."""

from __future__ import annotations

import importlib.util
import json
import re
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import botocore.session
import pytest
from botocore.validate import validate_parameters

from catalog import ml_pipeline as lab
from cdk_constructs.services import pipeline_definition as pd

MODEL = botocore.session.get_session().get_service_model("sagemaker")
REQUESTS = {"Processing": ("CreateProcessingJob", {"ProcessingJobName": "pipelines-abc-PreprocessData-x1"}),
            "Training": ("CreateTrainingJob", {"TrainingJobName": "pipelines-abc-TrainModel-x1"}),
            "RegisterModel": ("CreateModelPackage", {})}
PROPERTIES = {"Processing": "DescribeProcessingJob", "Training": "DescribeTrainingJob",
              "RegisterModel": "DescribeModelPackage"}
EXECUTION_VARIABLES = {"PipelineExecutionId", "PipelineExecutionArn", "PipelineName", "PipelineArn",
                       "StartDateTime", "CurrentDateTime", "PipelineExecutionDisplayName"}
PLACEHOLDERS = {"string": "s3://placeholder-bucket/resolved", "integer": 1, "long": 1, "float": 0.5,
                "double": 0.5, "boolean": True}
PARAMETER_TYPES = {"String": {"string"}, "Integer": {"integer", "long"}, "Float": {"float", "double"},
                   "Boolean": {"boolean"}}
REFERENCE_KEYS = {"Get", "Std:Join", "Std:JsonGet"}

RESOURCES = pd.PipelineResources(
    image_registry=lab.image_registry("us-east-1"), data_bucket="mlref-data", artifacts_bucket="mlref-artifacts",
    key_arn="arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    preprocess_role_arn="arn:aws:iam::123456789012:role/preprocess",
    training_role_arn="arn:aws:iam::123456789012:role/training",
    evaluation_role_arn="arn:aws:iam::123456789012:role/evaluation",
    model_package_group=lab.MODEL_PACKAGE_GROUP,
    preprocess_script=pd.Script("s3://cdk-assets/aaaa.py", "aaaa.py"),
    evaluate_script=pd.Script("s3://cdk-assets/bbbb.py", "bbbb.py"),
    tags={"lab": "ml-pipeline", "profile": "sandbox", "owner": "tester"},
)
DEFINITION = pd.pipeline_definition(RESOURCES)


def is_reference(value) -> bool:
    return isinstance(value, dict) and len(value) == 1 and set(value) <= REFERENCE_KEYS


def all_steps(steps: list[dict]) -> list[dict]:
    """Every step, those inside conditions included."""
    found = []
    for step in steps:
        found.append(step)
        if step["Type"] == "Condition":
            found += all_steps(step["Arguments"]["IfSteps"] + step["Arguments"]["ElseSteps"])
    return found


STEPS = {step["Name"]: step for step in all_steps(DEFINITION["Steps"])}
JOB_STEPS = [name for name, step in STEPS.items() if step["Type"] in REQUESTS]


def resolved(value, shape, uses: list):
    """``value`` with every reference replaced by a placeholder of the type ``shape`` expects;
    each (reference, shape type) is appended to ``uses``."""
    if is_reference(value):
        uses.append((value, shape.type_name))
        return PLACEHOLDERS[shape.type_name]
    if isinstance(value, dict) and shape.type_name == "structure":
        return {k: resolved(v, shape.members[k], uses) if k in shape.members else v for k, v in value.items()}
    if isinstance(value, dict) and shape.type_name == "map":
        return {k: resolved(v, shape.value, uses) for k, v in value.items()}
    if isinstance(value, list) and shape.type_name == "list":
        return [resolved(v, shape.member, uses) for v in value]
    return value


def references(value) -> list[str]:
    """Every ``Get`` path under ``value``."""
    if isinstance(value, dict):
        own = [value["Get"]] if "Get" in value else []
        return own + [path for v in value.values() for path in references(v)]
    if isinstance(value, list):
        return [path for v in value for path in references(v)]
    return []


def property_path_exists(path: str, shape) -> bool:
    """Whether ``ModelArtifacts.S3ModelArtifacts`` (indexes like ``Outputs['x']`` allowed) is in ``shape``."""
    for part in path.split("."):
        match = re.fullmatch(r"(\w+)((?:\[[^\]]+\])*)", part)
        if not match or shape.type_name != "structure" or match.group(1) not in shape.members:
            return False
        shape = shape.members[match.group(1)]
        for _ in re.findall(r"\[[^\]]+\]", match.group(2)):
            if shape.type_name == "list":
                shape = shape.member
            elif shape.type_name == "map":
                shape = shape.value
            else:
                return False
    return True


def check_reference(path: str, steps: dict[str, dict], parameters: set[str]) -> str | None:
    """What is wrong with one ``Get`` path, or None."""
    root, _, rest = path.partition(".")
    if root == "Parameters":
        return None if rest in parameters else f"{path}: no such parameter"
    if root == "Execution":
        return None if rest in EXECUTION_VARIABLES else f"{path}: no such execution variable"
    if root != "Steps":
        return f"{path}: unknown root"
    name, _, prop = rest.partition(".")
    step = steps.get(name)
    if step is None:
        return f"{path}: no step {name}"
    if prop.startswith("PropertyFiles."):
        declared = {f["PropertyFileName"] for f in step.get("PropertyFiles", [])}
        return None if prop.split(".", 1)[1] in declared else f"{path}: no such property file"
    output = MODEL.operation_model(PROPERTIES[step["Type"]]).output_shape
    if not property_path_exists(prop, output):
        return f"{path}: not a property of {output.name}"
    named = re.search(r"Outputs\['([^']+)'\]", prop)
    outputs = {o["OutputName"] for o in step["Arguments"].get("ProcessingOutputConfig", {}).get("Outputs", [])}
    if named and named.group(1) not in outputs:
        return f"{path}: {name} has no output {named.group(1)}"
    return None


def dependency_graph(definition: dict) -> dict[str, set[str]]:
    """Each step and the steps it needs: those it references, its DependsOn, its condition."""
    graph: dict[str, set[str]] = {}

    def add(steps: list[dict], parent: str | None) -> None:
        for step in steps:
            needs = {p.split(".")[1] for p in references(step["Arguments"]) if p.startswith("Steps.")}
            if step["Type"] == "Condition":
                needs = {p.split(".")[1] for p in references(step["Arguments"]["Conditions"]) if p.startswith("Steps.")}
                add(step["Arguments"]["IfSteps"] + step["Arguments"]["ElseSteps"], step["Name"])
            graph[step["Name"]] = needs | set(step.get("DependsOn", [])) | ({parent} if parent else set())

    add(definition["Steps"], None)
    return graph


# -- requests ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", JOB_STEPS)
def test_every_job_step_is_a_valid_request_once_references_resolve(name):
    step = STEPS[name]
    operation, generated = REQUESTS[step["Type"]]
    shape = MODEL.operation_model(operation).input_shape
    uses = []
    validate_parameters({**resolved(step["Arguments"], shape, uses), **generated}, shape)
    parameter_types = {p["Name"]: p["Type"] for p in DEFINITION["Parameters"]}
    for reference, shape_type in uses:
        if "Get" in reference and reference["Get"].startswith("Parameters."):
            declared = parameter_types[reference["Get"].split(".", 1)[1]]
            assert shape_type in PARAMETER_TYPES[declared], f"{name}: {reference} is {declared}, used as {shape_type}"
        if "Std:Join" in reference:
            assert shape_type == "string", f"{name}: a Std:Join yields a string, not {shape_type}"


def test_the_request_check_fails_on_a_malformed_argument():
    step = json.loads(json.dumps(STEPS[lab.TRAIN_STEP]))
    step["Arguments"]["ResourceConfig"]["InstanceCount"] = "one"
    shape = MODEL.operation_model("CreateTrainingJob").input_shape
    with pytest.raises(Exception, match="InstanceCount"):
        validate_parameters({**resolved(step["Arguments"], shape, []), "TrainingJobName": "x"}, shape)


def test_every_reference_resolves_to_a_parameter_a_step_property_or_an_execution_variable():
    parameters = {p["Name"] for p in DEFINITION["Parameters"]}
    paths = references(DEFINITION["Steps"])
    assert len(paths) > 10
    assert [problem for path in paths if (problem := check_reference(path, STEPS, parameters))] == []
    used = {p.split(".", 1)[1] for p in paths if p.startswith("Parameters.")}
    assert used == parameters, "every parameter is used, and only declared ones"


@pytest.mark.parametrize("path, problem", [
    ("Steps.TrainModel.ModelArtifacts.S3ModelUri", "not a property"),
    ("Steps.PreprocessData.ProcessingOutputConfig.Outputs['holdout'].S3Output.S3Uri", "has no output"),
    ("Steps.EvaluateModel.PropertyFiles.Report", "no such property file"),
    ("Steps.Nowhere.ModelArtifacts.S3ModelArtifacts", "no step"),
    ("Parameters.Threshold", "no such parameter"),
])
def test_the_reference_check_catches_broken_paths(path, problem):
    assert problem in check_reference(path, STEPS, {p["Name"] for p in DEFINITION["Parameters"]})


def test_step_names_are_unique_and_branch_steps_are_not_also_top_level():
    everything = [s["Name"] for s in all_steps(DEFINITION["Steps"])]
    assert len(everything) == len(set(everything)) == 6
    top = {s["Name"] for s in DEFINITION["Steps"]}
    branches = {s["Name"] for s in all_steps(DEFINITION["Steps"])} - top
    assert branches == {lab.REGISTER_STEP, lab.FAIL_STEP} and not branches & top


def test_the_step_graph_has_no_cycle_and_runs_in_the_lab_order():
    order = list(TopologicalSorter(dependency_graph(DEFINITION)).static_order())
    assert order[:4] == [lab.PREPROCESS_STEP, lab.TRAIN_STEP, lab.EVALUATE_STEP, lab.CONDITION_STEP]
    cyclic = json.loads(json.dumps(DEFINITION))
    cyclic["Steps"][0]["DependsOn"] = [lab.EVALUATE_STEP]
    with pytest.raises(CycleError):
        list(TopologicalSorter(dependency_graph(cyclic)).static_order())


def test_the_condition_compares_the_evaluated_auc_with_the_threshold_parameter():
    (condition,) = STEPS[lab.CONDITION_STEP]["Arguments"]["Conditions"]
    assert condition["Type"] == "GreaterThanOrEqualTo"
    assert condition["LeftValue"]["Std:JsonGet"]["Path"] == lab.AUC_PATH
    assert condition["RightValue"] == {"Get": f"Parameters.{lab.THRESHOLD_PARAMETER}"}
    message = STEPS[lab.FAIL_STEP]["Arguments"]["ErrorMessage"]["Std:Join"]["Values"]
    assert condition["LeftValue"] in message and condition["RightValue"] in message


def test_parameters_default_to_the_options_and_the_hyperparameters_feed_training():
    defaults = {p["Name"]: (p["Type"], p["DefaultValue"]) for p in DEFINITION["Parameters"]}
    assert defaults[lab.THRESHOLD_PARAMETER] == ("Float", lab.DEFAULT_THRESHOLD)
    assert defaults[lab.INPUT_PARAMETER] == ("String", f"s3://mlref-data/{lab.RAW_PREFIX}")
    assert defaults["MaxDepth"] == ("Integer", 4) and defaults["Eta"] == ("Float", 0.2)
    hyper = STEPS[lab.TRAIN_STEP]["Arguments"]["HyperParameters"]
    assert hyper["max_depth"] == {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.MaxDepth"}]}}
    assert hyper["objective"] == "binary:logistic"


def test_training_runs_on_managed_spot_with_checkpoints_and_waits_at_least_as_long_as_it_runs():
    args = STEPS[lab.TRAIN_STEP]["Arguments"]
    assert args["EnableManagedSpotTraining"] is True
    assert args["StoppingCondition"]["MaxWaitTimeInSeconds"] >= args["StoppingCondition"]["MaxRuntimeInSeconds"]
    assert args["CheckpointConfig"]["LocalPath"] == "/opt/ml/checkpoints"
    assert args["CheckpointConfig"]["S3Uri"]["Std:Join"]["Values"][0] == f"s3://mlref-artifacts/{lab.CHECKPOINTS_PREFIX}"


def test_every_job_encrypts_volumes_and_outputs_is_isolated_and_tagged():
    for name in (lab.PREPROCESS_STEP, lab.TRAIN_STEP, lab.EVALUATE_STEP):
        args = STEPS[name]["Arguments"]
        text = json.dumps(args)
        assert text.count(RESOURCES.key_arn) == 2, name
        isolated = args.get("NetworkConfig", args).get("EnableNetworkIsolation")
        assert isolated is True, name
        assert args["Tags"] == [{"Key": k, "Value": v} for k, v in RESOURCES.tags.items()]


def test_the_model_package_carries_its_evaluation_and_waits_for_approval():
    args = STEPS[lab.REGISTER_STEP]["Arguments"]
    assert args["ModelApprovalStatus"] == "PendingManualApproval"
    statistics = args["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["S3Uri"]["Std:Join"]["Values"][-1] == "/evaluation.json"
    assert "Tags" not in args  # a versioned package takes its group's tags


def test_no_experiment_or_trial_is_configured():
    assert DEFINITION["Version"] == "2020-12-01"
    assert "PipelineExperimentConfig" not in DEFINITION


def test_the_image_registry_map_matches_the_sagemaker_sdk_config():
    # The installed SDK's image_uri_config, found without importing the SDK.
    folder = Path(importlib.util.find_spec("sagemaker").submodule_search_locations[0]) / "core" / "image_uri_config"
    for framework, version in (("sklearn", "1.2-1"), ("xgboost", "1.7-1")):
        config = json.loads((folder / f"{framework}.json").read_text())
        registries = config["training"]["versions"][version]["registries"]
        known = lab.ALGORITHM_IMAGE_ACCOUNTS
        assert {r: a for r, a in registries.items() if r in known} == known
    assert lab.image_uri(lab.XGBOOST_IMAGE, lab.image_registry("us-east-1")) == \
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
