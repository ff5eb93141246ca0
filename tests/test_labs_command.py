"""The labs command: list, status, synth, inspect and destroy (AWS parts against moto)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from labs import cli, lifecycle
from labs.errors import LabError
from labs.inspect import inspect_lab, render, text_report
from labs.contracts import LABS

TEMPLATE = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})


def deploy(session, lab, expires_in_hours=None):
    tags = [{"Key": "lab", "Value": lab}]
    if expires_in_hours is not None:
        at = datetime.now(timezone.utc) + timedelta(hours=expires_in_hours)
        tags.append({"Key": "expires-at", "Value": at.isoformat(timespec="seconds").replace("+00:00", "Z")})
    session.client("cloudformation").create_stack(StackName=LABS[lab].stack_name, TemplateBody=TEMPLATE, Tags=tags)


def test_list_shows_every_lab_with_costs_and_what_is_deployed(aws, capsys):
    deploy(aws, "clickstream")
    assert cli.main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == set(LABS)
    assert "CREATE_COMPLETE" in rows["clickstream"] and " no " in rows["data-lake"]
    cost = LABS["fsx-training"].cost(LABS["fsx-training"].default_options())
    assert f"${cost.idle_per_hour:.4f}" in rows["fsx-training"] and "Modeling" in rows["fsx-training"]


def test_list_without_credentials_still_lists_and_says_why_state_is_unknown(no_credentials):
    lines = lifecycle.list_lines(boto3.Session(region_name="us-east-1"))
    assert len(lines) == len(LABS) + 2 and "no AWS credentials found" in lines[-1]


def test_status_shows_age_expiry_and_cost_so_far(aws):
    deploy(aws, "fsx-training", expires_in_hours=3)
    deploy(aws, "data-lake")
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    lines = {line.split()[0]: line for line in lifecycle.status_lines(aws, now=later)}
    assert "expires in 2.0 h" in lines["fsx-training"] and "age 1.0 h" in lines["fsx-training"]
    assert f"~${LABS['fsx-training'].cost(LABS['fsx-training'].default_options()).idle_per_hour:.2f}" in lines["fsx-training"]
    assert "never expires" in lines["data-lake"]


def test_status_with_nothing_deployed(aws):
    assert lifecycle.status_lines(aws) == ["no lab is deployed in us-east-1"]


def test_expired_credentials_are_one_line():
    from botocore.stub import Stubber

    cloudformation = boto3.Session(region_name="us-east-1", aws_access_key_id="x",
                                   aws_secret_access_key="x").client("cloudformation")

    class Session:
        region_name = "us-east-1"

        def client(self, name):
            return cloudformation

    with Stubber(cloudformation) as stub:
        stub.add_client_error("describe_stacks", "ExpiredToken", "The security token included in the request is expired")
        with pytest.raises(LabError, match="^your AWS session token has expired: refresh your credentials and retry$"):
            lifecycle.status_lines(Session())


def test_unknown_labs_are_refused_in_one_line(capsys):
    assert cli.main(["inspect", "warehouse"]) == 1
    assert capsys.readouterr().err.strip().startswith("error: unknown lab 'warehouse'; choose from: data-lake")


def test_synth_runs_the_pinned_cli_for_one_lab_and_summarizes(sandbox):
    calls = []

    def runner(arguments):
        calls.append(list(arguments))
        return 0

    lines = []
    lifecycle.synth("feature-store", "sandbox", runner=runner, out=lines.append, outdir=sandbox.outdir)
    assert calls == [["synth", "--quiet", "-c", "profile=sandbox", "-c", "labs=feature-store", "-o",
                      str(sandbox.outdir)]]
    assert any(line.startswith("feature-store") and "0 open" in line for line in lines)
    with pytest.raises(LabError, match="exit 3"):
        lifecycle.synth(None, "production", runner=lambda _a: 3)
    with pytest.raises(LabError, match="not a profile"):
        lifecycle.synth(None, "prod", runner=runner)


def test_inspect_reports_roles_wildcards_exposure_encryption_findings_and_cost(sandbox):
    report = inspect_lab("clickstream", sandbox.outdir)
    assert report.resources_by_service["Kinesis"] == 1
    ingress = [e for e in report.exposure if e.kind == "ingress"]
    assert ingress and all("5439" in e.detail for e in ingress)
    assert any(e.public and "publicly accessible" in e.detail for e in report.exposure)
    assert all(e.encrypted for e in report.encryption if e.type != "AWS::S3::Bucket")
    assert {e.type for e in report.encryption} >= {"AWS::Kinesis::Stream", "AWS::SecretsManager::Secret"}
    acknowledged = {a.rule.split("[")[0] for a in report.acknowledgments}
    assert "AwsSolutions-IAM5" in acknowledged and all(len(a.reason) > 20 for a in report.acknowledgments)
    assert sum(role.wildcards for role in report.roles) >= 1
    assert "StreamName" in report.outputs and report.cost["idle_per_hour"] > 0
    text = "\n".join(text_report(report))
    assert "PUBLIC" in text and "acknowledged AwsSolutions-IAM5" in text


def test_inspect_json_is_machine_readable(sandbox, capsys):
    assert cli.main(["inspect", "fsx-training", "--assembly", str(sandbox.outdir), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["lab"] == "fsx-training" and data["stack"] == "mlref-fsx-training"
    assert not any(e["public"] for e in data["exposure"])  # isolated subnet, no IGW
    ports = {e["detail"].split(" from ")[0] for e in data["exposure"]}
    assert ports <= {"tcp/988-988", "tcp/1018-1023", "tcp/443-443", "tcp/2049-2049"}
    assert all("wildcards" in role for role in data["roles"])


def test_inspect_without_synthesis_says_what_to_run(tmp_path):
    with pytest.raises(LabError, match="labs synth"):
        inspect_lab("data-lake", tmp_path)


def test_render_turns_intrinsics_into_text():
    assert render({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::", {"Fn::GetAtt": ["B", "Arn"]}]]}) \
        == "arn:<AWS::Partition>:s3:::<B.Arn>"


def test_destroy_runs_cdk_destroy_then_sweeps_and_verifies(aws):
    deploy(aws, "clickstream")
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="mlref-leftover")
    s3.put_bucket_tagging(Bucket="mlref-leftover", Tagging={"TagSet": [
        {"Key": "lab", "Value": "clickstream"}, {"Key": "profile", "Value": "sandbox"}]})
    s3.put_object(Bucket="mlref-leftover", Key="x", Body=b"1")
    calls, lines = [], []

    def runner(arguments):
        calls.append(list(arguments))
        aws.client("cloudformation").delete_stack(StackName="mlref-clickstream")
        return 0

    assert lifecycle.destroy(aws, "clickstream", runner=runner, out=lines.append, yes=True) == 0
    assert calls == [["destroy", "mlref-clickstream", "-c", "labs=clickstream", "--force"]]
    assert "deleted bucket mlref-leftover" in " ".join(lines)
    assert lines[-1] == "clickstream: nothing tagged lab=clickstream is left in us-east-1"
    assert "mlref-leftover" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_destroy_exits_non_zero_when_something_is_left(aws):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="mlref-kept")
    s3.put_bucket_tagging(Bucket="mlref-kept", Tagging={"TagSet": [
        {"Key": "lab", "Value": "data-lake"}, {"Key": "profile", "Value": "production"}]})
    lines = []
    assert lifecycle.destroy(aws, "data-lake", runner=lambda _a: 0, out=lines.append) == 1
    assert any("mlref-kept" in line for line in lines) and "item(s) left" in lines[-1]
    assert lines[0].startswith("mlref-data-lake is not deployed")


def test_a_failed_cdk_destroy_is_one_line_with_the_next_step(aws):
    deploy(aws, "data-lake")
    with pytest.raises(LabError, match="rerun `labs destroy data-lake`"):
        lifecycle.destroy(aws, "data-lake", runner=lambda _a: 1, out=lambda _l: None)


def test_prices_prints_the_table(capsys):
    from labs.contracts.prices import prices

    assert cli.main(["prices"]) == 0
    out = capsys.readouterr().out
    assert all(key in out for key in prices())


def test_prices_refresh_without_credentials_is_one_line(no_credentials, capsys):
    assert cli.main(["prices", "--refresh"]) == 1
    assert capsys.readouterr().err.strip() == (
        "error: no AWS credentials found: run `aws configure` or set AWS_PROFILE, then retry")


class FakePractice:
    """Records how the command line runs a practice step."""

    made: list = []

    def __init__(self, session, *, say):
        self.session, self.say = session, say
        FakePractice.made.append(self)

    def run(self):
        self.say("step 1: uploading")
        self.say("step 2: waiting for the crawler")


def test_practice_prints_each_step_through_the_live_printer(monkeypatch, capsys):
    monkeypatch.setitem(cli.PRACTICES, "data-lake", ("tests.test_labs_command:FakePractice", ()))
    assert cli.main(["practice", "data-lake", "--region", "eu-west-1"]) == 0
    (made,) = FakePractice.made
    assert made.session.region_name == "eu-west-1" and made.say.lines == ["step 1: uploading",
                                                                          "step 2: waiting for the crawler"]
    assert capsys.readouterr().out.splitlines() == made.say.lines
    assert cli.main(["practice", "data-lake", "--events", "5"]) == 1
    assert "practice data-lake does not take --events" in capsys.readouterr().err


def test_live_lines_on_a_terminal_keep_each_line_and_show_the_step():
    import io

    from rich.console import Console

    from labs.progress import LiveLines

    buffer = io.StringIO()
    with LiveLines(console=Console(file=buffer, force_terminal=True, width=100), interactive=True,
                   title="practice x") as live:
        live("step 1: uploading")
        live("step 2: waiting")
    text = buffer.getvalue()
    assert "step 1: uploading" in text and "step 2: waiting" in text and live.lines == ["step 1: uploading",
                                                                                         "step 2: waiting"]


def test_diagram_writes_svg_and_png_for_a_lab(sandbox, tmp_path, capsys):
    assert cli.main(["diagram", "fsx-training", "--assembly", str(sandbox.outdir), "--out", str(tmp_path)]) == 0
    written = capsys.readouterr().out.split()
    assert written == [str(tmp_path / "fsx-training.svg"), str(tmp_path / "fsx-training.png")]
    assert (tmp_path / "fsx-training.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert cli.main(["diagram", "fsx-training", "--assembly", str(tmp_path / "none")]) == 1
    assert "run `labs synth fsx-training` first" in capsys.readouterr().err
