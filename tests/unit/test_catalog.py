"""Each lab's contract is its one home: the stack emits what it declares, the practice reads only
that, the CLI starts without the CDK, and a bad context value reads the same everywhere."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys

import pytest

from catalog import LABS
from catalog.base import ConfigError, Output
from catalog.config import read_config
from catalog.toolchain import QUIET_TOOLCHAIN
from tests.conftest import ROOT


def options_of(synthesized, lab: str):
    """The options a synthesized variant built ``lab`` with, read back from its template's metadata."""
    from labs.templates.inspection import options_of as recorded

    options, how = recorded(LABS[lab], synthesized.templates[lab], "us-east-1")
    assert how == "the template's options"
    return options


def test_every_stack_emits_exactly_the_outputs_its_contract_declares(variants):
    checked = 0
    for name, synthesized in variants.items():
        for lab in LABS:
            if lab not in synthesized.templates:
                continue
            declared = {str(o) for o in LABS[lab].outputs_for(options_of(synthesized, lab))}
            emitted = {key for key in synthesized.templates[lab].get("Outputs", {}) if not key.startswith("Bootstrap")}
            assert emitted == declared, (name, lab)
            checked += 1
    assert checked >= len(LABS) * 2


def test_every_output_a_practice_reads_is_declared_and_emitted_by_its_stack(variants):
    for lab, contract in LABS.items():
        module = importlib.import_module(contract.practice.partition(":")[0])
        required = getattr(module, "REQUIRED_OUTPUTS", None)
        assert required, f"{contract.practice} reads no declared outputs"
        assert all(isinstance(o, Output) and o in contract.outputs for o in required), lab
        for name, synthesized in variants.items():
            if lab in synthesized.templates:
                assert {str(o) for o in required} <= set(synthesized.templates[lab]["Outputs"]), (name, lab)


def test_variant_only_outputs_follow_the_options():
    from catalog import clickstream, fsx_training

    efs = fsx_training.FsxTrainingOptions(source=fsx_training.TrainingSource.EFS)
    assert fsx_training.MOUNT_NAME in fsx_training.CONTRACT.outputs_for(fsx_training.FsxTrainingOptions())
    assert fsx_training.MOUNT_NAME not in fsx_training.CONTRACT.outputs_for(efs)
    streaming = clickstream.ClickstreamOptions(delivery=clickstream.Delivery.STREAMING)
    assert clickstream.DELIVERY_STREAM not in clickstream.CONTRACT.outputs_for(streaming)


def test_every_contract_is_complete():
    from lambdas.shared.lab_names import lab_stack_name

    for name, lab in LABS.items():
        assert lab.name == name and lab.stack_name == lab_stack_name(name)
        assert lab.exams.mls_c01 and lab.exercises and lab.mla_domains
        options = lab.parse({}, "us-east-1")
        assert options == lab.default_options()
        assert lab.cost(options).idle_per_hour > 0
        assert all(key.name.replace("_", "").isalnum() for key in lab.context_keys)
        flags = [flag.name for flag in lab.practice_flags]
        assert "dry_run" not in flags and len(flags) == len(set(flags))


def test_context_keys_belong_to_one_lab_or_to_all():
    from catalog.config import SHARED_KEYS

    names = [key.name for key in SHARED_KEYS] + [key.name for lab in LABS.values() for key in lab.context_keys]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("context,message", [
    ({"ttl_hour": "1"}, "-c ttl_hour=... is not a context key of the labs; did you mean -c ttl_hours=...?"),
    ({"trainng_source": "efs"}, "did you mean -c training_source=...?"),
    ({"zzz": "1"}, "-c zzz=... is not a context key of the labs; known keys: profile, labs"),
])
def test_unknown_context_keys_are_refused_naming_the_nearest(context, message):
    with pytest.raises(ConfigError) as raised:
        read_config(context, {})
    assert message in str(raised.value)


def test_cdk_keys_feature_flags_and_lookups_are_not_lab_keys():
    read_config({"aws:cdk:enable-path-metadata": True, "@aws-cdk/core:newStyleStackSynthesis": True,
                 "availability-zones:account=1:region=us-east-1": ["a"]}, {})


@pytest.mark.parametrize("zones", ["us-east-1a,us-east-1b,us-east-1-evil", "us-east-1a,us-east-1b,us-east-1aa"])
def test_zone_values_are_matched_whole(zones):
    with pytest.raises(ConfigError, match="give three different zones of us-east-1"):
        read_config({"labs": "clickstream", "clickstream_azs": zones}, {})
    with pytest.raises(ConfigError, match="is not a zone of us-east-1"):
        read_config({"labs": "fsx-training", "training_az": zones.split(",")[-1]}, {})


COMMANDS = [["--help"], ["list", "--offline"], ["list", "--exam"], ["prices"],
            *(["practice", lab, "--dry-run"] for lab in LABS)]


def loaded_modules(commands: list[list[str]]) -> list[dict]:
    """Runs each ``labs <arguments>`` in turn in one fresh interpreter; what each loaded and how it ended."""
    script = (
        "import contextlib, io, json, runpy, sys\n"
        "results = []\n"
        f"for arguments in {commands!r}:\n"
        "    before = set(sys.modules)\n"
        "    sys.argv = ['labs', *arguments]\n"
        "    code = None\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        try:\n"
        "            runpy.run_module('labs', run_name='__main__')\n"
        "        except SystemExit as exit:\n"
        "            code = exit.code\n"
        "    new = set(sys.modules) - before\n"
        "    results.append({'arguments': arguments, 'code': code,\n"
        "                    'cdk': sorted(m for m in new\n"
        "                                  if m.startswith(('aws_cdk', 'jsii', 'cdk_nag', 'constructs'))),\n"
        "                    'app': 'app' in new,\n"
        "                    'stacks': any(m == 'stacks' or m.startswith('stacks.') for m in new)})\n"
        "print(json.dumps(results))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_command_line_runs_without_the_cdk():
    """`labs --help`, `list --offline`, `list --exam`, `prices` and every lab's `practice --dry-run`, each checked
    for what it loaded (modules loaded by an earlier command are not counted twice; none may be the CDK)."""
    results = loaded_modules(COMMANDS)
    assert [r["arguments"] for r in results] == COMMANDS
    for loaded in results:
        assert loaded["code"] in (0, None), loaded
        assert loaded["cdk"] == [] and not loaded["app"] and not loaded["stacks"], loaded


def test_a_bad_context_value_is_the_same_line_from_cdk_synth_and_from_labs_deploy(tmp_path):
    env = {**os.environ, **QUIET_TOOLCHAIN}
    synth = subprocess.run([str(ROOT / "node_modules" / ".bin" / "cdk"), "synth", "--quiet", "-c",
                            "training_source=s3", "-o", str(tmp_path / "out")],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert synth.returncode != 0
    line = "error: training_source='s3' is not allowed; use one of: fsx, efs (e.g. -c training_source=fsx)"
    assert line in synth.stderr.splitlines(), synth.stderr
    assert "Traceback" not in synth.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())  # nothing written
    deploy = subprocess.run([sys.executable, "-m", "labs", "deploy", "fsx-training", "-c", "training_source=s3",
                             "--region", "us-east-1", "--yes"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert deploy.returncode == 1 and deploy.stderr.strip() == line


def test_the_labs_stacks_are_named_once_for_the_sweep_the_janitors_iam_and_the_messages():
    """Issue 24: the sweep's guard looked only for mlref-<lab>, and the janitor could describe only that."""
    from fnmatch import fnmatchcase

    from lambdas.shared.lab_names import LAB_STACK_RESOURCES

    copy = "StackSet-{}-0f5d2c9e-1b2a-4c3d-8e9f-0a1b2c3d4e5f"
    for lab in LABS.values():
        for stack in (lab.stack_name, copy.format(lab.stack_name)):
            assert lab.owns_stack(stack), stack
            assert any(fnmatchcase(f"stack/{stack}/guid", pattern) for pattern in LAB_STACK_RESOURCES), stack
        assert not lab.owns_stack(copy.format(f"mlref-janitor-{lab.name}")) and not lab.owns_stack("mlref-janitor")
        assert not any(other.owns_stack(lab.stack_name) for other in LABS.values() if other is not lab)
