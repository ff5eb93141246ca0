"""The one way the benchmarks time a command: a process run from the checkout, its output discarded."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the checkout: the benchmarks run as scripts from bench/
sys.path.insert(0, str(ROOT))

from catalog.toolchain import QUIET_TOOLCHAIN  # noqa: E402 - after the checkout is on the path


def timed(command: list[str], **env: str) -> float:
    """Wall seconds of ``command`` run in the checkout with ``env`` added; a failure raises."""
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env={**os.environ, **QUIET_TOOLCHAIN, **env}, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start
