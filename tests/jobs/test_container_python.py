"""Job code that SageMaker runs in an older container needs no newer Python than that container has: the
scikit-learn 1.2-1 image runs Python 3.9 and the XGBoost 1.7-1 image Python 3.8 (pyproject.toml names each
file's target, which ruff lints for). vermin finds the newest feature a file uses (zip(strict=), match, ...)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import ROOT

TARGETS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["per-file-target-version"]


def newest_python_needed(path, target: str) -> subprocess.CompletedProcess:
    """vermin with the container's Python as the highest allowed (``3.8-``)."""
    version = f"{target[2]}.{target[3:]}-"
    vermin = Path(sys.executable).with_name("vermin")  # its console script, installed beside this Python
    return subprocess.run([str(vermin), "--no-tips", "--violations", f"-t={version}", str(path)],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("path", sorted(TARGETS))
def test_job_code_runs_on_its_containers_python(path):
    result = newest_python_needed(ROOT / path, TARGETS[path])
    assert result.returncode == 0, f"{path} needs a newer Python than {TARGETS[path]}:\n{result.stdout}"


def test_a_newer_feature_is_caught(tmp_path):
    script = tmp_path / "job.py"
    script.write_text("pairs = list(zip([1], [2], strict=True))\n")
    result = newest_python_needed(script, "py38")
    assert result.returncode != 0 and "zip(strict)" in result.stdout, result.stdout
