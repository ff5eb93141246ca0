"""The one way the practice steps wait: poll with a clock-based deadline.

Every wait (a crawler, a query, a training job, an offline store, an endpoint, a pipeline)
asks ``fetch`` until ``done`` says so, sleeping ``interval`` between calls, and gives up with a
LabError that says what to do once ``timeout`` seconds of the clock have passed. The clock and
the sleep are injectable, so tests never wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from labs.errors import LabError

T = TypeVar("T")


class PollTimeout(LabError):
    """The deadline passed before the awaited thing was done."""


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

    def until(self, fetch: Callable[[], T], done: Callable[[T], bool],
              on_change: Callable[[T], None] | None = None, key: Callable[[T], object] = lambda value: value) -> T:
        """Calls ``fetch`` until ``done(value)``; ``on_change(value)`` whenever ``key(value)`` changes.

        ``fetch`` may raise (a LabError for a failed state stops the wait at once).
        """
        deadline = self.clock() + self.timeout
        last: object = object()
        while True:
            value = fetch()
            if on_change is not None and key(value) != last:
                last = key(value)
                on_change(value)
            if done(value):
                return value
            if self.clock() >= deadline:
                raise PollTimeout(f"{self.what} has not finished after {_duration(self.timeout)}"
                               + (f": {self.fix}" if self.fix else ""))
            self.sleep(self.interval)


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} minutes" if seconds >= 120 else f"{seconds:.0f} s"
