"""The bias step's own engine as its processing job runs it: files in, analysis.json out (a stand-in scorer
takes xgboost's place)."""

from __future__ import annotations

import json

import pytest

from jobs.model_development import bias_report

CONFIG = {"version": "1.0", "dataset_type": "text/csv", "headers": ["approved", "gender", "score"],
          "label": "approved", "label_values_or_threshold": [1],
          "facet": [{"name_or_index": "gender", "value_or_threshold": [1]}], "probability_threshold": 0.5,
          "methods": {"pre_training_bias": {"methods": ["CI", "DPL"]},
                      "post_training_bias": {"methods": ["DPPL", "DI", "AD"]}, "shap": {"agg_method": "mean_abs"}}}
# The hand-checked example of tests/unit/test_model_development.py, as CSV rows: label, gender, a score the
# stand-in model passes through (above 0.5: predicted approved).
ROWS = ["1,0,0.9", "1,0,0.8", "1,0,0.7", "1,0,0.2", "0,0,0.1", "0,0,0.3", "1,1,0.2", "0,1,0.1", "0,1,0.4", "0,1,0.6"]


def scorer(features):
    return [row[1] for row in features], [[0.0, row[1] - 0.5, 0.1] for row in features]


def test_the_job_writes_clarifys_layout_with_the_definitions_values(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "test.csv").write_text("\n".join(ROWS) + "\n")
    bias_report.main(["--config", str(tmp_path / "config.json"), "--data", str(tmp_path / "data"),
                      "--output", str(tmp_path / "out")], scorer=scorer)
    report = json.loads((tmp_path / "out" / "analysis.json").read_text())
    pre = report["pre_training_bias_metrics"]["facets"]["gender"][0]
    post = report["post_training_bias_metrics"]["facets"]["gender"][0]
    assert pre["value_or_threshold"] == "1" and report["post_training_bias_metrics"]["label"] == "approved"
    assert {m["name"]: m["value"] for m in pre["metrics"]} == pytest.approx({"CI": 0.2, "DPL": 5 / 12})
    assert {m["name"]: m["value"] for m in post["metrics"]} == pytest.approx({"DPPL": 0.25, "DI": 0.5, "AD": 1 / 3})
    shap = report["explanations"]["tree_shap"]["label0"]
    assert shap["global_shap_values"] == pytest.approx({"gender": 0.0, "score": sum(abs(float(r.split(",")[2]) - 0.5)
                                                                                    for r in ROWS) / len(ROWS)})
    assert shap["expected_value"] == pytest.approx(0.1)


def test_no_data_is_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="no CSV under"):
        bias_report.read_table(str(tmp_path / "empty"))
