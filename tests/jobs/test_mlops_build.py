"""The mlops BuildAndTest and IntegrationTest commands, run as real processes on the model-build zip the
practice pushes: the unit tests pass, the lint passes on the SageMaker pipeline the stack deploys, and
``--break-test`` makes the unit tests fail naming the test, which is what stops the pipeline."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from catalog import mlops as lab
from cdk_constructs.services.pipeline_definition import PipelineResources, Script, join, parameter, pipeline_definition
from jobs.mlops import integration_check
from labs.practice.mlops import source

TIMEOUT = 240


def run(command: str, cwd: Path) -> subprocess.CompletedProcess:
    """A buildspec command as CodeBuild runs it, with this interpreter standing for the image's python."""
    argv = shlex.split(command)
    assert argv[0] == "python", f"only the python commands run here: {command}"
    return subprocess.run([sys.executable, *argv[1:]], cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT)


def definition() -> dict:
    """The definition the mlops stack deploys, with placeholders for what CloudFormation resolves."""
    scripts = {name: Script(join(parameter(lab.CODE_PARAMETER), f"{name}.py"), f"{name}.py")
               for name in ("preprocess", "evaluate")}
    return pipeline_definition(PipelineResources(
        image_registry="683313688378.dkr.ecr.us-east-1.amazonaws.com", data_bucket="data", artifacts_bucket="art",
        key_arn="arn:aws:kms:us-east-1:111122223333:key/k", preprocess_role_arn="arn:aws:iam::111122223333:role/p",
        training_role_arn="arn:aws:iam::111122223333:role/t", evaluation_role_arn="arn:aws:iam::111122223333:role/e",
        model_package_group=lab.MODEL_PACKAGE_GROUP, preprocess_script=scripts["preprocess"],
        evaluate_script=scripts["evaluate"], tags={"lab": "mlops"}, pipeline_name=lab.SAGEMAKER_PIPELINE,
        extra_parameters=((lab.CODE_PARAMETER, "s3://art/code/"), (lab.RUN_REASON_PARAMETER, lab.CODE_CHANGE),
                          (lab.CODE_PIPELINE_EXECUTION_PARAMETER, "none"))))


@pytest.fixture(scope="module")
def repository(tmp_path_factory) -> Path:
    root = source.unpack(source.zipped(source.source_files(note="a test push")), tmp_path_factory.mktemp("repo"))
    (root / "definition.json").write_text(json.dumps(definition()))
    return root


def test_the_build_runs_exactly_the_commands_the_catalog_names():
    assert lab.TEST_COMMAND in lab.BUILD_COMMANDS and lab.LINT_COMMAND in lab.BUILD_COMMANDS
    assert lab.BUILD_COMMANDS.index(lab.TEST_COMMAND) < lab.BUILD_COMMANDS.index(lab.LINT_COMMAND)


def test_the_unit_tests_pass_on_the_pushed_code(repository):
    result = run(lab.TEST_COMMAND, repository)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "test_exact_duplicates_are_dropped (test_preprocess.CleanTest.test_exact_duplicates_are_dropped) ... ok" \
        in result.stderr
    assert "Ran 11 tests" in result.stderr


def test_the_lint_passes_on_the_deployed_pipeline_definition(repository):
    result = run(lab.LINT_COMMAND, repository)
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("definition OK: 6 steps, 11 parameters")


@pytest.mark.parametrize("change,expected", [
    (lambda d: d["Steps"][0]["Arguments"].pop("Tags"), "PreprocessData: no Tags"),
    (lambda d: d["Steps"][1]["Arguments"].update(EnableNetworkIsolation=False), "TrainModel: network isolation is off"),
    (lambda d: d["Parameters"][0].pop("DefaultValue"), "parameter InputDataUri has no DefaultValue"),
    (lambda d: d["Steps"][3]["Arguments"]["IfSteps"][0]["Arguments"].update(ModelApprovalStatus="Approved"),
     "RegisterModel: registers versions Approved"),
    (lambda d: d["Steps"].append(d["Steps"][3]["Arguments"]["ElseSteps"][0]),
     "AucBelowThreshold: inside a Condition and at the top level too"),
])
def test_the_lint_fails_naming_each_problem(repository, tmp_path, change, expected):
    broken = definition()
    change(broken)
    (tmp_path / "definition.json").write_text(json.dumps(broken))
    (tmp_path / "lint_definition.py").write_bytes((repository / "lint_definition.py").read_bytes())
    result = run(lab.LINT_COMMAND, tmp_path)
    assert result.returncode == 1 and expected in result.stdout, result.stdout


def test_a_removed_parameter_is_named_where_it_is_used(repository, tmp_path):
    broken = definition()
    broken["Parameters"] = [p for p in broken["Parameters"] if p["Name"] != "AucThreshold"]
    (tmp_path / "definition.json").write_text(json.dumps(broken))
    (tmp_path / "lint_definition.py").write_bytes((repository / "lint_definition.py").read_bytes())
    result = run(lab.LINT_COMMAND, tmp_path)
    assert "CheckAuc: refers to parameter AucThreshold, which is not declared" in result.stdout


def test_break_test_makes_the_unit_tests_fail_naming_the_test(tmp_path):
    root = source.unpack(source.zipped(source.source_files(break_test=True)), tmp_path)
    result = run(lab.TEST_COMMAND, root)
    assert result.returncode != 0
    assert f"FAIL: {source.BROKEN_TEST}" in result.stderr
    assert "FAILED (failures=1)" in result.stderr


def test_the_zip_is_the_same_for_the_same_content_and_holds_the_repository():
    first, second = (source.zipped(source.source_files(note="n")) for _ in range(2))
    assert first == second
    names = set(source.source_files())
    assert {"requirements.txt", "code/preprocess.py", "code/evaluate.py", "lint_definition.py",
            "integration_check.py", "tests/test_preprocess.py", "tests/test_evaluate.py"} <= names


def integration(repository: Path, tmp_path: Path, predictions: str, seconds: int) -> subprocess.CompletedProcess:
    (tmp_path / "holdout.csv").write_text("".join(f"{i % 2}.0,0.{i},1.{i},0.5\n" for i in range(30)))
    (tmp_path / "integration_check.py").write_bytes((repository / "integration_check.py").read_bytes())
    prepare = next(c for c in lab.INTEGRATION_COMMANDS if "integration_check.py prepare" in c)
    assert run(prepare, tmp_path).returncode == 0
    (tmp_path / "predictions.csv").write_text(predictions)
    check = next(c for c in lab.INTEGRATION_COMMANDS if "integration_check.py check" in c)
    return run(check.replace('"$(( $(date +%s) - START ))"', str(seconds)), tmp_path)


def test_the_integration_check_passes_on_one_probability_per_row(repository, tmp_path):
    result = integration(repository, tmp_path, "\n".join(["0.42"] * lab.INTEGRATION_ROWS) + "\n", 3)
    assert result.returncode == 0, result.stdout
    rows = (tmp_path / "rows.csv").read_text().splitlines()
    assert len(rows) == lab.INTEGRATION_ROWS and rows[0] == "0.0,1.0,0.5"  # the label stripped


@pytest.mark.parametrize("predictions,seconds,expected", [
    ("0.1,0.2\n", 3, "sent 20 rows, got 2 predictions"),
    (",".join(["1.7"] * 20), 3, "prediction 1.7 is not a probability"),
    (",".join(["0.3"] * 20), 45, "the endpoint took 45 s, more than 30 s"),
])
def test_the_integration_check_fails_naming_what_is_wrong(repository, tmp_path, predictions, seconds, expected):
    result = integration(repository, tmp_path, predictions, seconds)
    assert result.returncode == 1 and expected in result.stdout


def test_the_latency_limit_is_the_catalogs():
    assert integration_check.MAX_SECONDS == lab.LATENCY_LIMIT_SECONDS
