"""Writing a file so that it is never seen half-written."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def write_atomically(path: Path, write: Callable[[BinaryIO], None]) -> Path:
    """Writes ``path`` through a temporary file in the same folder, then replaces it in one step.

    ``write`` gets the temporary file, open for writing bytes. An interrupted or failed write
    (Ctrl-C, a full disk, an error in ``write``) leaves ``path`` as it was and no temporary
    file behind. A file that existed keeps its mode; a new one gets the mode ``open`` gives.
    Returns ``path``.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temporary, "xb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o777)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path
