"""The app's configuration from context and environment, validated once, without the CDK.

``read_config`` is what ``app.py`` and ``labs deploy`` both call: every lab's options
come from its contract's parser, and the settings every lab shares are read here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from catalog.base import ConfigError, ContextKey, Profile, nearest

DEFAULT_REGION = "us-east-1"
DEFAULT_TTL_HOURS = 4
MAX_TTL_HOURS = 168
OWNER_PATTERN = re.compile(r"[\w .:/=+\-@]{1,128}")  # fullmatch: $ would let a newline end it
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")  # fullmatch

SHARED_KEYS = (
    ContextKey("profile", "sandbox", "sandbox, production"),
    ContextKey("labs", "all", "comma-separated lab names, all, or none (only the account janitor)"),
    ContextKey("ttl_hours", str(DEFAULT_TTL_HOURS), f"0-{MAX_TTL_HOURS}; sandbox expiry, 0 = never"),
    ContextKey("owner", "$USER", "a tag value: letters, digits, spaces, _ . : / = + - @"),
    ContextKey("alert_email", "none", "an e-mail address: adds a per-lab AWS Budgets cost alert"),
)


@dataclass(frozen=True)
class AppConfig:
    """What one synthesis builds.

    Attributes:
        profile: sandbox or production.
        labs: the labs to build, in registry order.
        ttl_hours: sandbox expiry in hours (0: never).
        owner: the ``owner`` tag.
        account: the target account (None: environment-agnostic).
        region: the target region.
        alert_email: where budget alerts go (None: no budget).
        options: each built lab's options, by lab name.
        contexts: each built lab's own ``-c`` values as given (recorded in its template's metadata).
        classroom: the classroom's options with ``-c classroom=<lab>`` (then ``labs`` is that lab
            alone and the app builds the classroom instead), else None.
    """

    profile: Profile
    labs: tuple[str, ...]
    ttl_hours: int
    owner: str
    account: str | None
    region: str
    alert_email: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    contexts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    classroom: Any = None

    def options_of(self, lab: str) -> Any:
        return self.options[lab]


def is_app_key(key: str) -> bool:
    """Keys the labs could own: the CDK's own (``aws:cdk:...``), feature flags (``@aws-cdk/...``)
    and lookups (``availability-zones:account=...``) all contain ``:`` or start with ``@``."""
    return not key.startswith("@") and ":" not in key


def known_keys() -> list[str]:
    from catalog import LABS
    from catalog.classroom import CONTEXT_KEYS as CLASSROOM_KEYS

    return [key.name for key in (*SHARED_KEYS, *CLASSROOM_KEYS)] + [key.name for lab in LABS.values()
                                                                    for key in lab.context_keys]


def check_keys(context: Mapping[str, object]) -> None:
    """Refuses a context key no lab reads (``-c ttl_hour=1``), naming the nearest known key."""
    known = known_keys()
    for key in context:
        if is_app_key(key) and key not in known:
            hint = nearest(key, known)
            raise ConfigError(f"-c {key}=... is not a context key of the labs; "
                              + (f"did you mean -c {hint}=...?" if hint else f"known keys: {', '.join(known)}"))


def read_labs(context: Mapping[str, object]) -> tuple[str, ...]:
    from catalog import LABS

    value = context.get("labs") or "all"
    names = value if isinstance(value, list) else str(value).split(",")
    names = [str(n).strip() for n in names if str(n).strip()]
    if names == ["all"] or not names:
        names = list(LABS)
    if names == ["none"]:
        return ()
    unknown = [n for n in names if n not in LABS]
    if unknown:
        raise ConfigError(
            f"labs={','.join(unknown)!r}: unknown lab; choose from: {', '.join(LABS)} or all (e.g. -c labs=data-lake)")
    return tuple(dict.fromkeys(names))


def read_ttl(context: Mapping[str, object]) -> int:
    value = context.get("ttl_hours", DEFAULT_TTL_HOURS)
    try:
        hours = int(str(value).strip())
    except ValueError:
        hours = -1
    if not 0 <= hours <= MAX_TTL_HOURS or str(value).strip().lower() in {"true", "false"}:
        raise ConfigError(f"ttl_hours={value!r} is not allowed; use a whole number of hours from 0 (never expires) "
                          f"to {MAX_TTL_HOURS} (e.g. -c ttl_hours=4)")
    return hours


def read_config(context: Mapping[str, object], environ: Mapping[str, str]) -> AppConfig:
    """Validates context and environment; raises ConfigError with a one-line fix."""
    from catalog import LABS

    check_keys(context)
    profile = str(context.get("profile") or Profile.SANDBOX.value)
    allowed = [p.value for p in Profile]
    if profile not in allowed:
        raise ConfigError(f"profile={profile!r} is not a profile; use one of: {', '.join(allowed)} "
                          "(e.g. -c profile=sandbox)")
    region = environ.get("CDK_DEFAULT_REGION") or DEFAULT_REGION
    classroom = read_classroom(context, region, profile)
    names = (classroom.lab,) if classroom else read_labs(context)
    ttl_hours = read_ttl(context)
    owner = str(context.get("owner") or environ.get("USER") or "unknown")
    if not OWNER_PATTERN.fullmatch(owner):
        raise ConfigError(f"owner={owner!r} cannot be a tag value; use 1-128 letters, digits, spaces or "
                          "_ . : / = + - @ (e.g. -c owner=alice)")
    alert_email = str(context.get("alert_email") or "").strip() or None
    if alert_email and not EMAIL_PATTERN.fullmatch(alert_email):
        raise ConfigError(f"alert_email={alert_email!r} is not an e-mail address; use one like "
                          "-c alert_email=you@example.com")
    return AppConfig(
        profile=Profile(profile), labs=names, ttl_hours=ttl_hours, owner=owner,
        account=environ.get("CDK_DEFAULT_ACCOUNT") or None, region=region, alert_email=alert_email,
        options={name: LABS[name].parse(context, region) for name in names},
        contexts={name: lab_context_values(LABS[name], context) for name in names}, classroom=classroom,
    )


def read_classroom(context: Mapping[str, object], region: str, profile: str) -> Any:
    """The classroom's options when ``-c classroom=<lab>`` is given, else None."""
    if not context.get("classroom"):
        return None
    from catalog import classroom

    if profile != Profile.SANDBOX.value:
        raise ConfigError("a classroom is a sandbox (every account's copy expires): drop -c profile=production")
    return classroom.parse(context, region)


def lab_context_values(lab: Any, context: Mapping[str, object]) -> dict[str, str]:
    """The lab's own keys among ``context``, as text (a JSON list joined by commas)."""
    values = {}
    for key in lab.context_keys:
        value = context.get(key.name)
        if value is None or value == "":
            continue
        values[key.name] = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    return values
