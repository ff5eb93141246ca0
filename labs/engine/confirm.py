"""Asking before acting: ``--yes``, or the user's answer; never a guess without a terminal."""

from __future__ import annotations

from collections.abc import Callable

from labs.engine.errors import LabError

Out = Callable[[str], None]


def confirmed(yes: bool, ask: Callable[[str], bool] | None, question: str, out: Out, refused: str) -> bool:
    """True to go on: ``--yes``, or the user said yes. Without a terminal (``ask`` None) a LabError."""
    if yes:
        return True
    if ask is None:
        raise LabError("cannot ask for confirmation without a terminal: rerun with --yes")
    if ask(question):
        return True
    out(refused)
    return False
