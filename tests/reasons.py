"""What a reviewer accepts as the reason for an acknowledged finding (cdk-nag, checkov, cfn-guard)."""

from __future__ import annotations

import re

GENERIC_REASONS = re.compile(
    r"^(n/?a|none|todo|tbd|ok|fine|false positive|not needed|not applicable|suppress(ed)?|ignore(d)?|"
    r"by design|intended|expected|acknowledged|known issue|lab|sandbox|wildcard( needed)?)\.?$",
    re.IGNORECASE,
)


def reason_problem(reason: str) -> str | None:
    words = re.findall(r"[A-Za-z0-9:/._*-]+", reason or "")
    if not reason or not reason.strip():
        return "empty"
    if GENERIC_REASONS.match(reason.strip()):
        return "generic"
    if len(words) < 8:
        return "too short to say why (fewer than 8 words)"
    return None
