"""Runs inside the SageMaker training containers of the fsx-training practice step.

``--mode read`` (one job per input mode): reads every shard of the ``train`` channel,
wherever the input mode put it (File: downloaded to /opt/ml/input/data/train before the
script starts; FastFile: the same path, streamed from S3 as it is read; FSx for Lustre or
EFS: the file system mounted there), and logs lines the practice step parses:

    MLREF_WAITED seconds=<s> files=<n>          (only if the shards were not all there yet)
    MLREF_READ_START epoch=<unix seconds at the first byte> attempt=<n>
    MLREF_READ_DONE files=<n> bytes=<n> seconds=<s> mb_per_s=<x> attempts=<n> device='...'

and ``read_seconds=<s>;`` / ``read_mb_per_s=<x>;`` for the job's metric definitions. After
each shard it records its progress in the checkpoint directory, so a job that managed spot
interrupts resumes with the next shard (``MLREF_RESUMED``) and reports the whole read.

``--mode prepare`` (the short CPU job that writes the data set): writes ``--gib`` GiB of
incompressible shards into the checkpoint directory, which SageMaker syncs to the data
bucket, keeping shards already there; with ``--efs-target`` also copies them into the EFS
channel. Ends with ``_manifest.json`` and ``MLREF_PREPARED``.

Standard library only: it runs in any framework image; it names the GPU when PyTorch is there.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

CHUNK = 8 * 1024 * 1024
PIECE = 16 * 1024 * 1024
SHARD_BYTES = 256 * 1024 * 1024
MANIFEST = "_manifest.json"


def _channel(name: str) -> Path:
    return Path(os.environ.get(f"SM_CHANNEL_{name.upper()}", f"/opt/ml/input/data/{name}"))


def shards_under(root: Path) -> list[Path]:
    """The data files under ``root`` (not the manifest, not hidden files)."""
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(("_", ".")))


def device_name() -> str:
    try:
        import torch  # present in the Deep Learning Containers

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    except ImportError:
        return "cpu (no PyTorch)"
    except Exception as error:  # noqa: BLE001 - the device is informative only
        return f"unknown ({type(error).__name__})"
    return "cpu"


def place(final: Path, write, staging: Path | None = None) -> None:
    """Writes a file whole, then gives it its name: ``write(handle)`` into ``staging`` (default: beside
    ``final``), then a move (a rename on the same file system, else a copy of the finished file).
    SageMaker syncs the checkpoint directory to S3, so files bound there are staged outside it: no
    temporary name ever reaches the bucket."""
    staging = staging or final.parent
    staging.mkdir(parents=True, exist_ok=True)
    temporary = staging / f".{final.name}.partial"
    with temporary.open("wb") as handle:
        write(handle)
    shutil.move(temporary, final)


def _write_json(path: Path, value: dict, staging: Path | None = None) -> None:
    place(path, lambda handle: handle.write(json.dumps(value).encode()), staging)


def wait_for_shards(data: Path, expected: int, *, timeout: float, out=print, clock=time.monotonic,
                    sleep=time.sleep) -> list[Path]:
    """The shards, once ``expected`` of them are there (FSx may still be importing new objects)."""
    started, waited = clock(), False
    files = shards_under(data) if data.exists() else []
    while len(files) < expected and clock() - started < timeout:
        sleep(5)
        waited = True
        files = shards_under(data) if data.exists() else []
    if waited:
        out(f"MLREF_WAITED seconds={clock() - started:.1f} files={len(files)}")
    if not files or len(files) < expected:
        raise SystemExit(f"{len(files)} of {expected or 'any'} shards under {data} after {timeout:.0f} s: "
                         "is the data set in the file system?")
    return files


def read_all(data: Path, checkpoints: Path, model: Path, *, expected: int = 0, wait_seconds: float = 600,
             out=print, clock=time.time, sleep=time.sleep) -> dict:
    """Reads every shard under ``data`` once, resuming after an interruption; returns the measurements."""
    progress_file = checkpoints / "progress.json"
    progress = {"done": [], "bytes": 0, "seconds": 0.0, "attempts": 0}
    if progress_file.exists():
        progress = json.loads(progress_file.read_text())
        out(f"MLREF_RESUMED from checkpoint: {len(progress['done'])} files already read")
    progress["attempts"] += 1
    files = wait_for_shards(data, expected, timeout=wait_seconds, out=out, clock=clock, sleep=sleep)
    checkpoints.mkdir(parents=True, exist_ok=True)
    buffer = memoryview(bytearray(CHUNK))
    started = None
    for path in files:
        name = str(path.relative_to(data))
        if name in progress["done"]:
            continue
        with path.open("rb", buffering=0) as handle:
            if started is None:
                started = clock()
                out(f"MLREF_READ_START epoch={started:.3f} attempt={progress['attempts']}")
            opened = clock()
            while count := handle.readinto(buffer):
                progress["bytes"] += count
        progress["seconds"] += clock() - opened
        progress["done"].append(name)
        _write_json(progress_file, progress, checkpoints.parent / ".mlref-staging")
    seconds = max(progress["seconds"], 1e-6)
    result = {"files": len(progress["done"]), "bytes": progress["bytes"], "seconds": round(seconds, 3),
              "mb_per_s": round(progress["bytes"] / 1e6 / seconds, 2), "attempts": progress["attempts"],
              "device": device_name()}
    out(f"MLREF_READ_DONE files={result['files']} bytes={result['bytes']} seconds={result['seconds']} "
        f"mb_per_s={result['mb_per_s']} attempts={result['attempts']} device={result['device']!r}")
    out(f"read_seconds={result['seconds']}; read_mb_per_s={result['mb_per_s']};")
    model.mkdir(parents=True, exist_ok=True)
    (model / "summary.json").write_text(json.dumps(result, indent=1))
    return result


def shard_names(gib: float, shard_bytes: int = SHARD_BYTES) -> list[str]:
    return [f"part-{number:04d}.bin" for number in range(math.ceil(gib * 1024**3 / shard_bytes))]


def shard_bytes_of(name: str, shard_bytes: int):
    """Writes shard ``name``: ``shard_bytes`` incompressible bytes (SHAKE-128 of its name), the same every time."""
    def write(handle) -> None:
        for piece in range(math.ceil(shard_bytes / PIECE)):
            size = min(PIECE, shard_bytes - piece * PIECE)
            handle.write(hashlib.shake_128(f"mlref:{name}:{piece}".encode()).digest(size))
    return write


def _copy_of(source: Path):
    def write(handle) -> None:
        with source.open("rb") as data:
            shutil.copyfileobj(data, handle, CHUNK)
    return write


def _whole(path: Path, size: int) -> bool:
    return path.exists() and path.stat().st_size == size


def prepare(target: Path, gib: float, *, efs: Path | None = None, efs_id: str = "", shard_bytes: int = SHARD_BYTES,
            staging: Path | None = None, out=print, clock=time.monotonic) -> dict:
    """Writes the shards missing from ``target`` (and from ``efs``), then the manifest; returns it."""
    started = clock()
    staging = staging or target.parent / ".mlref-staging"  # beside, not inside, the synced directory
    target.mkdir(parents=True, exist_ok=True)
    names, written, copied = shard_names(gib, shard_bytes), 0, 0
    for name in names:
        if not _whole(target / name, shard_bytes):
            place(target / name, shard_bytes_of(name, shard_bytes), staging)
            written += 1
        if efs is not None and not _whole(efs / name, shard_bytes):
            efs.mkdir(parents=True, exist_ok=True)
            place(efs / name, _copy_of(target / name))
            copied += 1
    manifest = {"gib": gib, "shard_bytes": shard_bytes, "shards": names, "efs_file_system": efs_id if efs else ""}
    if efs is not None:
        _write_json(efs / MANIFEST, manifest)
    _write_json(target / MANIFEST, manifest, staging)  # last: the practice takes the set as ready once it is there
    out(f"MLREF_PREPARED files={len(names)} bytes={len(names) * shard_bytes} written={written} "
        f"efs_copied={copied} seconds={clock() - started:.1f}")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("read", "prepare"), default="read")
    parser.add_argument("--expect-files", type=int, default=0, help="read: wait until this many shards are there")
    parser.add_argument("--gib", type=float, default=4, help="prepare: size of the data set")
    parser.add_argument("--efs-target", default="", help="prepare: directory under the efs channel to copy into")
    parser.add_argument("--efs-id", default="", help="prepare: the EFS file system, recorded in the manifest")
    parser.add_argument("--shard-mib", type=int, default=SHARD_BYTES // 2**20, help="prepare: shard size")
    args = parser.parse_args(argv)
    checkpoints = Path(os.environ.get("MLREF_CHECKPOINTS", "/opt/ml/checkpoints"))
    if args.mode == "prepare":
        prepare(checkpoints, args.gib, efs=_channel("efs") / args.efs_target if args.efs_target else None,
                efs_id=args.efs_id, shard_bytes=args.shard_mib * 2**20)
    else:
        read_all(_channel("train"), checkpoints, Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model")),
                 expected=args.expect_files)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
