"""What ``labs deploy`` saves locally: a deployed lab's outputs, tags, options and expiry.

One JSON file per stack, account and region under ``.labs/`` (git-ignored; the
``MLREF_LABS_STATE`` environment variable moves it). ``labs status`` and ``labs destroy`` read the
options from here; ``labs practice`` never acts on these outputs alone (CloudFormation says whether
the stack still exists); ``labs destroy`` removes the file.

A saved record is untrusted input: a file that cannot be read, is not JSON, lacks a field,
has a field of the wrong type or an expiry without a time zone is reported (``warn``) and
ignored, never fatal. Writing is atomic, so an interrupted write leaves the old record.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path

from catalog.paths import ROOT
from labs.engine.atomic_write import write_atomically

Warn = Callable[[str], None]


def state_dir() -> Path:
    return Path(os.environ.get("MLREF_LABS_STATE") or ROOT / ".labs")


def state_problem() -> str | None:
    """Why the state folder cannot hold the labs' files (``MLREF_LABS_STATE`` naming a file, a
    folder that cannot be made), as one line with the fix; None when it can."""
    folder = state_dir()
    try:
        if folder.exists() and not folder.is_dir():
            reason = "it is a file"
        else:
            folder.mkdir(parents=True, exist_ok=True)
            return None
    except OSError as error:
        reason = error.strerror or str(error)
    where = f"MLREF_LABS_STATE={folder}" if os.environ.get("MLREF_LABS_STATE") else str(folder)
    return f"{where} cannot be the labs' state folder ({reason}): point MLREF_LABS_STATE at a folder you may write, " \
           "or unset it"


def parse_moment(value: str) -> datetime:
    """An ISO-8601 time with a zone (``Z`` or an offset); ValueError for anything else."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone")
    return moment


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
        expires_at: when the lab deletes itself (ISO 8601 with zone), None if it never does.
        outputs: the stack's outputs.
        tags: the stack's tags.
        context: the lab's validated ``-c`` values (its options).
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
    context: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: object) -> SavedDeployment:
        """The record in ``data``; ValueError saying what is wrong with it."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        known = {f.name for f in fields(cls)}
        missing = [name for name in ("lab", "stack", "account", "region", "profile", "deployed_at") if name not in data]
        if missing:
            raise ValueError(f"lacks {', '.join(missing)}")
        values = {k: v for k, v in data.items() if k in known}
        for name in ("lab", "stack", "account", "region", "profile", "deployed_at"):
            if not isinstance(values[name], str):
                raise ValueError(f"{name} is not text")
        for name in ("outputs", "tags", "context"):
            mapping = values.get(name, {})
            if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                        for k, v in mapping.items()):
                raise ValueError(f"{name} is not a mapping of text to text")
        expires = values.get("expires_at")
        if expires is not None:
            if not isinstance(expires, str):
                raise ValueError("expires_at is not text")
            parse_moment(expires)
        return cls(**values)

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and parse_moment(self.expires_at) <= now


def path_of(stack: str, account: str, region: str, directory: Path | None = None) -> Path:
    return (directory or state_dir()) / f"{stack}.{account}.{region}.json"


def save(record: SavedDeployment, directory: Path | None = None) -> Path:
    """Writes the record atomically and returns its path."""
    path = path_of(record.stack, record.account, record.region, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(asdict(record), indent=2, sort_keys=True) + "\n"
    return write_atomically(path, lambda file: file.write(text.encode()))


def _ignore(_message: str) -> None:
    return None


def load(stack: str, account: str, region: str, directory: Path | None = None,
         warn: Warn = _ignore) -> SavedDeployment | None:
    """The saved record; None when there is none, or (reported to ``warn``) when it is unusable."""
    path = path_of(stack, account, region, directory)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as error:
        warn(f"warning: cannot read the saved record {path} ({error.strerror or error}); asking CloudFormation")
        return None
    try:
        return SavedDeployment.from_json(json.loads(text))
    except (ValueError, TypeError) as error:
        warn(f"warning: ignoring the saved record {path}: {error}; asking CloudFormation (delete the file "
             "or redeploy to replace it)")
        return None


def saved_for_region(stack: str, region: str, directory: Path | None = None) -> list[Path]:
    """Every saved record of ``stack`` in ``region`` (any account)."""
    folder = directory or state_dir()
    try:
        return sorted(folder.glob(f"{stack}.*.{region}.json")) if folder.is_dir() else []
    except OSError:
        return []


def forget(stack: str, account: str, region: str, directory: Path | None = None, warn: Warn = _ignore) -> bool:
    """Removes the saved record; True when there was one. A record that cannot be removed is
    reported and left: forgetting never stops a destroy."""
    path = path_of(stack, account, region, directory)
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False
    except OSError as error:
        warn(f"warning: cannot remove the saved record {path} ({error.strerror or error}); delete it by hand")
        return False
