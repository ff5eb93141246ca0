"""The ml-pipeline's processing and evaluation scripts, run as they are on a small data set with the
container's folder layout (the definition's local paths under a temporary root): defects handled
as injected, splits in XGBoost's CSV form, metrics that match scikit-learn's."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from catalog import ml_pipeline as lab
from catalog.paths import JOBS_DIR
from labs.practice.ml_pipeline.data import raw_customers
from tests.stacks.test_pipeline_definition import STEPS

CODE = JOBS_DIR / "ml_pipeline"
ROWS = 600


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"pipeline_code_{name}", CODE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def local(root: Path, container_path: str) -> Path:
    return root / container_path.lstrip("/")


def in_root(root: Path, arguments: list[str]) -> list[str]:
    """The step's ContainerArguments with /opt/ml/... moved under ``root``."""
    return [str(local(root, a)) if a.startswith("/opt/ml/") else a for a in arguments]


def inputs_of(step: str) -> dict[str, str]:
    return {i["InputName"]: i["S3Input"]["LocalPath"] for i in STEPS[step]["Arguments"]["ProcessingInputs"]}


def outputs_of(step: str) -> dict[str, str]:
    return {o["OutputName"]: o["S3Output"]["LocalPath"]
            for o in STEPS[step]["Arguments"]["ProcessingOutputConfig"]["Outputs"]}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The raw upload, then the preprocessing step as the container would run it."""
    root = tmp_path_factory.mktemp("container")
    data = raw_customers(ROWS, seed=11, run_id="t")
    raw_dir = local(root, inputs_of(lab.PREPROCESS_STEP)["raw"]) / "r-t"
    raw_dir.mkdir(parents=True)
    (raw_dir / "customers.csv").write_bytes(data.csv_bytes())
    arguments = STEPS[lab.PREPROCESS_STEP]["Arguments"]["AppSpecification"]["ContainerArguments"]
    report = load("preprocess").main(in_root(root, arguments))
    return root, data, report


def split(root: Path, name: str) -> np.ndarray:
    folder = local(root, outputs_of(lab.PREPROCESS_STEP)[name])
    return np.loadtxt(folder / f"{name}.csv", delimiter=",")


def test_the_report_counts_exactly_the_defects_the_data_carries(run):
    root, data, report = run
    written = json.loads((local(root, outputs_of(lab.PREPROCESS_STEP)["report"]) / lab.REPORT_FILE).read_text())
    assert written == report
    defects = data.defects
    assert (report["rows_in"], report["duplicates_dropped"], report["unlabeled_dropped"]) == \
        (ROWS, defects.duplicates, defects.unlabeled)
    assert (report["missing_values_imputed"], report["invalid_values_imputed"]) == \
        (defects.missing_values, defects.invalid_values)
    assert defects.duplicates and defects.unlabeled and defects.missing_values and defects.invalid_values
    assert sum(report["rows"].values()) == ROWS - defects.duplicates - defects.unlabeled


def test_splits_are_label_first_complete_and_scaled_on_the_training_split(run):
    root, _, report = run
    train, validation, test = (split(root, name) for name in ("train", "validation", "test"))
    assert [len(train), len(validation), len(test)] == [report["rows"][n] for n in ("train", "validation", "test")]
    for part in (train, validation, test):
        assert part.shape[1] == 1 + len(report["features"]) and np.isfinite(part).all()
        assert set(np.unique(part[:, 0])) == {0.0, 1.0}
        assert set(np.unique(part[:, 5:])) <= {0.0, 1.0}  # the one-hot contract columns
    assert np.allclose(train[:, 1:5].mean(axis=0), 0, atol=1e-3)
    assert np.allclose(train[:, 1:5].std(axis=0), 1, atol=1e-2)
    shares = [part[:, 0].mean() for part in (train, validation, test)]
    assert max(shares) - min(shares) < 0.03  # stratified


def test_the_evaluation_writes_the_metrics_the_condition_and_the_registry_read(run):
    from sklearn.linear_model import LogisticRegression  # scikit-learn takes seconds to import: only here
    from sklearn.metrics import accuracy_score, roc_auc_score

    root, _, _ = run
    train = split(root, "train")
    model = LogisticRegression().fit(train[:, 1:], train[:, 0])
    test_dir = local(root, inputs_of(lab.EVALUATE_STEP)["test"])
    test_dir.mkdir(parents=True)
    (test_dir / lab.TEST_FILE).write_bytes((local(root, outputs_of(lab.PREPROCESS_STEP)["test"]) / lab.TEST_FILE)
                                           .read_bytes())
    arguments = STEPS[lab.EVALUATE_STEP]["Arguments"]["AppSpecification"]["ContainerArguments"]
    load("evaluate").main(in_root(root, arguments), predictor=lambda values: model.predict_proba(values)[:, 1])

    (property_file,) = STEPS[lab.EVALUATE_STEP]["PropertyFiles"]
    folder = local(root, outputs_of(lab.EVALUATE_STEP)[property_file["OutputName"]])
    report = json.loads((folder / property_file["FilePath"]).read_text())
    auc = report
    for key in lab.AUC_PATH.split("."):
        auc = auc[key]
    test = split(root, "test")
    scores = model.predict_proba(test[:, 1:])[:, 1]
    assert auc == pytest.approx(roc_auc_score(test[:, 0], scores), abs=1e-6)
    assert 0.75 < auc < 0.99  # the default threshold passes, --threshold 0.99 fails
    accuracy = report["binary_classification_metrics"]["accuracy"]["value"]
    assert accuracy == pytest.approx(accuracy_score(test[:, 0], scores >= 0.5), abs=1e-6)


@pytest.mark.parametrize("scores", [[0.1, 0.4, 0.35, 0.8], [0.5, 0.5, 0.5, 0.5], [0.9, 0.2, 0.2, 0.7]])
def test_the_auc_handles_ties_like_scikit_learn(scores):
    from sklearn.metrics import roc_auc_score

    labels = np.array([0, 0, 1, 1])
    assert load("evaluate").roc_auc(labels, np.array(scores)) == pytest.approx(roc_auc_score(labels, scores))


def test_an_empty_input_prefix_stops_the_job_with_the_fix(tmp_path):
    with pytest.raises(SystemExit, match="upload raw data"):
        load("preprocess").main(["--input", str(tmp_path), "--output", str(tmp_path / "out")])
