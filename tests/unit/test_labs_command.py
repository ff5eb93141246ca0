"""The labs command: list, status, synth, inspect and destroy (AWS parts against moto)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import boto3
import pytest

from catalog import LABS
from labs.cli import common
from labs.cli import main as cli
from labs.engine import destroy as teardown
from labs.engine import janitor as janitor_stack
from labs.engine import status as labs_status
from labs.engine import synthesis
from labs.engine.errors import LabError
from labs.templates.inspection import inspect_lab, render, text_report

TEMPLATE = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})


def deploy(session, lab, expires_in_hours=None):
    tags = [{"Key": "lab", "Value": lab}]
    if expires_in_hours is not None:
        at = datetime.now(UTC) + timedelta(hours=expires_in_hours)
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
    lines = labs_status.list_lines(boto3.Session(region_name="us-east-1"))
    assert len(lines) == len(LABS) + 2 and "no AWS credentials found" in lines[-1]


def test_status_shows_age_expiry_and_cost_so_far(aws):
    deploy(aws, "fsx-training", expires_in_hours=3)
    deploy(aws, "data-lake")
    later = datetime.now(UTC) + timedelta(hours=1)
    lines = {line.split()[0]: line for line in labs_status.status_lines(aws, now=later)}
    assert "expires in 2.0 h" in lines["fsx-training"] and "age 1.0 h" in lines["fsx-training"]
    fsx = LABS["fsx-training"]
    assert f"~${fsx.cost(fsx.default_options()).idle_per_hour:.2f}" in lines["fsx-training"]
    assert "never expires" in lines["data-lake"]


def test_status_with_nothing_deployed(aws):
    assert labs_status.status_lines(aws) == ["no lab is deployed in us-east-1"]


def test_expired_credentials_are_one_line(capsys, monkeypatch):
    from botocore.stub import Stubber

    cloudformation = boto3.Session(region_name="us-east-1", aws_access_key_id="x",
                                   aws_secret_access_key="x").client("cloudformation")

    class Session:
        region_name = "us-east-1"

        def client(self, name, **_):
            return cloudformation

    monkeypatch.setattr(common, "session_of", lambda args: Session())
    with Stubber(cloudformation) as stub:
        stub.add_client_error("describe_stacks", "ExpiredToken",
                              "The security token included in the request is expired")
        assert cli.main(["status"]) == 1
    assert capsys.readouterr().err.strip() == (
        "error: your AWS session token has expired: refresh your credentials (e.g. `aws sso login`) and retry")


def test_unknown_labs_are_refused_in_one_line(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["inspect", "warehouse"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip() == (
        "error: unknown lab 'warehouse'; choose from: " + ", ".join(LABS))


class FakeCdk:
    """Stands in for labs.engine.cdk_cli.CdkCli: synth copies an assembly, destroy deletes the stack in moto."""

    def __init__(self, session=None, assembly=None, *, code=0, synth_code=0):
        self.session, self.assembly, self.code, self.synth_code = session, assembly, code, synth_code
        self.calls = []

    def synth(self, context, outdir, on_line=print, on_failure=None):
        import shutil

        self.calls.append(("synth", dict(context), outdir))
        if self.synth_code:
            raise LabError(f"cdk synth failed (exit {self.synth_code}); the lines above say why")
        shutil.copytree(self.assembly, outdir, dirs_exist_ok=True)
        return outdir

    def destroy(self, stack, assembly, on_line):
        self.calls.append(("destroy", stack, assembly))
        if self.code == 0:
            self.session.client("cloudformation").delete_stack(StackName=stack)
        return self.code


def test_synth_of_one_lab_goes_to_its_own_folder_validates_context_and_summarizes(sandbox, tmp_path):
    cdk = FakeCdk(assembly=sandbox.outdir)
    lines = []
    synthesis.synth("feature-store", "sandbox", cdk=cdk, out=lines.append, outdir=tmp_path / "fs")
    ((_, context, outdir),) = cdk.calls
    assert context == {"labs": "feature-store", "profile": "sandbox"} and outdir == tmp_path / "fs"
    assert any(line.startswith("feature-store") and "0 open" in line for line in lines)
    cdk = FakeCdk(assembly=sandbox.outdir)
    synthesis.synth(None, "sandbox", cdk=cdk, out=lines.append, outdir=tmp_path / "all")
    assert cdk.calls[0][1] == {"labs": "all", "profile": "sandbox"}
    with pytest.raises(LabError, match="exit 3"):
        synthesis.synth(None, "production", cdk=FakeCdk(synth_code=3), outdir=tmp_path / "x")
    with pytest.raises(LabError, match="not a profile"):
        synthesis.synth(None, "prod", cdk=cdk)
    with pytest.raises(LabError, match="training_source='s3' is not allowed"):
        synthesis.synth("fsx-training", "sandbox", context=["training_source=s3"], cdk=cdk)
    with pytest.raises(LabError, match="did you mean -c training_source"):
        synthesis.synth("fsx-training", "sandbox", context=["training_sorce=efs"], cdk=cdk)


def test_synth_of_one_lab_keeps_the_others_in_cdk_out(sandbox, tmp_path, monkeypatch, capsys):
    """`labs synth X` writes X's own folder; inspect of another lab still reads cdk.out."""
    import shutil

    from labs.engine import synthesis as synthesis_module

    monkeypatch.setattr(synthesis_module, "state_dir", lambda: tmp_path / "state")
    monkeypatch.setattr(synthesis, "all_labs_dir", lambda profile: tmp_path / "cdk.out")
    shutil.copytree(sandbox.outdir, tmp_path / "cdk.out")
    monkeypatch.setattr(common, "cdk_of", lambda args, session=None: FakeCdk(assembly=sandbox.outdir))
    assert cli.main(["synth", "feature-store"]) == 0
    assert (tmp_path / "state" / "assembly" / "sandbox" / "feature-store" / "manifest.json").is_file()
    capsys.readouterr()
    assert cli.main(["inspect", "data-lake", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["stack"] == "mlref-data-lake"
    assert cli.main(["inspect", "feature-store", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["stack"] == "mlref-feature-store"


def test_inspect_prices_the_variant_the_template_was_built_with(variants):
    from catalog.fsx_training import FsxTrainingOptions, TrainingSource, cost

    efs = inspect_lab("fsx-training", variants["sandbox-efs"].outdir).cost
    expected = cost(FsxTrainingOptions(source=TrainingSource.EFS, instance_type="ml.g5.xlarge"))
    assert efs["idle_per_hour"] == round(expected.idle_per_hour, 4) < 0.01
    assert efs["per_practice_run"] == round(expected.per_practice_run, 4)
    assert efs["priced_with"] == "the template's options"
    fsx = inspect_lab("fsx-training", variants["sandbox"].outdir).cost
    default = cost(FsxTrainingOptions())
    assert fsx["idle_per_hour"] == round(default.idle_per_hour, 4) > 0.2
    assert fsx["per_practice_run"] == round(default.per_practice_run, 4) != efs["per_practice_run"]


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


def test_inspect_without_synthesis_says_what_to_run(tmp_path, capsys, monkeypatch):
    with pytest.raises(LabError, match="labs synth"):
        inspect_lab("data-lake", tmp_path)
    monkeypatch.setattr(synthesis, "all_labs_dir", lambda profile: tmp_path / "cdk.out")
    monkeypatch.setenv("MLREF_LABS_STATE", str(tmp_path / "state"))
    assert cli.main(["inspect", "data-lake"]) == 1
    assert capsys.readouterr().err.strip() == (
        "error: data-lake is not synthesized (sandbox): run `labs synth data-lake` (or `make synth`) first")


def test_a_corrupt_assembly_is_one_line_for_inspect_and_summary(sandbox, tmp_path, capsys):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(sandbox.outdir, broken)
    (broken / "manifest.json").write_text("{not json")
    assert cli.main(["inspect", "data-lake", "--assembly", str(broken)]) == 1
    assert cli.main(["summary", str(broken)]) == 1
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and all("manifest.json cannot be read" in e and "synthesize again" in e for e in errors)


def test_render_turns_intrinsics_into_text():
    assert render({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::", {"Fn::GetAtt": ["B", "Arn"]}]]}) \
        == "arn:<AWS::Partition>:s3:::<B.Arn>"


def test_destroy_runs_cdk_destroy_then_sweeps_and_verifies(aws, sandbox):
    deploy(aws, "clickstream")
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="mlref-leftover")
    s3.put_bucket_tagging(Bucket="mlref-leftover", Tagging={"TagSet": [
        {"Key": "lab", "Value": "clickstream"}, {"Key": "profile", "Value": "sandbox"}]})
    s3.put_object(Bucket="mlref-leftover", Key="x", Body=b"1")
    lines = []
    cdk = FakeCdk(aws, sandbox.outdir)
    assert teardown.destroy(aws, "clickstream", cdk=cdk, out=lines.append, yes=True) == 0
    assert [call[:2] for call in cdk.calls] == [("synth", {"labs": "clickstream", "profile": "sandbox"}),
                                                 ("destroy", "mlref-clickstream")]
    assert "deleted bucket mlref-leftover" in " ".join(lines)
    assert lines[-1] == "clickstream: nothing tagged lab=clickstream is left in us-east-1"
    assert "mlref-leftover" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_destroy_exits_non_zero_when_something_is_left(aws):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="mlref-kept")
    s3.put_bucket_tagging(Bucket="mlref-kept", Tagging={"TagSet": [
        {"Key": "lab", "Value": "data-lake"}, {"Key": "profile", "Value": "production"}]})
    lines = []
    assert teardown.destroy(aws, "data-lake", cdk=FakeCdk(), out=lines.append) == 1
    assert any("mlref-kept" in line for line in lines) and "item(s) left" in lines[-1]
    assert lines[0].startswith("mlref-data-lake is not deployed")


def test_a_failed_cdk_destroy_is_one_line_with_the_next_step(aws, sandbox):
    deploy(aws, "data-lake")
    with pytest.raises(LabError, match="rerun `labs destroy data-lake`"):
        teardown.destroy(aws, "data-lake", cdk=FakeCdk(aws, sandbox.outdir, code=1), out=lambda _l: None, yes=True)
    with pytest.raises(LabError, match="without a terminal: rerun with --yes"):
        teardown.destroy(aws, "data-lake", cdk=FakeCdk(aws, sandbox.outdir), out=lambda _l: None)


def test_prices_prints_the_table(capsys):
    from catalog.prices import prices

    assert cli.main(["prices"]) == 0
    out = capsys.readouterr().out
    assert all(key in out for key in prices())


def test_prices_refresh_without_credentials_is_one_line(no_credentials, capsys):
    assert cli.main(["prices", "--refresh"]) == 1
    assert capsys.readouterr().err.strip() == (
        "error: no AWS credentials found: run `aws configure` or set AWS_PROFILE, then retry")


class FakePractice:
    """Records how the command line runs a practice step."""

    made: ClassVar[list] = []

    def __init__(self, session, *, dry_run, out, **flags):
        self.session, self.dry_run, self.out, self.flags = session, dry_run, out, flags
        FakePractice.made.append(self)

    def run(self):
        self.out("step 1: uploading")
        self.out("step 2: waiting for the crawler")


def test_practice_prints_each_step_through_the_live_printer(monkeypatch, capsys):
    import dataclasses

    import catalog as contracts

    fake = dataclasses.replace(LABS["clickstream"], practice="tests.unit.test_labs_command:FakePractice")
    monkeypatch.setitem(contracts.LABS, "clickstream", fake)
    assert cli.main(["practice", "clickstream", "--region", "eu-west-1", "--events", "5"]) == 0
    (made,) = FakePractice.made
    assert made.session.region_name == "eu-west-1" and made.flags == {"events": 5} and made.dry_run is False
    assert made.out.lines == ["step 1: uploading", "step 2: waiting for the crawler"]
    assert capsys.readouterr().out.splitlines() == made.out.lines
    assert cli.main(["practice", "clickstream", "--dry-run"]) == 0
    assert FakePractice.made[-1].dry_run is True and FakePractice.made[-1].flags == {}
    assert FakePractice.made[-1].session.blocked_attempts == []  # an offline session: nothing can be sent


def test_each_lab_practice_has_only_its_own_flags_and_a_dry_run(capsys):
    for name, lab in LABS.items():
        with pytest.raises(SystemExit):
            cli.main(["practice", name, "--help"])
        text = capsys.readouterr().out
        assert "--dry-run" in text
        for other in LABS.values():
            for flag in other.practice_flags:
                shown = "{" + ",".join(flag.choices) + "}" if flag.positional else flag.option
                shown_whole = re.search(re.escape(shown) + r"(?![\w-])", text) is not None  # --break, not --break-test
                assert shown_whole is (flag in lab.practice_flags), (name, shown)


def parsers_under(parser) -> list:
    """``parser`` and every subcommand parser below it, at any depth."""
    import argparse

    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found.extend(parsers_under(child))
    return found


@pytest.mark.parametrize(("argv", "unrecognized"), [
    (["practice", "mlops", "--break", "--dry-run"], "--break"),  # mlops' flag is --break-test
    (["synth", "--al"], "--al"),
    (["deploy", "data-lake", "--ye"], "--ye"),
    (["permissions", "data-lake", "--reg", "eu-west-1"], "--reg"),
    (["classroom", "destroy", "data-lake", "--ye"], "--ye"),
])
def test_options_are_taken_only_by_their_whole_name(argv, unrecognized, capsys):
    with pytest.raises(SystemExit) as exited:  # parsed only: no handler runs, whatever the outcome
        cli.parser().parse_args(argv)
    assert exited.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: unrecognized arguments: ") and unrecognized in line.split(": ", 2)[2].split()


def test_no_labs_parser_accepts_abbreviations():
    parsers = parsers_under(cli.parser())
    assert {p.prog for p in parsers} >= {"labs", "labs practice mlops", "labs classroom deploy"}
    assert [p.prog for p in parsers if p.allow_abbrev] == []


def test_live_lines_on_a_terminal_keep_each_line_and_show_the_step():
    import io

    from rich.console import Console

    from labs.engine.progress import LiveLines

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


def test_janitor_deploy_synthesizes_only_the_janitor_and_deploys_it(aws, sandbox):
    class JanitorCdk(FakeCdk):
        def deploy(self, stack, assembly, on_line):
            self.calls.append(("deploy", stack, assembly))
            return self.code

    cdk, lines = JanitorCdk(aws, sandbox.outdir), []
    assert janitor_stack.janitor(aws, "deploy", cdk=cdk, out=lines.append, yes=True) == 0
    assert [call[:2] for call in cdk.calls] == [("synth", {"profile": "sandbox", "labs": "none"}),
                                                 ("deploy", "mlref-janitor")]
    assert lines[-1] == "mlref-janitor: deploy done in us-east-1"
    with pytest.raises(LabError, match="rerun with --yes"):
        janitor_stack.janitor(aws, "deploy", cdk=cdk)
    assert janitor_stack.janitor(aws, "destroy", cdk=cdk, ask=lambda _q: False, out=lines.append) == 1
    assert lines[-1] == "not destroyed"


def test_labs_none_builds_only_the_janitor():
    from catalog.config import read_config

    assert read_config({"labs": "none"}, {}).labs == ()


def test_status_and_destroy_show_the_janitors_record(aws, sandbox):
    from lambdas.lab_sweep.record import TeardownRecord, write_record

    deploy(aws, "clickstream")
    stack_id = aws.client("cloudformation").describe_stacks(StackName="mlref-clickstream")["Stacks"][0]["StackId"]
    write_record(aws, TeardownRecord(lab="data-lake", state="clean", checked_at="2026-12-01T08:00:00Z",
                                     stack_id="arn:old"), {"lab": "data-lake", "profile": "sandbox"})
    status = labs_status.status_lines(aws)
    assert status[-1] == "janitor: data-lake verified clean twice at 2026-12-01T08:00:00Z"
    lines: list[str] = []
    teardown.destroy(aws, "clickstream", cdk=FakeCdk(aws, sandbox.outdir), out=lines.append, yes=True)
    assert any(line.startswith("janitor: not deployed in us-east-1") for line in lines)
    write_record(aws, TeardownRecord(lab="clickstream", state="leftovers", stack_id=stack_id,
                                     leftovers=("arn:aws:s3:::mlref-x (not empty)",)),
                 {"lab": "clickstream", "profile": "sandbox"})
    assert teardown.janitor_after(aws, "clickstream", stack_id) == (
        "janitor: clickstream has 1 leftover(s): arn:aws:s3:::mlref-x (not empty)")


def test_destroy_reuses_the_assembly_deploy_built_for_the_same_account_and_region(tmp_path):
    manifest = {"artifacts": {"mlref-x": {"type": "aws:cloudformation:stack", "environment":
                                          "aws://123456789012/eu-west-1", "properties": {"templateFile": "x.json"}}}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    stack_id = "arn:aws:cloudformation:eu-west-1:123456789012:stack/mlref-x/abc"
    assert teardown.same_target(tmp_path, "mlref-x", stack_id)
    assert not teardown.same_target(tmp_path, "mlref-x", stack_id.replace("123456789012", "210987654321"))
    assert not teardown.same_target(tmp_path, "mlref-x", stack_id.replace("eu-west-1", "us-east-1"))
    assert not teardown.same_target(tmp_path / "none", "mlref-x", stack_id)
    (tmp_path / "manifest.json").write_text("{broken")
    assert not teardown.same_target(tmp_path, "mlref-x", stack_id)
