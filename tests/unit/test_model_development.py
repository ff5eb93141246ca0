"""The model-development lab's pure parts: the generated data and its injected bias checked against the
metrics' definitions, the bias metrics on a hand-checked example, the overfitting rules on fixed loss series,
the analysis configuration against the Clarify container's schema, and the tables the steps print."""

from __future__ import annotations

import math

import pytest

from catalog import model_development as lab
from catalog import model_development_facts as facts
from catalog.exam import STATEMENTS
from catalog.prices import price
from jobs.model_development import bias_report
from labs.practice.model_development import approach, bias, curves, diagnose, requests, tune
from labs.practice.model_development.data import TextSet, tabular_set, text_set
from labs.practice.model_development.jobs import parse_rounds

# -- the bias metrics on a hand-checked example ------------------------------------------------------
# Facet a: 6 rows, labels 1 1 1 1 0 0, predicted 1 1 1 0 0 0; facet d: 4 rows, labels 1 0 0 0, predicted 0 0 0 1.
# CI = (6 - 4) / 10 = 0.2; q_a = 4/6, q_d = 1/4: DPL = 0.41667; q'_a = 3/6, q'_d = 1/4: DPPL = 0.25,
# DI = 0.25 / 0.5 = 0.5; ACC_a = 5/6 (one miss), ACC_d = 2/4: AD = 0.33333.
LABELS = [1, 1, 1, 1, 0, 0, 1, 0, 0, 0]
PREDICTED = [1, 1, 1, 0, 0, 0, 0, 0, 0, 1]
FACET_D = [False] * 6 + [True] * 4


def test_the_bias_metrics_match_their_definitions_on_a_hand_checked_example():
    assert bias_report.pre_training(LABELS, FACET_D) == pytest.approx({"CI": 0.2, "DPL": 5 / 12})
    assert bias_report.post_training(LABELS, PREDICTED, FACET_D) == pytest.approx(
        {"DPPL": 0.25, "DI": 0.5, "AD": 1 / 3})


def test_an_empty_facet_gives_nan_not_a_division_error():
    assert math.isnan(bias_report.post_training([1, 0], [1, 0], [False, False])["DI"])


# -- the generated data ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def loans():
    return tabular_set()


def test_the_tabular_set_injects_exactly_the_class_imbalance_and_a_label_gap(loans):
    sensitive = [row for row in loans.rows if row[1] == facts.FACET_VALUE]
    others = [row for row in loans.rows if row[1] != facts.FACET_VALUE]
    assert (len(sensitive), len(others)) == (1000, 3000)
    # counted here, independently of bias_report: CI = (3000 - 1000) / 4000, DPL = q_a - q_d
    q_a, q_d = sum(r[0] for r in others) / 3000, sum(r[0] for r in sensitive) / 1000
    assert loans.injected == pytest.approx({"CI": 0.5, "DPL": q_a - q_d})
    assert 0.08 < q_a - q_d < 0.3  # the facet is approved less often in the data itself
    assert {name: len(rows) for name, rows in loans.splits.items()} == facts.SPLITS
    assert sorted(r for rows in loans.splits.values() for r in rows) == sorted(loans.rows)


def test_the_proxy_feature_is_far_more_common_in_the_sensitive_facet(loans):
    def part_time(member: bool) -> float:
        rows = [row for row in loans.rows if (row[1] == facts.FACET_VALUE) == member]
        return sum(row[8] for row in rows) / len(rows)

    assert part_time(True) > 2 * part_time(False)


def test_the_same_seed_makes_the_same_data_and_another_seed_other_data(loans):
    assert tabular_set() == loans and tabular_set(7).rows != loans.rows
    assert text_set(5, 30) == text_set(5, 30) and text_set(5, 30) != text_set(6, 30)


def test_the_csv_is_label_first_without_a_header_and_the_baseline_has_one_value_per_feature(loans):
    lines = loans.csv_bytes("test").decode().splitlines()
    assert len(lines) == facts.SPLITS["test"] and all(len(line.split(",")) == len(facts.HEADERS) for line in lines)
    assert {line.split(",")[0] for line in lines} == {"0", "1"}
    assert len(loans.baseline()) == len(facts.FEATURES)


def test_the_text_set_is_balanced_disjoint_and_under_comprehends_minimum():
    texts = text_set(items=90)
    assert len(texts.heldout) == 90 and len(texts.train) == 3 * facts.TRAIN_PER_CLASS
    assert {label: sum(1 for _, given in texts.heldout if given == label) for label in facts.CLASSES} == dict.fromkeys(
        facts.CLASSES, 30)
    assert not {t for t, _ in texts.train} & {t for t, _ in texts.heldout}
    assert max(len(t) for t, _ in texts.train + texts.heldout) < 300
    assert all(approach.comprehend_units(t) == 3 for t, _ in texts.heldout)
    first = TextSet.blazingtext(texts.train[:1]).decode()
    assert first.startswith("__label__") and first.endswith("\n") and first.split()[0][9:] in facts.CLASSES


# -- the analysis configuration against what the Clarify container accepts ----------------------------

@pytest.mark.parametrize("model", ["mlref-md-tuned-260101120000", None], ids=["clarify", "script"])
def test_the_analysis_config_is_valid_for_the_clarify_container(loans, model):
    from sagemaker.core.clarify import ANALYSIS_CONFIG_SCHEMA_V1_0

    config = requests.analysis_config(loans.baseline(), model_name=model, seed=29)
    ANALYSIS_CONFIG_SCHEMA_V1_0.validate(config)
    assert config["label"] in config["headers"] and config["facet"][0]["name_or_index"] in config["headers"]
    assert len(config["methods"]["shap"]["baseline"][0]) == len(config["headers"]) - 1
    assert config["methods"]["pre_training_bias"]["methods"] == ["CI", "DPL"]
    assert ("predictor" in config) == (model is not None)
    if model:
        assert config["predictor"]["endpoint_name_prefix"] == lab.SHADOW_ENDPOINT_PREFIX


def test_the_script_reports_in_clarifys_layout_what_the_definitions_give(loans):
    config = requests.analysis_config(loans.baseline(), model_name=None, seed=29)
    table = [[float(v) for v in row] for row in loans.splits["test"]]

    def scorer(features):  # a stand-in model: approves whoever has a credit score of 700 or more
        return ([0.9 if row[3] >= 700 else 0.1 for row in features],
                [[0.5 if i == 3 else 0.0 for i in range(len(row))] + [-0.2] for row in features])

    report = bias_report.analysis(config, table, scorer)
    metrics, kind, shap = bias.report_values(report)
    labels, facet = [int(r[0]) for r in table], [r[1] == 1 for r in table]
    expected = {**bias_report.pre_training(labels, facet), **bias_report.post_training(
        labels, [1 if r[4] >= 700 else 0 for r in table], facet)}
    assert metrics == pytest.approx(expected) and kind == "tree_shap"
    assert shap == {name: (0.5 if name == "credit_score" else 0.0) for name in facts.FEATURES}


def test_clarifys_own_report_layout_is_read_the_same_way():
    """The layout of clarify-processing-job-run.md's "Get the Analysis Results" example."""
    facet = {"gender": [{"value_or_threshold": "1", "metrics": [
        {"name": "DI", "description": "Disparate Impact (DI)", "value": 0.71}]}]}
    report = {"explanations": {"kernel_shap": {"label0": {"global_shap_values": {"income": 0.02, "age": 0.007},
                                                          "expected_value": 0.5}}},
              "pre_training_bias_metrics": {"facets": {"gender": [{"value_or_threshold": "1", "metrics": [
                  {"name": "CI", "description": "Class Imbalance (CI)", "value": 0.5}]}]}},
              "post_training_bias_metrics": {"label": "approved", "label_value_or_threshold": "1", "facets": facet}}
    assert bias.report_values(report) == ({"CI": 0.5, "DI": 0.71}, "kernel_shap", {"income": 0.02, "age": 0.007})


# -- the overfitting rules on fixed series -----------------------------------------------------------

ROUNDS = range(40)
OVERFITTING = ([0.6 * 0.9 ** r for r in ROUNDS], [0.6 - 0.02 * r if r <= 10 else 0.4 + 0.01 * (r - 10) for r in ROUNDS])
CONVERGING = ([0.3 + 0.3 * 0.7 ** r for r in ROUNDS], [0.34 + 0.3 * 0.7 ** r for r in ROUNDS])
NOT_CONVERGING = ([0.69 - 0.004 * r for r in range(30)], [0.69 - 0.0035 * r for r in range(30)])


@pytest.mark.parametrize("series,expected", [
    (OVERFITTING, facts.OVERFITS), (CONVERGING, facts.GOOD_FIT), (NOT_CONVERGING, facts.NOT_CONVERGED),
    (([0.5, 0.6, 0.9, float("nan")], [0.5, 0.6, 0.9, 1.0]), facts.DIVERGES),
    (([0.5, 0.4], [0.5, 0.45]), "too few rounds"),
], ids=["overfitting", "converging", "not converging", "diverging", "too short"])
def test_the_verdict_of_each_fixed_series(series, expected):
    assert diagnose.verdict(*series).label == expected


def test_the_overfitting_verdict_names_the_round_to_stop_at():
    found = diagnose.verdict(*OVERFITTING)
    assert "after round 10" in found.reason and "regularize" in found.reason


def test_stricter_rules_from_the_catalog_change_the_verdict():
    assert diagnose.verdict(*OVERFITTING, facts.DiagnoseRules(gap=10.0)).label != facts.OVERFITS


def test_rounds_are_read_from_either_separator_and_a_resumed_round_keeps_its_last_value():
    messages = ["[0]#011train-logloss:0.60#011validation-logloss:0.61",
                "[1]\ttrain-logloss:0.50\tvalidation-logloss:0.55",
                "[1]#011train-logloss:0.49#011validation-logloss:0.54", "[2]#011train-auc:0.9#011validation-auc:0.8",
                "[2023-01-01 00:00:00.000 ip-10-0-0-1:7 INFO hook.py:491] Hook is writing"]
    assert parse_rounds(messages, "logloss") == [(0, 0.60, 0.61), (1, 0.49, 0.54)]


def test_the_curves_print_on_one_scale_and_draw_a_png(tmp_path):
    train, valid = OVERFITTING
    lines = curves.terminal_curves("overfit", train, valid, "logloss")
    assert len(lines) == 3 and len(lines[1].split()[1]) == len(train) and "best 0.400 at round 10" in lines[2]
    assert len(curves.resample(list(range(500)))) == curves.WIDTH
    png = curves.draw_png(tmp_path / "run.png", "overfit", list(ROUNDS), train, valid, "logloss", "overfits")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- the tables --------------------------------------------------------------------------------------

def test_the_leaderboard_is_best_first_with_each_tuned_value():
    summaries = [{"TrainingJobName": f"mlref-md-tune-x-00{i}-abcd", "TrainingJobStatus": status,
                  "TunedHyperParameters": {"eta": "0.2345", "max_depth": str(i), "min_child_weight": "2",
                                           "subsample": "0.8", "alpha": "0.1"},
                  **({"FinalHyperParameterTuningJobObjectiveMetric": {"MetricName": "validation:auc", "Value": auc}}
                     if auc else {})}
                 for i, status, auc in ((3, "Completed", 0.83), (1, "Stopped", 0.8), (2, "Failed", None))]
    lines = tune.leaderboard_lines(tune.leaderboard_rows(summaries))
    assert [line.split()[0] for line in lines[1:]] == ["1", "2", "3"]
    assert "0.234" in lines[1] and lines[1].endswith("0.8300  Completed") and lines[3].endswith("-  Failed")
    assert tune.comparison_line(0.8, 0.83).startswith("validation AUC: default 0.8000 -> tuned 0.8300 (+0.0300)")


def test_the_approach_table_shows_an_unavailable_row_and_every_set_up():
    rows = [approach.Row("Amazon Comprehend (AI service)", facts.SETUP["comprehend"], 0.7, 150, 0.4, "$0.30"),
            approach.Row("Amazon Bedrock m (foundation model)", facts.SETUP["bedrock"],
                         problem="model access not granted in this account")]
    lines = approach.table(rows, 150)
    assert "0.700" in lines[1] and "0.4 s" in lines[1] and "$0.30" in lines[1]
    assert lines[2].endswith("unavailable: model access not granted in this account")
    assert any(line.strip().startswith("Amazon Bedrock m: none for Amazon's models") for line in lines)


# -- the contract ------------------------------------------------------------------------------------

def test_every_step_is_an_exercise_and_the_four_task_statements_are_covered():
    assert [e.step for e in lab.CONTRACT.exercises] == list(lab.STEPS)
    assert {s for e in lab.CONTRACT.exercises for s in e.statements} == {"1.3", "2.1", "2.2", "2.3"}
    assert all(number in STATEMENTS for e in lab.CONTRACT.exercises for number in e.statements)


def test_the_step_estimates_are_the_price_tables_arithmetic():
    train = price("sagemaker_ml_m5_large_hour") / 60
    assert lab.step_cost("tune")[0] == pytest.approx(7 * 3 * train * 0.3)
    assert lab.step_cost("tune", spot=False)[0] == pytest.approx(7 * 3 * train)
    assert lab.step_cost("diagnose", runs=3)[0] == pytest.approx(3 * 4 * train * 0.3)
    processing = price("sagemaker_processing_ml_m5_large_hour") / 60
    assert lab.step_cost("bias", clarify=False)[0] == pytest.approx(5 * processing)
    assert lab.step_cost("approach", items=300)[0] == pytest.approx(
        3 * train * 0.3 + 300 * 3 * price("comprehend_unit")
        + 300 * (120 * price("bedrock_nova_micro_input_1k") + 3 * price("bedrock_nova_micro_output_1k")) / 1000)
    run = lab.cost(lab.ModelDevelopmentOptions()).per_practice_run
    assert run == pytest.approx(sum(lab.step_cost(step)[0] for step in lab.STEPS)) and run < 2.0


def test_the_tuning_job_name_fits_sagemakers_32_characters():
    from datetime import datetime

    assert len(lab.job_name("tune", lab.run_id(datetime(2099, 12, 31, 23, 59, 59)))) <= 32
