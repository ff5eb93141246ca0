"""Bounded, clock-based waiting for the practice steps: ``poll(fetch, done, *, timeout, interval,
clock, sleep)``. The one implementation lives in ``lambdas/shared/polling.py`` so that Lambda
handlers carry the same helper; this module is where the practice steps import it from."""

from lambdas.shared.polling import PollTimeout, poll

__all__ = ["PollTimeout", "poll"]
