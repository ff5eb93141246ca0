"""The batch-etl transformation: one set of rules, as SQL, that every engine runs.

The Glue job and the EMR Serverless Spark job register the raw batch (every column a
string) as the view ``raw_customers`` and run ``statements()`` with Spark SQL; the tests
run the very same statements with DuckDB. The SQL keeps to what both dialects share:
``regexp_extract`` (no backslashes, no back-references), ``try_cast``, ``lpad``, ``instr``,
``md5``, ``CASE``, window functions and ``CREATE OR REPLACE TEMPORARY VIEW``.

The rules, in order:

1. standardize: business key trimmed and upper-cased; ``signup_date`` from ISO, US
   ``MM/DD/YYYY``, compact ``YYYYMMDD`` or ``5 Mar 2024`` to a DATE; ``monthly_data`` in
   MB, GB or TB (a bare number is GB) to GB; ``plan`` and ``country`` aliases and case to
   one category each (unknown countries to ``OTHER``); the label to 0/1;
2. quarantine what no rule may repair, with the first reason that applies
   (``REJECT_REASONS``): no key, no or an unreadable label, an unreadable date, an age
   that is not a whole number from 18 to 100, an unknown plan, an unreadable usage;
3. de-duplicate by business key: the copy with the latest ``updated_at`` wins (ties: the
   raw values in order, so the choice is deterministic);
4. impute where the rule allows: a missing ``monthly_data`` gets the batch mean, a
   missing plan the default plan, a missing country ``UNKNOWN``;
5. split by a hash of the key (``md5``, first four hex digits, modulo 100): the same key
   lands in the same split in every batch and on every engine.

No imports beyond the standard library: this file is shipped to Glue and EMR as is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

RAW_VIEW = "raw_customers"
TYPED_VIEW = "etl_typed"
VALID_VIEW = "etl_valid"
LATEST_VIEW = "etl_latest"
CURATED_VIEW = "etl_curated"
REJECTED_VIEW = "etl_rejected"

RAW_COLUMNS = ("customer_id", "updated_at", "signup_date", "country", "plan", "monthly_data", "age", "churned")
CURATED_COLUMNS = ("customer_id", "signup_date", "country", "plan", "monthly_data_gb", "age", "churned", "updated_at",
                   "split")
PARTITION_COLUMNS = ("batch", "split")  # the writer adds batch; split comes from the rules

DEFAULT_PLAN = "basic"
UNKNOWN_COUNTRY = "UNKNOWN"
OTHER_COUNTRY = "OTHER"
PLAN_ALIASES: Mapping[str, tuple[str, ...]] = {
    "basic": ("basic", "bas", "starter"),
    "standard": ("standard", "std"),
    "premium": ("premium", "prem", "pro"),
}
COUNTRY_ALIASES: Mapping[str, tuple[str, ...]] = {
    "US": ("US", "USA", "U.S.", "UNITED STATES"),
    "GB": ("GB", "UK", "U.K.", "UNITED KINGDOM", "GREAT BRITAIN"),
    "DE": ("DE", "GERMANY", "DEUTSCHLAND"),
    "FR": ("FR", "FRANCE"),
    "IN": ("IN", "INDIA"),
}
COUNTRIES = (*COUNTRY_ALIASES, OTHER_COUNTRY, UNKNOWN_COUNTRY)
TRUE_LABELS = ("1", "yes", "y", "true")
FALSE_LABELS = ("0", "no", "n", "false")
MIN_AGE, MAX_AGE = 18, 100
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
# Split: a key's bucket (0-99) below 80 trains, below 90 validates, the rest tests.
SPLITS = (("train", 80), ("validation", 90), ("test", 100))

REJECT_REASONS = {
    "missing_customer_id": "no customer_id: the row cannot be de-duplicated or joined",
    "missing_label": "no churned label: never imputed",
    "invalid_label": "churned is not yes/no, y/n, true/false or 1/0",
    "unparseable_signup_date": "signup_date is missing or in no known format (ISO, MM/DD/YYYY, YYYYMMDD, 5 Mar 2024)",
    "invalid_age": f"age is missing or not a whole number from {MIN_AGE} to {MAX_AGE}",
    "unknown_plan": f"plan is none of {', '.join(PLAN_ALIASES)} (or their aliases)",
    "invalid_monthly_data": "monthly_data is not a non-negative number with an optional MB, GB or TB unit",
}
STANDARDIZED = ("signup_date", "monthly_data_gb", "plan", "country", "customer_id")

ISO_DATE = "^([0-9]{4})-([0-9]{2})-([0-9]{2})$"
US_DATE = "^([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})$"
COMPACT_DATE = "^([0-9]{4})([0-9]{2})([0-9]{2})$"
TEXT_DATE = "^([0-9]{1,2}) ([A-Za-z]{3})[A-Za-z]* ([0-9]{4})$"
USAGE = "^([0-9]+([.][0-9]+)?) ?(mb|gb|tb)?$"
HEX = "0123456789abcdef"


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join("'" + value.replace("'", "''") + "'" for value in values)


def _blank(column: str) -> str:
    return f"(trim({column}) = '' OR {column} IS NULL)"


def _date_from(pattern: str, year: int | str, month: int | str, day: int) -> str:
    """A DATE from the groups of ``pattern`` over ``d`` (the trimmed raw date), NULL if it does not match."""
    def group(index: int) -> str:
        return f"regexp_extract(d, '{pattern}', {index})"

    month_sql = month if isinstance(month, str) else f"lpad({group(month)}, 2, '0')"
    iso = f"{group(year)} || '-' || {month_sql} || '-' || lpad({group(day)}, 2, '0')"
    return f"try_cast(CASE WHEN regexp_extract(d, '{pattern}', 0) <> '' THEN {iso} END AS DATE)"


def _text_month() -> str:
    cases = " ".join(f"WHEN '{name}' THEN '{number:02d}'" for number, name in enumerate(MONTHS, start=1))
    return f"CASE lower(regexp_extract(d, '{TEXT_DATE}', 2)) {cases} END"


def _category(expression: str, aliases: Mapping[str, tuple[str, ...]], default: str) -> str:
    cases = " ".join(
        f"WHEN {expression} IN ({_quoted(names)}) THEN '{canonical}'" for canonical, names in aliases.items())
    return f"CASE {cases} ELSE {default} END"


def _hex_digit(position: int) -> str:
    return f"(instr('{HEX}', substr(hash_hex, {position}, 1)) - 1)"


def _reasons() -> str:
    checks = {
        "missing_customer_id": "key IS NULL",
        "missing_label": f"{_blank('churned')}",
        "invalid_label": "label IS NULL",
        "unparseable_signup_date": "signup IS NULL",
        "invalid_age": f"age_value IS NULL OR age_value <> floor(age_value) OR age_value < {MIN_AGE} "
                       f"OR age_value > {MAX_AGE}",
        "unknown_plan": f"NOT {_blank('plan')} AND plan_std IS NULL",
        "invalid_monthly_data": f"NOT {_blank('monthly_data')} AND usage_gb IS NULL",
    }
    assert list(checks) == list(REJECT_REASONS)
    return "CASE " + " ".join(f"WHEN {check} THEN '{code}'" for code, check in checks.items()) + " END"


def typed_sql() -> str:
    """Every raw column standardized beside the raw values, and the reason to reject (NULL: keep)."""
    usage_unit = f"regexp_extract(u, '{USAGE}', 3)"
    usage = (f"try_cast(regexp_extract(u, '{USAGE}', 1) AS DOUBLE) * CASE {usage_unit} "
             "WHEN 'mb' THEN CAST(1 AS DOUBLE) / 1024 WHEN 'tb' THEN CAST(1024 AS DOUBLE) ELSE CAST(1 AS DOUBLE) END")
    plan = _category("lower(trim(plan))", PLAN_ALIASES, "NULL")
    country = _category("upper(trim(country))", COUNTRY_ALIASES,
                        f"CASE WHEN {_blank('country')} THEN NULL ELSE '{OTHER_COUNTRY}' END")
    label = (f"CASE WHEN lower(trim(churned)) IN ({_quoted(TRUE_LABELS)}) THEN 1 "
             f"WHEN lower(trim(churned)) IN ({_quoted(FALSE_LABELS)}) THEN 0 END")
    dates = ", ".join((
        _date_from(ISO_DATE, 1, 2, 3), _date_from(US_DATE, 3, 1, 2), _date_from(COMPACT_DATE, 1, 2, 3),
        _date_from(TEXT_DATE, 3, _text_month(), 1),
    ))
    columns = ", ".join(RAW_COLUMNS)
    parsed = (
        f"SELECT {columns}, u, d, nullif(upper(trim(customer_id)), '') AS key, coalesce({dates}) AS signup, "
        f"try_cast(trim(age) AS DOUBLE) AS age_value, round({usage}, 3) AS usage_gb, {plan} AS plan_std, "
        f"{country} AS country_std, {label} AS label, trim(updated_at) AS updated "
        f"FROM (SELECT *, lower(trim(monthly_data)) AS u, trim(signup_date) AS d FROM {RAW_VIEW}) r"
    )
    return f"SELECT p.*, {_reasons()} AS reject_reason FROM ({parsed}) p"


def latest_sql() -> str:
    """One row per key among the valid rows: the latest update, ties broken by the raw values."""
    ties = ", ".join(f"{column} ASC NULLS LAST" for column in RAW_COLUMNS)
    return (f"SELECT * FROM (SELECT v.*, row_number() OVER (PARTITION BY key ORDER BY updated DESC NULLS LAST, {ties}) "
            f"AS copy FROM {VALID_VIEW} v) ranked WHERE copy = 1")


def curated_sql() -> str:
    """The curated rows: imputed, typed, with their split."""
    bucket = " + ".join(f"{factor} * {_hex_digit(position)}"
                        for position, factor in enumerate((4096, 256, 16, 1), start=1))
    split = "CASE " + " ".join(f"WHEN bucket < {upper} THEN '{name}'" for name, upper in SPLITS[:-1]) + \
        f" ELSE '{SPLITS[-1][0]}' END"
    imputed = (
        f"SELECT l.*, md5(key) AS hash_hex, "
        f"coalesce(usage_gb, m.mean_usage) AS usage_filled, "
        f"coalesce(plan_std, '{DEFAULT_PLAN}') AS plan_filled, "
        f"coalesce(country_std, '{UNKNOWN_COUNTRY}') AS country_filled "
        f"FROM {LATEST_VIEW} l CROSS JOIN (SELECT round(avg(usage_gb), 3) AS mean_usage FROM {LATEST_VIEW}) m"
    )
    return (
        "SELECT key AS customer_id, signup AS signup_date, country_filled AS country, plan_filled AS plan, "
        "usage_filled AS monthly_data_gb, CAST(age_value AS INT) AS age, label AS churned, updated AS updated_at, "
        f"{split} AS split FROM (SELECT i.*, ({bucket}) % 100 AS bucket FROM ({imputed}) i) b"
    )


def rejected_sql() -> str:
    """The quarantined rows exactly as they arrived, with the reason."""
    return f"SELECT {', '.join(RAW_COLUMNS)}, reject_reason FROM {TYPED_VIEW} WHERE reject_reason IS NOT NULL"


def statements() -> list[str]:
    """The views, in order, over the raw view ``raw_customers``."""
    views = (
        (TYPED_VIEW, typed_sql()),
        (VALID_VIEW, f"SELECT * FROM {TYPED_VIEW} WHERE reject_reason IS NULL"),
        (LATEST_VIEW, latest_sql()),
        (CURATED_VIEW, curated_sql()),
        (REJECTED_VIEW, rejected_sql()),
    )
    return [f"CREATE OR REPLACE TEMPORARY VIEW {name} AS {sql}" for name, sql in views]


def _count_if(condition: str, name: str) -> str:
    return f"sum(CASE WHEN {condition} THEN 1 ELSE 0 END) AS {name}"


def count_queries() -> dict[str, str]:
    """One single-row query per group of counts."""
    rejected = ", ".join(_count_if(f"reject_reason = '{code}'", code) for code in REJECT_REASONS)
    standardized = ", ".join((
        _count_if("signup_date <> CAST(signup AS STRING)", "signup_date"),
        _count_if(f"usage_gb IS NOT NULL AND regexp_extract(u, '{USAGE}', 3) NOT IN ('', 'gb')", "monthly_data_gb"),
        _count_if("plan_std IS NOT NULL AND plan <> plan_std", "plan"),
        _count_if("country_std IS NOT NULL AND country <> country_std", "country"),
        _count_if("customer_id <> key", "customer_id"),
    ))
    imputed = ", ".join((_count_if("usage_gb IS NULL", "monthly_data_gb"), _count_if("plan_std IS NULL", "plan"),
                         _count_if("country_std IS NULL", "country")))
    splits = ", ".join(_count_if(f"split = '{name}'", name) for name, _ in SPLITS)
    return {
        "rows": (f"SELECT (SELECT count(*) FROM {RAW_VIEW}) AS input_rows, "
                 f"(SELECT count(*) FROM {VALID_VIEW}) AS valid, "
                 f"(SELECT count(*) FROM {LATEST_VIEW}) AS latest, "
                 f"(SELECT count(*) FROM {CURATED_VIEW}) AS curated_rows"),
        "rejected": f"SELECT {rejected} FROM {TYPED_VIEW}",
        "standardized": f"SELECT {standardized} FROM {LATEST_VIEW}",
        "imputed": f"SELECT {imputed} FROM {LATEST_VIEW}",
        "splits": f"SELECT {splits} FROM {CURATED_VIEW}",
    }


def summarize(fetch_one: Callable[[str], Mapping[str, object]]) -> dict[str, object]:
    """The batch's counts (what the workflow reports), from ``fetch_one(sql) -> {column: value}``."""
    found = {group: {key: int(value or 0) for key, value in fetch_one(sql).items()}
             for group, sql in count_queries().items()}
    rows = found.pop("rows")
    return {
        "input_rows": rows["input_rows"],
        "rejected_rows": rows["input_rows"] - rows["valid"],
        "duplicates_removed": rows["valid"] - rows["latest"],
        "curated_rows": rows["curated_rows"],
        **found,
    }


# -- data quality: each rule once, as DQDL for Glue Data Quality and as SQL for the tests -----

def quality_rules() -> list[tuple[str, str]]:
    """(DQDL rule, SQL condition over the curated view that holds when the rule passes)."""
    def complete(column: str) -> tuple[str, str]:
        return f'IsComplete "{column}"', f"sum(CASE WHEN {column} IS NULL THEN 1 ELSE 0 END) = 0"

    def one_of(column: str, values: tuple[str, ...]) -> tuple[str, str]:
        listed = ", ".join(f'"{value}"' for value in values)
        return (f'ColumnValues "{column}" in [{listed}]',
                f"sum(CASE WHEN {column} NOT IN ({_quoted(values)}) THEN 1 ELSE 0 END) = 0")

    def at_least(column: str, low: float) -> tuple[str, str]:
        return f'ColumnValues "{column}" >= {low:g}', f"min({column}) >= {low:g}"

    def at_most(column: str, high: float) -> tuple[str, str]:
        return f'ColumnValues "{column}" <= {high:g}', f"max({column}) <= {high:g}"

    return [
        ("RowCount > 0", "count(*) > 0"),
        *(complete(column) for column in CURATED_COLUMNS),
        ('IsUnique "customer_id"', "count(DISTINCT customer_id) = count(*)"),
        at_least("age", MIN_AGE), at_most("age", MAX_AGE),
        at_least("monthly_data_gb", 0),
        at_least("churned", 0), at_most("churned", 1),
        one_of("plan", tuple(PLAN_ALIASES)),
        one_of("country", COUNTRIES),
        one_of("split", tuple(name for name, _ in SPLITS)),
    ]


def dqdl() -> str:
    """The ruleset Glue Data Quality evaluates over each curated batch."""
    return "Rules = [\n    " + ",\n    ".join(rule for rule, _ in quality_rules()) + "\n]"
