"""The inference lab's broken version: model A with one feature fewer, nothing else changed, shipped
as a reproducible tarball (one file at its root, the name the XGBoost 1.7 container reads as JSON)."""

from __future__ import annotations

import io
import json
import tarfile

from jobs.endpoint.model import FEATURES, MODEL_FILE
from jobs.endpoint.model.trees import BoostedTrees
from jobs.inference import broken_model
from jobs.inference.broken_model import MODEL_BROKEN, broken_document, build, model_document


def test_the_shipped_tarball_is_a_fresh_build():
    assert MODEL_BROKEN.read_bytes() == build()
    assert broken_model.main(["--check"]) == 0


def test_it_holds_one_json_model_at_its_root_without_times_or_owners():
    with tarfile.open(fileobj=io.BytesIO(MODEL_BROKEN.read_bytes())) as archive:
        (member,) = archive.getmembers()
        assert (member.name, member.mtime, member.uid, member.uname) == (MODEL_FILE, 0, 0, "")
        document = json.loads(archive.extractfile(member).read())
    assert document == broken_document(model_document())


def test_only_the_feature_count_differs_from_model_a():
    original = model_document()
    broken = broken_document(original)
    assert broken["learner"]["learner_model_param"]["num_feature"] == str(len(FEATURES) - 1)
    broken["learner"]["learner_model_param"]["num_feature"] = str(len(FEATURES))
    assert broken == original
    assert original["learner"]["learner_model_param"]["num_feature"] == "6"  # the edit did not touch model A


def test_its_trees_still_predict_like_model_a_so_only_the_container_check_fails():
    original, broken = model_document(), broken_document(model_document())
    row = [12.0, 40.0, 3.0, 4.0, 0.0, 30.0]
    assert BoostedTrees(broken).predict(row) == BoostedTrees(original).predict(row)
