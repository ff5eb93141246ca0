"""``labs``: look at, run and remove the mlref labs.

``list``, ``status``, ``synth``, ``inspect``, ``diagram``, ``deploy``, ``practice``,
``destroy``, ``prices`` and ``summary``.
"""

from __future__ import annotations

import argparse
import inspect as inspect_module
import os
import sys
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from labs.errors import LabError
from labs.progress import LiveLines

# lab -> (practice class, the command-line options it takes)
PRACTICES = {
    "data-lake": ("labs.practice.data_lake:DataLakePractice", ()),
    "clickstream": ("labs.practice.clickstream:ClickstreamPractice", ("events", "dry_run")),
    "fsx-training": ("labs.practice.fsx_training:FsxTrainingPractice", ("dry_run", "instance_type", "on_demand")),
    "feature-store": ("labs.practice.feature_store:FeatureStorePractice", ("dry_run", "customers", "offline")),
}
PRACTICE_OPTIONS = ("events", "dry_run", "instance_type", "on_demand", "customers", "offline")


def practice(args: argparse.Namespace) -> int:
    import importlib

    if args.lab not in PRACTICES:
        raise LabError(f"unknown lab {args.lab!r}; choose from: {', '.join(PRACTICES)}")
    path, option_names = PRACTICES[args.lab]
    given = {name: value for name in PRACTICE_OPTIONS
             if (value := getattr(args, name)) is not None and value is not False}
    unsupported = sorted(set(given) - set(option_names))
    if unsupported:
        flags = ", ".join("--" + name.replace("_", "-") for name in unsupported)
        raise LabError(f"practice {args.lab} does not take {flags}")
    module_name, class_name = path.split(":")
    practice_class = getattr(importlib.import_module(module_name), class_name)
    session = aws_session(args)
    printer = "say" if "say" in inspect_module.signature(practice_class).parameters else "out"
    with LiveLines(title=f"practice {args.lab}") as live:
        practice_class(session, **given, **{printer: live}).run()
    return 0


def aws_session(args: argparse.Namespace):
    import boto3
    from botocore.exceptions import ProfileNotFound

    try:
        return boto3.Session(profile_name=args.aws_profile, region_name=args.region)
    except ProfileNotFound as error:
        raise LabError(f"AWS profile {args.aws_profile!r} is not configured: run `aws configure --profile "
                       f"{args.aws_profile}` or pick another --aws-profile") from error


def list_labs(args: argparse.Namespace) -> int:
    from labs.lifecycle import list_lines

    session = None if args.offline else aws_session(args)
    for line in list_lines(session):
        print(line)
    return 0


def status(args: argparse.Namespace) -> int:
    from labs.lifecycle import status_lines

    for line in status_lines(aws_session(args)):
        print(line)
    return 0


def synth(args: argparse.Namespace) -> int:
    from labs.lifecycle import synth as run_synth

    if args.lab and args.all:
        raise LabError("give a lab or --all, not both")
    run_synth(None if args.all or not args.lab else args.lab, args.profile)
    return 0


def inspect(args: argparse.Namespace) -> int:
    from labs.inspect import inspect_lab, text_report

    report = inspect_lab(args.lab, assembly_of(args))
    print(report.to_json() if args.json else "\n".join(text_report(report)))
    return 0


def assembly_of(args: argparse.Namespace) -> Path:
    """The cloud assembly to read: --assembly, else cdk.out (sandbox) or cdk.out.<profile>."""
    from labs.lifecycle import ROOT

    if getattr(args, "assembly", None):
        return Path(args.assembly)
    return ROOT / ("cdk.out" if args.profile == "sandbox" else f"cdk.out.{args.profile}")


def diagram(args: argparse.Namespace) -> int:
    from labs.diagram import diagram_lab
    from labs.lifecycle import ROOT

    for path in diagram_lab(args.lab, assembly_of(args), Path(args.out) if args.out else ROOT / "docs" / "diagrams"):
        print(path)
    return 0


def confirm(question: str) -> bool:
    return input(f"{question} [y/N] ").strip().lower() in {"y", "yes"}


def deploy(args: argparse.Namespace) -> int:
    from labs.deploy import DeployRequest, deploy as run_deploy

    request = DeployRequest(lab=args.lab, profile=args.profile, context=tuple(args.context or ()), yes=args.yes,
                            verbose=args.verbose, aws_profile=args.aws_profile)
    record = run_deploy(aws_session(args), request, ask=confirm if sys.stdin.isatty() else None)
    return 0 if record is not None else 1


def destroy(args: argparse.Namespace) -> int:
    from labs.lifecycle import destroy as run_destroy

    return run_destroy(aws_session(args), args.lab, yes=args.yes)


def prices(args: argparse.Namespace) -> int:
    from labs.prices import price_lines, refresh

    if args.refresh:
        refresh(aws_session(args))
        return 0
    for line in price_lines():
        print(line)
    return 0


def summary(args: argparse.Namespace) -> int:
    from labs.summary import print_summary

    return print_summary(args.assemblies)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="labs", description=__doc__.splitlines()[0])
    root.add_argument("--verbose", action="store_true", help="show tracebacks")
    aws = argparse.ArgumentParser(add_help=False)
    # also after the subcommand (`labs deploy x --verbose`); SUPPRESS keeps `labs --verbose deploy x` working
    aws.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help="show every detail")
    aws.add_argument("--region", default=None, help="AWS region (default: your configuration)")
    aws.add_argument("--aws-profile", default=None, help="AWS named profile")
    commands = root.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", parents=[aws], help="every lab: what it shows, cost, deployed or not")
    listing.add_argument("--offline", action="store_true", help="do not ask AWS whether labs are deployed")
    listing.set_defaults(handler=list_labs)
    state = commands.add_parser("status", parents=[aws], help="deployed labs: age, expiry, cost so far")
    state.set_defaults(handler=status)
    build = commands.add_parser("synth", help="synthesize labs with the pinned CDK CLI and summarize them")
    build.add_argument("lab", nargs="?")
    build.add_argument("--all", action="store_true")
    build.add_argument("--profile", default="sandbox", choices=["sandbox", "production"])
    build.set_defaults(handler=synth)
    look = commands.add_parser("inspect", help="a synthesized lab: resources, IAM, exposure, encryption, findings")
    look.add_argument("lab")
    look.add_argument("--profile", default="sandbox", choices=["sandbox", "production"])
    look.add_argument("--assembly", default=None, help="cloud assembly directory (default: cdk.out[.production])")
    look.add_argument("--json", action="store_true")
    look.set_defaults(handler=inspect)
    draw = commands.add_parser("diagram", help="the lab's architecture drawn from its template, as SVG and PNG")
    draw.add_argument("lab")
    draw.add_argument("--out", default=None, help="output directory (default: docs/diagrams)")
    draw.add_argument("--profile", default="sandbox", choices=["sandbox", "production"])
    draw.add_argument("--assembly", default=None, help="cloud assembly directory (default: cdk.out[.production])")
    draw.set_defaults(handler=diagram)
    create = commands.add_parser("deploy", parents=[aws],
                                 help="check account, bootstrap and quotas, show cost and expiry, deploy, save outputs")
    create.add_argument("lab")
    create.add_argument("--profile", default="sandbox", choices=["sandbox", "production"])
    create.add_argument("-c", "--context", action="append", metavar="KEY=VALUE",
                        help="app context, e.g. -c ttl_hours=8 -c training_instance_type=ml.g5.xlarge")
    create.add_argument("--yes", action="store_true", help="do not ask before deploying")
    create.set_defaults(handler=deploy)
    remove = commands.add_parser("destroy", parents=[aws], help="cdk destroy, sweep leftovers, verify nothing is left")
    remove.add_argument("lab")
    remove.add_argument("--yes", action="store_true", help="do not ask before destroying")
    remove.set_defaults(handler=destroy)
    run = commands.add_parser("practice", parents=[aws], help="run a deployed lab's practice step")
    run.add_argument("lab")
    run.add_argument("--events", type=int, default=None, help="clickstream: how many click events to send (1000)")
    run.add_argument("--dry-run", action="store_true", help="print the requests without calling AWS")
    run.add_argument("--instance-type", default=None,
                     help="fsx-training: training instance type (default: the stack's InstanceType output)")
    run.add_argument("--on-demand", action="store_true", help="fsx-training: on-demand instead of managed spot")
    run.add_argument("--customers", type=int, default=None, help="feature-store: how many customers to ingest (200)")
    run.add_argument("--offline", action="store_true",
                     help="feature-store: also wait for the offline store and build a point-in-time training set")
    run.set_defaults(handler=practice)
    cost = commands.add_parser("prices", parents=[aws], help="the price table behind every cost figure")
    cost.add_argument("--refresh", action="store_true",
                      help="update pricing/prices.toml from the AWS Price List API (needs pricing:GetProducts)")
    cost.set_defaults(handler=prices)
    table = commands.add_parser("summary", help="one line per synthesized stack")
    table.add_argument("assemblies", nargs="+", help="cloud assembly directories (cdk.out ...)")
    table.set_defaults(handler=summary)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.handler(args)
    except LabError as error:
        if args.verbose:
            raise
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError) as error:
        if args.verbose:
            raise
        print(f"error: AWS refused a request: {error} (rerun with --verbose for detail)", file=sys.stderr)
        return 1
    except BrokenPipeError:  # output piped into head and the like
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - nothing more is written
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
