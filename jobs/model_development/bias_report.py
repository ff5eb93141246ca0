"""The bias step's own engine (a processing job in the SageMaker XGBoost 1.7 container), and the one home
of the bias metrics' definitions, which the practice also uses to check the generated data locally.

It reads the same ``analysis_config.json`` the SageMaker Clarify container reads (label, facet, the methods
asked for) and the same test split (CSV, label first, no header row), scores the rows with the tuned model,
and writes ``analysis.json`` in Clarify's layout (``pre_training_bias_metrics``, ``post_training_bias_metrics``,
``explanations``), so the practice reads either engine's report the same way. Its explanations are exact
tree SHAP values (xgboost's ``pred_contribs``) in log-odds units, under ``explanations.tree_shap``; Clarify's
are kernel SHAP estimates of the predicted probability, under ``kernel_shap``: compare their rankings.

Definitions (facet d: the rows whose facet value is listed in the config; facet a: the others; the positive
label: the config's ``label_values_or_threshold``), as the SageMaker Clarify pages define them:
- CI = (n_a - n_d) / (n_a + n_d)                        clarify-bias-metric-class-imbalance
- DPL = q_a - q_d, q = positives / rows of the facet    clarify-data-bias-metric-true-label-imbalance
- DPPL = q'_a - q'_d on predicted labels               clarify-post-training-bias-metric-dppl
- DI = q'_d / q'_a                                      clarify-post-training-bias-metric-di
- AD = ACC_a - ACC_d                                    clarify-post-training-bias-metric-ad

The metrics need nothing but the standard library; only loading the model needs xgboost (the container's).
``main`` takes any ``Scorer`` instead, which is how the tests run this file without xgboost.
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import math
import os
import tarfile
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for readers and type checkers: subscripting list or Callable at run time needs Python 3.9
    from collections.abc import Callable

    # (scores, contributions): the predicted probability of each row and, per row, one contribution per
    # feature followed by the bias term (xgboost's pred_contribs layout).
    Scorer = Callable[[list[list[float]]], tuple[list[float], list[list[float]]]]
DESCRIPTIONS = {"CI": "Class Imbalance (CI)", "DPL": "Difference in Positive Proportions in Labels (DPL)",
                "DPPL": "Difference in Positive Proportions in Predicted Labels (DPPL)",
                "DI": "Disparate Impact (DI)", "AD": "Accuracy Difference (AD)"}
ENGINE = "the lab's script (jobs/model_development/bias_report.py): exact tree SHAP in log-odds units"


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole else math.nan


def class_imbalance(facet_d: Sequence[bool]) -> float:
    n_d = sum(1 for member in facet_d if member)
    n_a = len(facet_d) - n_d
    return _ratio(n_a - n_d, n_a + n_d)


def _same_length(*columns: Sequence) -> None:
    """zip(strict=True) without it: the XGBoost 1.7-1 container runs this on Python 3.8."""
    if len({len(column) for column in columns}) > 1:
        raise ValueError(f"columns of different lengths: {[len(column) for column in columns]}")


def positive_proportions(labels: Sequence[int], facet_d: Sequence[bool]) -> tuple[float, float]:
    """(q_a, q_d): the share of positive labels (observed or predicted) in facet a and in facet d."""
    _same_length(labels, facet_d)
    a = [label for label, member in zip(labels, facet_d) if not member]
    d = [label for label, member in zip(labels, facet_d) if member]
    return _ratio(sum(a), len(a)), _ratio(sum(d), len(d))


def pre_training(labels: Sequence[int], facet_d: Sequence[bool]) -> dict[str, float]:
    q_a, q_d = positive_proportions(labels, facet_d)
    return {"CI": class_imbalance(facet_d), "DPL": q_a - q_d}


def post_training(labels: Sequence[int], predicted: Sequence[int], facet_d: Sequence[bool]) -> dict[str, float]:
    q_a, q_d = positive_proportions(predicted, facet_d)

    _same_length(labels, predicted, facet_d)

    def accuracy(of_d: bool) -> float:
        pairs = [(y, p) for y, p, member in zip(labels, predicted, facet_d) if member == of_d]
        return _ratio(sum(1 for y, p in pairs if y == p), len(pairs))

    return {"DPPL": q_a - q_d, "DI": _ratio(q_d, q_a), "AD": accuracy(False) - accuracy(True)}


def global_shap(contributions: Sequence[Sequence[float]], features: Sequence[str]) -> tuple[dict[str, float], float]:
    """(mean |SHAP value| per feature, the mean bias term): Clarify's ``mean_abs`` aggregation."""
    rows = len(contributions)
    values = {name: sum(abs(row[i]) for row in contributions) / rows for i, name in enumerate(features)}
    return values, sum(row[len(features)] for row in contributions) / rows


def _section(label: str, positive: str, facet: str, facet_value: str, metrics: dict[str, float]) -> dict:
    return {"label": label, "label_value_or_threshold": positive, "facets": {facet: [{
        "value_or_threshold": facet_value,
        "metrics": [{"name": name, "description": DESCRIPTIONS[name], "value": value}
                    for name, value in metrics.items()],
    }]}}


def analysis(config: dict, table: list[list[float]], scorer: Scorer) -> dict:
    """The report for ``table`` (rows in the config's ``headers`` order, the label among them)."""
    headers = config["headers"]
    label_at, facet = headers.index(config["label"]), config["facet"][0]
    facet_at = headers.index(facet["name_or_index"])
    positive = [float(v) for v in config["label_values_or_threshold"]]
    sensitive = [float(v) for v in facet.get("value_or_threshold", [])]
    features = [name for i, name in enumerate(headers) if i != label_at]
    labels = [1 if row[label_at] in positive else 0 for row in table]
    facet_d = [row[facet_at] in sensitive for row in table]
    methods, report = config["methods"], {"version": "1.0", "engine": ENGINE}
    names = (str(config["label"]), ",".join(f"{v:g}" for v in positive), str(facet["name_or_index"]),
             ",".join(f"{v:g}" for v in sensitive))
    if "pre_training_bias" in methods:
        report["pre_training_bias_metrics"] = _section(*names, pre_training(labels, facet_d))
    if "post_training_bias" in methods or "shap" in methods:
        scores, contributions = scorer([[v for i, v in enumerate(row) if i != label_at] for row in table])
        cutoff = float(config.get("probability_threshold", 0.5))
        predicted = [1 if score > cutoff else 0 for score in scores]
        if "post_training_bias" in methods:
            report["post_training_bias_metrics"] = _section(*names, post_training(labels, predicted, facet_d))
        if "shap" in methods:
            values, expected = global_shap(contributions, features)
            report["explanations"] = {"tree_shap": {"label0": {"global_shap_values": values,
                                                               "expected_value": expected}}}
    return report


def read_table(folder: str) -> list[list[float]]:
    files = sorted(glob.glob(os.path.join(folder, "*.csv")))
    if not files:
        raise SystemExit(f"no CSV under {folder}")
    rows: list[list[float]] = []
    for name in files:
        with open(name, newline="") as handle:
            rows += [[float(v) for v in row] for row in csv.reader(handle) if row]
    return rows


def xgboost_scorer(model_dir: str) -> Scorer:
    """The booster in ``model_dir/model.tar.gz`` (one file, built-in XGBoost's ``xgboost-model``)."""
    import xgboost

    with tarfile.open(os.path.join(model_dir, "model.tar.gz")) as archive, tempfile.TemporaryDirectory() as work:
        archive.extractall(work)
        booster = xgboost.Booster()
        booster.load_model(os.path.join(work, "xgboost-model"))

    def score(features: list[list[float]]) -> tuple[list[float], list[list[float]]]:
        matrix = xgboost.DMatrix(features)
        return booster.predict(matrix).tolist(), booster.predict(matrix, pred_contribs=True).tolist()

    return score


def main(argv: list[str] | None = None, scorer: Scorer | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="/opt/ml/processing/input/config/analysis_config.json")
    parser.add_argument("--data", default="/opt/ml/processing/input/data")
    parser.add_argument("--model", default="/opt/ml/processing/model")
    parser.add_argument("--output", default="/opt/ml/processing/output")
    args = parser.parse_args(argv)
    with open(args.config) as handle:
        config = json.load(handle)
    report = analysis(config, read_table(args.data), scorer or xgboost_scorer(args.model))
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, "analysis.json"), "w") as out:
        json.dump(report, out, indent=1)
    print(json.dumps({key: value for key, value in report.items() if key.endswith("metrics")}))
    return report


if __name__ == "__main__":
    main()
