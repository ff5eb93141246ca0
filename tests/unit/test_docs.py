"""The documentation: the README is the front door, each lab has its guide and diagram, every generated
block is what the catalog renders, and the site builds in strict mode (a broken link or anchor fails)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from catalog import LABS, classroom
from catalog.blocks import GENERATORS, block_names, pages, rendered
from tests.conftest import ROOT

README_LINES = 300


def test_the_readme_opens_with_the_two_set_up_commands_and_stays_a_front_door():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert "make synth" in "\n".join(lines[:12]) and "make test" in "\n".join(lines[:12])
    assert len(lines) <= README_LINES, f"README.md has {len(lines)} lines; move detail into docs/"


def test_every_generated_block_is_what_the_catalog_renders():
    found = set()
    for page in pages():
        text = page.read_text()
        found.update(block_names(text))
        assert rendered(page, text) == text, f"{page.relative_to(ROOT)}: run `.venv/bin/python -m catalog.blocks`"
    assert set(GENERATORS) <= found, f"blocks no page shows: {set(GENERATORS) - found}"


def test_the_readme_and_the_home_page_list_every_labs_guide():
    for page in (ROOT / "README.md", ROOT / "docs" / "index.md"):
        assert {"lab-table", "lab-guides"} <= set(block_names(page.read_text())), page


def test_every_lab_has_its_guide_with_its_diagram_and_its_exam_steps():
    for name in LABS:
        guide = ROOT / "docs" / "labs" / f"{name}.md"
        assert guide.is_file(), f"write docs/labs/{name}.md"
        for suffix in ("svg", "png"):
            assert (ROOT / "docs" / "diagrams" / f"{name}.{suffix}").is_file(), f"run `make diagrams` ({name})"
        assert f"](../diagrams/{name}.png)" in guide.read_text(), f"docs/labs/{name}.md does not show its diagram"
        assert "lab-exam" in block_names(guide.read_text()), f"docs/labs/{name}.md: add its lab-exam block"


def test_the_classroom_page_states_the_catalogs_class_sizes():
    """The largest class and the batch sizes come from catalog/classroom.py, not a copy."""
    text = re.sub(r"\s+", " ", (ROOT / "docs" / "classroom.md").read_text())
    assert f"The largest self-managed class is **{classroom.LARGEST_SELF_MANAGED_CLASS} accounts**" in text
    assert (f"per {classroom.ACCOUNTS_PER_ADMIN_POLICY} accounts, and every {classroom.ACCOUNTS_PER_SHELF} accounts"
            in text)


def test_the_classroom_page_names_each_lab_it_accepts_and_refuses():
    """Three labs came after the page listed the accepted ones; the list is checked against the catalog."""
    text = re.sub(r"\s+", " ", (ROOT / "docs" / "classroom.md").read_text())
    accepted = re.search(r"The others \(([^)]*)\) are accepted", text)
    assert accepted, "docs/classroom.md: say which labs are accepted as 'The others (...) are accepted'"
    assert accepted.group(1).split(", ") == [lab for lab in LABS if lab not in classroom.NOT_STACKSET_READY]
    for lab in classroom.NOT_STACKSET_READY:
        assert f"{lab} (" in text, f"docs/classroom.md does not say why {lab} is refused"


def test_the_site_builds_in_strict_mode(tmp_path):
    """MkDocs fails on a link to a missing page or anchor (validation in mkdocs.yml, strict: true)."""
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "labs" / "endpoint" / "index.html").is_file()
