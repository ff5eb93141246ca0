"""One-off check that Spark runs the batch-etl rules exactly as DuckDB does (not part of the suite).

The suite tests the rules with DuckDB; Glue 5.0 and EMR 7 run them with Spark 3.5. This
runs one generated batch through ``etl_spark.run_batch`` on a local Spark and through the
same statements in DuckDB, and compares the counts and every curated row. It needs pyspark
3.5 and Java 17 (pyspark is too slow for the 120 s suite, which is why it is not a test):

    python -m venv /tmp/spark && /tmp/spark/bin/pip install pyspark==3.5.4 duckdb==2.0.0
    /tmp/spark/bin/python labs/practice/batch_etl/spark_parity.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import duckdb
from pyspark.sql import SparkSession

from jobs.batch_etl import etl_rules, etl_spark
from labs.practice.batch_etl.data import generate


def main() -> int:
    folder = Path(tempfile.mkdtemp())
    source = folder / "batch.csv"
    source.write_bytes(generate(2000, 0.2, seed=1, run_id="parity").csv_bytes())
    spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
             .config("spark.sql.shuffle.partitions", "4").getOrCreate())
    raw = spark.read.option("header", "true").option("inferSchema", "false").csv(str(source))
    paths = etl_spark.Paths(curated=f"file://{folder}/curated/", rejected=f"file://{folder}/rejected/",
                            runs=f"file://{folder}/runs/")
    spark_counts = etl_spark.run_batch(spark, raw, "parity", paths)
    spark_rows = sorted(tuple(map(str, row)) for row in
                        spark.read.parquet(paths.curated).select(*etl_rules.CURATED_COLUMNS).collect())

    con = duckdb.connect()
    con.execute(f"CREATE TABLE {etl_rules.RAW_VIEW} AS "
                f"SELECT * FROM read_csv('{source}', all_varchar=true, header=true)")
    for statement in etl_rules.statements():
        con.execute(statement)

    def one(sql: str) -> dict:
        cursor = con.execute(sql)
        return dict(zip([c[0] for c in cursor.description], cursor.fetchone(), strict=True))

    duck_counts = {**etl_rules.summarize(one), "batch_id": "parity"}
    duck_rows = sorted(tuple(map(str, row)) for row in con.execute(
        f"SELECT {', '.join(etl_rules.CURATED_COLUMNS)} FROM {etl_rules.CURATED_VIEW}").fetchall())
    same = spark_counts == duck_counts and spark_rows == duck_rows
    print(f"counts equal: {spark_counts == duck_counts}; curated rows equal: {spark_rows == duck_rows} "
          f"({len(spark_rows)} rows)")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
