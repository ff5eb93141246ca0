"""``labs``: look at, run and remove the mlref labs.

``list``, ``status``, ``synth``, ``inspect``, ``diagram``, ``permissions``, ``deploy``, ``practice``, ``destroy``,
``janitor``, ``prices`` and ``summary``. Nothing here imports aws-cdk-lib: templates come from the
pinned CDK CLI run as a process, and every fact about a lab from its contract.
"""

from __future__ import annotations

import argparse
import inspect as inspect_module
import os
import re
import sys
from pathlib import Path
from typing import Any, NoReturn

from labs.classroom.command import register as add_classroom
from catalog import LABS, contract
from catalog.base import Flag
from labs.engine.errors import LabError, one_line

PROFILES = ("sandbox", "production")


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``error: ... (see `labs ... --help`)``, exit 2."""

    def error(self, message: str) -> NoReturn:
        unknown = re.match(r"argument (LAB|lab|practice_lab): invalid choice: '([^']*)'", message)
        if unknown:
            try:
                contract(unknown.group(2))
            except LabError as error:
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


# -- commands ------------------------------------------------------------------------------

def list_labs(args: argparse.Namespace) -> int:
    from labs.engine.lifecycle import list_lines

    session = None
    reason = "not asked (--offline)"
    if not args.offline:
        try:
            session = session_of(args)
        except Exception as error:  # noqa: BLE001 - no session: list anyway and say why
            if (reason := one_line(error)) is None:
                raise
            reason = f"unknown ({reason})"
    for line in list_lines(session, offline=reason):
        print(line)
    return 0


def status(args: argparse.Namespace) -> int:
    from labs.engine.lifecycle import status_lines

    for line in status_lines(session_of(args)):
        print(line)
    return 0


def synth(args: argparse.Namespace) -> int:
    from labs.engine.lifecycle import synth as run_synth

    if bool(args.lab) == bool(args.all):
        raise LabError("give a lab or --all (e.g. `labs synth feature-store`)")
    if args.lab:
        contract(args.lab)
    run_synth(args.lab, args.profile, context=args.context or (), region=region_of(args), cdk=cdk_of(args))
    return 0


def assembly_of(args: argparse.Namespace) -> Path:
    """The cloud assembly to read: --assembly, else the newest of the lab's own and cdk.out[.profile]."""
    from labs.engine.cdk_cli import stack_artifact
    from labs.engine.deploy import assembly_dir
    from labs.engine.lifecycle import all_labs_dir

    if args.assembly:
        return Path(args.assembly)
    stack = contract(args.lab).stack_name
    found = [d for d in (assembly_dir(args.profile, args.lab), all_labs_dir(args.profile))
             if stack_artifact(d, stack) is not None]
    if not found:
        raise LabError(f"{args.lab} is not synthesized ({args.profile}): run `labs synth {args.lab}` "
                       f"(or `make synth`) first")
    return max(found, key=lambda d: (d / "manifest.json").stat().st_mtime)


def inspect(args: argparse.Namespace) -> int:
    from labs.templates.inspection import inspect_lab, text_report

    report = inspect_lab(args.lab, assembly_of(args))
    print(report.to_json() if args.json else "\n".join(text_report(report)))
    return 0


def permissions(args: argparse.Namespace) -> int:
    from labs.permissions.proof import prove, text_report

    lab = contract(args.lab)
    assembly = Path(args.assembly) if args.assembly else None
    if assembly is None:
        from labs.engine.lifecycle import synth as run_synth

        if args.context:  # a variant: synthesize it into the lab's own folder first
            assembly = run_synth(args.lab, args.profile, context=args.context, region=region_of(args), cdk=cdk_of(args),
                                 out=lambda _: None)
        else:
            assembly = assembly_of(args)
    report = prove(lab, assembly)
    print(report.to_json() if args.json else "\n".join(text_report(report)))
    return 1 if report.failures else 0


def diagram(args: argparse.Namespace) -> int:
    from labs.engine.cdk_cli import ROOT
    from labs.diagram.command import diagram_lab

    for path in diagram_lab(args.lab, assembly_of(args), Path(args.out) if args.out else ROOT / "docs" / "diagrams"):
        print(path)
    return 0


def deploy(args: argparse.Namespace) -> int:
    from labs.engine.deploy import DeployRequest, deploy as run_deploy

    contract(args.lab)
    session = session_of(args)
    request = DeployRequest(lab=args.lab, profile=args.profile, context=tuple(args.context or ()), yes=args.yes,
                            verbose=args.verbose)
    record = run_deploy(session, request, cdk=cdk_of(args, session), ask=asker())
    return 0 if record is not None else 1


def destroy(args: argparse.Namespace) -> int:
    from labs.engine.lifecycle import destroy as run_destroy

    contract(args.lab)
    session = session_of(args)
    return run_destroy(session, args.lab, cdk=cdk_of(args, session), yes=args.yes, ask=asker())


def janitor(args: argparse.Namespace) -> int:
    from labs.engine.lifecycle import janitor as run_janitor

    session = session_of(args)
    return run_janitor(session, args.action, profile=args.profile, cdk=cdk_of(args, session), yes=args.yes,
                       ask=asker())


def practice(args: argparse.Namespace) -> int:
    from labs.engine.progress import LiveLines

    lab = contract(args.practice_lab)
    given = {flag.name: getattr(args, flag.name) for flag in lab.practice_flags
             if getattr(args, flag.name) is not None}
    if args.dry_run:
        from labs.engine.session import offline_session

        session = offline_session(region_of(args))
    else:
        session = session_of(args)
    practice_class = lab.practice_class()
    with LiveLines(title=f"practice {lab.name}") as live:
        if "ask" in inspect_module.signature(practice_class).parameters:  # it asks before it bills
            given["ask"] = live.ask if sys.stdin.isatty() else None
        practice_class(session, dry_run=args.dry_run, out=live, **given).run()
    return 0


def prices(args: argparse.Namespace) -> int:
    from labs.pricing.command import price_lines, refresh

    if args.refresh:
        refresh(session_of(args))
        return 0
    for line in price_lines():
        print(line)
    return 0


def summary(args: argparse.Namespace) -> int:
    from labs.templates.summary import print_summary

    return print_summary(args.assemblies)


# -- the parser ------------------------------------------------------------------------------

def add_flag(parser: argparse.ArgumentParser, flag: Flag) -> None:
    if flag.kind is bool:
        action = argparse.BooleanOptionalAction if flag.negatable else "store_true"
        parser.add_argument(flag.option, dest=flag.name, action=action, default=None, help=flag.help)
    else:
        default = f" (default {flag.default})" if flag.default is not None else ""
        parser.add_argument(flag.option, dest=flag.name, type=flag.kind, default=None, metavar=flag.metavar,
                            help=flag.help + default)


def parser() -> argparse.ArgumentParser:
    root = Parser(prog="labs", description=__doc__.splitlines()[0])
    root.add_argument("--verbose", action="store_true", help="show every detail and tracebacks")
    aws = argparse.ArgumentParser(add_help=False)
    # also after the subcommand (`labs deploy x --verbose`); SUPPRESS keeps `labs --verbose deploy x` working
    aws.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help="show every detail")
    aws.add_argument("--region", default=None, help="AWS region (default: your configuration)")
    aws.add_argument("--aws-profile", default=None, help="AWS named profile")
    profile = argparse.ArgumentParser(add_help=False)
    profile.add_argument("--profile", default="sandbox", choices=PROFILES)
    context = argparse.ArgumentParser(add_help=False)
    context.add_argument("-c", "--context", action="append", metavar="KEY=VALUE",
                         help="app context, e.g. -c ttl_hours=8 -c training_source=efs")
    labs = list(LABS)
    commands = root.add_subparsers(dest="command", required=True, parser_class=Parser)

    listing = commands.add_parser("list", parents=[aws], help="every lab: exams, cost, deployed or not")
    listing.add_argument("--offline", action="store_true", help="do not ask AWS whether labs are deployed")
    listing.set_defaults(handler=list_labs)
    commands.add_parser("status", parents=[aws], help="deployed labs: age, expiry, cost so far").set_defaults(
        handler=status)
    build = commands.add_parser("synth", parents=[aws, profile, context],
                                help="synthesize a lab (or --all) with the pinned CDK CLI and summarize it")
    build.add_argument("lab", nargs="?", choices=labs, metavar="LAB")
    build.add_argument("--all", action="store_true", help="every lab, into cdk.out (cdk.out.production)")
    build.set_defaults(handler=synth)
    for name, handler, text in (("inspect", inspect, "a synthesized lab: resources, IAM, exposure, encryption, "
                                                     "findings, cost"),
                                ("diagram", diagram, "the lab's architecture drawn from its template (SVG, PNG)")):
        command = commands.add_parser(name, parents=[profile], help=text)
        command.add_argument("lab", choices=labs, metavar="LAB")
        command.add_argument("--assembly", default=None, help="cloud assembly directory (default: the newest "
                                                              "synthesis of the lab)")
        command.set_defaults(handler=handler)
        if name == "inspect":
            command.add_argument("--json", action="store_true")
        else:
            command.add_argument("--out", default=None, help="output directory (default: docs/diagrams)")
    proof = commands.add_parser("permissions", parents=[aws, profile, context],
                                help="prove the lab's policies allow every call it makes and refuse what they must "
                                     "(exit 1 names each call that does not hold)")
    proof.add_argument("lab", choices=labs, metavar="LAB")
    proof.add_argument("--assembly", default=None, help="cloud assembly directory (default: the newest synthesis "
                                                        "of the lab; with -c, the lab synthesized with it)")
    proof.add_argument("--json", action="store_true")
    proof.set_defaults(handler=permissions)
    create = commands.add_parser("deploy", parents=[aws, profile, context],
                                 help="check account, bootstrap and quotas, show cost and expiry, deploy, save outputs")
    create.add_argument("lab", choices=labs, metavar="LAB")
    create.add_argument("--yes", action="store_true", help="do not ask before deploying")
    create.set_defaults(handler=deploy)
    remove = commands.add_parser("destroy", parents=[aws], help="cdk destroy, sweep leftovers, verify nothing is left")
    remove.add_argument("lab", choices=labs, metavar="LAB")
    remove.add_argument("--yes", action="store_true", help="do not ask before destroying")
    remove.set_defaults(handler=destroy)
    sweep = commands.add_parser("janitor", parents=[aws, profile],
                                help="the account janitor that sweeps what deleted labs leave (once per region)")
    sweep.add_argument("action", choices=["deploy", "destroy"])
    sweep.add_argument("--yes", action="store_true", help="do not ask")
    sweep.set_defaults(handler=janitor)
    run = commands.add_parser("practice", help="run a deployed lab's practice step (labs practice LAB --help)")
    practices = run.add_subparsers(dest="practice_lab", required=True, metavar="LAB", parser_class=Parser)
    for name, lab in LABS.items():
        command = practices.add_parser(name, parents=[aws], help=lab.demonstrates,
                                       description=f"Practice on the {name} lab.")
        command.add_argument("--dry-run", action="store_true", help="print the requests without calling AWS")
        for flag in lab.practice_flags:
            add_flag(command, flag)
        command.set_defaults(handler=practice)
    cost = commands.add_parser("prices", parents=[aws], help="the price table behind every cost figure")
    cost.add_argument("--refresh", action="store_true",
                      help="update pricing/prices.toml from the AWS Price List API (needs pricing:GetProducts)")
    cost.set_defaults(handler=prices)
    table = commands.add_parser("summary", help="one line per synthesized stack")
    table.add_argument("assemblies", nargs="+", help="cloud assembly directories (cdk.out ...)")
    table.set_defaults(handler=summary)
    add_classroom(commands, [aws, context])
    return root


def main(argv: list[str] | None = None) -> int:
    args = None
    try:
        args = parser().parse_args(argv)
        return args.handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into head and the like
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - nothing more is written
        return 0
    except Exception as error:  # noqa: BLE001 - every fault ends in one line; --verbose keeps the traceback
        if args is not None and getattr(args, "verbose", False):
            raise
        message = one_line(error)
        if message is None:
            message = (f"unexpected {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''} "
                       "(rerun with --verbose for the traceback)")
        print(f"error: {message}", file=sys.stderr)
        return 1
