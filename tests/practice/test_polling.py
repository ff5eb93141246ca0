"""The one poll loop: returns the first final state, never waits past its deadline, reports
changes, lets the caller decide which errors mean "ask again"."""

from __future__ import annotations

import pytest

from labs.engine.errors import LabError
from labs.practice.common.polling import PollTimeout, poll
from tests.fakes import FakeClock


def test_returns_the_first_final_state_and_reports_each_change():
    clock, states, seen = FakeClock(), iter(["Creating", "Creating", "Updating", "InService"]), []
    result = poll(lambda: next(states), lambda s: s == "InService", timeout=60, interval=10, clock=clock,
                  sleep=clock.sleep, on_change=seen.append)
    assert result == "InService" and seen == ["Creating", "Updating", "InService"]
    assert clock.slept == [10, 10, 10]


def test_gives_up_at_the_deadline_with_the_callers_message_and_the_last_state():
    clock = FakeClock()
    with pytest.raises(PollTimeout) as raised:
        poll(lambda: "Pending", lambda s: False, timeout=25, interval=10, clock=clock, sleep=clock.sleep,
             describe=lambda last, waited: f"still {last} after {waited:.0f} s: run `labs status`")
    assert str(raised.value) == "still Pending after 25 s: run `labs status`"
    assert raised.value.last == "Pending" and isinstance(raised.value, LabError)
    assert clock.slept == [10, 10, 5]  # the last sleep is cut to the deadline


def test_transient_errors_are_asked_again_and_others_propagate():
    clock, calls = FakeClock(), []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("reset")
        return "done"

    assert poll(flaky, lambda s: True, timeout=60, interval=1, clock=clock, sleep=clock.sleep,
                transient=lambda e: isinstance(e, ConnectionError)) == "done"
    with pytest.raises(KeyError):
        poll(lambda: {}["x"], lambda s: True, timeout=60, interval=1, clock=clock, sleep=clock.sleep,
             transient=lambda e: isinstance(e, ConnectionError))


def test_a_wait_whose_every_ask_failed_says_so():
    clock = FakeClock()
    with pytest.raises(PollTimeout, match="giving up") as raised:
        poll(lambda: 1 / 0, lambda s: True, timeout=3, interval=1, clock=clock, sleep=clock.sleep,
             transient=lambda e: True)
    assert raised.value.last is None


@pytest.mark.parametrize("timeout, interval", [(-1, 1), (5, 0)])
def test_a_wait_without_a_bound_is_refused(timeout, interval):
    with pytest.raises(ValueError):
        poll(lambda: 1, lambda s: True, timeout=timeout, interval=interval)


def test_an_answer_that_is_final_at_once_is_returned_without_sleeping():
    clock = FakeClock()
    assert poll(lambda: "done", lambda a: a == "done", timeout=10, interval=1, clock=clock, sleep=clock.sleep) == "done"
    assert clock.slept == []


def test_it_asks_every_interval_until_done():
    clock, answers = FakeClock(), iter(["Executing", "Executing", "Succeeded"])
    result = poll(lambda: next(answers), lambda a: a == "Succeeded", timeout=60, interval=15, clock=clock,
                  sleep=clock.sleep)
    assert result == "Succeeded" and clock.slept == [15, 15]


def test_the_deadline_bounds_the_wait_and_the_last_answer_is_kept():
    clock, calls = FakeClock(), []
    with pytest.raises(PollTimeout) as raised:
        poll(lambda: calls.append(clock.now) or len(calls), lambda _: False, timeout=40, interval=15, clock=clock,
             sleep=clock.sleep)
    assert calls == [0, 15, 30, 40] and clock.slept == [15, 15, 10]  # the last sleep ends at the deadline
    assert raised.value.last == 4


@pytest.mark.parametrize("timeout, interval", [(-1, 1), (10, 0)])
def test_a_bad_bound_is_refused(timeout, interval):
    with pytest.raises(ValueError):
        poll(lambda: None, lambda _: True, timeout=timeout, interval=interval)
