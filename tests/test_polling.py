"""The one poll helper: done at once, done later, the deadline on the given clock."""

from __future__ import annotations

import pytest

from labs.practice.polling import PollTimeout, poll


class Clock:
    def __init__(self) -> None:
        self.now, self.sleeps = 0.0, []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_an_answer_that_is_final_at_once_is_returned_without_sleeping():
    clock = Clock()
    assert poll(lambda: "done", lambda a: a == "done", timeout=10, interval=1, clock=clock, sleep=clock.sleep) == "done"
    assert clock.sleeps == []


def test_it_asks_every_interval_until_done():
    clock, answers = Clock(), iter(["Executing", "Executing", "Succeeded"])
    result = poll(lambda: next(answers), lambda a: a == "Succeeded", timeout=60, interval=15, clock=clock,
                  sleep=clock.sleep)
    assert result == "Succeeded" and clock.sleeps == [15, 15]


def test_the_deadline_bounds_the_wait_and_the_last_answer_is_kept():
    clock, calls = Clock(), []
    with pytest.raises(PollTimeout) as raised:
        poll(lambda: calls.append(clock.now) or len(calls), lambda _: False, timeout=40, interval=15, clock=clock,
             sleep=clock.sleep)
    assert calls == [0, 15, 30, 40] and clock.sleeps == [15, 15, 10]  # the last sleep ends at the deadline
    assert raised.value.last == 4


@pytest.mark.parametrize("timeout, interval", [(-1, 1), (10, 0)])
def test_a_bad_bound_is_refused(timeout, interval):
    with pytest.raises(ValueError):
        poll(lambda: None, lambda _: True, timeout=timeout, interval=interval)
