"""Running the batch-etl rules on Spark: what the Glue job and the EMR Serverless job share.

``run_batch`` takes the raw batch as a DataFrame, runs ``etl_rules.statements()`` with
Spark SQL, writes the curated rows as Parquet partitioned by ``batch`` and ``split``, the
rejected rows (raw values and reason) as JSON lines, and the counts as one JSON file that
the state machine reads. Only pyspark and the standard library: shipped with the rules.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

try:
    import etl_rules  # beside this file in the job's --py-files / --extra-py-files archive
except ImportError:  # imported as a package
    from jobs.batch_etl import etl_rules

BATCH_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


@dataclass(frozen=True)
class Paths:
    """Where one batch goes: ``curated`` and ``rejected`` are table roots, ``runs`` the counts' root."""

    curated: str
    rejected: str
    runs: str

    def counts(self, batch_id: str) -> str:
        return f"{self.runs.rstrip('/')}/{batch_id}/counts.json"


def check_batch_id(batch_id: str) -> str:
    if not BATCH_ID.match(batch_id):
        raise ValueError(f"batch id {batch_id!r} must be 1-80 letters, digits, _ or - (it becomes a partition value)")
    return batch_id


def as_strings(frame):  # pyspark types stay optional here
    """The raw columns as strings, in order; a column the batch lacks (an empty batch has none) is NULL."""
    from pyspark.sql import functions as F

    present = set(frame.columns)
    return frame.select([
        (F.col(name).cast("string") if name in present else F.lit(None).cast("string")).alias(name)
        for name in etl_rules.RAW_COLUMNS
    ])


def write_text(spark, uri: str, text: str) -> None:
    """One small object at ``uri`` through the Hadoop file system (s3:// on Glue and EMR, file:// locally)."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    stream = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).create(path, True)
    try:
        stream.write(bytearray(text.encode()))
    finally:
        stream.close()


def read_text(spark, uri: str) -> str | None:
    """The object at ``uri`` as text, None when there is none."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(path):
        return None
    stream = fs.open(path)
    try:
        reader = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(stream, "UTF-8"))
        return "\n".join(iter(reader.readLine, None))
    finally:
        stream.close()


def run_batch(spark, raw, batch_id: str, paths: Paths) -> dict:
    """Transforms one raw batch and writes curated, rejected and the counts; returns the counts."""
    from pyspark.sql import functions as F

    check_batch_id(batch_id)
    as_strings(raw).createOrReplaceTempView(etl_rules.RAW_VIEW)
    for statement in etl_rules.statements():
        spark.sql(statement)
    counts = etl_rules.summarize(lambda sql: spark.sql(sql).collect()[0].asDict())
    counts["batch_id"] = batch_id
    if counts["input_rows"]:
        curated = spark.table(etl_rules.CURATED_VIEW).withColumn("batch", F.lit(batch_id))
        curated.write.mode("append").partitionBy(*etl_rules.PARTITION_COLUMNS).parquet(paths.curated)
        rejected = spark.table(etl_rules.REJECTED_VIEW)
        rejected.coalesce(1).write.mode("append").option("ignoreNullFields", "false").json(
            f"{paths.rejected.rstrip('/')}/batch={batch_id}/")
    write_text(spark, paths.counts(batch_id), json.dumps(counts, sort_keys=True))
    return counts
