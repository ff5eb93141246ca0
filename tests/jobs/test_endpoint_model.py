"""The endpoint lab's shipped model artifacts, checked without xgboost or network: each tarball
holds exactly what the XGBoost 1.7-1 container loads, both are trained on the lab's features,
and their trees, evaluated in plain Python, score the data well and differently."""

from __future__ import annotations

import math
import tarfile

import pytest

from jobs.endpoint.model import (
    FEATURES,
    MISSING_FEATURE,
    MODEL_A,
    MODEL_B,
    MODEL_FILE,
    TRAINING_SETTINGS,
    csv_line,
    drifted_rows,
    labelled_rows,
    synthetic_rows,
)
from jobs.endpoint.model.trees import members, read_model


@pytest.fixture(scope="module", params=[MODEL_A, MODEL_B], ids=lambda p: p.name)
def artifact(request):
    return request.param


def test_exactly_one_regular_file_at_the_root_named_as_a_json_model(artifact):
    (member,) = members(artifact)
    assert member.name == MODEL_FILE == "xgboost-model.json"  # 1.7 picks JSON by the extension
    assert member.type == tarfile.REGTYPE and "/" not in member.name and member.size > 1000
    assert member.mtime == 0 and member.uid == member.gid == 0  # reproducible bytes


def test_the_model_is_a_gbtree_binary_classifier_saved_by_xgboost_1_7_over_the_lab_features(artifact):
    model = read_model(artifact)
    assert model.version[:2] == (1, 7)  # the container runs 1.7.4: no model from a newer release
    assert model.objective == "binary:logistic"
    assert model.num_feature == len(FEATURES) == 6
    assert model.learner["feature_names"] == []  # requests carry no names; a named booster would refuse them
    trees = model.trees
    assert len(trees) == TRAINING_SETTINGS[artifact.name]["num_round"]
    depth = TRAINING_SETTINGS[artifact.name]["max_depth"]
    for tree in trees:
        assert max(tree.feature) < len(FEATURES) and len(tree.left) <= 2 ** (depth + 1) - 1


def auc(scores, labels):
    positives = [s for s, y in zip(scores, labels, strict=True) if y]
    negatives = [s for s, y in zip(scores, labels, strict=True) if not y]
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def test_both_models_rank_fresh_customers_well_and_differently():
    rows, labels = labelled_rows(400, seed=4242)
    a, b = read_model(MODEL_A), read_model(MODEL_B)
    scores_a, scores_b = [a.predict(r) for r in rows], [b.predict(r) for r in rows]
    assert all(0 < s < 1 for s in scores_a + scores_b)
    assert auc(scores_a, labels) > 0.75 and auc(scores_b, labels) > 0.75
    differences = [abs(x - y) for x, y in zip(scores_a, scores_b, strict=True)]
    assert sum(d > 0.01 for d in differences) > len(rows) / 4  # two models, not one twice
    assert max(differences) > 0.05


def test_a_missing_value_takes_the_trees_default_branch():
    row = synthetic_rows(1, seed=3)[0]
    missing = list(row)
    missing[FEATURES.index(MISSING_FEATURE)] = None
    for model in (read_model(MODEL_A), read_model(MODEL_B)):
        assert 0 < model.predict(missing) < 1
        assert model.predict([math.nan if v is None else v for v in missing]) == model.predict(missing)


def test_requests_are_csv_without_header_or_label_and_drift_is_visible():
    (line,) = [csv_line(r) for r in synthetic_rows(1, seed=9)]
    assert len(line.split(",")) == len(FEATURES) and not any(c.isalpha() for c in line)
    normal = synthetic_rows(300, seed=11)
    drifted = drifted_rows(300, seed=11)
    spend = FEATURES.index("monthly_spend")
    assert sum(r[spend] for r in drifted) > 2 * sum(r[spend] for r in normal)
    empty = [csv_line(r) for r in drifted if r[FEATURES.index(MISSING_FEATURE)] is None]
    assert 40 < len(empty) < 120 and all(",," in line for line in empty)
    assert synthetic_rows(5, seed=1) == synthetic_rows(5, seed=1)  # the same rows every time
