"""How every dry run prints a request: a ``# <service> <Operation>`` heading (``as <Output>`` when the
practice sends it as the lab role that stack output names), then its parameters.

Before each step's requests the dry run prints the step's line (``labs.practice.common.steps``).
The same lines can be read back (``printed_requests``, ``printed_calls``) so tests check each one
against botocore's service model, the way the request would be checked before it is sent, and
``labs permissions`` proves that the lab's policies allow each (labs/permissions/calls.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from labs.practice.common.steps import STEP_LINE

# The operation as the API names it (PutObject) or as boto3 does (put_object).
HEADING = re.compile(r"^# (?P<service>[a-z0-9-]+) (?P<operation>[A-Z][A-Za-z0-9]+|[a-z][a-z0-9]*(?:_[a-z0-9]+)+|[a-z]+)"
                     r"(?: as (?P<role>[A-Za-z][A-Za-z0-9]*))?(?P<refused> \(refused\))?(?:: (?P<title>.*))?$")


class PrintedRequest(NamedTuple):
    service: str
    operation: str
    params: dict[str, Any]
    role: str  # the stack output naming the role it is sent as; "" for the caller's own credentials
    title: str
    refused: bool  # the practice sends it to show that it is refused


def show_request(out: Callable[[str], None], service: str, operation: str, params: dict[str, Any],
                 title: str = "", *, as_role: str = "", refused: bool = False) -> None:
    """Prints one request: its heading line, then its parameters as JSON. ``as_role``: the stack output
    naming the lab role the practice sends it as; ``refused``: the practice shows that it fails."""
    out(f"# {service} {operation}" + (f" as {as_role}" if as_role else "") + (" (refused)" if refused else "")
        + (f": {title}" if title else ""))
    out(json.dumps(params, indent=1, default=str))


def api_name(operation: str) -> str:
    """``list_objects_v2`` -> ``ListObjectsV2``; an API name as it is."""
    return operation if operation[:1].isupper() else "".join(part.capitalize() for part in operation.split("_"))


def printed_requests(lines: Iterable[str]) -> list[tuple[str, str, dict[str, Any]]]:
    """(service, operation, params) for every request ``show_request`` printed among ``lines``."""
    return [(r.service, r.operation, r.params) for r in printed_calls(lines)]


def printed_calls(lines: Iterable[str]) -> list[PrintedRequest]:
    """Every request ``show_request`` printed among ``lines``, with the role it is sent as and its title."""
    found: list[PrintedRequest] = []
    heading, body = None, []
    for line in [*lines, "# end"]:
        for part in line.splitlines() or [""]:
            if part.startswith("#") or STEP_LINE.match(part):  # a heading, a note, a step: each ends the request
                if heading is not None and body:
                    found.append(PrintedRequest(heading["service"], api_name(heading["operation"]),
                                                json.loads("\n".join(body)),
                                                heading["role"] or "", heading["title"] or "",
                                                heading["refused"] is not None))
                heading, body = HEADING.match(part), []
            elif heading is not None:
                body.append(part)
    return found


def show_stack_outputs(out: Callable[[str], None], stack_name: str) -> None:
    """The requests that read the deployed stack's outputs (``labs.engine.deployed.described_stack``)."""
    show_request(out, "cloudformation", "DescribeStacks", {"StackName": stack_name}, "the stack's outputs")
    show_request(out, "cloudformation", "ListStacks", {},
                 f"only without {stack_name}: a classroom's copy of it in this account and region "
                 f"(StackSet-{stack_name}-<id>), described the same way")


def show_assume_role(out: Callable[[str], None], role_arn: str, purpose: str) -> None:
    """The request for a lab role's credentials (``role_arn``: the dry run's stand-in for its stack output)."""
    show_request(out, "sts", "AssumeRole", {"RoleArn": role_arn, "RoleSessionName": f"mlref-{purpose}",
                                            "DurationSeconds": 3600}, f"the {purpose}'s credentials")


def example_role_arn(output: str) -> str:
    """A dry run's stand-in for the role ARN a stack output holds (long enough for the STS model)."""
    return f"arn:aws:iam::111122223333:role/<{output}>"
