"""The exam coverage (catalog/coverage.py) as docs/exam-coverage.md's generated blocks (``exam-matrix``,
``exam-gaps``, ``exam-steps``, rendered by ``python -m catalog.blocks``) and as the terminal's matrix
(``labs list --exam``)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from catalog.coverage import NONE, StatementCoverage, coverage, lab_exercises
from catalog.exam import DOMAINS, STATEMENTS, Bullet, Exercise


def _bullet(bullet: Bullet) -> str:
    return bullet.text + ("" if bullet.confirmed else " *(unconfirmed)*")


def matrix_table(rows: Sequence[StatementCoverage], labs: Sequence[str]) -> list[str]:
    """Statements x labs, each cell the steps of the lab that exercise the statement; then the domains."""
    lines = ["| task statement | " + " | ".join(f"`{lab}`" for lab in labs) + " | coverage |",
             "|---|" + "---|" * len(labs) + "---|"]
    for row in rows:
        cells = [", ".join(row.steps.get(lab, ())) for lab in labs]
        status = f"**{row.summary}**" if row.status == NONE else row.summary
        lines.append(f"| {row.statement.number} {row.statement.title} | " + " | ".join(cells) + f" | {status} |")
    lines.append("")
    for domain in DOMAINS.values():
        note = "" if domain.weight_confirmed else " (the guide PDF's weight, not read on an AWS page)"
        lines.append(f"- {domain.label}{note}")
    return lines


def gaps(rows: Sequence[StatementCoverage]) -> list[str]:
    """Per statement, the skills no step claims yet, then the knowledge no step works with yet."""
    lines: list[str] = []
    for row in rows:
        lines += ["", f"### {row.statement.number} {row.statement.title}", "", f"{row.summary.capitalize()}."]
        if row.open_skills:
            lines += ["", "Skills no step claims yet:", "", *(f"- {_bullet(b)}" for b in row.open_skills)]
        if row.open_knowledge:
            lines += ["", "Knowledge no step works with yet:", "", *(f"- {_bullet(b)}" for b in row.open_knowledge)]
    return lines[1:]


def steps_tables(exercises: dict[str, tuple[Exercise, ...]]) -> list[str]:
    """Per lab, its practice steps in order: the statements and the bullets of the guide each exercises."""
    lines: list[str] = []
    for lab, steps in exercises.items():
        lines += ["", f"### {lab}", "", "| step | statements | what of the guide it exercises |", "|---|---|---|"]
        for exercise in steps:
            named = "; ".join(f"{number} {'skill' if bullet in STATEMENTS[number].skills else 'knowledge'}: "
                              f"{bullet.head}" for number, bullet in exercise.claims())
            lines.append(f"| {exercise.step} | {', '.join(exercise.statements)} | "
                         f"{named or 'the statement, no single bullet'} |")
    return lines[1:]


def matrix_block() -> list[str]:
    return matrix_table(coverage(), list(lab_exercises()))


def gaps_block() -> list[str]:
    return gaps(coverage())


def steps_block() -> list[str]:
    return steps_tables(lab_exercises())


# -- the terminal --------------------------------------------------------------------------------

def _wrapped(steps: Sequence[str], width: int) -> list[str]:
    """Each step on its own lines, its continuation indented."""
    return [line for step in steps
            for line in textwrap.wrap(step, width, subsequent_indent="  ", break_on_hyphens=False)]


def matrix_text(rows: Sequence[StatementCoverage] | None = None, labs: Sequence[str] | None = None) -> list[str]:
    """The matrix for a terminal: a column per lab (its steps, wrapped), a row per statement, then the titles."""
    labs = list(lab_exercises()) if labs is None else list(labs)
    rows = coverage() if rows is None else rows
    widths = [max(len(lab), 14) for lab in labs]
    counts = [f"{len(row.claimed_skills)}/{len(row.statement.skills)}" for row in rows]

    def line(first: str, cells: Sequence[str], last: str) -> str:
        return (f"{first:<5} " + "  ".join(f"{cell:<{width}}" for cell, width in zip(cells, widths, strict=True))
                + f"  {last}").rstrip()

    lines = ["MLA-C01 task statements (rows) x labs (columns): the practice steps that exercise each",
             line("", labs, "skills"), line("", ["-" * width for width in widths], "------")]
    for row, count in zip(rows, counts, strict=True):
        cells = [_wrapped(row.steps.get(lab, ()), width) for lab, width in zip(labs, widths, strict=True)]
        for depth in range(max(1, *(len(cell) for cell in cells))):
            at = [cell[depth] if depth < len(cell) else "" for cell in cells]
            lines.append(line(row.statement.number if depth == 0 else "", at, count if depth == 0 else ""))
    lines.append("")
    for row in rows:
        domain = DOMAINS[row.statement.domain]
        lines.append(f"{row.statement.number} {row.statement.title} ({domain.short}, {domain.weight}%): {row.summary}")
    lines.append("skills: the statement's \"Skills in\" bullets that some step claims; what no step claims yet: "
                 "docs/exam-coverage.md")
    return lines

