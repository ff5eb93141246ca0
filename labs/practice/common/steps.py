"""The line a practice prints before each of its steps: the step's name and the MLA-C01 task
statements it exercises, from the lab's catalog entry (``LabContract.exercises``).

Dry runs print it too, between their requests: ``announced_steps`` reads the names back, and
``labs.practice.common.dry_run.printed_calls`` takes such a line for a note, not a request's body.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from catalog.base import LabContract
from catalog.exam import STATEMENTS

STEP_LINE = re.compile(r"^step (?P<step>[^:]+): MLA-C01 (?P<statements>\d\.\d .*)$")
_NUMBER = re.compile(r"(?:^|; )(\d\.\d) ")


def step_line(lab: LabContract, step: str) -> str:
    """``step <name>: MLA-C01 4.1 Monitor model inference``; a step the catalog does not list is an error
    in the lab's code, not the user's, so it raises."""
    for exercise in lab.exercises:
        if exercise.step == step:
            named = "; ".join(f"{number} {STATEMENTS[number].title}" for number in exercise.statements)
            return f"step {step}: MLA-C01 {named}"
    raise KeyError(f"{lab.name}: step {step!r} is not among its catalog exercises")


def announced_steps(lines: Iterable[str]) -> list[tuple[str, tuple[str, ...]]]:
    """(step, statement numbers) of every ``step_line`` among ``lines``, in order."""
    found = []
    for line in lines:
        for part in line.splitlines():
            if match := STEP_LINE.match(part):
                found.append((match["step"], tuple(_NUMBER.findall(match["statements"]))))
    return found
