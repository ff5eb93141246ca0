"""The line a practice prints before each of its steps: the step's name and the MLA-C01 task
statements it exercises, from the lab's catalog entry (``LabContract.exercises``)."""

from __future__ import annotations

from catalog.base import LabContract
from catalog.exam import STATEMENTS


def step_line(lab: LabContract, step: str) -> str:
    """``step <name>: MLA-C01 4.1 Monitor model inference``; a step the catalog does not list is an error
    in the lab's code, not the user's, so it raises."""
    for exercise in lab.exercises:
        if exercise.step == step:
            named = "; ".join(f"{number} {STATEMENTS[number].title}" for number in exercise.statements)
            return f"step {step}: MLA-C01 {named}"
    raise KeyError(f"{lab.name}: step {step!r} is not among its catalog exercises")
