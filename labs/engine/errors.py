"""Errors the command line turns into one clear line with the fix.

``LabError`` is a problem the user can fix, raised with its message. ``explain`` is the one
translation of everything botocore and boto3 raise (no region, missing or partial credentials,
an unknown profile, an expired token, a refused or timed-out connection, an unreadable answer,
a failed S3 transfer, a refused request) into such a line. Nothing here imports boto3: the
command line starts without it.
"""

from __future__ import annotations

import re

from catalog.base import UnknownLab


class LabError(Exception):
    """A problem the user can fix; the message says how."""


EXPIRED_TOKEN_CODES = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
BAD_CREDENTIAL_CODES = {"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch",
                        "InvalidAccessKeyId", "AuthFailure", "InvalidSignatureException"}
THROTTLING_CODES = {"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded",
                    "SlowDown", "ProvisionedThroughputExceededException"}
NETWORK_FIX = "check your network, proxy or AWS_ENDPOINT_URL, then retry"


def _endpoint(error: Exception) -> str:
    kwargs = getattr(error, "kwargs", {}) or {}
    return str(kwargs.get("endpoint_url") or kwargs.get("proxy_url") or "AWS")


def _client_error(error: Exception) -> str:
    response = getattr(error, "response", {}) or {}
    code = str(response.get("Error", {}).get("Code", "Unknown"))
    message = str(response.get("Error", {}).get("Message", "")).strip()
    operation = getattr(error, "operation_name", None) or "a request"
    if code in EXPIRED_TOKEN_CODES:
        return "your AWS session token has expired: refresh your credentials (e.g. `aws sso login`) and retry"
    if code in BAD_CREDENTIAL_CODES:
        return f"AWS does not accept your credentials ({code}): check the access key or profile, or refresh them"
    if code in THROTTLING_CODES:
        return f"AWS throttled {operation} even after retries: wait a minute and retry"
    if "AccessDenied" in code or code in {"UnauthorizedOperation", "Forbidden", "403"}:
        return f"AWS denied {operation} ({code}): your identity needs that permission{_said(message)}"
    return f"AWS refused {operation}: {code}{_said(message)}"


def _said(message: str) -> str:
    message = re.sub(r"\s+", " ", message)
    return f": {message[:300]}" if message else ""


def explain(error: BaseException) -> str | None:
    """The one-line message, with its fix, for an error of botocore or boto3; None for any other."""
    from botocore import exceptions as core
    from botocore.parsers import ResponseParserError

    try:
        from boto3.exceptions import S3TransferFailedError, S3UploadFailedError
    except ImportError:  # pragma: no cover - boto3 is a dependency
        S3TransferFailedError = S3UploadFailedError = ()  # type: ignore[assignment,misc]

    if isinstance(error, core.NoRegionError):
        return "no AWS region set: pass --region or set AWS_DEFAULT_REGION (or `aws configure`)"
    if isinstance(error, core.NoCredentialsError):
        return "no AWS credentials found: run `aws configure` or set AWS_PROFILE, then retry"
    if isinstance(error, core.PartialCredentialsError):
        kwargs = error.kwargs
        return (f"incomplete AWS credentials: {kwargs.get('provider', 'your configuration')} lacks "
                f"{kwargs.get('cred_var', 'a value')}; set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                "or use a profile (--aws-profile)")
    if isinstance(error, core.ProfileNotFound):
        profile = error.kwargs.get("profile")
        return (f"AWS profile {profile!r} is not configured: run `aws configure --profile {profile}`, or pick "
                "another with --aws-profile or AWS_PROFILE")
    if isinstance(error, (core.SSOError, core.TokenRetrievalError)):
        return "your AWS SSO session has expired or is invalid: run `aws sso login` and retry"
    if isinstance(error, core.CredentialRetrievalError):
        return f"cannot get AWS credentials ({error}): fix your profile's credential source and retry"
    if isinstance(error, core.ConnectTimeoutError):
        return f"connecting to {_endpoint(error)} timed out: {NETWORK_FIX}"
    if isinstance(error, core.ReadTimeoutError):
        return f"{_endpoint(error)} accepted the connection but did not answer in time: {NETWORK_FIX}"
    if isinstance(error, core.SSLError):
        return f"TLS to {_endpoint(error)} failed ({error.kwargs.get('error', 'certificate problem')}): {NETWORK_FIX}"
    if isinstance(error, core.ProxyConnectionError):
        return f"cannot connect through the proxy {_endpoint(error)}: check HTTPS_PROXY, then retry"
    if isinstance(error, (core.EndpointConnectionError, core.ConnectionClosedError, core.ConnectionError)):
        return f"cannot reach {_endpoint(error)}: {NETWORK_FIX}"
    if isinstance(error, ResponseParserError):
        return ("the answer from AWS could not be read (a proxy or captive portal in the way?): "
                f"{NETWORK_FIX}")
    if isinstance(error, (S3UploadFailedError, S3TransferFailedError)):
        text = str(error)
        if "NoSuchBucket" in text:
            return "the lab's bucket does not exist: redeploy the lab (`labs deploy LAB`), then retry"
        return f"an S3 transfer failed ({_said(text).removeprefix(': ')}): retry, or redeploy the lab if it persists"
    if isinstance(error, core.ClientError):
        return _client_error(error)
    if isinstance(error, core.BotoCoreError):
        return f"an AWS request failed: {_said(str(error)).removeprefix(': ')}"
    return None


def one_line(error: BaseException) -> str | None:
    """What the command line prints for ``error``: a LabError's message, or the AWS translation."""
    if isinstance(error, (LabError, UnknownLab)):
        return str(error).splitlines()[0] if str(error) else type(error).__name__
    return explain(error)
