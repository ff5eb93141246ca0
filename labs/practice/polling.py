"""One way to wait: ask again every ``interval`` seconds until an answer is done or a clock
runs out. Every practice wait goes through ``poll``, so every wait is bounded."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from labs.errors import LabError

T = TypeVar("T")


class WaitTimedOut(LabError):
    """``poll`` ran out of time; the message (one line) says what to do."""


def poll(fetch: Callable[[], T | None], done: Callable[[T], bool], *, timeout: float, interval: float,
         clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
         on_change: Callable[[T], None] | None = None, key: Callable[[T], Any] | None = None,
         message: str | Callable[[float], str] = "gave up waiting") -> T:
    """Calls ``fetch`` until ``done(answer)``; returns that answer.

    ``fetch`` returns None for "no answer this time" (a transient error it absorbed).
    ``on_change(answer)`` runs when ``key(answer)`` (default: the answer) differs from the
    previous one. After ``timeout`` seconds of ``clock`` it raises WaitTimedOut with
    ``message`` (or ``message(timeout)``).
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
