"""The batch-etl rules executed: the same SQL statements the Glue and EMR jobs run with Spark SQL,
here run by DuckDB over generated batches whose defects are known."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import UTC, datetime

import duckdb
import pytest

from jobs.batch_etl import etl_rules as rules
from labs.practice.batch_etl.data import DEFECTS, REJECTING, defect_counts, generate, reported

ROWS = 1500
NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)


def transformed(batch, tmp_path):
    """A DuckDB connection holding the batch as all-string raw rows and every view of the rules."""
    source = tmp_path / "batch.csv"
    source.write_bytes(batch.csv_bytes())
    con = duckdb.connect()
    con.execute(f"CREATE TABLE {rules.RAW_VIEW} AS SELECT * FROM read_csv('{source}', all_varchar=true, header=true)")
    for statement in rules.statements():
        con.execute(statement)
    return con


def rows_of(con, sql):
    cursor = con.execute(sql)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def summary(con):
    return rules.summarize(lambda sql: rows_of(con, sql)[0])


@pytest.fixture(scope="module")
def batch():
    return generate(ROWS, 0.27, seed=11, run_id="t1", now=NOW)


@pytest.fixture(scope="module")
def con(batch, tmp_path_factory):
    return transformed(batch, tmp_path_factory.mktemp("etl"))


@pytest.fixture(scope="module")
def counts(con):
    return summary(con)


@pytest.fixture(scope="module")
def curated(con):
    return {row["customer_id"]: row for row in rows_of(con, f"SELECT * FROM {rules.CURATED_VIEW}")}


def test_every_injected_defect_is_reported_exactly(batch, counts):
    assert all(count > 0 for count in batch.defects.values())
    assert {kind: reported(counts, kind) for kind in DEFECTS} == batch.defects
    assert counts["input_rows"] == ROWS
    assert counts["rejected_rows"] == sum(batch.defects[kind] for kind in REJECTING)
    assert counts["curated_rows"] == ROWS - counts["rejected_rows"] - counts["duplicates_removed"]


def test_duplicates_collapse_to_one_row_per_key_and_the_latest_copy_wins(batch, curated):
    assert set(curated) == set(batch.expected)
    for key, expected in batch.expected.items():
        assert curated[key]["plan"] == expected["plan"], key
        assert curated[key]["age"] == expected["age"] and curated[key]["churned"] == expected["churned"], key


def test_rejected_rows_keep_their_raw_values_and_name_the_rule(con, batch):
    rejected = rows_of(con, f"SELECT * FROM {rules.REJECTED_VIEW}")
    assert Counter(row["reject_reason"] for row in rejected) == {kind: batch.defects[kind] for kind in REJECTING}
    assert set(rules.REJECT_REASONS) >= {row["reject_reason"] for row in rejected}
    by_reason = {row["reject_reason"]: row for row in rejected}
    assert (by_reason["missing_customer_id"]["customer_id"] or "").strip() == ""
    assert by_reason["unknown_plan"]["plan"] in {"gold", "enterprise", "trial"}
    raw_keys = {(row["customer_id"] or "").strip().upper() for row in batch.rows}
    assert {(row["customer_id"] or "").strip().upper() for row in rejected} <= raw_keys


def test_values_are_standardized_to_iso_dates_gb_and_one_category_each(batch, curated, counts):
    for key, expected in batch.expected.items():
        row = curated[key]
        assert row["signup_date"].isoformat() == expected["signup_date"], key
        assert row["country"] == expected["country"] and key == key.strip().upper()
        if expected["monthly_data_gb"] is not None:  # TB inputs carry six decimals, hence the tolerance
            assert row["monthly_data_gb"] == pytest.approx(expected["monthly_data_gb"], abs=0.002), key
    assert {row["plan"] for row in curated.values()} <= set(rules.PLAN_ALIASES)
    assert {row["country"] for row in curated.values()} <= set(rules.COUNTRIES)
    assert all(counts["standardized"][column] > 0 for column in rules.STANDARDIZED)


def test_imputed_usage_is_the_mean_of_the_known_values(batch, curated):
    known = [row["monthly_data_gb"] for key, row in curated.items()
             if batch.expected[key]["monthly_data_gb"] is not None]
    imputed = [row["monthly_data_gb"] for key, row in curated.items()
               if batch.expected[key]["monthly_data_gb"] is None]
    assert imputed and set(imputed) == {round(sum(known) / len(known), 3)}
    filled = [key for key, expected in batch.expected.items() if expected["plan"] == rules.DEFAULT_PLAN]
    assert all(curated[key]["plan"] == rules.DEFAULT_PLAN for key in filled)


def expected_split(key: str) -> str:
    """The split scheme re-implemented in Python: md5 of the key, first four hex digits, modulo 100."""
    bucket = int(hashlib.md5(key.encode()).hexdigest()[:4], 16) % 100
    return next(name for name, upper in rules.SPLITS if bucket < upper)


def test_split_is_the_documented_hash_of_the_key_in_80_10_10_proportions(curated, counts):
    assert all(row["split"] == expected_split(key) for key, row in curated.items())
    total = len(curated)
    assert counts["splits"] == Counter(row["split"] for row in curated.values())
    assert counts["splits"]["train"] / total == pytest.approx(0.8, abs=0.04)
    assert counts["splits"]["validation"] / total == pytest.approx(0.1, abs=0.03)
    assert counts["splits"]["test"] / total == pytest.approx(0.1, abs=0.03)


def test_the_split_of_a_key_does_not_depend_on_the_batch_or_the_row_order(batch, curated, tmp_path):
    reordered = generate(ROWS, 0.27, seed=11, run_id="t1", now=NOW)
    reordered.rows.reverse()
    again = {row["customer_id"]: row
             for row in rows_of(transformed(reordered, tmp_path), f"SELECT * FROM {rules.CURATED_VIEW}")}
    assert again == curated


def test_the_curated_batch_passes_every_quality_rule(con):
    con.execute(f"CREATE OR REPLACE TABLE good AS SELECT * FROM {rules.CURATED_VIEW}")
    for rule, condition in rules.quality_rules():
        assert rows_of(con, f"SELECT {condition} AS ok FROM good")[0]["ok"], rule


def test_quality_rules_fail_on_the_defects_they_guard_against(con):
    broken = {
        "IsComplete \"plan\"": "UPDATE bad SET plan = NULL WHERE customer_id = (SELECT min(customer_id) FROM bad)",
        "IsUnique \"customer_id\"": "INSERT INTO bad SELECT * FROM bad LIMIT 1",
        "ColumnValues \"age\" >= 18": "UPDATE bad SET age = 12 WHERE customer_id = (SELECT min(customer_id) FROM bad)",
        "ColumnValues \"split\" in [\"train\", \"validation\", \"test\"]": "UPDATE bad SET split = 'holdout'",
    }
    conditions = dict(rules.quality_rules())
    for rule, damage in broken.items():
        con.execute(f"CREATE OR REPLACE TABLE bad AS SELECT * FROM {rules.CURATED_VIEW}")
        con.execute(damage)
        assert not rows_of(con, f"SELECT {conditions[rule]} AS ok FROM bad")[0]["ok"], rule
    assert rules.dqdl().startswith("Rules = [") and rules.dqdl().count("\n") == len(conditions) + 1


def test_a_clean_batch_has_no_defect_and_an_empty_batch_counts_zero(tmp_path):
    clean = generate(40, 0.0, seed=2)
    counts = summary(transformed(clean, tmp_path))
    assert counts["curated_rows"] == 40 and counts["rejected_rows"] == counts["duplicates_removed"] == 0
    con = duckdb.connect()
    con.execute(f"CREATE TABLE {rules.RAW_VIEW} ({', '.join(f'{c} VARCHAR' for c in rules.RAW_COLUMNS)})")
    for statement in rules.statements():
        con.execute(statement)
    assert summary(con)["input_rows"] == 0 and summary(con)["splits"] == {"train": 0, "validation": 0, "test": 0}


def test_defects_are_spread_evenly_and_bounded():
    assert defect_counts(100, 0.09) == dict.fromkeys(DEFECTS, 1)
    assert sum(defect_counts(1000, 0.5).values()) == 500
    with pytest.raises(ValueError, match="rows=5"):
        generate(5, 0.1)
    with pytest.raises(ValueError, match=r"defect_rate=0\.8"):
        generate(100, 0.8)

