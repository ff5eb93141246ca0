"""The layout keeps its promises: dependencies point one way, no module imports itself back, a lab is
findable by its name, no source module grows past 400 lines, and ruff (configured in pyproject.toml)
finds nothing."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections import defaultdict
from functools import cache

import pytest

from catalog import LABS
from tests.conftest import ROOT

MAX_LINES = 400
# What each top-level package may import (besides itself and the standard library and PyPI).
ALLOWED = {
    "app": {"stacks", "cdk_constructs", "catalog", "labs", "lambdas"},
    "stacks": {"cdk_constructs", "catalog", "lambdas", "jobs"},
    "cdk_constructs": {"catalog", "lambdas", "jobs"},
    "catalog": {"lambdas"},  # lambdas/shared/lab_names.py: names with no imports, shared with the handlers
    "labs": {"catalog", "lambdas", "jobs"},
    "jobs": set(),
    "lambdas": set(),
    "gates": {"catalog", "labs"},
    "bench": {"app", "catalog", "labs", "gates"},
}
# The other things a lab's code names, besides imports: a Lambda handler folder, a jobs folder, and
# ``module:attribute`` strings in its catalog entry (stack, practice, preflight).
HANDLER = re.compile(r'handler_dir="(\w+)"')
# Modules that serve one lab today but are shared building blocks by design, each with why.
SHARED_BY_DESIGN = {
    "jobs.endpoint.model.build": "the endpoint lab's sample model, whose tarball writer the inference lab reuses for "
                                 "its broken version",
    "jobs.endpoint.model.trees": "the sample model's reader, behind its builder",
}
JOBS = re.compile(r'JOBS_DIR / "(\w+)"')
DOTTED = re.compile(r'"([a-z_][\w.]*):[A-Za-z_]\w*"')


def tracked(pattern: str = "*.py") -> list[str]:
    return subprocess.run(["git", "ls-files", pattern], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.split()


def module_of(path: str) -> str:
    dotted = path[:-3].replace("/", ".")
    return dotted.removesuffix(".__init__")


@cache
def graph(references: bool = False) -> dict[str, set[str]]:
    """module -> the modules it imports; with ``references`` also those it names by folder or string."""
    files = [f for f in tracked() if not f.startswith("tests/")]
    modules = {module_of(f): f for f in files}
    edges: dict[str, set[str]] = defaultdict(set)

    def add(source: str, name: str) -> None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name and name != source:
            edges[source].add(name)

    for module, path in modules.items():
        text = (ROOT / path).read_text()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    add(module, alias.name)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    add(module, f"{node.module}.{alias.name}")
        if not references:
            continue
        for folder in HANDLER.findall(text):
            add(module, f"lambdas.{folder}.index")
        for folder in JOBS.findall(text):
            edges[module].update(m for m in modules if m.startswith(f"jobs.{folder}."))
        for name in DOTTED.findall(text):
            add(module, name)
    for module in modules:
        edges.setdefault(module, set())
    return dict(edges)


def test_dependencies_point_one_way():
    wrong = sorted(f"{a} -> {b}" for a, targets in graph().items() for b in targets
                   if a.split(".")[0] != b.split(".")[0]
                   and b.split(".")[0] not in ALLOWED.get(a.split(".")[0], set()))
    assert wrong == []


def test_no_module_imports_tests():
    assert not any(b.startswith("tests") for targets in graph().values() for b in targets)


def test_no_import_circles():
    """Tarjan's strongly connected components over the import graph: every one is a single module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph()[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in graph():
        if node not in index:
            visit(node)
    assert circles == []


def owners() -> dict[str, set[str]]:
    """module -> the labs (and the janitor and classroom) whose code reaches it."""
    roots: dict[str, list[str]] = {name: [f"stacks.{m}", f"catalog.{m}", f"labs.practice.{m}"]
                                   for name, m in ((n, n.replace("-", "_")) for n in LABS)}
    roots["janitor"] = ["stacks.janitor"]
    roots["app"] = ["app"]
    roots["command"] = ["labs.cli", "labs.__main__"]
    roots["classroom"] = ["stacks.classroom", "catalog.classroom", "labs.classroom"]
    found: dict[str, set[str]] = defaultdict(set)
    for owner, prefixes in roots.items():
        todo = [m for m in graph(True) if any(m == p or m.startswith(p + ".") for p in prefixes)]
        seen = set(todo)
        while todo:
            for target in graph(True)[todo.pop()]:
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        for module in seen:
            found[module].add(owner)
    return found


def test_a_lab_is_findable_by_its_name():
    """Every module that serves one lab alone has the lab's name in its path (`git ls-files | grep <lab>`)."""
    alone = {module: owner for module, (owner, *more) in ((m, sorted(o)) for m, o in owners().items()) if not more}
    misplaced = sorted(f"{module} ({owner})" for module, owner in alone.items() if module not in SHARED_BY_DESIGN
                       and owner not in {"app", "command"} and owner.replace("-", "_") not in module)
    assert misplaced == []
    stale = [module for module in SHARED_BY_DESIGN if module not in alone]
    assert stale == [], "shared by several labs now: drop them from SHARED_BY_DESIGN"


@pytest.mark.parametrize("lab", list(LABS))
def test_each_labs_files_carry_its_name(lab):
    """Its catalog entry, stack, practice package and guide exist where a newcomer looks for them."""
    module = lab.replace("-", "_")
    files = set(tracked("*"))
    expected = {f"catalog/{module}.py", f"stacks/{module}.py", f"labs/practice/{module}/command.py",
                f"docs/labs/{lab}.md", f"tests/stacks/test_{module}.py", f"tests/practice/test_{module}_practice.py"}
    assert expected <= files, sorted(expected - files)


def test_no_source_module_is_over_the_limit():
    long = {f: n for f in tracked() if not f.startswith("tests/")
            and (n := len((ROOT / f).read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_ruff_finds_nothing():
    """The whole checkout against pyproject.toml's rules; a finding fails here, listed (file:line:col code)."""
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", "."],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"ruff check . found:\n{result.stdout}{result.stderr}"
