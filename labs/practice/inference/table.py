"""The measured table of ``labs practice inference`` and the recommendation computed from it. Pure:
rows in, lines out (tests feed fixed rows, including rows where the answer flips).

What each figure is:
- measured by the practice in this run: time to the first prediction, client latency p50/p95,
  throughput (predictions per second over the way's active time);
- from CloudWatch (``AWS/SageMaker``): ModelLatency and OverheadLatency, the run's mean;
- computed from pricing/prices.toml with the measured numbers: $ per 1,000 predictions and $ per idle hour.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from catalog.prices import usd

LABELS = {"realtime": "real-time", "serverless": "serverless", "async": "async", "batch": "batch"}
INTERACTIVE = ("realtime", "serverless")  # a client waits for the answer
STEADY_PER_SECOND = 10
BURSTY_PER_HOUR = 100
NIGHTLY_RECORDS = 100_000


@dataclass(frozen=True)
class Row:
    """One way's measured line. None where the way has no such figure or it was not measured.

    Attributes:
        way: realtime, serverless, async or batch.
        records: records sent; answered: predictions received.
        first_ms: time to the first prediction; first_note says what it includes (warm, cold start, ...).
        p50_ms / p95_ms: client latency per request.
        model_ms / overhead_ms: CloudWatch's ModelLatency and OverheadLatency means.
        throughput: predictions per second.
        per_1000: dollars per 1,000 predictions at this run's utilisation.
        idle_per_hour: dollars per hour with no traffic.
        instances: instances that served the run (real-time, async, batch).
    """

    way: str
    records: int
    answered: int
    first_ms: float | None = None
    first_note: str = ""
    p50_ms: float | None = None
    p95_ms: float | None = None
    model_ms: float | None = None
    overhead_ms: float | None = None
    throughput: float | None = None
    per_1000: float | None = None
    idle_per_hour: float | None = None
    instances: int = 1


# -- cost per 1,000 predictions (computed from the price table and the measured numbers) --------

def realtime_per_1000(host_hour: float, instances: int, throughput: float) -> float:
    """Instance-hours spent per 1,000 predictions at the measured throughput (busy instances)."""
    return host_hour * instances / (throughput * 3600) * 1000


def serverless_per_1000(memory_mb: int, billed_seconds: float, gb_second: float) -> float:
    return memory_mb / 1024 * billed_seconds * gb_second * 1000


def instance_seconds_per_1000(hour_price: float, seconds: float, predictions: int, instances: int = 1) -> float:
    """An instance billed ``seconds`` (async while it ran the requests, batch from start to end)."""
    return hour_price * instances * seconds / 3600 * 1000 / predictions


# -- the table ---------------------------------------------------------------------------------------

def _ms(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value / 1000:,.1f} s" if value >= 10_000 else f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


def _pair(a: float | None, b: float | None) -> str:
    return "—" if a is None and b is None else f"{_ms(a)} / {_ms(b)}"


def _money(value: float | None) -> str:
    return "n/a" if value is None else f"${value:.4f}" if value < 1 else usd(value)


COLUMNS = ("way", "first prediction", "p50 / p95 (client)", "model / overhead", "pred./s", "$ per 1,000",
           "idle $/h")


def table(rows: Sequence[Row]) -> list[str]:
    """The rows as aligned text, a heading first and what each column is after."""
    cells = [COLUMNS]
    for row in rows:
        first = _ms(row.first_ms) + (f" ({row.first_note})" if row.first_note else "")
        cells.append((LABELS[row.way] + ("" if row.answered == row.records else f" ({row.answered}/{row.records})"),
                      first, _pair(row.p50_ms, row.p95_ms), _pair(row.model_ms, row.overhead_ms),
                      "n/a" if row.throughput is None else f"{row.throughput:,.1f}", _money(row.per_1000),
                      _money(row.idle_per_hour)))
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in cells]
    return [
        *lines,
        "measured in this run: first prediction, p50/p95 at the client, pred./s; from CloudWatch: model / overhead "
        "(ModelLatency, OverheadLatency); computed from pricing/prices.toml: $ per 1,000 and idle $/h",
        "serverless is priced on ModelLatency as its billed duration (a proxy); async and batch count only the "
        "instance time of this run, not the start-up from zero or the ~15 minutes before async scales in again",
    ]


# -- the recommendation -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Choice:
    way: str
    per_day: float
    note: str = ""


def _cheapest(choices: Sequence[Choice]) -> Choice | None:
    return min(choices, key=lambda c: c.per_day) if choices else None


def _interactive(rows: dict[str, Row], per_hour: float, host_hour: float, max_concurrency: int) -> list[Choice]:
    """What serving ``per_hour`` requests a client waits for costs a day, by way."""
    choices = []
    realtime = rows.get("realtime")
    if realtime and realtime.throughput:
        per_instance = realtime.throughput / realtime.instances
        instances = max(1, math.ceil(per_hour / 3600 / per_instance))
        choices.append(Choice("realtime", instances * host_hour * 24, f"{instances} instance(s)"))
    serverless = rows.get("serverless")
    if serverless and serverless.per_1000 is not None and serverless.p50_ms is not None:
        concurrency = per_hour / 3600 * serverless.p50_ms / 1000  # Little's law: requests in flight
        if concurrency <= max_concurrency:
            choices.append(Choice("serverless", per_hour * 24 / 1000 * serverless.per_1000
                                  + (serverless.idle_per_hour or 0) * 24))
    return choices


def _offline(rows: dict[str, Row], records: int, host_hour: float) -> list[Choice]:
    """What one file of ``records`` a day costs, by way (a real-time endpoint bills all day anyway)."""
    choices = []
    notes = {"batch": "an upper bound: this run's start-up spread over its few records"}
    for way in ("batch", "async", "serverless"):
        row = rows.get(way)
        if row and row.per_1000 is not None:
            choices.append(Choice(way, records / 1000 * row.per_1000 + (row.idle_per_hour or 0) * 24,
                                  notes.get(way, "")))
    realtime = rows.get("realtime")
    if realtime and realtime.throughput:
        choices.append(Choice("realtime", realtime.instances * host_hour * 24))
    return choices


def recommend(rows: Sequence[Row], *, host_hour: float, max_concurrency: int,
              provisioned_hour: float | None = None) -> list[str]:
    """Which way to pick for three traffic shapes, from this run's numbers (never a fixed answer):
    steady interactive traffic, rare interactive bursts, one nightly file."""
    by_way = {row.way: row for row in rows if row.answered}
    shapes = (("steady", f"steady {STEADY_PER_SECOND} requests/s, a client waiting",
               _interactive(by_way, STEADY_PER_SECOND * 3600, host_hour, max_concurrency)),
              ("bursty", f"{BURSTY_PER_HOUR} requests/hour in bursts, a client waiting",
               _interactive(by_way, BURSTY_PER_HOUR, host_hour, max_concurrency)),
              ("nightly file", f"one file of {NIGHTLY_RECORDS:,} records a night",
               _offline(by_way, NIGHTLY_RECORDS, host_hour)))
    lines, picks = [], []
    for shape, title, choices in shapes:
        best = _cheapest(choices)
        if best is None:
            lines.append(f"{title}: no measured way fits (add ways with --ways)")
            continue
        costs = ", ".join(f"{LABELS[c.way]} ~{usd(c.per_day)}/day" + (f" ({c.note})" if c.note else "")
                          for c in sorted(choices, key=lambda c: c.per_day))
        lines.append(f"{title}: {costs} -> {LABELS[best.way]}")
        if best.way == "serverless" and shape == "bursty":
            cold = by_way["serverless"]
            lines.append(f"  its first request after idle took {_ms(cold.first_ms)}"
                         + (f"; provisioned concurrency 1 keeps one warm for at most {usd(provisioned_hour)}/hour"
                            if provisioned_hour else ""))
        picks.append(f"{shape} -> {LABELS[best.way]}")
    serverless = by_way.get("serverless")
    if serverless and serverless.per_1000:
        lines.append(f"break-even: serverless costs less than one always-on real-time instance below "
                     f"~{host_hour / (serverless.per_1000 / 1000):,.0f} requests/hour")
    if picks:
        lines.append("pick, from this run's numbers: " + ", ".join(picks))
    return lines
