"""Synthesizing labs with the pinned CDK CLI: the context a lab is built with (validated once by the
app's own rules), where each assembly goes, and ``labs synth``."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from catalog import LabContract, contract
from catalog.base import PROFILE_NAMES
from catalog.paths import ROOT
from labs.engine.cdk_cli import CdkCli
from labs.engine.errors import LabError
from labs.engine.state import state_dir

RESERVED_KEYS = {"labs", "profile"}
Out = Callable[[str], None]


def context_pairs(items: Sequence[str]) -> dict[str, str]:
    """``-c KEY=VALUE`` items as a mapping; a one-line LabError for a malformed or reserved one."""
    pairs: dict[str, str] = {}
    for item in items:
        key, separator, value = item.partition("=")
        if not separator or not key.strip():
            raise LabError(f"-c {item!r} is not KEY=VALUE (e.g. -c ttl_hours=8)")
        if key.strip() in RESERVED_KEYS:
            raise LabError(f"-c {key.strip()}=... is set by the labs command: use the LAB argument and --profile")
        pairs[key.strip()] = value.strip()
    return pairs


def lab_context(lab: LabContract, profile: str, items: Sequence[str], region: str,
                account: str | None = None) -> tuple[dict[str, str], Any]:
    """The context to synthesize ``lab`` with, and the lab's options, validated once by the app's rules."""
    from catalog.config import ConfigError, read_config

    pairs = {**context_pairs(items), "labs": lab.name, "profile": profile}
    defaults = json.loads((ROOT / "cdk.json").read_text()).get("context", {})
    environment = {"CDK_DEFAULT_REGION": region, "USER": os.environ.get("USER", "")}
    if account:
        environment["CDK_DEFAULT_ACCOUNT"] = account
    try:
        config = read_config({**defaults, **pairs}, environment)
    except ConfigError as error:
        raise LabError(str(error)) from error
    return pairs, config.options_of(lab.name)


def assembly_dir(profile: str, lab: str) -> Path:
    """Where a single lab is synthesized (``labs synth LAB``, deploy, destroy): its own folder, so
    ``cdk.out`` keeps every lab."""
    return state_dir() / "assembly" / profile / lab


def all_labs_dir(profile: str) -> Path:
    """Where ``labs synth --all`` (and ``make synth``) put every lab of a profile."""
    return ROOT / ("cdk.out" if profile == "sandbox" else f"cdk.out.{profile}")


def synth(lab: str | None, profile: str, *, cdk: CdkCli, context: Sequence[str] = (), region: str = "us-east-1",
          out: Out = print, outdir: Path | None = None) -> Path:
    """Every lab into cdk.out (``lab`` None), or one lab into its own folder; then a summary."""
    from labs.templates.summary import summarize

    if profile not in PROFILE_NAMES:
        raise LabError(f"--profile {profile!r} is not a profile; use sandbox or production")
    if lab is None:
        pairs = {**context_pairs(context), "profile": profile, "labs": "all"}
        target = outdir or all_labs_dir(profile)
    else:
        pairs, _ = lab_context(contract(lab), profile, context, region)
        target = outdir or assembly_dir(profile, lab)
    cdk.synth(pairs, target, on_line=out)
    for summary in summarize(target):
        out(summary.line())
    return target
