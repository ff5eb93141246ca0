"""A clock for code that takes ``clock`` and ``sleep`` callables: only ``sleep`` moves it."""

from __future__ import annotations


class FakeClock:
    """Call it for the time. ``slept`` lists every sleep; ``on_sleep(n)`` runs after the n-th."""

    def __init__(self, start: float = 0.0, on_sleep=lambda n: None) -> None:
        self.now, self.slept, self.on_sleep = start, [], on_sleep

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        self.on_sleep(len(self.slept))
