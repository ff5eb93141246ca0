"""The ``labs`` commands: each takes the parsed arguments and returns the exit code. They reach AWS and the
CDK CLI only through ``labs.cli.common`` (tests point its runner elsewhere)."""

from __future__ import annotations

import argparse
import inspect as inspect_module
import sys
from pathlib import Path

from catalog import contract
from labs.cli import common
from labs.cli.common import region_of
from labs.engine.errors import LabError, one_line


def list_labs(args: argparse.Namespace) -> int:
    from labs.engine.status import list_lines

    if args.exam:  # from the catalog alone: nothing to ask AWS
        from catalog.exam_tables import matrix_text

        for line in matrix_text():
            print(line)
        return 0
    session = None
    reason = "not asked (--offline)"
    if not args.offline:
        try:
            session = common.session_of(args)
        except Exception as error:  # no session: list anyway and say why
            if (reason := one_line(error)) is None:
                raise
            reason = f"unknown ({reason})"
    for line in list_lines(session, offline=reason):
        print(line)
    return 0


def status(args: argparse.Namespace) -> int:
    from labs.engine.status import status_lines

    for line in status_lines(common.session_of(args)):
        print(line)
    return 0


def synth(args: argparse.Namespace) -> int:
    from labs.engine.synthesis import synth as run_synth

    if bool(args.lab) == bool(args.all):
        raise LabError("give a lab or --all (e.g. `labs synth feature-store`)")
    if args.lab:
        contract(args.lab)
    run_synth(args.lab, args.profile, context=args.context or (), region=region_of(args), cdk=common.cdk_of(args))
    return 0


def assembly_of(args: argparse.Namespace) -> Path:
    """The cloud assembly to read: --assembly, else the newest of the lab's own and cdk.out[.profile]."""
    from labs.engine.cdk_cli import stack_artifact
    from labs.engine.synthesis import all_labs_dir, assembly_dir

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
        from labs.engine.synthesis import synth as run_synth

        if args.context:  # a variant: synthesize it into the lab's own folder first
            assembly = run_synth(args.lab, args.profile, context=args.context, region=region_of(args),
                                 cdk=common.cdk_of(args), out=lambda _: None)
        else:
            assembly = assembly_of(args)
    report = prove(lab, assembly)
    print(report.to_json() if args.json else "\n".join(text_report(report)))
    return 1 if report.failures else 0


def diagram(args: argparse.Namespace) -> int:
    from catalog.paths import ROOT
    from labs.diagram.command import diagram_lab

    for path in diagram_lab(args.lab, assembly_of(args), Path(args.out) if args.out else ROOT / "docs" / "diagrams"):
        print(path)
    return 0


def deploy(args: argparse.Namespace) -> int:
    from labs.engine.deploy import DeployRequest
    from labs.engine.deploy import deploy as run_deploy

    contract(args.lab)
    session = common.session_of(args)
    request = DeployRequest(lab=args.lab, profile=args.profile, context=tuple(args.context or ()), yes=args.yes,
                            verbose=args.verbose)
    record = run_deploy(session, request, cdk=common.cdk_of(args, session), ask=common.asker())
    return 0 if record is not None else 1


def destroy(args: argparse.Namespace) -> int:
    from labs.engine.destroy import destroy as run_destroy

    contract(args.lab)
    session = common.session_of(args)
    return run_destroy(session, args.lab, cdk=common.cdk_of(args, session), yes=args.yes, ask=common.asker())


def janitor(args: argparse.Namespace) -> int:
    from labs.engine.janitor import janitor as run_janitor

    session = common.session_of(args)
    return run_janitor(session, args.action, profile=args.profile, cdk=common.cdk_of(args, session), yes=args.yes,
                       ask=common.asker())


def practice(args: argparse.Namespace) -> int:
    from labs.engine.progress import LiveLines

    lab = contract(args.practice_lab)
    given = {flag.name: getattr(args, flag.name) for flag in lab.practice_flags
             if getattr(args, flag.name) is not None}
    if args.dry_run:
        from labs.engine.session import offline_session

        session = offline_session(region_of(args))
    else:
        session = common.session_of(args)
    practice_class = lab.practice_class()
    with LiveLines(title=f"practice {lab.name}") as live:
        if "ask" in inspect_module.signature(practice_class).parameters:  # it asks before it bills
            given["ask"] = live.ask if sys.stdin.isatty() else None
        practice_class(session, dry_run=args.dry_run, out=live, **given).run()
    return 0


def prices(args: argparse.Namespace) -> int:
    from labs.pricing.command import price_lines, refresh

    if args.refresh:
        refresh(common.session_of(args))
        return 0
    for line in price_lines():
        print(line)
    return 0


def summary(args: argparse.Namespace) -> int:
    from labs.templates.summary import print_summary

    return print_summary(args.assemblies)
