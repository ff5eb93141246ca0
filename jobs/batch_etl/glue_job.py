"""The batch-etl Glue 5.0 job: new raw files (job bookmarks) through the shared rules into curated.

Arguments (``--name value``; the stack sets the paths, the state machine ``--batch_id``):
``batch_id``, ``raw_path``, ``curated_path``, ``rejected_path``, ``runs_path``. The
bookmark (``transformation_ctx``) makes each run read only the files added since the last
committed run; it is committed after the batch is written, so a failed run reads them again.
"""

from __future__ import annotations

import json
import sys

import etl_spark
from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

ARGUMENTS = ["JOB_NAME", "batch_id", "raw_path", "curated_path", "rejected_path", "runs_path"]


def main() -> None:
    args = getResolvedOptions(sys.argv, ARGUMENTS)
    glue = GlueContext(SparkContext.getOrCreate())
    job = Job(glue)
    job.init(args["JOB_NAME"], args)
    frame = glue.create_dynamic_frame.from_options(
        connection_type="s3",
        connection_options={"paths": [args["raw_path"]], "recurse": True},
        format="csv",
        format_options={"withHeader": True},
        transformation_ctx="raw_customers",
    )
    raw = frame.resolveChoice(choice="cast:string").toDF()
    paths = etl_spark.Paths(curated=args["curated_path"], rejected=args["rejected_path"], runs=args["runs_path"])
    counts = etl_spark.run_batch(glue.spark_session, raw, args["batch_id"], paths)
    print(json.dumps(counts))
    job.commit()


if __name__ == "__main__":
    main()
