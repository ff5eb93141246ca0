"""The batch-etl EMR Serverless Spark job: the same rules as the Glue job, on plain Spark.

EMR has no job bookmarks, so this job keeps its own: ``--state-path`` holds the newest
modification time it has processed; each run reads the files under ``--raw-path`` modified
after it, and moves it forward only once the batch is written (a failed run reads them again).

spark-submit arguments: ``--batch-id``, ``--raw-path``, ``--curated-path``, ``--rejected-path``,
``--runs-path``, ``--state-path``.
"""

from __future__ import annotations

import argparse
import json

import etl_spark
from pyspark.sql import SparkSession


def new_files(spark, root: str, after_ms: int) -> tuple[list[str], int]:
    """Files under ``root`` modified after ``after_ms`` (hidden ``_``/``.`` names skipped), and the newest time."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(root)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(path):
        return [], after_ms
    found, newest = [], after_ms
    listing = fs.listFiles(path, True)
    while listing.hasNext():
        status = listing.next()
        name, modified = status.getPath().getName(), status.getModificationTime()
        if status.isFile() and not name.startswith(("_", ".")) and modified > after_ms:
            found.append(status.getPath().toString())
            newest = max(newest, modified)
    return sorted(found), newest


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("batch-id", "raw-path", "curated-path", "rejected-path", "runs-path", "state-path"):
        parser.add_argument(f"--{name}", required=True)
    args = parser.parse_args()
    spark = SparkSession.builder.appName(f"mlref-batch-etl-{args.batch_id}").getOrCreate()
    state = json.loads(etl_spark.read_text(spark, args.state_path) or "{}")
    files, newest = new_files(spark, args.raw_path, int(state.get("modified_after_ms", 0)))
    if files:
        raw = spark.read.option("header", "true").option("inferSchema", "false").csv(files)
    else:
        raw = spark.createDataFrame([], "customer_id string")
    paths = etl_spark.Paths(curated=args.curated_path, rejected=args.rejected_path, runs=args.runs_path)
    counts = etl_spark.run_batch(spark, raw, args.batch_id, paths)
    etl_spark.write_text(spark, args.state_path, json.dumps(
        {"modified_after_ms": newest, "batch_id": args.batch_id, "files": len(files)}))
    print(json.dumps(counts))
    spark.stop()


if __name__ == "__main__":
    main()
