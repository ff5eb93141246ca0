"""The fsx-training practice's training set: generated shards and their upload to the data bucket."""

from __future__ import annotations

import random
from typing import Any

DATASET = "synthetic-v1"


def training_set(shards: int = 16, rows_per_shard: int = 25_000, features: int = 16,
                 seed: int = 7) -> dict[str, bytes]:
    """CSV shards ``part-NNNN.csv`` (label, f0..fN): a few MB each, the same every time."""
    rng = random.Random(seed)
    header = ",".join(["label"] + [f"f{i}" for i in range(features)]) + "\n"
    parts = {}
    for shard in range(shards):
        lines = [header]
        for _ in range(rows_per_shard):
            values = [rng.random() for _ in range(features)]
            label = int(sum(values[:4]) > 2)
            lines.append(f"{label}," + ",".join(f"{v:.6f}" for v in values) + "\n")
        parts[f"part-{shard:04d}.csv"] = "".join(lines).encode()
    return parts


def upload_training_set(s3: Any, bucket: str, prefix: str, key_arn: str, parts: dict[str, bytes]) -> int:
    """Uploads the shards not already there with the same size; returns how many were uploaded."""
    existing: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        existing.update({o["Key"]: o["Size"] for o in page.get("Contents", [])})
    uploaded = 0
    for name, body in parts.items():
        key = f"{prefix}{name}"
        if existing.get(key) == len(body):
            continue
        s3.put_object(Bucket=bucket, Key=key, Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=key_arn)
        uploaded += 1
    return uploaded

