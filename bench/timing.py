"""The one way the benchmarks time a command: a process run from the checkout, its output discarded."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(command: list[str], **env: str) -> float:
    """Wall seconds of ``command`` run in the checkout with ``env`` added; a failure raises."""
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env={**os.environ, **env}, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)
    return time.perf_counter() - start
