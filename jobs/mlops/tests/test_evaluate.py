"""Unit tests of the evaluation script (code/evaluate.py): its AUC, which the SageMaker pipeline's
condition step compares with the threshold, and the report's layout, which the model registry reads.

Run from the repository root: ``python -m unittest discover -s tests -v``.
"""

from __future__ import annotations

import importlib.util
import json
import tempfile
import unittest
from pathlib import Path

import numpy as np

CODE = Path(__file__).resolve().parents[1] / "code"
spec = importlib.util.spec_from_file_location("evaluate", CODE / "evaluate.py")
evaluate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(evaluate)


class AucTest(unittest.TestCase):
    def test_a_perfect_ranking_scores_one_and_a_reversed_one_zero(self):
        labels = np.array([0, 0, 1, 1])
        self.assertEqual(evaluate.roc_auc(labels, np.array([0.1, 0.2, 0.8, 0.9])), 1.0)
        self.assertEqual(evaluate.roc_auc(labels, np.array([0.9, 0.8, 0.2, 0.1])), 0.0)

    def test_ties_count_half(self):
        self.assertEqual(evaluate.roc_auc(np.array([0, 1]), np.array([0.5, 0.5])), 0.5)

    def test_a_known_example(self):
        # positives 0.8, 0.4; negatives 0.6, 0.2: pairs won 0.8>0.6, 0.8>0.2, 0.4>0.2 -> 3 of 4
        auc = evaluate.roc_auc(np.array([1, 0, 1, 0]), np.array([0.8, 0.6, 0.4, 0.2]))
        self.assertAlmostEqual(auc, 0.75)


class ReportTest(unittest.TestCase):
    def test_main_writes_the_metrics_the_registry_reads(self):
        with tempfile.TemporaryDirectory() as work:
            test_dir, out = Path(work) / "test", Path(work) / "evaluation"
            test_dir.mkdir()
            (test_dir / "test.csv").write_text("1,0.3\n0,0.1\n1,0.9\n0,0.4\n")
            report = evaluate.main(["--test", str(test_dir), "--output", str(out)],
                                   predictor=lambda values: values[:, 0])
            written = json.loads((out / "evaluation.json").read_text())
        self.assertEqual(written, report)
        self.assertEqual(written["binary_classification_metrics"]["auc"]["value"], 0.75)
        self.assertEqual(written["test_rows"], 4)


if __name__ == "__main__":
    unittest.main()
