"""What every ``labs`` command shares: one-line argument errors, the region, the AWS session and the CDK
CLI runner a command acts with, and how it asks before it acts."""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Any, NoReturn

from catalog import UnknownLab, contract

PROFILES = ("sandbox", "production")


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``error: ... (see `labs ... --help`)``, exit 2; and whole option names
    only: no abbreviations, so that a lab's ``--break`` is never taken for another's ``--break-test``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        unknown = re.match(r"argument (LAB|lab|practice_lab): invalid choice: '([^']*)'", message)
        if unknown:
            try:
                contract(unknown.group(2))
            except UnknownLab as error:
                print(f"error: {error}", file=sys.stderr)
                raise SystemExit(2) from None
        print(f"error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(2)


def region_of(args: argparse.Namespace) -> str:
    """The region for commands that need one without asking AWS: --region, the environment, else us-east-1."""
    return args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def session_of(args: argparse.Namespace) -> Any:
    from labs.engine.session import aws_session

    return aws_session(profile=args.aws_profile, region=args.region)


def cdk_of(args: argparse.Namespace, session: Any | None = None) -> Any:
    from labs.engine.cdk_cli import CdkCli

    region = (session.region_name if session is not None else None) or region_of(args)
    return CdkCli(aws_profile=args.aws_profile, region=region)


def confirm(question: str) -> bool:
    return input(f"{question} [y/N] ").strip().lower() in {"y", "yes"}


def asker() -> Any:
    return confirm if sys.stdin.isatty() else None
