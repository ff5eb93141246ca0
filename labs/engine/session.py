"""The one AWS client factory of the command line and the practice steps.

Every client made from these sessions has explicit connect and read timeouts and botocore's
standard retry mode with a bounded budget, so that an endpoint that never answers makes a
command give up with one line (``labs.engine.errors.explain``) within about 30 s, instead of
botocore's default 60 s read timeout times its retries. A client that needs more patience
(bulk writes the practice retries on throttling) asks for it with ``patient()``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

CONNECT_TIMEOUT_SECONDS = 4
READ_TIMEOUT_SECONDS = 8
MAX_ATTEMPTS = 3  # the first try and two retries: 3 x 8 s plus backoff stays within about 30 s
PATIENT_MAX_ATTEMPTS = 8  # for the practice's bulk writes, which throttling is expected to slow


def client_config(max_attempts: int = MAX_ATTEMPTS) -> Any:
    from botocore.config import Config

    return Config(connect_timeout=CONNECT_TIMEOUT_SECONDS, read_timeout=READ_TIMEOUT_SECONDS,
                  retries={"mode": "standard", "total_max_attempts": max_attempts})


def patient() -> Any:
    """The client config for bulk writes: standard retries with more attempts (botocore retries
    throttling and transient errors itself, with exponential backoff and jitter)."""
    return client_config(PATIENT_MAX_ATTEMPTS)


@cache
def _web_page_error() -> type:
    from botocore.exceptions import BotoCoreError
    from botocore.parsers import ResponseParserError

    class WebPageAnswer(BotoCoreError, ResponseParserError):
        """A web page came back where an AWS answer should be (a BotoCoreError, so every handler
        of AWS faults sees it; a ResponseParserError, so ``labs.engine.errors.explain`` words it)."""

        fmt = "{operation} was answered with a web page, not by AWS"

    return WebPageAnswer


def refuse_web_pages(operation_model: Any, response_dict: dict, **_: Any) -> None:
    """An answer that is a web page (a proxy's or captive portal's login page) is not AWS's: say so
    instead of letting the XML or JSON parser fail on it in some odd way."""
    if operation_model.has_streaming_output:
        return
    body = response_dict.get("body") or b""
    start = (body if isinstance(body, bytes) else str(body).encode())[:512].lstrip().lower()
    if start.startswith((b"<!doctype html", b"<html")):
        raise _web_page_error()(operation=operation_model.name)


def aws_session(*, profile: str | None = None, region: str | None = None, credentials: dict | None = None) -> Any:
    """A boto3 session whose clients all use ``client_config()``.

    ``profile``: a named profile (None: the default chain, AWS_PROFILE included). ``credentials``:
    temporary credentials as STS returns them (AccessKeyId, SecretAccessKey, SessionToken).
    Raises botocore's ProfileNotFound for an unknown profile (``explain`` turns it into one line).
    """
    import boto3
    import botocore.session

    core = botocore.session.Session(profile=profile)
    core.set_default_client_config(client_config())
    core.register("before-parse", refuse_web_pages)
    keys = {}
    if credentials:
        keys = {"aws_access_key_id": credentials["AccessKeyId"],
                "aws_secret_access_key": credentials["SecretAccessKey"],
                "aws_session_token": credentials.get("SessionToken")}
    return boto3.Session(botocore_session=core, region_name=region, **keys)


class AwsCallBlocked(RuntimeError):
    """A dry run tried to send a request."""


def offline_session(region: str | None) -> Any:
    """A boto3 session that refuses to send anything, with inert credentials so that nothing looks
    any up either: a dry run's guarantee that AWS is not called."""
    import boto3

    session = boto3.Session(region_name=region or "us-east-1", aws_access_key_id="dry-run",
                            aws_secret_access_key="dry-run")
    attempts: list[str] = []

    def refuse(request: Any = None, **_: Any) -> None:
        attempts.append(getattr(request, "url", "?"))
        raise AwsCallBlocked(f"dry run: refused to send {getattr(request, 'url', 'a request')}")

    session.events.register("before-send", refuse)
    session.blocked_attempts = attempts  # type: ignore[attr-defined]
    return session
