"""Messy customer records with a known number of each defect, for the batch-etl lab.

Every row is one customer of a subscription service (the churn model's training data) as
a CRM export might deliver it: keys in mixed case, dates in four formats, usage in MB,
GB or TB, plan and country aliases. On top of that ``defect_rate`` of the rows carry
exactly one defect each, spread evenly over ``DEFECTS``; the batch records how many of
each it injected and what every surviving customer should look like once curated.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from jobs.batch_etl.etl_rules import COUNTRY_ALIASES, DEFAULT_PLAN, MONTHS, PLAN_ALIASES, RAW_COLUMNS, UNKNOWN_COUNTRY

# Defect kind -> where the workflow's counts report it.
DEFECTS: dict[str, tuple[str, ...]] = {
    "duplicate": ("duplicates_removed",),
    "missing_customer_id": ("rejected", "missing_customer_id"),
    "missing_label": ("rejected", "missing_label"),
    "unparseable_signup_date": ("rejected", "unparseable_signup_date"),
    "invalid_age": ("rejected", "invalid_age"),
    "unknown_plan": ("rejected", "unknown_plan"),
    "missing_monthly_data": ("imputed", "monthly_data_gb"),
    "missing_plan": ("imputed", "plan"),
    "missing_country": ("imputed", "country"),
}
REJECTING = tuple(kind for kind, where in DEFECTS.items() if where[0] == "rejected")
MIN_ROWS, MAX_ROWS = 20, 20_000
MAX_DEFECT_RATE = 0.5
TRUE_WORDS, FALSE_WORDS = ("yes", "Y", "1", "true", "Yes"), ("no", "N", "0", "false", "No")
BAD_DATES = ("31/31/2024", "not recorded", "2024-13-01", "30 Feb 2023")
BAD_AGES = ("7", "212", "thirty", "-4", "34.5")
BAD_PLANS = ("gold", "enterprise", "trial")


@dataclass
class Batch:
    """The raw rows (shuffled), the defects injected, and each curated customer's expected values.

    ``expected`` maps a curated key to its values; ``monthly_data_gb`` is None where the
    batch mean is to be imputed.
    """

    rows: list[dict[str, str]]
    defects: dict[str, int]
    expected: dict[str, dict[str, object]] = field(default_factory=dict)

    def csv_bytes(self) -> bytes:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(RAW_COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        return buffer.getvalue().encode()


def reported(counts: dict, kind: str) -> int:
    """How many rows of defect ``kind`` the workflow's counts say it handled."""
    value: object = counts
    for key in DEFECTS[kind]:
        value = value.get(key, 0) if isinstance(value, dict) else 0
    return int(value or 0)


def defect_counts(rows: int, defect_rate: float) -> dict[str, int]:
    """round(rows * defect_rate) defects, spread evenly over the kinds (earlier kinds first)."""
    total = round(rows * defect_rate)
    kinds = list(DEFECTS)
    return {kind: total // len(kinds) + (1 if index < total % len(kinds) else 0) for index, kind in enumerate(kinds)}


def _date_text(rng: random.Random, day: date) -> str:
    style = rng.randrange(4)
    if style == 0:
        return day.isoformat()
    if style == 1:
        return f"{day.month:02d}/{day.day:02d}/{day.year}"
    if style == 2:
        return day.strftime("%Y%m%d")
    return f"{day.day} {MONTHS[day.month - 1].capitalize()} {day.year}"


def _usage_text(rng: random.Random, megabytes: int) -> str:
    style = rng.randrange(4)
    if style == 0:
        return f"{megabytes} MB"
    if style == 1:
        return f"{megabytes / 1024:.3f}GB"
    if style == 2:
        return f"{megabytes / 1024:.3f}"
    return f"{megabytes / 1024 ** 2:.6f} tb"


def _customer(rng: random.Random, key: str, updated: datetime) -> tuple[dict[str, str], dict[str, object]]:
    day = date(2019, 1, 1) + timedelta(days=rng.randrange(7 * 365))
    megabytes = rng.randrange(100, 80_000)
    plan = rng.choice(list(PLAN_ALIASES))
    country = rng.choice(list(COUNTRY_ALIASES))
    age = rng.randrange(18, 91)
    churned = rng.random() < 0.25
    raw = {
        "customer_id": rng.choice((key, key.lower(), f" {key} ")),
        "updated_at": updated.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "signup_date": _date_text(rng, day),
        "country": rng.choice(COUNTRY_ALIASES[country]).title() if rng.random() < 0.5 else country,
        "plan": rng.choice(PLAN_ALIASES[plan]).upper() if rng.random() < 0.3 else f" {plan.capitalize()}",
        "monthly_data": _usage_text(rng, megabytes),
        "age": rng.choice((str(age), f" {age} ")),
        "churned": rng.choice(TRUE_WORDS if churned else FALSE_WORDS),
    }
    truth = {"signup_date": day.isoformat(), "country": country, "plan": plan,
             "monthly_data_gb": round(megabytes / 1024, 3), "age": age, "churned": int(churned)}
    return raw, truth


def _inject(rng: random.Random, kind: str, raw: dict[str, str], truth: dict[str, object]) -> None:
    """Gives ``raw`` one defect of ``kind``; ``truth`` becomes what curation makes of it."""
    if kind == "missing_customer_id":
        raw["customer_id"] = rng.choice(("", "  "))
    elif kind == "missing_label":
        raw["churned"] = ""
    elif kind == "unparseable_signup_date":
        raw["signup_date"] = rng.choice(BAD_DATES)
    elif kind == "invalid_age":
        raw["age"] = rng.choice(BAD_AGES)
    elif kind == "unknown_plan":
        raw["plan"] = rng.choice(BAD_PLANS)
    elif kind == "missing_monthly_data":
        raw["monthly_data"], truth["monthly_data_gb"] = "", None
    elif kind == "missing_plan":
        raw["plan"], truth["plan"] = "", DEFAULT_PLAN
    elif kind == "missing_country":
        raw["country"], truth["country"] = " ", UNKNOWN_COUNTRY


def generate(rows: int, defect_rate: float, *, seed: int | None = None, run_id: str = "r0",
             now: datetime | None = None) -> Batch:
    """``rows`` raw rows, ``defect_counts(rows, defect_rate)`` of them defective, one defect each."""
    if not MIN_ROWS <= rows <= MAX_ROWS:
        raise ValueError(f"rows={rows}: use {MIN_ROWS} to {MAX_ROWS}")
    if not 0 <= defect_rate <= MAX_DEFECT_RATE:
        raise ValueError(f"defect_rate={defect_rate}: use 0 to {MAX_DEFECT_RATE}")
    rng = random.Random(seed)
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    defects = defect_counts(rows, defect_rate)
    customers = rows - defects["duplicate"]
    kinds = [kind for kind, count in defects.items() if kind != "duplicate" for _ in range(count)]
    kinds += [""] * (customers - len(kinds))
    rng.shuffle(kinds)
    raw_rows, expected, clean = [], {}, []
    for number, kind in enumerate(kinds):
        key = f"C-{run_id.upper()}-{number:06d}"
        raw, truth = _customer(rng, key, now - timedelta(hours=1, seconds=rng.randrange(86_400)))
        _inject(rng, kind, raw, truth)
        raw_rows.append(raw)
        if kind not in REJECTING:
            expected[key] = truth
        if not kind:
            clean.append((key, raw))
    for key, _ in rng.sample(clean, defects["duplicate"]):
        copy, truth = _customer(rng, key, now)
        copy["customer_id"] = rng.choice((key.lower(), f"{key}  ", key))
        if rng.random() < 0.5:  # an older copy: the original wins
            copy["updated_at"] = (now - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        else:  # a newer correction: the copy wins
            expected[key] = truth
        raw_rows.append(copy)
    rng.shuffle(raw_rows)
    return Batch(rows=raw_rows, defects=defects, expected=expected)
