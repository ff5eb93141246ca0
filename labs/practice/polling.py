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
    """The wait ran out; the message (one line) says what to do; ``last`` is the last state seen
    (None if no ask gave an answer)."""

    def __init__(self, message: str, last: Any = None) -> None:
        super().__init__(message)
        self.last = last


PollTimeout = WaitTimedOut


def poll(fetch: Callable[[], T | None], done: Callable[[T], bool], *, timeout: float, interval: float,
         clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
         on_change: Callable[[T], None] | None = None, key: Callable[[T], Any] | None = None,
         transient: Callable[[Exception], bool] | None = None,
         describe: Callable[[T | None, float], str] | None = None,
         message: str | Callable[[float], str] | None = None) -> T:
    """The first answer ``done`` accepts; ``WaitTimedOut`` (a one-line LabError) after ``timeout`` seconds.

    Args:
        fetch: reads the current state (one API call, usually); None means "no answer this
            time" (a transient problem it absorbed itself).
        done: whether a state is final (success or failure alike; the caller tells them apart).
        timeout: seconds from the first ask until giving up.
        interval: seconds between asks (the last sleep is cut to the deadline).
        clock, sleep: the clock the deadline is measured on and how to wait on it.
        on_change: called with each state whose ``key`` (default: the state) differs from the
            previous one (progress lines).
        transient: exceptions from ``fetch`` it accepts as "ask again" (others propagate).
        describe: the timeout's message from the last state and the seconds waited; it should
            say what to do (e.g. which command shows the resource). Else ``message``, a text or
            ``message(timeout)``.
    """
    if timeout <= 0 or interval <= 0:
        raise ValueError("timeout and interval must be positive")
    started = clock()
    deadline = started + timeout
    last: T | None = None
    unset = previous = object()
    while True:
        try:
            state = fetch()
        except Exception as error:  # noqa: BLE001 - handed to the caller's filter
            if transient is None or not transient(error):
                raise
            state = None
        if state is not None:
            current = key(state) if key else state
            if on_change is not None and (previous is unset or current != previous):
                on_change(state)
            previous, last = current, state
            if done(state):
                return state
        now = clock()
        if now >= deadline:
            waited = now - started
            if describe is not None:
                text = describe(last, waited)
            elif message is None:
                text = f"still waiting after {waited:.0f} s; giving up"
            else:
                text = message(timeout) if callable(message) else message
            raise WaitTimedOut(text, last)
        sleep(min(interval, deadline - now))


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
