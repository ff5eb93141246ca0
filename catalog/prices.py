"""The one price table (``pricing/prices.toml``) and what a lab costs. CDK-free.

Every cost figure (the documentation, ``labs list``, ``labs deploy``, the budgets) is computed from
these prices by a lab contract's ``cost(options)``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from catalog.paths import PRICE_TABLE

HOURS_PER_MONTH = 730


@dataclass(frozen=True)
class Price:
    key: str
    usd: float
    unit: str
    source: str
    checked: str
    note: str = ""


@cache
def prices(path: Path = PRICE_TABLE) -> dict[str, Price]:
    table = tomllib.loads(path.read_text())
    return {key: Price(key=key, **entry) for key, entry in table.items()}


def price(key: str) -> float:
    return prices()[key].usd


def has_price(key: str) -> bool:
    return key in prices()


def per_month_as_hourly(key: str) -> float:
    """A monthly price (a key, a secret) per hour."""
    return price(key) / HOURS_PER_MONTH


def athena_minimum_queries(count: int) -> float:
    """``count`` Athena queries that each scan under the 10 MB minimum."""
    return price("athena_tb_scanned") * count * (10 / 1024**2)


def usd(amount: float) -> str:
    """Dollars as the labs print them: cents, or four decimals under a cent (``$0.0009``)."""
    return f"${amount:.2f}" if amount >= 0.01 or amount == 0 else f"${amount:.4f}"


@dataclass(frozen=True)
class LabCost:
    """What a lab costs: idle per hour while deployed, and one practice run.

    Attributes:
        idle_per_hour: USD per hour with nothing running.
        per_practice_run: USD for one run of the lab's practice step with its defaults;
            None when the price table has no price for what the options chose.
        run_note: how the run figure is made up (shown next to it).
        alternatives: other ways to practise and what a run costs then (``("--on-demand", 1.28)``).
    """

    idle_per_hour: float
    per_practice_run: float | None
    run_note: str = ""
    alternatives: tuple[tuple[str, float], ...] = ()

    def expected(self, hours: float, runs: int = 1) -> float:
        """Expected cost of keeping the lab ``hours`` and practising ``runs`` times."""
        return self.idle_per_hour * hours + (self.per_practice_run or 0.0) * runs

    @property
    def idle_text(self) -> str:
        return f"~${self.idle_per_hour:.4f}/hour"

    @property
    def run_text(self) -> str:
        if self.per_practice_run is None:
            return "unknown" + (f" ({self.run_note})" if self.run_note else "")
        return f"~{usd(self.per_practice_run)}"
