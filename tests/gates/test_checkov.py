"""The checkov gate: every failed check of every synthesized template is in gates/checkov-skips.toml,
with a reason, and every skip there is still used."""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import tomllib
from pathlib import Path

import pytest

from gates.reasons import reason_problem
from tests.conftest import ROOT, once_per_run


def load_checkov_skips() -> list[dict]:
    return tomllib.loads((ROOT / "gates" / "checkov-skips.toml").read_text())["skip"]


def checkov_binary() -> str:
    candidate = os.environ.get("CHECKOV", str(ROOT / ".venv-checkov" / "bin" / "checkov"))
    assert Path(candidate).exists(), f"checkov not installed at {candidate}: run `make test` (it installs it)"
    return candidate


@pytest.fixture(scope="session")
def checkov_failures(request, tmp_path_factory) -> list[dict]:
    """checkov's failed checks, from one run per test run (whichever worker gets there first)."""

    def run() -> str:
        result = subprocess.run(
            [checkov_binary(), "-d", str(request.getfixturevalue("unique_template_dir")), "--framework",
             "cloudformation", "--quiet", "--compact", "-o", "json", "--skip-download"],  # offline: no guideline fetch
            capture_output=True, text=True,
        )
        assert result.returncode in (0, 1), result.stderr[-2000:]
        return result.stdout

    reports = json.loads(once_per_run(tmp_path_factory, "checkov", run))
    reports = reports if isinstance(reports, list) else [reports]
    assert sum(r["summary"]["passed"] for r in reports) > 50, "checkov scanned nothing"
    return [failed for r in reports for failed in r["results"]["failed_checks"]]


def skip_for(failure: dict, skips: list[dict]) -> dict | None:
    for skip in skips:
        if skip["check"] == failure["check_id"] and fnmatch.fnmatchcase(failure["resource"], skip["resource"]):
            return skip
    return None


def test_checkov_has_no_failed_check_outside_the_skip_list(checkov_failures):
    skips = load_checkov_skips()
    unlisted = [
        f"{f['check_id']} {f['resource']} ({Path(f['file_path']).name}): {f['check_name']}"
        for f in checkov_failures if skip_for(f, skips) is None
    ]
    assert unlisted == []


def test_every_checkov_skip_has_a_reason_and_is_still_used(checkov_failures):
    skips = load_checkov_skips()
    used = {id(skip_for(f, skips)) for f in checkov_failures}
    for skip in skips:
        assert reason_problem(skip.get("reason", "")) is None, f"{skip['check']}: weak reason"
        assert id(skip) in used, f"stale checkov skip {skip['check']} {skip['resource']}: remove it"
