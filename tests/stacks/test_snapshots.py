"""Snapshot of every lab template in both profiles, asset hashes scrubbed."""

from __future__ import annotations

import re

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")


def scrub(value):
    """Replaces asset hashes (64 hex digits) wherever they appear."""
    if isinstance(value, dict):
        return {key: scrub(item) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item) for item in value]
    if isinstance(value, str):
        return ASSET_HASH.sub("<asset-hash>", value)
    return value


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("profile", ["sandbox", "production"])
def test_templates_match_snapshot(synthesized, profile, snapshot_json):
    for lab, template in sorted(synthesized[profile].templates.items()):
        assert scrub(template) == snapshot_json(name=f"{profile}-{lab}")


def test_scrub_removes_asset_hashes_only():
    template = {"Code": {"S3Key": "a" * 64 + ".zip"}, "Name": "raw-zone", "Tags": ["b" * 64]}
    assert scrub(template) == {"Code": {"S3Key": "<asset-hash>.zip"}, "Name": "raw-zone", "Tags": ["<asset-hash>"]}
