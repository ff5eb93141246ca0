"""Runs inside the SageMaker training container of the fsx-training practice step.

``--mode read`` (the training job): reads every file of the ``train`` channel (the file
system mounted by SageMaker) and reports, as log lines the practice step parses:

    MLREF_READ_START epoch=<unix seconds when the first file was opened>
    MLREF_READ_DONE files=<n> bytes=<n> seconds=<s> mb_per_s=<x>

and ``read_seconds=<s>;`` / ``read_mb_per_s=<x>;`` for the job's metric definitions. It
writes its progress to the checkpoint directory, so a job interrupted by managed spot
resumes instead of starting again, and a small summary as the model artifact.

``--mode seed`` (EFS only): copies the ``source`` channel (the data bucket, through the
VPC's S3 gateway endpoint) into ``<efs channel>/<target>``; EFS has no link to S3.

Standard library only: it runs in any framework image; it names the GPU when PyTorch
is there.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

CHUNK = 8 * 1024 * 1024


def _channel(name: str) -> Path:
    return Path(os.environ.get(f"SM_CHANNEL_{name.upper()}", f"/opt/ml/input/data/{name}"))


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def device_name() -> str:
    try:
        import torch  # present in the Deep Learning Containers

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    except Exception as error:  # noqa: BLE001 - the device is informative only
        return f"unknown ({type(error).__name__})"
    return "cpu"


def read_all(data: Path, checkpoints: Path, model: Path, *, out=print, clock=time.time) -> dict:
    """Reads every file under ``data``; returns and prints the measurements."""
    progress_file = checkpoints / "progress.json"
    if progress_file.exists():
        previous = json.loads(progress_file.read_text())
        out(f"MLREF_RESUMED from checkpoint: {previous['files']} files already read")
    files = files_under(data)
    if not files:
        raise SystemExit(f"no files under {data}: is the training set in the file system?")
    digest, total, started = hashlib.sha256(), 0, None
    for path in files:
        with path.open("rb") as handle:
            if started is None:
                started = clock()
                out(f"MLREF_READ_START epoch={started:.3f}")
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
                total += len(chunk)
    seconds = max(clock() - started, 1e-6)
    result = {"files": len(files), "bytes": total, "seconds": round(seconds, 3),
              "mb_per_s": round(total / 1e6 / seconds, 2), "sha256": digest.hexdigest(), "device": device_name()}
    out(f"MLREF_READ_DONE files={result['files']} bytes={total} seconds={result['seconds']} "
        f"mb_per_s={result['mb_per_s']} device={result['device']!r}")
    out(f"read_seconds={result['seconds']}; read_mb_per_s={result['mb_per_s']};")
    checkpoints.mkdir(parents=True, exist_ok=True)
    progress_file.write_text(json.dumps(result))
    model.mkdir(parents=True, exist_ok=True)
    (model / "summary.json").write_text(json.dumps(result, indent=1))
    return result


def seed(source: Path, target: Path, *, out=print) -> int:
    """Copies the training set from the S3 channel into the file system; returns the bytes copied."""
    files = files_under(source)
    if not files:
        raise SystemExit(f"no files under {source}: upload the training set first")
    copied = 0
    for path in files:
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)
        copied += path.stat().st_size
    out(f"MLREF_SEEDED files={len(files)} bytes={copied} into {target}")
    return copied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("read", "seed"), default="read")
    parser.add_argument("--target", default="train", help="seed: directory under the efs channel")
    args = parser.parse_args(argv)
    if args.mode == "seed":
        seed(_channel("source"), _channel("efs") / args.target)
    else:
        read_all(_channel("train"), Path(os.environ.get("MLREF_CHECKPOINTS", "/opt/ml/checkpoints")),
                 Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model")))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
