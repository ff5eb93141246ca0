"""Reads a model artifact and evaluates its trees in plain Python, without xgboost.

Follows xgboost's JSON model format (``learner.gradient_booster.model.trees``): each tree
holds parallel arrays indexed by node; a node whose left child is -1 is a leaf whose value
is its ``split_conditions`` entry; a row goes left when its feature is below the split
condition (compared as float32, as xgboost does) and to the default side when missing. The
margin is the base score's logit plus the sum of leaves; binary:logistic answers its sigmoid.
"""

from __future__ import annotations

import io
import json
import math
import struct
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def _f32(value: float) -> float:
    return struct.unpack("f", struct.pack("f", value))[0]


@dataclass(frozen=True)
class Tree:
    left: list[int]
    right: list[int]
    feature: list[int]
    threshold: list[float]
    default_left: list[int]

    @classmethod
    def from_json(cls, tree: dict[str, Any]) -> Tree:
        return cls(tree["left_children"], tree["right_children"], tree["split_indices"],
                   [_f32(value) for value in tree["split_conditions"]], tree["default_left"])

    def leaf(self, row: Sequence[float | None]) -> float:
        node = 0
        while self.left[node] != -1:
            value = row[self.feature[node]]
            if value is None or math.isnan(value):
                node = self.left[node] if self.default_left[node] else self.right[node]
            else:
                node = self.left[node] if _f32(value) < self.threshold[node] else self.right[node]
        return self.threshold[node]


@dataclass(frozen=True)
class BoostedTrees:
    """An xgboost gbtree model read from its JSON document."""

    document: dict[str, Any]

    @property
    def learner(self) -> dict[str, Any]:
        return self.document["learner"]

    @property
    def objective(self) -> str:
        return self.learner["objective"]["name"]

    @property
    def num_feature(self) -> int:
        return int(self.learner["learner_model_param"]["num_feature"])

    @property
    def version(self) -> tuple[int, ...]:
        return tuple(self.document["version"])

    @property
    def trees(self) -> list[Tree]:
        booster = self.learner["gradient_booster"]
        if booster["name"] != "gbtree":
            raise ValueError(f"booster {booster['name']!r} is not gbtree")
        return [Tree.from_json(tree) for tree in booster["model"]["trees"]]

    def predict(self, row: Sequence[float | None]) -> float:
        if self.objective != "binary:logistic":
            raise ValueError(f"objective {self.objective!r}: only binary:logistic is evaluated here")
        base = float(self.learner["learner_model_param"]["base_score"])
        margin = math.log(base / (1 - base)) + sum(tree.leaf(row) for tree in self.trees)
        return 1 / (1 + math.exp(-margin))


def members(tarball: Path) -> list[tarfile.TarInfo]:
    with tarfile.open(tarball, "r:gz") as archive:
        return archive.getmembers()


def read_model(tarball: Path) -> BoostedTrees:
    """The model in ``tarball``: its one member, parsed as xgboost JSON."""
    with tarfile.open(tarball, "r:gz") as archive:
        (member,) = archive.getmembers()
        body = archive.extractfile(member)
        if body is None:
            raise ValueError(f"{tarball.name}: {member.name} is not a file")
        return BoostedTrees(json.load(io.TextIOWrapper(body, encoding="utf-8")))
