"""Bad context values stop synth with one clear line; good ones are read as typed settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import app as lab_app
from catalog import LABS
from cdk_constructs.core.settings import Profile
from tests.conftest import ROOT


def test_defaults():
    config = lab_app.read_config({}, {"USER": "alice"})
    assert config.profile is Profile.SANDBOX
    assert config.labs == tuple(LABS)
    clickstream = config.options_of("clickstream")
    assert clickstream.delivery.value == "firehose" and not clickstream.on_demand
    assert config.ttl_hours == 4 and config.owner == "alice"
    assert config.region == "us-east-1" and config.account is None


def test_values_from_context_and_environment():
    config = lab_app.read_config(
        {"profile": "production", "labs": "data-lake", "ttl_hours": "0", "owner": "ml-team"},
        {"CDK_DEFAULT_ACCOUNT": "123456789012", "CDK_DEFAULT_REGION": "eu-west-1"},
    )
    assert (config.profile, config.ttl_hours, config.owner) == (Profile.PRODUCTION, 0, "ml-team")
    assert (config.account, config.region) == ("123456789012", "eu-west-1")


@pytest.mark.parametrize(
    "context,message",
    [
        ({"profile": "prod"}, "profile='prod' is not a profile; use one of: sandbox, production"),
        ({"labs": "data-lake,warehouse"}, f"labs='warehouse': unknown lab; choose from: {', '.join(LABS)} or all"),
        ({"ttl_hours": "-1"}, "ttl_hours='-1' is not allowed; use a whole number of hours from 0"),
        ({"ttl_hours": "four"}, "ttl_hours='four' is not allowed"),
        ({"ttl_hours": "169"}, "ttl_hours='169' is not allowed"),
        ({"owner": "bad<owner>"}, "owner='bad<owner>' cannot be a tag value"),
        ({"alert_email": "not-an-address"}, "alert_email='not-an-address' is not an e-mail address"),
        ({"training_source": "s3"}, "training_source='s3' is not allowed; use one of: fsx, efs"),
        ({"training_instance_type": "p3.2xlarge"}, "training_instance_type='p3.2xlarge' is not a SageMaker instance"),
        ({"training_az": "eu-west-1a"}, "training_az='eu-west-1a' is not a zone of us-east-1"),
        ({"clickstream_delivery": "kafka"},
         "clickstream_delivery='kafka' is not allowed; use one of: firehose, streaming"),
        ({"clickstream_stream_mode": "auto"}, "clickstream_stream_mode='auto' is not allowed; use one of: provisioned"),
        ({"clickstream_azs": "us-east-1a,us-east-1b"}, "clickstream_azs='us-east-1a,us-east-1b': give three different"),
        ({"clickstream_azs": "eu-west-1a,eu-west-1b,eu-west-1c"}, "give three different zones of us-east-1"),
    ],
)
def test_bad_values_raise_one_clear_message(context, message):
    with pytest.raises(lab_app.ConfigError) as raised:
        lab_app.read_config(context, {})
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("context,message", [
    ({"owner": "alice\n"}, "owner='alice\\n' cannot be a tag value"),
    ({"alert_email": "a@example.com\nb@example.com"}, "is not an e-mail address"),
    ({"labs": "batch-etl", "etl_schedule": "rate(٢ days)"}, "is not an EventBridge Scheduler expression"),
], ids=["owner", "e-mail", "Unicode digits"])
def test_a_value_matches_its_pattern_whole(context, message):
    """Issue 24: `$` let a trailing newline through, and `\\d` any Unicode digit."""
    with pytest.raises(lab_app.ConfigError) as raised:
        lab_app.read_config(context, {})
    assert message in str(raised.value)


def run_app(context: dict, outdir) -> subprocess.CompletedProcess:
    """Runs app.py as the CDK CLI would: cdk.json's context plus ``context``."""
    full_context = {**json.loads((ROOT / "cdk.json").read_text())["context"], **context}
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(full_context), "CDK_OUTDIR": str(outdir)}
    return subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True)


def test_clickstream_options_from_context():
    config = lab_app.read_config({"labs": "clickstream", "clickstream_delivery": "streaming",
                                  "clickstream_stream_mode": "on_demand",
                                  "clickstream_azs": "us-east-1a,us-east-1b,us-east-1d"}, {})
    options = config.options_of("clickstream")
    assert (options.delivery.value, options.on_demand) == ("streaming", True)
    assert options.availability_zones == ("us-east-1a", "us-east-1b", "us-east-1d")
    assert set(config.options) == {"clickstream"}


def test_firehose_delivery_needs_a_region_with_a_published_cidr():
    import stacks.clickstream as clickstream

    with pytest.raises(lab_app.ConfigError, match="use -c clickstream_delivery=streaming"):
        clickstream.firehose_cidr("ap-east-9")
    assert clickstream.firehose_cidr("us-east-1") == "52.70.63.192/27"


def test_app_exits_non_zero_with_one_line_and_writes_nothing(tmp_path):
    """The real app in its own process: an unknown key, refused in one line (the messages of every bad
    value are checked in-process above; the real `cdk synth` path in tests/unit/test_catalog.py)."""
    outdir = tmp_path / "cdk.out"
    result = run_app({"ttl_hour": "1"}, outdir)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == ["error: -c ttl_hour=... is not a context key of the labs; did you mean -c ttl_hours=...?"]
    assert "Traceback" not in result.stderr + result.stdout
    assert not outdir.exists() or not any(outdir.iterdir())


def test_practice_without_credentials_is_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
                "AWS_EC2_METADATA_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1"})
    result = subprocess.run([sys.executable, "-m", "labs", "practice", "data-lake"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip() == ("error: no AWS credentials found: run `aws configure` or set AWS_PROFILE, "
                                     "then retry")


def test_practice_of_an_unknown_lab_is_one_line():
    result = subprocess.run([sys.executable, "-m", "labs", "practice", "warehouse"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    from catalog import LABS

    assert result.stderr.strip() == f"error: unknown lab 'warehouse'; choose from: {', '.join(LABS)}"


def test_app_without_alert_email_synthesizes_and_notes_the_missing_budget(tmp_path):
    result = run_app({"labs": "data-lake"}, tmp_path / "cdk.out")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines() == [
        "note: no cost budget (add -c alert_email=you@example.com for a per-lab AWS Budgets alert)"
    ]
    assert (tmp_path / "cdk.out" / "mlref-data-lake.template.json").is_file()


def test_the_app_run_without_the_cdk_cli_says_how_to_run_it(monkeypatch, capsys):
    monkeypatch.delenv("CDK_OUTDIR", raising=False)
    assert lab_app.main() == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: run the app through the CDK CLI, which passes cdk.json's context and feature flags: "
        "`labs synth LAB`, `make synth` or `npx cdk synth`"]
