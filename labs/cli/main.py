"""``labs``: look at, run and remove the mlref labs.

``list``, ``status``, ``synth``, ``inspect``, ``diagram``, ``permissions``, ``deploy``, ``practice``, ``destroy``,
``janitor``, ``prices`` and ``summary``. Nothing here imports aws-cdk-lib: templates come from the
pinned CDK CLI run as a process, and every fact about a lab from its contract.
"""

from __future__ import annotations

import argparse
import os
import sys

from catalog import LABS
from catalog.base import Flag
from labs.classroom.command import register as add_classroom
from labs.cli import commands as run
from labs.cli.common import PROFILES, Parser
from labs.engine.errors import one_line


def add_flag(parser: argparse.ArgumentParser, flag: Flag) -> None:
    if flag.positional:  # an optional word after the lab: its default is the practice's
        parser.add_argument(flag.name, nargs="?", default=None, choices=flag.choices or None, metavar=flag.metavar,
                            help=flag.help + (f" (default {flag.default})" if flag.default is not None else ""))
    elif flag.kind is bool:
        action = argparse.BooleanOptionalAction if flag.negatable else "store_true"
        parser.add_argument(flag.option, dest=flag.name, action=action, default=None, help=flag.help)
    else:
        default = f" (default {flag.default})" if flag.default is not None else ""
        parser.add_argument(flag.option, dest=flag.name, type=flag.kind, default=None, metavar=flag.metavar,
                            choices=flag.choices or None, help=flag.help + default)


def parser() -> argparse.ArgumentParser:
    root = Parser(prog="labs", description=__doc__.splitlines()[0])
    root.add_argument("--verbose", action="store_true", help="show every detail and tracebacks")
    aws = Parser(add_help=False)
    # also after the subcommand (`labs deploy x --verbose`); SUPPRESS keeps `labs --verbose deploy x` working
    aws.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help="show every detail")
    aws.add_argument("--region", default=None, help="AWS region (default: your configuration)")
    aws.add_argument("--aws-profile", default=None, help="AWS named profile")
    profile = Parser(add_help=False)
    profile.add_argument("--profile", default="sandbox", choices=PROFILES)
    context = Parser(add_help=False)
    context.add_argument("-c", "--context", action="append", metavar="KEY=VALUE",
                         help="app context, e.g. -c ttl_hours=8 -c training_source=efs")
    labs = list(LABS)
    commands = root.add_subparsers(dest="command", required=True, parser_class=Parser)

    listing = commands.add_parser("list", parents=[aws], help="every lab: exams, cost, deployed or not")
    listing.add_argument("--offline", action="store_true", help="do not ask AWS whether labs are deployed")
    listing.add_argument("--exam", action="store_true",
                         help="the MLA-C01 task statements x the labs: which practice steps exercise each (offline)")
    listing.set_defaults(handler=run.list_labs)
    commands.add_parser("status", parents=[aws], help="deployed labs: age, expiry, cost so far").set_defaults(
        handler=run.status)
    build = commands.add_parser("synth", parents=[aws, profile, context],
                                help="synthesize a lab (or --all) with the pinned CDK CLI and summarize it")
    build.add_argument("lab", nargs="?", choices=labs, metavar="LAB")
    build.add_argument("--all", action="store_true", help="every lab, into cdk.out (cdk.out.production)")
    build.set_defaults(handler=run.synth)
    for name, handler, text in (("inspect", run.inspect, "a synthesized lab: resources, IAM, exposure, encryption, "
                                                     "findings, cost"),
                                ("diagram", run.diagram, "the lab's architecture drawn from its template (SVG, PNG)")):
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
    proof.set_defaults(handler=run.permissions)
    create = commands.add_parser("deploy", parents=[aws, profile, context],
                                 help="check account, bootstrap and quotas, show cost and expiry, deploy, save outputs")
    create.add_argument("lab", choices=labs, metavar="LAB")
    create.add_argument("--yes", action="store_true", help="do not ask before deploying")
    create.set_defaults(handler=run.deploy)
    remove = commands.add_parser("destroy", parents=[aws], help="cdk destroy, sweep leftovers, verify nothing is left")
    remove.add_argument("lab", choices=labs, metavar="LAB")
    remove.add_argument("--yes", action="store_true", help="do not ask before destroying")
    remove.set_defaults(handler=run.destroy)
    sweep = commands.add_parser("janitor", parents=[aws, profile],
                                help="the account janitor that sweeps what deleted labs leave (once per region)")
    sweep.add_argument("action", choices=["deploy", "destroy"])
    sweep.add_argument("--yes", action="store_true", help="do not ask")
    sweep.set_defaults(handler=run.janitor)
    practising = commands.add_parser("practice", help="run a deployed lab's practice step (labs practice LAB --help)")
    practices = practising.add_subparsers(dest="practice_lab", required=True, metavar="LAB", parser_class=Parser)
    for name, lab in LABS.items():
        command = practices.add_parser(name, parents=[aws], help=lab.demonstrates,
                                       description=f"Practice on the {name} lab.")
        command.add_argument("--dry-run", action="store_true", help="print the requests without calling AWS")
        for flag in lab.practice_flags:
            add_flag(command, flag)
        command.set_defaults(handler=run.practice)
    cost = commands.add_parser("prices", parents=[aws], help="the price table behind every cost figure")
    cost.add_argument("--refresh", action="store_true",
                      help="update pricing/prices.toml from the AWS Price List API (needs pricing:GetProducts)")
    cost.set_defaults(handler=run.prices)
    table = commands.add_parser("summary", help="one line per synthesized stack")
    table.add_argument("assemblies", nargs="+", help="cloud assembly directories (cdk.out ...)")
    table.set_defaults(handler=run.summary)
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
    except Exception as error:  # every fault ends in one line; --verbose keeps the traceback
        if args is not None and getattr(args, "verbose", False):
            raise
        message = one_line(error)
        if message is None:
            message = (f"unexpected {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''} "
                       "(rerun with --verbose for the traceback)")
        print(f"error: {message}", file=sys.stderr)
        return 1
