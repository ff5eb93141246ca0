"""Waiting on AWS: one poll loop with a clock-based deadline, for every practice step."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from labs.errors import LabError

T = TypeVar("T")


def poll_until(check: Callable[[], T | None], *, what: str, timeout_seconds: float, interval_seconds: float,
               clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
               hint: str = "") -> T:
    """Calls ``check`` until it returns something other than None and returns that.

    Raises LabError (``<what> did not happen within N s``, then ``hint``) once ``timeout_seconds``
    have passed on ``clock``; ``check`` runs at least once.
    """
    deadline = clock() + timeout_seconds
    while True:
        result = check()
        if result is not None:
            return result
        if clock() >= deadline:
            raise LabError(f"{what} did not happen within {timeout_seconds:.0f} s" + (f": {hint}" if hint else ""))
        sleep(interval_seconds)
