"""What ``labs deploy`` saves locally: a deployed lab's outputs, tags and expiry.

One JSON file per stack, account and region under ``.labs/`` (git-ignored; the
``MLREF_LABS_STATE`` environment variable moves it). ``labs practice`` reads the
outputs from here instead of asking CloudFormation, ``labs destroy`` removes the file.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def state_dir() -> Path:
    return Path(os.environ.get("MLREF_LABS_STATE") or ROOT / ".labs")


@dataclass(frozen=True)
class SavedDeployment:
    """A lab as ``labs deploy`` left it.

    Attributes:
        lab: the lab's name.
        stack: its CloudFormation stack name.
        account: the AWS account it was deployed to.
        region: the region it was deployed to.
        profile: sandbox or production.
        deployed_at: when the deployment finished (ISO 8601, UTC).
        expires_at: when the lab deletes itself (ISO 8601, UTC), None if it never does.
        outputs: the stack's outputs.
        tags: the stack's tags.
    """

    lab: str
    stack: str
    account: str
    region: str
    profile: str
    deployed_at: str
    expires_at: str | None
    outputs: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and datetime.fromisoformat(self.expires_at) <= now


def path_of(stack: str, account: str, region: str, directory: Path | None = None) -> Path:
    return (directory or state_dir()) / f"{stack}.{account}.{region}.json"


def save(record: SavedDeployment, directory: Path | None = None) -> Path:
    """Writes the record (atomically) and returns its path."""
    path = path_of(record.stack, record.account, record.region, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(asdict(record), indent=2, sort_keys=True) + "\n")
    temporary.replace(path)
    return path


def load(stack: str, account: str, region: str, directory: Path | None = None) -> SavedDeployment | None:
    """The saved record, or None when there is none or it cannot be read."""
    path = path_of(stack, account, region, directory)
    try:
        return SavedDeployment(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def saved_for_region(stack: str, region: str, directory: Path | None = None) -> list[Path]:
    """Every saved record of ``stack`` in ``region`` (any account)."""
    folder = directory or state_dir()
    return sorted(folder.glob(f"{stack}.*.{region}.json")) if folder.is_dir() else []


def forget(stack: str, account: str, region: str, directory: Path | None = None) -> bool:
    """Removes the saved record; True when there was one."""
    path = path_of(stack, account, region, directory)
    if path.exists():
        path.unlink()
        return True
    return False
