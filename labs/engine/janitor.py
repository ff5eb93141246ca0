"""``labs janitor deploy|destroy``: the account-level sweep stack, once per account and region."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from catalog import JANITOR_STACK_NAME
from labs.engine.cdk_cli import CdkCli
from labs.engine.confirm import confirmed
from labs.engine.errors import LabError
from labs.engine.synthesis import assembly_dir

Out = Callable[[str], None]


def janitor(session: Any, action: str, *, cdk: CdkCli, profile: str = "sandbox", out: Out = print,
            yes: bool = False, ask: Callable[[str], bool] | None = None) -> int:
    """``labs janitor deploy|destroy``: the account-level sweep stack, once per account and region."""
    if not session.region_name:
        raise LabError("no AWS region set: pass --region or set AWS_DEFAULT_REGION (or `aws configure`)")
    if not confirmed(yes, ask, f"{action.capitalize()} {JANITOR_STACK_NAME} in {session.region_name}?", out,
                     f"not {action}ed"):
        return 1
    assembly = cdk.synth({"profile": profile, "labs": "none"}, assembly_dir(profile, "janitor"),
                         on_line=lambda _line: None, on_failure=out)
    code = (cdk.deploy if action == "deploy" else cdk.destroy)(JANITOR_STACK_NAME, assembly, out)
    if code != 0:
        raise LabError(f"cdk {action} {JANITOR_STACK_NAME} failed (exit {code}): the lines above say why")
    out(f"{JANITOR_STACK_NAME}: {action} done in {session.region_name}")
    return 0
