"""The one way the practice steps wait (``lambdas/shared/polling.py``'s loop, which Lambda
handlers carry too): every wait (a crawler, a query, a training job, an offline store, an
endpoint, a pipeline) is bounded by a clock, and a timeout is the command line's one-line error.

``poll`` is the loop; ``Poll`` names what is awaited and what to do when it times out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from labs.engine.errors import LabError
from lambdas.shared import polling as loop

T = TypeVar("T")


class WaitTimedOut(LabError, loop.PollTimeout):
    """The wait ran out; the message (one line) says what to do; ``last`` is the last state seen."""

    def __init__(self, message: str, last: Any = None) -> None:
        LabError.__init__(self, message)
        self.last = last


PollTimeout = WaitTimedOut


def poll(fetch: Callable[[], T | None], done: Callable[[T], bool], **options: Any) -> T:
    """``lambdas.shared.polling.poll`` raising WaitTimedOut (a LabError) at the deadline."""
    options.setdefault("error", WaitTimedOut)
    return loop.poll(fetch, done, **options)


@dataclass
class Poll(Generic[T]):
    """How to wait for one thing.

    Attributes:
        what: what is awaited, for the timeout message (``crawler mlref-raw``).
        timeout: seconds on ``clock`` before giving up.
        interval: seconds between two calls of ``fetch``.
        fix: what the user can do when it times out (appended to the message).
        clock: monotonic seconds.
        sleep: how to pause.
    """

    what: str
    timeout: float
    interval: float = 10.0
    fix: str = ""
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def until(self, fetch: Callable[[], T | None], done: Callable[[T], bool],
              on_change: Callable[[T], None] | None = None, key: Callable[[T], Any] | None = None) -> T:
        """``poll`` with this wait's clock, interval and one-line timeout message."""
        return poll(fetch, done, timeout=self.timeout, interval=self.interval, clock=self.clock, sleep=self.sleep,
                    on_change=on_change, key=key,
                    message=f"{self.what} has not finished after {_duration(self.timeout)}"
                            + (f": {self.fix}" if self.fix else ""))


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} minutes" if seconds >= 120 else f"{seconds:.0f} s"
