"""How every dry run prints a request: a ``# <service> <Operation>`` heading, then its parameters.

The same lines can be read back (``printed_requests``) so tests check each one against
botocore's service model, the way the request would be checked before it is sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

HEADING = re.compile(r"^# (?P<service>[a-z0-9-]+) (?P<operation>[A-Z][A-Za-z0-9]+)(?:: (?P<title>.*))?$")


def show_request(out: Callable[[str], None], service: str, operation: str, params: dict[str, Any],
                 title: str = "") -> None:
    """Prints one request: its heading line, then its parameters as JSON."""
    out(f"# {service} {operation}" + (f": {title}" if title else ""))
    out(json.dumps(params, indent=1, default=str))


def printed_requests(lines: Iterable[str]) -> list[tuple[str, str, dict[str, Any]]]:
    """(service, operation, params) for every request ``show_request`` printed among ``lines``."""
    found: list[tuple[str, str, dict[str, Any]]] = []
    heading, body = None, []
    for line in [*lines, "# end"]:
        for part in line.splitlines() or [""]:
            if part.startswith("#"):  # a heading, or a note: either ends the request before it
                if heading is not None and body:
                    found.append((heading["service"], heading["operation"], json.loads("\n".join(body))))
                heading, body = HEADING.match(part), []
            elif heading is not None:
                body.append(part)
    return found
