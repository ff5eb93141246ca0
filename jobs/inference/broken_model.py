"""The inference lab's broken version: model A told it has five features instead of six.

The built-in XGBoost 1.7-1 container only loads the model for its health check (``/ping``), so
this version deploys and passes it; every request carries six columns, so each prediction fails
("Number of columns does not match number of features in booster", 5 vs. 6) and the container
answers HTTP 400: ``Invocation4XXErrors`` rise, the rollback alarm fires, the rollout rolls back.
(Seen with xgboost 1.7.6 by the lab's researcher; the container has 1.7.4. Telling a six-column
model it has seven features does not break it: xgboost then predicts on six.)

Pure Python and reproducible: the same JSON edit of the shipped ``model-a.tar.gz``, written with
the endpoint lab's deterministic tarball (one file, no times or owners)::

    .venv/bin/python -m jobs.inference.broken_model          # rewrite model-broken.tar.gz
    .venv/bin/python -m jobs.inference.broken_model --check  # compare with the shipped one
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
from pathlib import Path

from jobs.endpoint.model import FEATURES, MODEL_A, MODEL_FILE
from jobs.endpoint.model.build import tarball

MODEL_BROKEN = Path(__file__).resolve().parent / "model-broken.tar.gz"
BROKEN_FEATURES = len(FEATURES) - 1


def model_document(path: Path = MODEL_A) -> dict:
    """The XGBoost JSON model inside a shipped tarball."""
    with tarfile.open(path) as archive:
        member = archive.getmember(MODEL_FILE)
        return json.loads(archive.extractfile(member).read())


def broken_document(document: dict) -> dict:
    """``document`` with one feature fewer in its learner parameters, nothing else changed."""
    broken = json.loads(json.dumps(document))
    broken["learner"]["learner_model_param"]["num_feature"] = str(BROKEN_FEATURES)
    return broken


def build() -> bytes:
    document = broken_document(model_document())
    return tarball(json.dumps(document, separators=(",", ":")).encode())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the shipped tarball, write nothing")
    args = parser.parse_args(argv)
    body = build()
    if args.check:
        same = MODEL_BROKEN.is_file() and MODEL_BROKEN.read_bytes() == body
        print("model-broken.tar.gz matches a fresh build" if same else "stale: model-broken.tar.gz")
        return 0 if same else 1
    MODEL_BROKEN.write_bytes(body)
    print(f"wrote {MODEL_BROKEN.name}: {len(body)} bytes, num_feature {BROKEN_FEATURES} of {len(FEATURES)} columns")
    return 0


if __name__ == "__main__":
    sys.exit(main())
