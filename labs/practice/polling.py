"""Waiting for something in AWS: one bounded poll loop, for every practice step.

``poll`` asks ``fetch`` for the current state until ``done`` says it is final, sleeping
``interval`` seconds between asks, and gives up after ``timeout`` seconds measured on
``clock`` (a monotonic clock by default; tests pass a fake one with its ``sleep``). It never
hangs: the deadline is checked after every ask, and the last sleep is cut to what is left.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from labs.errors import LabError

T = TypeVar("T")


class PollTimeout(LabError):
    """The wait ran out; ``last`` is the last state seen (None if every ask failed)."""

    def __init__(self, message: str, last: Any) -> None:
        super().__init__(message)
        self.last = last


def poll(fetch: Callable[[], T], done: Callable[[T], bool], *, timeout: float, interval: float,
         clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
         describe: Callable[[T | None, float], str] | None = None,
         on_change: Callable[[T], None] | None = None,
         transient: Callable[[Exception], bool] | None = None) -> T:
    """The first state ``done`` accepts; ``PollTimeout`` (a one-line LabError) after ``timeout`` seconds.

    Args:
        fetch: reads the current state (one API call, usually).
        done: whether a state is final (success or failure alike; the caller tells them apart).
        timeout: seconds from the first ask until giving up.
        interval: seconds between asks.
        clock, sleep: the clock the deadline is measured on and how to wait on it.
        describe: the timeout's message from the last state and the seconds waited; it
            should say what to do (e.g. which command shows the resource).
        on_change: called with each state that differs from the previous one (progress lines).
        transient: exceptions from ``fetch`` it accepts as "ask again" (others propagate).
    """
    if timeout <= 0 or interval <= 0:
        raise ValueError("timeout and interval must be positive")
    started = clock()
    deadline = started + timeout
    last: T | None = None
    seen = False
    while True:
        try:
            state = fetch()
        except Exception as error:  # noqa: BLE001 - handed to the caller's filter
            if transient is None or not transient(error):
                raise
        else:
            if on_change is not None and (not seen or state != last):
                on_change(state)
            last, seen = state, True
            if done(state):
                return state
        now = clock()
        if now >= deadline:
            waited = now - started
            message = describe(last, waited) if describe else f"still waiting after {waited:.0f} s; giving up"
            raise PollTimeout(message, last)
        sleep(min(interval, deadline - now))
