"""The endpoint lab's model: synthetic tabular data and the two XGBoost artifacts trained on it.

Pure Python (no numpy, no xgboost), so the practice step and the tests can use it anywhere.
``build.py`` beside this file regenerates ``model-a.tar.gz`` and ``model-b.tar.gz`` from the
same rows (it needs xgboost 1.7.x; see its docstring); ``trees.py`` evaluates them.

The data: customers of a subscription service and whether they cancel (1) or stay (0).
Requests to the endpoint are these features as one CSV line, no header, no label, in this
order; a missing value is an empty field.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
FEATURES = ("tenure_months", "monthly_spend", "support_calls", "sessions_7d", "discount_pct", "age")
TRAINING_SEED = 1601
TRAINING_ROWS = 4000
# One file at the root of each tarball, named so xgboost 1.7 reads it as JSON (by its extension).
MODEL_FILE = "xgboost-model.json"
MODEL_A = HERE / "model-a.tar.gz"
MODEL_B = HERE / "model-b.tar.gz"
# Different training settings on the same rows: a shallow, fast model and a deeper one.
TRAINING_SETTINGS = {
    MODEL_A.name: {"max_depth": 2, "eta": 0.3, "num_round": 30},
    MODEL_B.name: {"max_depth": 4, "eta": 0.1, "num_round": 60, "subsample": 0.8},
}
MISSING_FEATURE = "support_calls"  # left empty in part of the drifted traffic

Row = list[float | None]


def _customer(rng: random.Random, *, drift: bool = False) -> Row:
    tenure = rng.randint(1, 72)
    spend = round(rng.lognormvariate(3.6, 0.35) * (2.5 if drift else 1.0), 2)
    calls = min(12, int(rng.expovariate(1 / 1.5)))
    sessions = max(0, int(rng.gauss(9 - calls * 0.6, 3)))
    discount = rng.choice((0, 0, 0, 5, 10, 15, 20))
    age = rng.randint(18, 80)
    return [float(tenure), spend, float(calls), float(sessions), float(discount), float(age)]


def churn_probability(row: Sequence[float]) -> float:
    """The ground truth the models learn: short tenure, many support calls and few sessions cancel."""
    tenure, spend, calls, sessions, discount, age = row
    score = -0.2 - 0.045 * tenure + 0.55 * calls - 0.18 * sessions + 0.012 * spend - 0.04 * discount \
        + (0.4 if age < 25 else 0.0)
    return 1 / (1 + math.exp(-score))


def synthetic_rows(count: int, *, seed: int) -> list[Row]:
    """``count`` customers drawn as the models were trained on (the same rows for the same seed)."""
    rng = random.Random(seed)
    return [_customer(rng) for _ in range(count)]


def drifted_rows(count: int, *, seed: int, missing_share: float = 0.25) -> list[Row]:
    """Customers whose monthly spend is 2.5 times higher than in training, and whose support
    calls are missing for ``missing_share`` of them: traffic Model Monitor should flag."""
    rng = random.Random(seed)
    missing = FEATURES.index(MISSING_FEATURE)
    rows = []
    for _ in range(count):
        row = _customer(rng, drift=True)
        if rng.random() < missing_share:
            row[missing] = None
        rows.append(row)
    return rows


def labelled_rows(count: int = TRAINING_ROWS, *, seed: int = TRAINING_SEED) -> tuple[list[Row], list[int]]:
    """The training set: the rows of ``synthetic_rows`` and a label drawn from ``churn_probability``."""
    rows = synthetic_rows(count, seed=seed)
    rng = random.Random(seed + 1)
    return rows, [int(rng.random() < churn_probability(row)) for row in rows]


def csv_line(row: Row) -> str:
    """One request body: the features in order, no header, no label; missing values empty."""
    return ",".join("" if value is None else f"{value:g}" for value in row)
