"""The pipeline's Evaluation step (a Processing job in the SageMaker XGBoost 1.7 container).

Loads the trained model from model.tar.gz (the one file ``xgboost-model`` that built-in XGBoost
writes), scores the test split (label first, no header) and writes ``evaluation.json``: AUC and
accuracy in the layout SageMaker's model metrics use (``binary_classification_metrics``). The
pipeline reads the AUC from it (a PropertyFile) to decide whether to register the model, and
attaches the file to the model package as its model quality statistics.

AUC and accuracy are computed with numpy alone (the rank formula of the AUC, ties averaged), so
the metrics do not depend on what else the container ships. Only loading the model needs
xgboost; ``main`` takes any ``predict(features) -> scores`` instead, which is how the tests run
this file without xgboost. Paths default to the container's and can be given on the command line.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import tarfile
import tempfile
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # for readers and type checkers: subscripting Callable at run time needs Python 3.9
    from collections.abc import Callable

    Predictor = Callable[[np.ndarray], np.ndarray]


def read_split(folder: str) -> tuple[np.ndarray, np.ndarray]:
    """(labels, features) of every CSV under ``folder``."""
    files = sorted(glob.glob(os.path.join(folder, "*.csv")))
    if not files:
        raise SystemExit(f"no test split under {folder}")
    table = np.vstack([np.loadtxt(f, delimiter=",", ndmin=2) for f in files])
    return table[:, 0], table[:, 1:]


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """The probability that a random positive scores above a random negative (ties count half)."""
    positives = int((labels == 1).sum())
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        raise SystemExit("the test split holds one class only: the AUC is undefined")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ranks = (np.bincount(inverse, weights=ranks) / counts)[inverse]
    return float((ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def evaluation_report(labels: np.ndarray, scores: np.ndarray, cutoff: float = 0.5) -> dict:
    predicted = (scores >= cutoff).astype(int)
    actual = labels.astype(int)
    matrix = {f"{a}{p}": int(((actual == a) & (predicted == p)).sum()) for a in (0, 1) for p in (0, 1)}
    return {
        "binary_classification_metrics": {
            "auc": {"value": round(roc_auc(labels, scores), 6), "standard_deviation": "NaN"},
            "accuracy": {"value": round(float((predicted == actual).mean()), 6), "standard_deviation": "NaN"},
            "confusion_matrix": {"0": {"0": matrix["00"], "1": matrix["01"]},
                                 "1": {"0": matrix["10"], "1": matrix["11"]}},
        },
        "test_rows": len(labels),
        "cutoff": cutoff,
    }


def xgboost_predictor(model_dir: str) -> Predictor:
    """The booster in ``model_dir/model.tar.gz`` as a predictor (needs xgboost: the container's)."""
    import xgboost  # only inside the XGBoost container

    with tarfile.open(os.path.join(model_dir, "model.tar.gz")) as archive, tempfile.TemporaryDirectory() as work:
        archive.extractall(work)  # the training job's own artifact
        booster = xgboost.Booster()
        booster.load_model(os.path.join(work, "xgboost-model"))
    return lambda values: booster.predict(xgboost.DMatrix(values))


def main(argv: list[str] | None = None, predictor: Predictor | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="/opt/ml/processing/model")
    parser.add_argument("--test", default="/opt/ml/processing/test")
    parser.add_argument("--output", default="/opt/ml/processing/evaluation")
    args = parser.parse_args(argv)

    labels, values = read_split(args.test)
    predict = predictor or xgboost_predictor(args.model)
    report = evaluation_report(labels, np.asarray(predict(values), dtype=float))
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, "evaluation.json"), "w") as out:
        json.dump(report, out, indent=1)
    print(json.dumps(report["binary_classification_metrics"]))
    return report


if __name__ == "__main__":
    main()
