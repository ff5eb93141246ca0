"""Synthesizes every lab once per test session, in each profile."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXED_SYNTH_TIME = datetime(2026, 1, 15, 9, 30, tzinfo=timezone.utc)

# Fake credentials and a region before anything imports boto3; never reach AWS.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
)
os.environ.pop("AWS_PROFILE", None)
# What `labs deploy` saves goes to a scratch folder, never the checkout's .labs/.
os.environ["MLREF_LABS_STATE"] = tempfile.mkdtemp(prefix="mlref-labs-state-")


@dataclass
class Synthesized:
    """One profile's app, its stacks by lab name, and their templates."""

    profile: str
    app: object
    stacks: dict
    templates: dict[str, dict]
    outdir: Path


def synthesize(profile: str, outdir: Path, **extra_context: str) -> Synthesized:
    import app as lab_app

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    context.update({"profile": profile, "owner": "tester", "ttl_hours": 4, **extra_context})
    if profile == "sandbox":  # one profile with a cost budget, one without
        context["alert_email"] = "ml-team@example.com"
    cdk_app = lab_app.new_app(context=context, outdir=str(outdir))
    config = lab_app.read_config(context, {"CDK_DEFAULT_REGION": "us-east-1"})
    stacks = lab_app.build(cdk_app, config, synth_time=FIXED_SYNTH_TIME)
    assembly = cdk_app.synth()
    templates = {name: assembly.get_stack_by_name(stack.stack_name).template for name, stack in stacks.items()}
    return Synthesized(profile=profile, app=cdk_app, stacks=stacks, templates=templates, outdir=outdir)


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory) -> dict[str, Synthesized]:
    """Both profiles, synthesized once for the whole session."""
    return {
        profile: synthesize(profile, tmp_path_factory.mktemp(f"cdk-{profile}"))
        for profile in ("sandbox", "production")
    }


# Lab variants chosen by context (declared in each lab's contract), synthesized on their own for the
# gates and their assertions.
def _variant_context() -> dict[str, dict[str, str]]:
    from labs.contracts import LABS

    return {variant.name: {"labs": name, **variant.context} for name, lab in LABS.items() for variant in lab.variants}


VARIANT_CONTEXT = _variant_context()


@pytest.fixture(scope="session")
def variants(synthesized, tmp_path_factory) -> dict[str, Synthesized]:
    """Both profiles of the default app, plus each variant in both profiles ("production-streaming")."""
    found = dict(synthesized)
    for variant, context in VARIANT_CONTEXT.items():
        for profile in ("sandbox", "production"):
            found[f"{profile}-{variant}"] = synthesize(
                profile, tmp_path_factory.mktemp(f"cdk-{profile}-{variant}"), **context)
    return found


# The classroom (StackSets, tests/test_classroom.py): one synthesis, whose templates the gates scan too.
CLASSROOM_CONTEXT = {"classroom": "feature-store", "classroom_accounts": "111111111111,222222222222",
                     "classroom_regions": "us-east-1,eu-west-1"}


@pytest.fixture(scope="session")
def classroom(tmp_path_factory) -> Synthesized:
    return synthesize("sandbox", tmp_path_factory.mktemp("cdk-classroom"), **CLASSROOM_CONTEXT)


def classroom_templates(room: Synthesized) -> dict[str, dict]:
    """The classroom's admin stacks and its member templates (files beside the assembly, not stacks)."""
    members = {f"{role}-member": json.loads((room.outdir / room.stacks[role].member.template_file).read_text())
               for role in ("classroom", "janitor")}
    return {**room.templates, **members}


@pytest.fixture(scope="session")
def sandbox(synthesized) -> Synthesized:
    return synthesized["sandbox"]


@pytest.fixture(scope="session")
def production(synthesized) -> Synthesized:
    return synthesized["production"]


def resources_of(template: dict, resource_type: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


@pytest.fixture
def no_credentials(monkeypatch, tmp_path):
    """No AWS credentials anywhere: environment, files, instance metadata."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def aws(monkeypatch):
    """moto in us-east-1 with test credentials; a session for it."""
    import boto3
    from moto import mock_aws

    from lambdas.lab_sweep.sweep import Sweeper

    # moto has no ListFeatureGroups or ListMonitoringSchedules; those sweep steps are tested with
    # Stubber in tests/lambdas.
    monkeypatch.setattr(Sweeper, "feature_groups", lambda self: None)
    monkeypatch.setattr(Sweeper, "monitoring_schedules", lambda self: None)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield boto3.Session(region_name="us-east-1")
