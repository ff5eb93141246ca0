"""The data set the fsx-training practice reads: where it lives, whether it is already there, and
the fresh copy that each run's FSx rows read, so that the "first run" is a first run.

The set is written in the region by a short job (``fsx_job/train.py --mode prepare``), never
uploaded from this machine: ``--dataset-gib`` GiB of 256 MiB shards under
``s3://<data bucket>/train/random-<N>gib/``, closed by a manifest. A run reuses a set whose
manifest and shards are all there (on the EFS variant: and that the job also copied into EFS).

FSx for Lustre keeps what a job read: the second practice run's "first run" would read warm
data. So each run copies the shards (server-side, inside S3) to
``train/cold/<run>/random-<N>gib/``, which FSx imports as new objects (auto-import) and the
first FSx job lazy-loads from S3; the repeated job then reads the same files from the file system.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import ClientError

from jobs.fsx_training import train as job_script

SHARD_BYTES = job_script.SHARD_BYTES
MANIFEST = job_script.MANIFEST


@dataclass(frozen=True)
class DataSet:
    """The set of ``gib`` GiB in ``bucket`` under ``prefix`` (the stack's DataPrefix output)."""

    bucket: str
    prefix: str
    gib: int
    copy_of_run: str = ""  # set on a run's cold copy for FSx

    @property
    def name(self) -> str:
        return f"random-{self.gib}gib"

    @property
    def key_prefix(self) -> str:
        cold = f"cold/{self.copy_of_run}/" if self.copy_of_run else ""
        return f"{self.prefix}{cold}{self.name}/"

    @property
    def s3_uri(self) -> str:
        return f"s3://{self.bucket}/{self.key_prefix}"

    @property
    def shard_names(self) -> list[str]:
        return job_script.shard_names(self.gib, SHARD_BYTES)

    @property
    def megabytes(self) -> float:
        return len(self.shard_names) * SHARD_BYTES / 1e6

    def directory(self, root: str) -> str:
        """Where the set is in a file system whose data starts at ``root`` (FSx mirrors the S3 keys)."""
        return f"{root.rstrip('/')}/{self.key_prefix.rstrip('/')}"

    def cold_copy(self, run_id: str) -> DataSet:
        return replace(self, copy_of_run=run_id)


def missing_from(s3: Any, data: DataSet, *, efs_id: str = "") -> str | None:
    """None when the set is complete in S3 (and, with ``efs_id``, in that EFS file system);
    otherwise what is missing, as a phrase."""
    sizes: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=data.bucket, Prefix=data.key_prefix):
        sizes.update({o["Key"]: o["Size"] for o in page.get("Contents", [])})
    names = data.shard_names
    absent = [n for n in names if sizes.get(data.key_prefix + n) != SHARD_BYTES]
    if absent:
        return f"{len(absent)} of {len(names)} shards are not at {data.s3_uri}"
    try:
        body = s3.get_object(Bucket=data.bucket, Key=data.key_prefix + MANIFEST)["Body"].read()
    except ClientError as error:
        if error.response["Error"]["Code"] not in {"NoSuchKey", "404"}:
            raise
        return f"{data.s3_uri} has no {MANIFEST} (its job did not finish)"
    if efs_id and json.loads(body).get("efs_file_system") != efs_id:
        return f"the set is not in EFS {efs_id} yet"
    return None


def copy_request(data: DataSet, run_id: str, name: str) -> dict:
    """The CopyObject request that copies one shard to the run's cold prefix (a shard is 256 MiB, under
    CopyObject's 5 GB limit, so one request per shard)."""
    cold = data.cold_copy(run_id)
    return {"Bucket": cold.bucket, "Key": cold.key_prefix + name,
            "CopySource": {"Bucket": data.bucket, "Key": data.key_prefix + name}}


def copy_for_fsx(s3: Any, data: DataSet, run_id: str, out: Callable[[str], None] = print) -> DataSet:
    """Copies the shards to this run's cold prefix inside S3 (no byte passes through this machine),
    eight CopyObject requests at a time."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda name: s3.copy_object(**copy_request(data, run_id, name)), data.shard_names))
    cold = data.cold_copy(run_id)
    out(f"copied the set to {cold.s3_uri} inside S3 (FSx imports it as new files, so its first run is cold)")
    return cold
