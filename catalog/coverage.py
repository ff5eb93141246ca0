"""Which MLA-C01 task statements the labs' practice steps exercise, and what of each no step claims yet.

A statement is ``covered`` when steps claim every one of its "Skills in" bullets, ``partial`` when
some step claims it but not all its skills, ``none`` when no step claims it. Computed from the
catalog's exercises (``LabContract.exercises``) only: catalog/exam_tables.py renders it for the docs
and for ``labs list --exam``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from catalog.exam import STATEMENTS, Bullet, Exercise, TaskStatement

COVERED, PARTIAL, NONE = "covered", "partial", "none"


@dataclass(frozen=True)
class StatementCoverage:
    """One task statement against the labs.

    Attributes:
        statement: the task statement.
        steps: lab -> the names of its steps that exercise the statement (only labs that have some).
        claimed: the statement's bullets some step claims.
    """

    statement: TaskStatement
    steps: Mapping[str, tuple[str, ...]]
    claimed: frozenset[Bullet]

    @property
    def claimed_skills(self) -> tuple[Bullet, ...]:
        return tuple(bullet for bullet in self.statement.skills if bullet in self.claimed)

    @property
    def open_skills(self) -> tuple[Bullet, ...]:
        """Its "Skills in" bullets no step claims yet, in the guide's order."""
        return tuple(bullet for bullet in self.statement.skills if bullet not in self.claimed)

    @property
    def open_knowledge(self) -> tuple[Bullet, ...]:
        """Its "Knowledge of" bullets no step works with yet, in the guide's order."""
        return tuple(bullet for bullet in self.statement.knowledge if bullet not in self.claimed)

    @property
    def status(self) -> str:
        if not self.steps:
            return NONE
        return PARTIAL if self.open_skills else COVERED

    @property
    def summary(self) -> str:
        """``partial: 2 of 6 skills``, ``covered: 4 of 4 skills``, ``none: no step yet``."""
        if self.status == NONE:
            return f"{NONE}: no step yet"
        return f"{self.status}: {len(self.claimed_skills)} of {len(self.statement.skills)} skills"


def lab_exercises() -> dict[str, tuple[Exercise, ...]]:
    """Each lab's exercises, in the catalog's order of labs."""
    from catalog import LABS

    return {name: lab.exercises for name, lab in LABS.items()}


def coverage(exercises: Mapping[str, Sequence[Exercise]] | None = None) -> list[StatementCoverage]:
    """Every task statement, in the guide's order, against ``exercises`` (lab -> its steps; default: the
    catalog's). A skill that names no bullet of its step's statements raises ValueError (``Exercise.claims``)."""
    exercises = lab_exercises() if exercises is None else exercises
    steps: dict[str, dict[str, list[str]]] = {number: {} for number in STATEMENTS}
    claimed: dict[str, set[Bullet]] = {number: set() for number in STATEMENTS}
    for lab, lab_steps in exercises.items():
        for exercise in lab_steps:
            for number in exercise.statements:
                steps[number].setdefault(lab, []).append(exercise.step)
            for number, bullet in exercise.claims():
                claimed[number].add(bullet)
    return [StatementCoverage(statement, {lab: tuple(names) for lab, names in steps[number].items()},
                              frozenset(claimed[number]))
            for number, statement in STATEMENTS.items()]
