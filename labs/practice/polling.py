"""The one way the practice steps wait: ask again every ``interval`` seconds until an answer is
done or a clock runs out, so every wait (a crawler, a query, a training job, an offline store,
an endpoint, a pipeline) is bounded. The clock and the sleep are injectable: tests never wait.

``poll`` is the loop; ``Poll`` names what is awaited and what to do when it times out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from labs.errors import LabError

T = TypeVar("T")


class WaitTimedOut(LabError):
    """``poll`` ran out of time; the message (one line) says what to do."""


PollTimeout = WaitTimedOut


def poll(fetch: Callable[[], T | None], done: Callable[[T], bool], *, timeout: float, interval: float,
         clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
         on_change: Callable[[T], None] | None = None, key: Callable[[T], Any] | None = None,
         message: str | Callable[[float], str] = "gave up waiting") -> T:
    """Calls ``fetch`` until ``done(answer)``; returns that answer.

    ``fetch`` returns None for "no answer this time" (a transient error it absorbed), and may
    raise to stop at once (a LabError for a failed state). ``on_change(answer)`` runs when
    ``key(answer)`` (default: the answer) differs from the previous one. After ``timeout``
    seconds of ``clock`` it raises WaitTimedOut with ``message`` (or ``message(timeout)``).
    """
    deadline = clock() + timeout
    unset = last = object()
    while True:
        answer = fetch()
        if answer is not None:
            current = key(answer) if key else answer
            if on_change is not None and (last is unset or current != last):
                on_change(answer)
            last = current
            if done(answer):
                return answer
        remaining = deadline - clock()
        if remaining <= 0:
            raise WaitTimedOut(message(timeout) if callable(message) else message)
        sleep(min(interval, remaining))


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
