"""The Lambda asset factory: handler folders plus shared modules."""

from __future__ import annotations

import pytest

from catalog.paths import LAMBDAS_DIR
from cdk_constructs.core.functions import _staged_with_shared_modules, function_code


def test_shared_modules_are_staged_beside_the_handler_and_the_copy_is_reused():
    staged = _staged_with_shared_modules(LAMBDAS_DIR / "data_lake_lf_cleanup", ["cfn_response"])
    modules = sorted(p.name for p in staged.iterdir() if p.suffix == ".py")
    assert modules == ["__init__.py", "cfn_response.py", "index.py"]
    assert (staged / "cfn_response.py").read_text() == (LAMBDAS_DIR / "shared" / "cfn_response.py").read_text()
    assert _staged_with_shared_modules(LAMBDAS_DIR / "data_lake_lf_cleanup", ["cfn_response"]) == staged


def test_the_staged_copy_changes_with_the_content(tmp_path):
    handler = tmp_path / "handler"
    handler.mkdir()
    (handler / "index.py").write_text("VALUE = 1\n")
    first = _staged_with_shared_modules(handler, ["cfn_response"])
    (handler / "index.py").write_text("VALUE = 2\n")
    second = _staged_with_shared_modules(handler, ["cfn_response"])
    assert first != second and (second / "index.py").read_text() == "VALUE = 2\n"


def test_unknown_handler_or_shared_module_is_refused():
    with pytest.raises(FileNotFoundError, match="lambda handler not found"):
        function_code("no_such_handler")
    with pytest.raises(FileNotFoundError, match="shared lambda modules not found"):
        function_code("data_lake_lf_cleanup", ["no_such_module"])
