"""The README's generated tables are the contracts' own figures (no copy to drift)."""

from __future__ import annotations

import re

from catalog.tables import context_table, lab_table
from tests.conftest import ROOT


def block(name: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"<!-- {name}:[^>]*-->\n(.*?)\n<!-- /{name} -->", text, re.S)
    assert match, f"README.md has no {name} block"
    return match.group(1).splitlines()


def test_the_lab_table_is_rendered_from_the_contracts():
    assert block("lab-table") == lab_table(), "run `.venv/bin/python -m catalog.tables` and paste the lab table"


def test_the_context_table_is_rendered_from_the_contracts():
    assert block("context-table") == context_table(), "run `.venv/bin/python -m catalog.tables` and paste it"


def test_the_readme_opens_with_the_two_set_up_commands():
    head = (ROOT / "README.md").read_text().splitlines()[:12]
    assert "make synth" in "\n".join(head) and "make test" in "\n".join(head)


def test_every_lab_has_its_diagram_drawn_and_shown():
    from catalog import LABS

    text = (ROOT / "README.md").read_text()
    for name in LABS:
        for suffix in ("svg", "png"):
            assert (ROOT / "docs" / "diagrams" / f"{name}.{suffix}").is_file(), f"run `make diagrams` ({name})"
        assert f"| {name} | [![{name}](docs/diagrams/{name}.png)](docs/diagrams/{name}.svg) |" in text, name


def test_the_classroom_section_states_the_contracts_class_sizes():
    """The largest class and the batch sizes come from catalog/classroom.py, not a copy."""
    from catalog import classroom

    text = re.sub(r"\s+", " ", (ROOT / "README.md").read_text())
    assert f"The largest self-managed class is **{classroom.LARGEST_SELF_MANAGED_CLASS} accounts**" in text
    assert f"per {classroom.ACCOUNTS_PER_ADMIN_POLICY} accounts, and every {classroom.ACCOUNTS_PER_SHELF} accounts" in text
