"""One bounded wait: ask until an answer is final or a clock-based deadline passes.

No imports beyond the standard library, so a Lambda handler can carry it
(``shared_modules=["polling"]``) and the practice steps can import it
(``labs.practice.polling``) alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class PollTimeout(TimeoutError):
    """The deadline passed before the answer was final; ``last`` holds the last answer."""

    def __init__(self, message: str, last: object = None) -> None:
        super().__init__(message)
        self.last = last


def poll(fetch: Callable[[], T], done: Callable[[T], bool], *, timeout: float, interval: float,
         clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> T:
    """Calls ``fetch`` until ``done(answer)``; returns that answer.

    ``fetch`` is called at once, then every ``interval`` seconds; it is never called after
    ``timeout`` seconds have passed on ``clock`` (the last sleep is shortened to the deadline).
    Raises PollTimeout (with the last answer) when the deadline passes first. Exceptions from
    ``fetch`` or ``done`` propagate unchanged.
    """
    if timeout < 0 or interval <= 0:
        raise ValueError(f"poll needs timeout >= 0 and interval > 0 (got {timeout}, {interval})")
    deadline = clock() + timeout
    while True:
        answer = fetch()
        if done(answer):
            return answer
        left = deadline - clock()
        if left <= 0:
            raise PollTimeout(f"not done after {timeout:g} s", answer)
        sleep(min(interval, left))
