"""The generated blocks of the documentation: tables and lists rendered from the catalog between
``<!-- name: ... -->`` and ``<!-- /name -->`` in README.md and docs/*.md, so no figure is copied by hand.

    .venv/bin/python -m catalog.blocks      # rewrites every block in place, prints the files it changed

tests/unit/test_docs.py fails when a block differs from what this renders.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from catalog import LABS
from catalog.exam_tables import gaps_block, matrix_block, steps_block, steps_tables
from catalog.paths import ROOT
from catalog.tables import context_table, lab_table

BLOCK = re.compile(r"(<!-- (?P<name>[a-z-]+):[^>]*-->\n)(?P<body>.*?)(\n<!-- /(?P=name) -->)", re.S)
DOCS = ROOT / "docs"


def lab_guides(page: Path) -> list[str]:
    """One line per lab: a link to its guide (relative to ``page``) and what it demonstrates."""
    base = os.path.relpath(DOCS / "labs", page.parent)
    return [f"- [`{name}`]({base}/{name}.md): {lab.demonstrates}" for name, lab in LABS.items()]


def lab_exam(page: Path) -> list[str]:
    """On a lab's guide (``docs/labs/<lab>.md``): its practice steps and the MLA-C01 task statements and
    bullets each exercises."""
    return steps_tables({page.stem: LABS[page.stem].exercises})[2:]


GENERATORS: dict[str, Callable[[Path], list[str]]] = {
    "lab-table": lambda _page: lab_table(),
    "context-table": lambda _page: context_table(),
    "lab-guides": lab_guides,
    "exam-matrix": lambda _page: matrix_block(),
    "exam-gaps": lambda _page: gaps_block(),
    "exam-steps": lambda _page: steps_block(),
    "lab-exam": lab_exam,
}


def pages() -> list[Path]:
    """Every Markdown page that may hold generated blocks."""
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def rendered(page: Path, text: str) -> str:
    """``text`` of ``page`` with each known block rendered anew; unknown block names are left alone."""
    def render(match: re.Match) -> str:
        generate = GENERATORS.get(match.group("name"))
        if generate is None:
            return match.group(0)
        return match.group(1) + "\n".join(generate(page)) + match.group(4)

    return BLOCK.sub(render, text)


def block_names(text: str) -> list[str]:
    return [match.group("name") for match in BLOCK.finditer(text)]


def main() -> None:
    for page in pages():
        text = page.read_text()
        new = rendered(page, text)
        if new != text:
            page.write_text(new)
            print(page.relative_to(ROOT))


if __name__ == "__main__":
    main()
