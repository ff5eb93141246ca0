"""Unit tests of the preprocessing script (code/preprocess.py), run by CodeBuild before any training:
the defects it must handle, the split, and that nothing of validation or test leaks into the scaling.

Run from the repository root: ``python -m unittest discover -s tests -v``.
"""

from __future__ import annotations

import importlib.util
import json
import random
import tempfile
import unittest
from pathlib import Path

import pandas as pd

CODE = Path(__file__).resolve().parents[1] / "code"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, CODE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


preprocess = load("preprocess")


def customers(rows: int, seed: int = 3) -> pd.DataFrame:
    """Clean rows: two contracts churn more than the third, so both classes are there."""
    rng = random.Random(seed)
    records = []
    for number in range(rows):
        contract = rng.choice(preprocess.CONTRACTS)
        records.append({"customer_id": f"c{number}", "tenure_months": rng.randint(0, 72),
                        "monthly_charges": round(rng.uniform(15, 150), 2), "support_calls": rng.randint(0, 6),
                        "sessions_30d": rng.randint(0, 40), "contract": contract,
                        "churned": int(contract == "monthly" and rng.random() < 0.7)})
    return pd.DataFrame.from_records(records)


class CleanTest(unittest.TestCase):
    def test_exact_duplicates_are_dropped(self):
        raw = customers(50)
        cleaned, counts = preprocess.clean(pd.concat([raw, raw.iloc[:5]], ignore_index=True))
        self.assertEqual(counts["duplicates_dropped"], 5)
        self.assertEqual(len(cleaned), 50)

    def test_rows_without_a_label_are_dropped(self):
        raw = customers(40)
        raw.loc[[3, 7], "churned"] = None
        cleaned, counts = preprocess.clean(raw)
        self.assertEqual(counts["unlabeled_dropped"], 2)
        self.assertNotIn("c3", set(cleaned["customer_id"]))

    def test_impossible_values_become_missing(self):
        raw = customers(30)
        raw.loc[0, "tenure_months"] = -4
        raw.loc[1, "monthly_charges"] = 0
        cleaned, counts = preprocess.clean(raw)
        self.assertEqual(counts["invalid_values_imputed"], 2)
        self.assertTrue(pd.isna(cleaned.loc[0, "tenure_months"]))


class SplitTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.TemporaryDirectory()
        root = Path(cls.work.name)
        (root / "raw").mkdir()
        customers(600).to_csv(root / "raw" / "customers.csv", index=False)
        cls.report = preprocess.main(["--input", str(root / "raw"), "--output", str(root / "out")])
        cls.out = root / "out"

    @classmethod
    def tearDownClass(cls):
        cls.work.cleanup()

    def test_splits_are_70_15_15(self):
        rows = self.report["rows"]
        self.assertEqual(sum(rows.values()), 600)
        self.assertAlmostEqual(rows["train"] / 600, 0.70, delta=0.01)
        self.assertAlmostEqual(rows["test"] / 600, 0.15, delta=0.01)

    def test_each_split_is_label_first_without_a_header(self):
        for name in ("train", "validation", "test"):
            first = (self.out / name / f"{name}.csv").read_text().splitlines()[0].split(",")
            self.assertIn(float(first[0]), (0.0, 1.0))
            self.assertEqual(len(first), 1 + len(self.report["features"]))

    def test_the_scaling_is_fitted_on_the_training_split_only(self):
        train = pd.read_csv(self.out / "train" / "train.csv", header=None)
        scaled_means = train.iloc[:, 1:1 + len(preprocess.NUMERIC)].mean()
        for value in scaled_means:  # standardized with the training split's own mean: ~0 there
            self.assertAlmostEqual(value, 0.0, delta=1e-6)

    def test_the_report_names_what_it_did(self):
        written = json.loads((self.out / "report" / "preprocessing.json").read_text())
        self.assertEqual(written["duplicates_dropped"], 0)
        self.assertEqual(set(written["train_medians"]), set(preprocess.NUMERIC))


if __name__ == "__main__":
    unittest.main()
