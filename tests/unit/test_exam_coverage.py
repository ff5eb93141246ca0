"""The exam coverage: docs/exam-coverage.md (its generated blocks, which tests/unit/test_docs.py holds to what the
catalog renders) never shows a statement as covered that no step claims, read here against the catalog's own
exercises; its "not covered yet" list is every bullet no step claims; `labs list --exam` prints the matrix
without AWS."""

from __future__ import annotations

import re

import pytest

from catalog import LABS
from catalog.coverage import COVERED, NONE, PARTIAL, coverage
from catalog.exam import STATEMENTS, Exercise
from catalog.exam_tables import gaps, matrix_table, matrix_text
from labs.cli import common
from labs.cli import main as cli
from tests.conftest import ROOT

PAGE = ROOT / "docs" / "exam-coverage.md"
ALL_41_SKILLS = tuple(bullet.head for bullet in STATEMENTS["4.1"].skills)


def block(name: str) -> list[str]:
    match = re.search(rf"<!-- {name}:[^>]*-->\n(.*?)\n<!-- /{name} -->", PAGE.read_text(), re.S)
    assert match, f"docs/exam-coverage.md has no {name} block"
    return match.group(1).splitlines()


# -- what the catalog says, computed here from the exercises, not by the renderer --------------------

def claimed_by_catalog() -> tuple[dict[str, dict[str, list[str]]], dict[str, set[str]]]:
    """statement -> lab -> its steps that name the statement; statement -> the bullet texts some step claims."""
    steps: dict[str, dict[str, list[str]]] = {number: {} for number in STATEMENTS}
    bullets: dict[str, set[str]] = {number: set() for number in STATEMENTS}
    for name, lab in LABS.items():
        for exercise in lab.exercises:
            for number in exercise.statements:
                steps[number].setdefault(name, []).append(exercise.step)
            for number, bullet in exercise.claims():
                bullets[number].add(bullet.text)
    return steps, bullets


def test_no_statement_the_catalog_leaves_unclaimed_is_shown_as_covered_and_every_cell_is_a_claim():
    steps, bullets = claimed_by_catalog()
    header, _, *rows = block("exam-matrix")
    labs = [cell.strip().strip("`") for cell in header.strip("|").split("|")][1:-1]
    assert labs == list(LABS)
    shown = {}
    for row in rows:
        if not row.startswith("| "):
            break
        title, *cells, status = [cell.strip() for cell in row.strip("|").split("|")]
        shown[title.split()[0]] = (cells, status)
    assert list(shown) == list(STATEMENTS)
    for number, (cells, status) in shown.items():
        assert cells == [", ".join(steps[number].get(lab, ())) for lab in labs], number
        every_skill = {b.text for b in STATEMENTS[number].skills} <= bullets[number]
        if not steps[number]:
            assert status.startswith("**none") and not any(cells), f"{number} is claimed by no step"
        else:
            assert status.startswith(COVERED if every_skill else PARTIAL), number


def test_the_not_covered_list_is_every_bullet_no_step_claims():
    _, bullets = claimed_by_catalog()
    listed: dict[str, set[str]] = {}
    number = None
    for line in block("exam-gaps"):
        if heading := re.match(r"### (\d\.\d) ", line):
            number = heading.group(1)
            listed[number] = set()
        elif line.startswith("- "):
            listed[number].add(line[2:].removesuffix(" *(unconfirmed)*"))
    assert list(listed) == list(STATEMENTS)
    for number, statement in STATEMENTS.items():
        assert listed[number] == {b.text for b in statement.bullets} - bullets[number], number


# -- the rendering, on made-up labs -----------------------------------------------------------------

def made_up() -> dict[str, tuple[Exercise, ...]]:
    formats = "Choosing appropriate data formats based on data access patterns"
    return {"lab-a": (Exercise("curate", ("1.1",), (formats,)), Exercise("watch", ("4.1",), ALL_41_SKILLS)),
            "lab-b": (Exercise("look", ("4.2",)),)}


def test_a_statement_no_step_claims_is_none_one_without_every_skill_partial():
    rows = {row.statement.number: row for row in coverage(made_up())}
    assert rows["2.1"].status == NONE and rows["2.1"].steps == {}
    assert rows["2.1"].open_skills == STATEMENTS["2.1"].skills
    assert (rows["1.1"].status, rows["1.1"].summary) == (PARTIAL, "partial: 1 of 6 skills")
    assert (rows["4.2"].status, rows["4.2"].summary) == (PARTIAL, "partial: 0 of 10 skills")  # named, no skill
    assert (rows["4.1"].status, rows["4.1"].open_skills) == (COVERED, ())
    assert [number for number, row in rows.items() if row.status != NONE] == ["1.1", "4.1", "4.2"]


def test_the_renderings_show_an_unclaimed_statement_as_not_covered():
    rows = coverage(made_up())
    table = matrix_table(rows, ["lab-a", "lab-b"])
    assert "| 2.1 Choose a modeling approach |  |  | **none: no step yet** |" in table
    assert "| 1.1 Ingest and store data | curate |  | partial: 1 of 6 skills |" in table
    listed = gaps(rows)
    section = listed[listed.index("### 2.1 Choose a modeling approach"):listed.index("### 2.2 Train and refine models")]
    assert "None: no step yet." in section
    assert all(f"- {b.text}" in section for b in STATEMENTS["2.1"].skills)
    terminal = matrix_text(rows, ["lab-a", "lab-b"])
    assert "2.1 Choose a modeling approach (D2, 26%): none: no step yet" in terminal
    assert next(line for line in terminal if line.startswith("2.1 ")).split() == ["2.1", "0/5"]


def test_the_terminal_matrix_keeps_each_step_in_its_column():
    lines = matrix_text()
    header = lines[1]
    starts = [header.index(f" {name} ") + 1 for name in LABS] + [header.index(" skills") + 1]
    for line in lines[3:lines.index("")]:
        for start in starts[1:]:  # what a cell holds never runs into the two spaces before the next column
            assert line[start - 2:start] in ("  ", " ", ""), line


def test_labs_list_exam_prints_the_matrix_without_asking_aws(monkeypatch, capsys):
    monkeypatch.setattr(common, "session_of", lambda args: pytest.fail("labs list --exam asked AWS"))
    assert cli.main(["list", "--exam"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed == matrix_text()
    assert all(name in printed[1] for name in LABS)
    assert [line.split()[0] for line in printed[3:printed.index("")] if line[:1].isdigit()] == list(STATEMENTS)
