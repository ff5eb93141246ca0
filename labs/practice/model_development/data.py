"""The model-development lab's data, generated here (nothing is downloaded): deterministic for a seed.

- A tabular "loan approval" set: 4,000 rows, label first. ``gender`` is the sensitive facet, and exactly
  1,000 rows (a quarter) carry the sensitive value: class imbalance CI = 0.5 by construction. The approval
  depends on credit score, income, debt ratio and years employed, and is pushed down for facet d directly
  and through a proxy (``part_time``, far more common in facet d): dropping ``gender`` would not remove the
  bias, which the SHAP values show. Split 2,800 / 600 / 600 (train / validation / test).
- A labelled text set: short product reviews, positive, negative or neutral, built from phrase banks
  (some negated, so word pairs matter), each under 300 characters (one Comprehend request's 3-unit
  minimum). 300 per class for BlazingText's training, and a disjoint held-out set, a third per class.
"""

from __future__ import annotations

import io
import math
import random
import statistics
from dataclasses import dataclass

from catalog import model_development_facts as facts
from jobs.model_development.bias_report import pre_training

# Population parameters of the generator (z-scores use these, so a row's chance depends on it alone).
CREDIT, INCOME, DEBT, YEARS = (680.0, 70.0), (math.log(55.0), 0.45), (0.35, 0.15), (8.0, 6.0)
WEIGHTS = {"intercept": -0.4, "credit": 1.1, "income": 0.9, "debt": -1.0, "years": 0.3, "part_time": -0.4,
           "gender": -0.8}
PART_TIME_SHARE = {0: 0.15, 1: 0.45}  # by gender: the proxy


def _sigmoid(value: float) -> float:
    return 1 / (1 + math.exp(-value))


def _clip(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


def _row(rng: random.Random, gender: int) -> list[float]:
    age = rng.randint(18, 70)
    income = round(math.exp(rng.gauss(*INCOME)), 1)
    credit = round(_clip(rng.gauss(*CREDIT), 300, 850))
    debt = round(_clip(rng.gauss(*DEBT), 0.0, 0.9), 3)
    years = int(_clip(round(rng.gauss(*YEARS)), 0, min(40, age - 18)))
    accounts = rng.randint(0, 15)
    part_time = 1 if rng.random() < PART_TIME_SHARE[gender] else 0
    logit = (WEIGHTS["intercept"] + WEIGHTS["credit"] * (credit - CREDIT[0]) / CREDIT[1]
             + WEIGHTS["income"] * (math.log(income) - INCOME[0]) / INCOME[1]
             + WEIGHTS["debt"] * (debt - DEBT[0]) / DEBT[1] + WEIGHTS["years"] * (years - YEARS[0]) / YEARS[1]
             + WEIGHTS["part_time"] * part_time + WEIGHTS["gender"] * gender)
    approved = 1 if rng.random() < _sigmoid(logit) else 0
    return [approved, gender, age, income, credit, debt, years, accounts, part_time]


@dataclass(frozen=True)
class TabularSet:
    """The loan set: rows in ``facts.HEADERS`` order (label first), its splits, and what was injected."""

    rows: tuple[tuple[float, ...], ...]
    splits: dict[str, tuple[tuple[float, ...], ...]]

    @property
    def facet_d(self) -> list[bool]:
        return [row[1] == facts.FACET_VALUE for row in self.rows]

    @property
    def injected(self) -> dict[str, float]:
        """CI and DPL of the whole set, computed from their definitions (jobs/model_development/bias_report.py)."""
        return pre_training([int(row[0]) for row in self.rows], self.facet_d)

    def split_of(self, name: str) -> dict[str, float]:
        rows = self.splits[name]
        return pre_training([int(row[0]) for row in rows], [row[1] == facts.FACET_VALUE for row in rows])

    def csv_bytes(self, name: str) -> bytes:
        """A split as built-in XGBoost reads it: label first, no header row."""
        out = io.StringIO()
        for row in self.splits[name]:
            out.write(",".join(f"{value:g}" for value in row) + "\n")
        return out.getvalue().encode()

    def baseline(self) -> list[float]:
        """Each feature's median on the training split: the SHAP baseline row (features only, no label)."""
        train = self.splits["train"]
        return [float(statistics.median(row[i] for row in train)) for i in range(1, len(facts.HEADERS))]


def tabular_set(seed: int = facts.DEFAULT_SEED) -> TabularSet:
    rng = random.Random(seed)
    sensitive = set(rng.sample(range(facts.ROWS), facts.FACET_D_ROWS))
    rows = tuple(tuple(_row(rng, facts.FACET_VALUE if i in sensitive else 0)) for i in range(facts.ROWS))
    order = list(range(facts.ROWS))
    random.Random(seed + 1).shuffle(order)
    splits, start = {}, 0
    for name, size in facts.SPLITS.items():
        splits[name] = tuple(rows[i] for i in order[start:start + size])
        start += size
    return TabularSet(rows=rows, splits=splits)


# -- the text set ----------------------------------------------------------------------------------
PRODUCTS = ("blender", "kettle", "lamp", "backpack", "keyboard", "mouse", "toaster", "fan", "speaker", "charger",
            "jacket", "tent", "drill", "monitor", "chair", "pan", "watch", "camera", "router", "vacuum")
POSITIVE = ("works great", "is excellent", "is sturdy and quiet", "does exactly what i wanted", "is a joy to use",
            "exceeded my expectations", "is worth every penny", "feels solid", "is fast and reliable",
            "looks beautiful", "is easy to set up", "never failed once", "is my new favourite")
NEGATIVE = ("broke after a week", "is flimsy", "stopped working", "is loud and slow", "is a waste of money",
            "arrived damaged", "is not worth it", "feels cheap", "overheats", "is hard to set up",
            "failed on day two", "is not great", "disappointed me")
NEUTRAL = ("arrived on tuesday", "comes in a cardboard box", "is about 30 cm tall", "has two buttons",
           "is grey", "was delivered by courier", "uses a usb cable", "weighs about a kilo",
           "came with a manual", "is the 2024 model", "fits on a shelf", "was bought for my office")
OPENERS = {"positive": ("i love it", "five stars", "great buy", "highly recommended"),
           "negative": ("returned it", "one star", "avoid it", "would not recommend"),
           "neutral": ("nothing else to add", "as described", "ordered last month", "it is what it is")}
CLAUSES = {"positive": POSITIVE, "negative": NEGATIVE, "neutral": NEUTRAL}


def _review(rng: random.Random, label: str) -> str:
    product = rng.choice(PRODUCTS)
    first, second = rng.sample(CLAUSES[label], 2)
    parts = [f"the {product} {first}"]
    if rng.random() < 0.6:
        parts.append(f"it {second}")
    if rng.random() < 0.5:
        parts.append(rng.choice(OPENERS[label]))
    rng.shuffle(parts)
    return (" . ".join(parts) + " .")[: facts.MAX_TEXT_CHARS]


@dataclass(frozen=True)
class TextSet:
    """Labelled reviews: BlazingText's training texts and the held-out texts every approach is scored on."""

    train: tuple[tuple[str, str], ...]    # (text, label)
    heldout: tuple[tuple[str, str], ...]

    @staticmethod
    def blazingtext(items: tuple[tuple[str, str], ...]) -> bytes:
        """``__label__<class> <text>`` per line (blazingtext.html, supervised mode's file format)."""
        return "".join(f"__label__{label} {text}\n" for text, label in items).encode()


def text_set(seed: int = facts.DEFAULT_SEED, items: int = facts.DEFAULT_ITEMS) -> TextSet:
    """``items`` held-out texts (a third per class) and ``facts.TRAIN_PER_CLASS`` training texts per class,
    no text in both."""
    rng = random.Random(seed)
    per_class = items // len(facts.CLASSES)
    train: list[tuple[str, str]] = []
    heldout: list[tuple[str, str]] = []
    seen: set[str] = set()
    for label in facts.CLASSES:
        found: list[str] = []
        while len(found) < facts.TRAIN_PER_CLASS + per_class:
            text = _review(rng, label)
            if text not in seen:
                seen.add(text)
                found.append(text)
        train += [(text, label) for text in found[:facts.TRAIN_PER_CLASS]]
        heldout += [(text, label) for text in found[facts.TRAIN_PER_CLASS:]]
    rng.shuffle(train)
    rng.shuffle(heldout)
    return TextSet(train=tuple(train), heldout=tuple(heldout))
