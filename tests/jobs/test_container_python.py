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


GENERIC_BEFORE_39 = {"list", "dict", "tuple", "set", "frozenset", "type", "Callable", "Sequence", "Mapping",
                     "Iterable", "Iterator"}


def subscripted_at_run_time(source: str) -> list[str]:
    """Builtin or collections.abc generics subscripted outside annotations and ``if TYPE_CHECKING:``, e.g. a
    module-level alias ``Scorer = Callable[[list[float]], float]``: a TypeError at import on Python 3.8, which
    vermin does not report (it checks annotations only with --eval-annotations, and those are strings here)."""
    import ast

    tree, found = ast.parse(source), []

    def visit(node, in_annotation=False):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return
        if (isinstance(node, ast.Subscript) and not in_annotation and isinstance(node.value, ast.Name | ast.Attribute)
                and ast.unparse(node.value).rsplit(".", 1)[-1] in GENERIC_BEFORE_39):
            found.append(f"line {node.lineno}: {ast.unparse(node)[:60]}")
            return
        for name, child in ast.iter_fields(node):
            annotation = in_annotation or name in ("annotation", "returns")
            for item in child if isinstance(child, list) else [child]:
                if isinstance(item, ast.AST):
                    visit(item, annotation)

    visit(tree)
    return found


@pytest.mark.parametrize("path", sorted(path for path, target in TARGETS.items() if target == "py38"))
def test_job_code_for_python_3_8_subscripts_no_generic_at_run_time(path):
    assert subscripted_at_run_time((ROOT / path).read_text()) == []


def test_a_run_time_generic_alias_is_caught_and_annotations_are_not():
    source = ("from __future__ import annotations\nfrom typing import TYPE_CHECKING\n"
              "Scorer = Callable[[list[float]], float]\n"
              "def f(rows: list[list[float]]) -> dict[str, int]:\n    return {}\n"
              "if TYPE_CHECKING:\n    Alias = list[int]\n")
    assert subscripted_at_run_time(source) == ["line 3: Callable[[list[float]], float]"]
