"""Firehose transform: validate and normalize click events before Redshift COPY.

Each record's data is one JSON click event. Valid events are rewritten as one
JSON line with the columns of ``clickstream.events`` (lower-case keys, UTC
timestamps, canonical event types, paths without query strings). Anything that
cannot be normalized is returned unchanged as ``ProcessingFailed``, so Firehose
writes it under the delivery stream's error prefix: no record is ever dropped.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections import Counter
from datetime import UTC, datetime
from typing import Any

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)

EVENT_TYPES = frozenset({"page_view", "click", "search", "add_to_cart", "purchase"})
DEVICES = frozenset({"desktop", "mobile", "tablet"})
ID_FIELDS = ("event_id", "user_id", "session_id")
MAX_ID, MAX_TEXT = 64, 512
REDSHIFT_TIMESTAMP = "%Y-%m-%d %H:%M:%S.%f"


class InvalidEvent(ValueError):
    """Why an event cannot be delivered (logged as a count, never with the data)."""


def _text(event: dict, field: str, limit: int, *, required: bool = True) -> str | None:
    value = event.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidEvent(f"missing {field}")
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise InvalidEvent(f"{field} is not text")
    value = str(value).strip()
    if len(value) > limit:
        raise InvalidEvent(f"{field} longer than {limit}")
    return value


def event_time(value: Any) -> str:
    """ISO 8601 (with zone) or epoch seconds/milliseconds -> Redshift UTC timestamp text."""
    if isinstance(value, bool):
        raise InvalidEvent("event_time is not a time")
    if isinstance(value, (int, float)):
        seconds = value / 1000 if value > 1e11 else value  # epoch milliseconds vs seconds
        try:
            moment = datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError) as error:
            raise InvalidEvent("event_time out of range") from error
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError as error:
            raise InvalidEvent("event_time is not ISO 8601") from error
        if moment.tzinfo is None:
            raise InvalidEvent("event_time has no time zone")
    else:
        raise InvalidEvent("missing event_time" if value is None else "event_time is not a time")
    return moment.astimezone(UTC).strftime(REDSHIFT_TIMESTAMP)


def normalize(event: Any) -> dict[str, str | None]:
    """The row for ``clickstream.events``; raises InvalidEvent."""
    if not isinstance(event, dict):
        raise InvalidEvent("not a JSON object")
    event = {str(k).strip().lower(): v for k, v in event.items()}
    row: dict[str, str | None] = {field: _text(event, field, MAX_ID) for field in ID_FIELDS}
    event_type = _text(event, "event_type", MAX_ID).lower().replace("-", "_").replace(" ", "_")
    event_type = "page_view" if event_type == "pageview" else event_type
    if event_type not in EVENT_TYPES:
        raise InvalidEvent("unknown event_type")
    page = _text(event, "page", MAX_TEXT).split("?", 1)[0].split("#", 1)[0]
    if not page.startswith("/"):
        raise InvalidEvent("page is not a path")
    device = (_text(event, "device", MAX_ID, required=False) or "unknown").lower()
    row.update(
        event_type=event_type,
        page=page,
        event_time=event_time(event.get("event_time")),
        device=device if device in DEVICES else "unknown",
        referrer=_text(event, "referrer", MAX_TEXT, required=False),
        run_id=_text(event, "run_id", MAX_ID, required=False),
    )
    return row


def transform(record: dict) -> tuple[dict, str | None]:
    """One Firehose output record, and the failure reason (None when delivered)."""
    try:
        raw = base64.b64decode(record["data"], validate=True)
        row = normalize(json.loads(raw))
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError) as error:
        reason = "not base64" if isinstance(error, binascii.Error) else "not JSON"
        return {"recordId": record["recordId"], "result": "ProcessingFailed", "data": record["data"]}, reason
    except InvalidEvent as error:
        return {"recordId": record["recordId"], "result": "ProcessingFailed", "data": record["data"]}, str(error)
    line = (json.dumps(row, separators=(",", ":")) + "\n").encode()
    return {"recordId": record["recordId"], "result": "Ok", "data": base64.b64encode(line).decode()}, None


def handler(event: dict, context: Any = None) -> dict:
    records, failures = [], Counter()
    for record in event.get("records", []):
        output, reason = transform(record)
        records.append(output)
        if reason:
            failures[reason] += 1
    LOGGER.info(json.dumps({"records": len(records), "ok": len(records) - sum(failures.values()),
                            "processing_failed": dict(failures)}))
    return {"records": records}
