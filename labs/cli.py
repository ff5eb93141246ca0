"""``labs``: look at, run and remove the mlref labs.

Today: ``summary`` (after ``cdk synth``) and ``practice LAB``; the other
subcommands join as their issues land.
"""

from __future__ import annotations

import argparse
import os
import sys

from botocore.exceptions import BotoCoreError, ClientError

from labs.errors import LabError

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

    import boto3

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
    session = boto3.Session(profile_name=args.aws_profile, region_name=args.region)
    practice_class(session, **given).run()
    return 0


def summary(args: argparse.Namespace) -> int:
    from labs.summary import print_summary

    return print_summary(args.assemblies)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="labs", description=__doc__.splitlines()[0])
    root.add_argument("--verbose", action="store_true", help="show tracebacks")
    commands = root.add_subparsers(dest="command", required=True)
    run = commands.add_parser("practice", help="run a deployed lab's practice step")
    run.add_argument("lab")
    run.add_argument("--region", default=None)
    run.add_argument("--aws-profile", default=None)
    run.add_argument("--events", type=int, default=None, help="clickstream: how many click events to send (1000)")
    run.add_argument("--dry-run", action="store_true", help="print the requests without calling AWS")
    run.add_argument("--instance-type", default=None,
                     help="fsx-training: training instance type (default: the stack's InstanceType output)")
    run.add_argument("--on-demand", action="store_true", help="fsx-training: on-demand instead of managed spot")
    run.add_argument("--customers", type=int, default=None, help="feature-store: how many customers to ingest (200)")
    run.add_argument("--offline", action="store_true",
                     help="feature-store: also wait for the offline store and build a point-in-time training set")
    run.set_defaults(handler=practice)
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
