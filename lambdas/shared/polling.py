"""The one bounded wait: ask until an answer is final or a clock-based deadline passes.

Standard library only, so a Lambda handler can carry it (``shared_modules=["polling"]``) and the
practice steps use it through ``labs.practice.common.polling`` (which turns a timeout into the command
line's one-line LabError). Tests pass a fake clock and sleep: they never wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class PollTimeout(TimeoutError):
    """The deadline passed before the answer was final; ``last`` holds the last answer (None if none)."""

    def __init__(self, message: str, last: object = None) -> None:
        super().__init__(message)
        self.last = last


def poll(fetch: Callable[[], T | None], done: Callable[[T], bool], *, timeout: float, interval: float,
         clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
         on_change: Callable[[T], None] | None = None, key: Callable[[T], Any] | None = None,
         transient: Callable[[Exception], bool] | None = None,
         describe: Callable[[T | None, float], str] | None = None,
         message: str | Callable[[float], str] | None = None,
         error: Callable[[str, Any], Exception] = PollTimeout) -> T:
    """The first answer ``done`` accepts; ``error(message, last)`` (PollTimeout) once ``timeout`` passed.

    Args:
        fetch: reads the current state (one API call, usually), at once and then every
            ``interval`` seconds, never after the deadline (the last sleep is cut to it). None
            means "no answer this time" (a transient problem it absorbed itself).
        done: whether a state is final (success or failure alike; the caller tells them apart).
        timeout, interval: the bound (>= 0) and the pause between asks (> 0), in seconds of ``clock``.
        clock, sleep: the clock the deadline is measured on and how to wait on it.
        on_change: called with each state whose ``key`` (default: the state) differs from the
            previous one (progress lines).
        transient: exceptions from ``fetch`` that mean "ask again" (others propagate).
        describe: the timeout's message from the last state and the seconds waited (it should say
            what to do); else ``message``, a text or ``message(timeout)``.
        error: builds the exception raised at the deadline from the message and the last state.
    """
    if timeout < 0 or interval <= 0:
        raise ValueError(f"poll needs timeout >= 0 and interval > 0 (got {timeout}, {interval})")
    started = clock()
    deadline = started + timeout
    last: T | None = None
    unset = previous = object()
    while True:
        try:
            state = fetch()
        except Exception as problem:  # handed to the caller's filter
            if transient is None or not transient(problem):
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
            raise error(text, last)
        sleep(min(interval, deadline - now))
