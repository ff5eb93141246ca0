"""Regenerates the endpoint lab's two model artifacts from a fixed seed.

The built-in XGBoost 1.7-1 container (xgboost 1.7.4) loads the first file at the root of
``model.tar.gz``; xgboost 1.7 reads a file named ``*.json`` as its JSON model format. So each
tarball holds exactly one file, ``xgboost-model.json``, saved by xgboost 1.7.x (2.1 and later
save UBJSON under names without an extension, which 1.7 cannot read). The tarballs are
byte-for-byte reproducible: same rows, one thread, fixed seeds, zeroed timestamps and owners.

xgboost 1.7 does not install beside numpy 2 (the project's venv), so use a venv of its own::

    python3 -m venv /tmp/xgb17
    /tmp/xgb17/bin/pip install xgboost==1.7.6 "numpy<2" scipy
    /tmp/xgb17/bin/python -m jobs.endpoint.model.build          # rewrite both tarballs
    /tmp/xgb17/bin/python -m jobs.endpoint.model.build --check  # compare with the shipped ones

Run from the repository root. Before writing, each model's predictions on 200 fresh rows are
compared with ``trees.py``'s plain-Python evaluation (which the tests use without xgboost).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import sys
import tarfile
import tempfile
from pathlib import Path

from jobs.endpoint.model import (
    FEATURES,
    MODEL_A,
    MODEL_B,
    MODEL_FILE,
    TRAINING_SETTINGS,
    labelled_rows,
    synthetic_rows,
)
from jobs.endpoint.model.trees import BoostedTrees

CHECK_ROWS_SEED = 77


def train(settings: dict, rows: list, labels: list[int]) -> bytes:
    """The model's JSON document as xgboost 1.7 saves it."""
    import numpy as np
    import xgboost as xgb

    if not xgb.__version__.startswith("1.7."):
        raise SystemExit(f"xgboost {xgb.__version__} is installed; the 1.7-1 container needs a model saved by "
                         "1.7.x (see this module's docstring)")
    matrix = xgb.DMatrix(np.array(rows, dtype=np.float32), label=np.array(labels))  # no feature names:
    # requests carry none, and a booster with names refuses a matrix without them
    params = {"objective": "binary:logistic", "eval_metric": "auc", "nthread": 1, "seed": 7,
              "tree_method": "exact", **{k: v for k, v in settings.items() if k != "num_round"}}
    booster = xgb.train(params, matrix, num_boost_round=settings["num_round"])
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / MODEL_FILE
        booster.save_model(str(path))
        document = path.read_bytes()
    check = np.array(synthetic_rows(200, seed=CHECK_ROWS_SEED), dtype=np.float32)
    expected = booster.predict(xgb.DMatrix(check))
    evaluated = BoostedTrees(json.loads(document))
    worst = max(abs(evaluated.predict(list(map(float, row))) - float(p))
                for row, p in zip(check, expected, strict=True))
    if worst > 1e-5:
        raise SystemExit(f"trees.py disagrees with xgboost by {worst:g}: fix trees.py before shipping")
    return document


def tarball(document: bytes) -> bytes:
    """``MODEL_FILE`` alone at the root, gzip and tar headers without times or owners."""
    buffer = io.BytesIO()
    with (gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=9) as compressed,
          tarfile.open(fileobj=compressed, mode="w", format=tarfile.USTAR_FORMAT) as archive):
        info = tarfile.TarInfo(MODEL_FILE)
        info.size, info.mode, info.mtime = len(document), 0o644, 0
        archive.addfile(info, io.BytesIO(document))
    return buffer.getvalue()


def build() -> dict[Path, bytes]:
    rows, labels = labelled_rows()
    return {path: tarball(train(TRAINING_SETTINGS[path.name], rows, labels)) for path in (MODEL_A, MODEL_B)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the shipped tarballs, write nothing")
    args = parser.parse_args(argv)
    built = build()
    if args.check:
        stale = [path.name for path, body in built.items() if not path.exists() or path.read_bytes() != body]
        print(f"stale: {', '.join(stale)}" if stale else "both tarballs match a fresh build")
        return 1 if stale else 0
    for path, body in built.items():
        path.write_bytes(body)
        print(f"wrote {path.name}: {len(body)} bytes, {len(FEATURES)} features, {TRAINING_SETTINGS[path.name]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
