"""``labs deploy``: the checks before anything is created, the deployment, the saved outputs.

AWS is moto (STS, SSM, CloudFormation, EC2) or botocore Stubber (each request checked
against the API model); the CDK CLI is a fake runner that copies the session's
synthesized assembly and plays CloudFormation events.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from catalog import LABS
from labs.cli import main as cli
from labs.engine import destroy as teardown
from labs.engine import state
from labs.engine.cdk_cli import DeployProgress
from labs.engine.deploy import DeployRequest, deploy
from labs.engine.deployed import deployed_stack
from labs.engine.errors import LabError
from labs.engine.preflight import check_network_quotas
from labs.practice.fsx_training.quota import check_training_quota

ACCOUNT = "123456789012"  # moto's account
OUTPUTS = {"RawBucketName": "mlref-raw-123", "WorkgroupName": "mlref-data-lake"}
EVENTS = [
    "mlref-data-lake |  0/3 | 10:00:01 AM | CREATE_IN_PROGRESS   | AWS::CloudFormation::Stack | mlref-data-lake",
    "mlref-data-lake |  1/3 | 10:00:09 AM | CREATE_COMPLETE      | AWS::KMS::Key | LakeKey (LakeKey1A2B)",
    "mlref-data-lake |  2/3 | 10:00:19 AM | CREATE_COMPLETE      | AWS::S3::Bucket | Raw (Raw3C4D)",
    "mlref-data-lake |  3/3 | 10:00:20 AM | CREATE_COMPLETE      | AWS::CloudFormation::Stack | mlref-data-lake",
]
FAILED_EVENT = ("mlref-data-lake |  1/3 | 10:00:09 AM | CREATE_FAILED        | AWS::S3::Bucket | Raw (Raw3C4D) "
                "Resource handler returned message: \"Access Denied\"")


@pytest.fixture(autouse=True)
def own_state(monkeypatch, tmp_path):
    """Each test its own folder of saved deployments."""
    monkeypatch.setenv("MLREF_LABS_STATE", str(tmp_path / "state"))


def bootstrap(session, version="27"):
    session.client("ssm").put_parameter(Name="/cdk-bootstrap/hnb659fds/version", Value=version, Type="String")


class FakeCdk:
    """Stands in for labs.engine.cdk_cli.CdkCli: synth copies an assembly, deploy creates the stack in moto."""

    def __init__(self, session, assembly: Path, *, events=EVENTS, deploy_code=0, synth_code=0, outputs=OUTPUTS):
        self.session, self.assembly = session, assembly
        self.events, self.deploy_code, self.synth_code, self.outputs = events, deploy_code, synth_code, outputs
        self.calls: list[tuple] = []

    def synth(self, context, outdir, on_line=print, on_failure=None):
        self.calls.append(("synth", dict(context), Path(outdir)))
        if self.synth_code:
            for line in ("Error: something broke in the app", "Subprocess exited with error 1"):
                (on_failure or on_line)(line)
            raise LabError(f"cdk synth failed (exit {self.synth_code}); the lines above say why")
        shutil.copytree(self.assembly, outdir, dirs_exist_ok=True)
        # as if synthesized now: the lab expires four hours from now
        manifest = json.loads((Path(outdir) / "manifest.json").read_text())
        expires = (datetime.now(UTC) + timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for artifact in manifest["artifacts"].values():
            if "expires-at" in artifact.get("properties", {}).get("tags", {}):
                artifact["properties"]["tags"]["expires-at"] = expires
        (Path(outdir) / "manifest.json").write_text(json.dumps(manifest))
        on_line("Successfully synthesized")
        return Path(outdir)

    def deploy(self, stack, assembly, on_line):
        self.calls.append(("deploy", stack, Path(assembly)))
        for line in self.events:
            on_line(line)
        if self.deploy_code == 0:
            manifest = json.loads((Path(assembly) / "manifest.json").read_text())
            tags = manifest["artifacts"][stack]["properties"]["tags"]
            template = {"Resources": {"Handle": {"Type": "AWS::SNS::Topic"}},
                        "Outputs": {key: {"Value": value} for key, value in self.outputs.items()}}
            self.session.client("cloudformation").create_stack(
                StackName=stack, TemplateBody=json.dumps(template),
                Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
        return self.deploy_code

    def destroy(self, stack, assembly, on_line):
        self.calls.append(("destroy", stack, Path(assembly)))
        self.session.client("cloudformation").delete_stack(StackName=stack)
        return 0

    def commands(self):
        return [call[0] for call in self.calls]


def all_outputs(lab="data-lake"):
    """Every output the lab's contract declares for its defaults, with a value."""
    item = LABS[lab]
    return {str(o): f"value-of-{o}" for o in item.outputs_for(item.default_options())}


def run(session, sandbox, lab="data-lake", *, answer=True, cdk=None, **request):
    lines: list[str] = []
    cdk = cdk or FakeCdk(session, sandbox.outdir, outputs=all_outputs(lab))
    record = deploy(session, DeployRequest(lab=lab, **request), cdk=cdk, ask=lambda question: answer,
                    out=lines.append, interactive=False)
    return record, cdk, lines


def test_deploy_checks_shows_cost_and_expiry_deploys_and_saves_the_outputs(aws, sandbox):
    bootstrap(aws)
    record, cdk, lines = run(aws, sandbox)
    assert cdk.commands() == ["synth", "deploy"]
    (_, context, outdir), (_, _stack, assembly) = cdk.calls
    assert context["labs"] == "data-lake" and context["profile"] == "sandbox"
    # the assembly that was checked is the one deployed, in the lab's own folder (cdk.out keeps every lab)
    assert assembly == outdir and outdir.parts[-3:] == ("assembly", "sandbox", "data-lake")
    text = "\n".join(lines)
    cost = LABS["data-lake"].cost(LABS["data-lake"].default_options())
    assert f"account {ACCOUNT}, region us-east-1" in text and "CDK bootstrap: version 27" in text
    assert f"~${cost.idle_per_hour:.4f}/hour" in text and "(in 4.0 h)" in text
    assert "note: the account janitor (mlref-janitor) is not deployed in us-east-1" in text
    assert re.search(r"^permissions: \d+ calls proven against the template \(`labs permissions data-lake`\)$", text,
                     re.MULTILINE)
    # events go through (no terminal here): each CloudFormation event printed
    assert EVENTS[2] in lines

    assert record.outputs == all_outputs() and record.account == ACCOUNT and record.expires_at
    saved = state.load("mlref-data-lake", ACCOUNT, "us-east-1")
    assert saved == record and saved.tags["lab"] == "data-lake"
    assert "next: `labs practice data-lake`" in lines[-1]


def test_a_call_the_template_does_not_allow_stops_the_deploy_before_the_question(aws, sandbox, monkeypatch):
    from labs.permissions import proof as permissions

    bootstrap(aws)
    failing = permissions.Verdict(who="AnalystRole6CD68FA5", action="s3:GetBucketLocation", resource="arn:aws:s3:::b",
                                  expected="allowed", result="ImplicitlyDenied", source="the dry run")
    report = permissions.PermissionsReport("data-lake", "mlref-data-lake", permissions.judge([failing]))
    monkeypatch.setattr(permissions, "prove", lambda lab, assembly: report)
    asked = []
    cdk = FakeCdk(aws, sandbox.outdir, outputs=all_outputs())
    with pytest.raises(LabError, match=r"^the permissions proof found 1 call\(s\) not as expected, e.g. "
                                       r"AnalystRole6CD68FA5 s3:GetBucketLocation on arn:aws:s3:::b: ImplicitlyDenied"):
        deploy(aws, DeployRequest(lab="data-lake"), cdk=cdk, ask=asked.append, out=lambda _: None, interactive=False)
    assert asked == [] and cdk.commands() == ["synth"]


def test_practice_never_acts_on_saved_outputs_of_a_stack_that_is_gone(aws, sandbox):
    """Issue 24: with a saved record and no stack, `labs practice ml-pipeline` started an execution."""
    bootstrap(aws)
    run(aws, sandbox)
    outputs, tags = deployed_stack(aws, "mlref-data-lake", ["RawBucketName"])
    assert outputs == all_outputs() and tags["lab"] == "data-lake"
    aws.client("cloudformation").delete_stack(StackName="mlref-data-lake")  # by its expiry, behind the record's back
    assert state.load("mlref-data-lake", ACCOUNT, "us-east-1") is not None
    with pytest.raises(LabError, match=r"lab data-lake is not deployed in us-east-1: deploy it with `labs deploy "
                                       r"data-lake`"):
        deployed_stack(aws, "mlref-data-lake", ["RawBucketName"])


UUID = "0f5d2c9e-1b2a-4c3d-8e9f-0a1b2c3d4e5f"


def classroom_session(*copies: tuple[str, str]):
    """A student account without mlref-data-lake and with ``copies`` ((name, status)) listed."""
    from tests.fakes import StubbedSession

    session = StubbedSession(["cloudformation"])
    stub = session.stubs["cloudformation"]
    stub.add_client_error("describe_stacks", "ValidationError", "Stack with id mlref-data-lake does not exist",
                          expected_params={"StackName": "mlref-data-lake"})
    when = datetime(2026, 12, 1, tzinfo=UTC)
    stub.add_response("list_stacks", {"StackSummaries": [
        {"StackName": name, "StackStatus": status, "CreationTime": when}
        for name, status in [*copies, ("mlref-janitor", "CREATE_COMPLETE"),
                             (f"StackSet-mlref-janitor-data-lake-{UUID}", "CREATE_COMPLETE")]]})
    return session, stub, when


def test_a_student_practises_on_the_classroom_copy_in_their_account():
    copy = f"StackSet-mlref-data-lake-{UUID}"
    session, stub, when = classroom_session((copy, "UPDATE_COMPLETE"),
                                            ("StackSet-mlref-data-lake-9e8d7c6b-1b2a-4c3d-8e9f-0a1b2c3d4e5f",
                                             "DELETE_COMPLETE"))
    stub.add_response("describe_stacks", {"Stacks": [{
        "StackName": copy, "StackStatus": "UPDATE_COMPLETE", "CreationTime": when,
        "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in OUTPUTS.items()],
        "Tags": [{"Key": "lab", "Value": "data-lake"}]}]}, {"StackName": copy})
    with session:
        outputs, tags = deployed_stack(session, "mlref-data-lake", ["RawBucketName"])
    assert outputs == OUTPUTS and tags == {"lab": "data-lake"}


def test_without_the_lab_or_a_classroom_copy_it_is_not_deployed():
    session, _, _ = classroom_session()
    with session, pytest.raises(LabError, match=r"^lab data-lake is not deployed in us-east-1: deploy it"):
        deployed_stack(session, "mlref-data-lake", ["RawBucketName"])


def test_an_expired_saved_record_is_not_trusted(aws, sandbox):
    record = state.SavedDeployment(lab="data-lake", stack="mlref-data-lake", account=ACCOUNT, region="us-east-1",
                                   profile="sandbox", deployed_at="2026-01-01T00:00:00+00:00",
                                   expires_at="2026-01-01T04:00:00+00:00", outputs=OUTPUTS)
    state.save(record)
    with pytest.raises(LabError, match="not deployed"):
        deployed_stack(aws, "mlref-data-lake", ["RawBucketName"])


def test_destroy_forgets_the_saved_outputs(aws, sandbox, monkeypatch):
    from lambdas.lab_sweep.sweep import Sweeper

    monkeypatch.setattr(Sweeper, "feature_groups", lambda self: None)
    bootstrap(aws)
    run(aws, sandbox)

    cdk = FakeCdk(aws, sandbox.outdir)
    assert teardown.destroy(aws, "data-lake", cdk=cdk, out=lambda _: None, yes=True) == 0
    assert cdk.commands() == ["synth", "destroy"]
    assert state.load("mlref-data-lake", ACCOUNT, "us-east-1") is None


def test_saying_no_deploys_nothing(aws, sandbox):
    bootstrap(aws)
    record, cdk, lines = run(aws, sandbox, answer=False)
    assert record is None and cdk.commands() == ["synth"] and lines[-1] == "not deployed"
    assert state.load("mlref-data-lake", ACCOUNT, "us-east-1") is None


def test_without_a_terminal_it_asks_for_yes(aws, sandbox):
    bootstrap(aws)
    cdk = FakeCdk(aws, sandbox.outdir)
    with pytest.raises(LabError, match="rerun with --yes"):
        deploy(aws, DeployRequest(lab="data-lake"), cdk=cdk, ask=None, out=lambda _: None)
    assert cdk.commands() == ["synth"]
    record, cdk, _ = run(aws, sandbox, answer=False, yes=True)  # --yes: no question asked
    assert record is not None and cdk.commands() == ["synth", "deploy"]


def test_not_bootstrapped_or_too_old_is_one_line_with_the_command(aws, sandbox):
    cdk = FakeCdk(aws, sandbox.outdir)
    with pytest.raises(LabError, match=rf"account {ACCOUNT} is not bootstrapped for the CDK in us-east-1: run "
                                       rf"`npx cdk bootstrap aws://{ACCOUNT}/us-east-1`"):
        run(aws, sandbox, cdk=cdk)
    bootstrap(aws, version="5")
    with pytest.raises(LabError, match="version 5, the labs need 6 or newer"):
        run(aws, sandbox, cdk=cdk)
    assert cdk.calls == []  # nothing synthesized, nothing created


def test_bad_context_is_refused_before_synthesis(aws, sandbox):
    bootstrap(aws)
    cdk = FakeCdk(aws, sandbox.outdir)
    with pytest.raises(LabError, match=r"ttl_hours='-1' is not allowed"):
        run(aws, sandbox, cdk=cdk, context=("ttl_hours=-1",))
    with pytest.raises(LabError, match="is not KEY=VALUE"):
        run(aws, sandbox, cdk=cdk, context=("ttl_hours",))
    with pytest.raises(LabError, match="set by the labs command"):
        run(aws, sandbox, cdk=cdk, context=("labs=all",))
    with pytest.raises(LabError, match=r"^-c ttl_hour=\.\.\. is not a context key of the labs; did you mean "
                                       r"-c ttl_hours=\.\.\.\?$"):
        run(aws, sandbox, cdk=cdk, context=("ttl_hour=1",))
    assert cdk.calls == []


def test_unknown_lab_is_one_line(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["deploy", "nope", "--yes"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip() == (
        f"error: unknown lab 'nope'; choose from: {', '.join(LABS)}")


def test_no_credentials_is_one_line(no_credentials, capsys):
    assert cli.main(["deploy", "data-lake", "--yes", "--region", "us-east-1"]) == 1
    assert capsys.readouterr().err.strip() == (
        "error: no AWS credentials found: run `aws configure` or set AWS_PROFILE, then retry")


class StubbedSession:
    """A session whose clients are stubbed, so every request is checked against the API model."""

    region_name = "us-east-1"

    def __init__(self):
        self.clients: dict[str, object] = {}
        self.stubs: dict[str, Stubber] = {}

    def stub(self, service: str) -> Stubber:
        if service not in self.stubs:
            client = boto3.Session(region_name="us-east-1").client(service)
            self.clients[service], self.stubs[service] = client, Stubber(client)
            self.stubs[service].activate()
        return self.stubs[service]

    def client(self, service, **_):
        return self.clients[service]


def identity(session: StubbedSession):
    session.stub("sts").add_response("get_caller_identity", {"Account": ACCOUNT, "UserId": "u",
                                                             "Arn": f"arn:aws:iam::{ACCOUNT}:user/tester"})
    session.stub("ssm").add_response("get_parameter", {"Parameter": {"Name": "v", "Value": "27"}},
                                     {"Name": "/cdk-bootstrap/hnb659fds/version"})


def test_an_expired_token_is_one_line():
    from botocore.exceptions import ClientError

    from labs.engine.errors import explain

    session = StubbedSession()
    session.stub("sts").add_client_error("get_caller_identity", "ExpiredToken", "The security token has expired")
    with pytest.raises(ClientError) as raised:
        deploy(session, DeployRequest(lab="data-lake"), cdk=None, out=lambda _: None)
    assert explain(raised.value) == ("your AWS session token has expired: refresh your credentials "
                                     "(e.g. `aws sso login`) and retry")


@pytest.mark.parametrize(("status", "advice"), [
    ("ROLLBACK_COMPLETE", "run `labs destroy data-lake`, then `labs deploy data-lake`"),
    ("DELETE_FAILED", "run `labs destroy data-lake`"),
    ("UPDATE_IN_PROGRESS", "is busy (UPDATE_IN_PROGRESS): wait until it settles"),
    ("UPDATE_ROLLBACK_FAILED", "continue-update-rollback --stack-name mlref-data-lake"),
])
def test_a_stack_in_a_failed_or_busy_state_is_refused(status, advice):
    session = StubbedSession()
    identity(session)
    session.stub("cloudformation").add_response(
        "describe_stacks", {"Stacks": [{"StackName": "mlref-data-lake", "StackStatus": status,
                                        "CreationTime": datetime(2026, 1, 1, tzinfo=UTC)}]},
        {"StackName": "mlref-data-lake"})
    with pytest.raises(LabError, match=f"state {status}|{status}") as error:
        deploy(session, DeployRequest(lab="data-lake"), cdk=None, out=lambda _: None)
    assert advice in str(error.value)


def quotas_page(*quotas):
    return {"Quotas": [{"QuotaName": name, "Value": value, "ServiceCode": "sagemaker"} for name, value in quotas]}


def test_training_quota_zero_everywhere_stops_with_the_alternatives():
    session = StubbedSession()
    stub = session.stub("service-quotas")
    stub.add_response("list_service_quotas", quotas_page(), {"ServiceCode": "sagemaker"})
    stub.add_response("list_aws_default_service_quotas",
                      quotas_page(("ml.p3.2xlarge for spot training job usage", 0.0),
                                  ("ml.p3.2xlarge for training job usage", 0.0)), {"ServiceCode": "sagemaker"})
    with pytest.raises(LabError, match=r"are 0 in us-east-1: request an increase .* "
                                       r"-c training_instance_type=ml.g5.xlarge"):
        check_training_quota(session, "ml.p3.2xlarge", "us-east-1", out=lambda _: None)
    stub.assert_no_pending_responses()


def test_spot_quota_zero_suggests_on_demand():
    session = StubbedSession()
    stub = session.stub("service-quotas")
    stub.add_response("list_service_quotas", quotas_page(("ml.p3.2xlarge for spot training job usage", 0.0),
                                                         ("ml.p3.2xlarge for training job usage", 1.0)),
                      {"ServiceCode": "sagemaker"})
    lines: list[str] = []
    check_training_quota(session, "ml.p3.2xlarge", "us-east-1", out=lines.append)
    assert "--on-demand" in lines[0]


def test_vpc_quota_full_stops_before_deploying():
    session = StubbedSession()
    session.stub("service-quotas").add_response(
        "get_service_quota", {"Quota": {"QuotaCode": "L-F678F1CE", "Value": 5.0}},
        {"ServiceCode": "vpc", "QuotaCode": "L-F678F1CE"})
    session.stub("ec2").add_response("describe_vpcs", {"Vpcs": [{"VpcId": f"vpc-{i}"} for i in range(5)]}, {})
    template = {"Resources": {"Vpc": {"Type": "AWS::EC2::VPC"}}}
    with pytest.raises(LabError, match=r"\"VPCs per Region\" is 5 in us-east-1 and 5 are in use; the lab needs 1"):
        check_network_quotas(session, template, "us-east-1", out=lambda _: None)


def test_vpc_quota_falls_back_to_the_default_and_passes():
    session = StubbedSession()
    quotas = session.stub("service-quotas")
    quotas.add_client_error("get_service_quota", "NoSuchResourceException")
    quotas.add_response("get_aws_default_service_quota", {"Quota": {"QuotaCode": "L-F678F1CE", "Value": 5.0}},
                        {"ServiceCode": "vpc", "QuotaCode": "L-F678F1CE"})
    session.stub("ec2").add_response("describe_vpcs", {"Vpcs": [{"VpcId": "vpc-1"}]}, {})
    lines: list[str] = []
    check_network_quotas(session, {"Resources": {"Vpc": {"Type": "AWS::EC2::VPC"}}}, "us-east-1", out=lines.append)
    assert lines == ['quota: "VPCs per Region" 1 used + 1 for the lab <= 5']


def test_unreadable_quotas_warn_and_go_on():
    session = StubbedSession()
    session.stub("service-quotas").add_client_error("get_service_quota", "AccessDeniedException")
    session.stub("ec2")
    lines: list[str] = []
    check_network_quotas(session, {"Resources": {"Vpc": {"Type": "AWS::EC2::VPC"}}}, "us-east-1", out=lines.append)
    assert lines[0].startswith("warning: cannot check \"VPCs per Region\" (AccessDeniedException)")


def test_a_failed_first_deployment_is_removed_again(aws, sandbox, monkeypatch):
    bootstrap(aws)
    removed: list[str] = []
    monkeypatch.setattr(teardown, "destroy", lambda session, lab, **_: removed.append(lab) or 0)
    cdk = FakeCdk(aws, sandbox.outdir, events=[*EVENTS[:1], FAILED_EVENT], deploy_code=1)
    with pytest.raises(LabError, match=r"cdk deploy mlref-data-lake failed \(exit 1\)"):
        run(aws, sandbox, cdk=cdk)
    assert removed == ["data-lake"]
    assert state.load("mlref-data-lake", ACCOUNT, "us-east-1") is None


def test_a_failed_update_leaves_the_previous_deployment(aws, sandbox, monkeypatch):
    bootstrap(aws)
    run(aws, sandbox)
    removed: list[str] = []
    monkeypatch.setattr(teardown, "destroy", lambda session, lab, **_: removed.append(lab) or 0)
    lines: list[str] = []
    with pytest.raises(LabError, match="failed"):
        deploy(aws, DeployRequest(lab="data-lake", yes=True), out=lines.append, interactive=False,
               cdk=FakeCdk(aws, sandbox.outdir, events=[FAILED_EVENT], deploy_code=1))
    assert removed == [] and any("exists (CREATE_COMPLETE): this deployment updates it" in line for line in lines)


def test_a_failed_synth_shows_its_output_and_creates_nothing(aws, sandbox):
    bootstrap(aws)
    cdk = FakeCdk(aws, sandbox.outdir, synth_code=1)
    lines: list[str] = []
    with pytest.raises(LabError, match=r"cdk synth failed \(exit 1\)"):
        deploy(aws, DeployRequest(lab="data-lake", yes=True), cdk=cdk, out=lines.append, interactive=False)
    assert cdk.commands() == ["synth"] and "Error: something broke in the app" in lines


def test_progress_collects_failures_and_counts_resources():
    lines: list[str] = []
    with DeployProgress(total=3, out=lines.append, interactive=False) as progress:
        for line in [*EVENTS[:2], FAILED_EVENT, "some other CLI line"]:
            progress.line(line)
    assert progress.done == 1 and progress.total == 3
    assert progress.failures == ['CREATE_FAILED AWS::S3::Bucket Raw (Raw3C4D) Resource handler returned message: '
                                 '"Access Denied"']
    assert lines[2].startswith("failed: CREATE_FAILED AWS::S3::Bucket") and lines[-1] == "some other CLI line"


def test_progress_on_a_terminal_draws_a_bar_and_still_prints_failures(monkeypatch):
    from rich.console import Console

    buffer = io.StringIO()
    monkeypatch.setattr("rich.progress.get_console", lambda: Console(file=buffer, force_terminal=True, width=100))
    with DeployProgress(total=3, interactive=True) as progress:
        for line in [*EVENTS, FAILED_EVENT]:
            progress.line(line)
    text = buffer.getvalue()
    assert "failed: CREATE_FAILED AWS::S3::Bucket" in text and "1/3" in text  # the bar follows the events
    assert EVENTS[1] not in text  # ordinary events only move the bar


def test_the_stacks_carry_their_tags_for_status_and_expiry(sandbox, production):
    for synthesized, expires in ((sandbox, True), (production, False)):
        manifest = json.loads((synthesized.outdir / "manifest.json").read_text())
        for lab, item in LABS.items():
            tags = manifest["artifacts"][item.stack_name]["properties"]["tags"]
            assert tags["lab"] == lab and tags["profile"] == synthesized.profile
            assert ("expires-at" in tags) is expires
    expires = json.loads((sandbox.outdir / "manifest.json").read_text())["artifacts"]["mlref-data-lake"][
        "properties"]["tags"]["expires-at"]
    assert datetime.fromisoformat(expires) == datetime(2026, 1, 15, 13, 30, tzinfo=UTC)  # synth + 4 h


def test_saved_records_round_trip_and_expire(tmp_path):
    record = state.SavedDeployment(lab="x", stack="mlref-x", account=ACCOUNT, region="eu-west-1", profile="sandbox",
                                   deployed_at="2026-01-01T00:00:00+00:00", expires_at="2026-01-01T04:00:00+00:00",
                                   outputs={"A": "1"})
    path = state.save(record, tmp_path)
    assert path.name == f"mlref-x.{ACCOUNT}.eu-west-1.json"
    assert state.load("mlref-x", ACCOUNT, "eu-west-1", tmp_path) == record
    now = datetime(2026, 1, 1, 3, tzinfo=UTC)
    assert not record.expired(now) and record.expired(now + timedelta(hours=1))
    assert state.saved_for_region("mlref-x", "eu-west-1", tmp_path) == [path]
    assert state.forget("mlref-x", ACCOUNT, "eu-west-1", tmp_path) and not path.exists()


def test_no_janitor_note_when_the_janitor_is_deployed(aws, sandbox):
    bootstrap(aws)
    aws.client("cloudformation").create_stack(
        StackName="mlref-janitor", TemplateBody=json.dumps({"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}))
    _, _, lines = run(aws, sandbox)
    assert not [line for line in lines if "account janitor" in line]


def test_progress_reads_events_without_a_total_and_with_colours():
    lines: list[str] = []
    with DeployProgress(total=40, out=lines.append, interactive=False) as progress:
        progress.line("mlref-data-lake |   7 | 10:00:09 AM | CREATE_COMPLETE      | AWS::KMS::Key | LakeKey")
        assert progress.done == 7 and progress.total == 40
        progress.line("mlref-data-lake | 8/41 | 10:00:10 AM | \x1b[31mCREATE_FAILED       \x1b[39m "
                      "| AWS::S3::Bucket | Raw")
        progress.line("mlref-data-lake | 8/41 | 10:00:11 AM | CREATE_FAILED (skipped) | AWS::Lambda::Function | Fn")
    assert progress.done == 8 and progress.total == 41 and progress.failures == ["CREATE_FAILED AWS::S3::Bucket Raw"]


def test_a_deploy_without_every_declared_output_is_not_a_success(aws, sandbox):
    bootstrap(aws)
    outputs = all_outputs()
    missing = list(outputs)[:2]  # named in the contract's order
    cdk = FakeCdk(aws, sandbox.outdir, outputs={k: v for k, v in outputs.items() if k not in missing})
    with pytest.raises(LabError) as raised:
        run(aws, sandbox, cdk=cdk)
    assert f"lacks the outputs {', '.join(missing)}: the practice needs them" in str(raised.value)
    assert state.load("mlref-data-lake", ACCOUNT, "us-east-1") is None
    with pytest.raises(LabError, match="lacks the outputs"):
        aws.client("cloudformation").delete_stack(StackName="mlref-data-lake")
        run(aws, sandbox, cdk=FakeCdk(aws, sandbox.outdir, outputs={}))


def test_a_failed_deploy_without_a_terminal_prints_each_line_once(aws, sandbox, monkeypatch):
    bootstrap(aws)
    monkeypatch.setattr(teardown, "destroy", lambda session, lab, **_: 0)
    lines: list[str] = []
    cdk = FakeCdk(aws, sandbox.outdir, events=[*EVENTS[:1], "some CLI line", FAILED_EVENT], deploy_code=1)
    with pytest.raises(LabError):
        deploy(aws, DeployRequest(lab="data-lake", yes=True), cdk=cdk, out=lines.append, interactive=False)
    assert lines.count(EVENTS[0]) == 1 and lines.count("some CLI line") == 1
    assert sum(1 for line in lines if "CREATE_FAILED" in line) == 1


def test_when_the_cleanup_fails_too_the_deploys_cause_is_the_last_word(aws, sandbox, monkeypatch):
    bootstrap(aws)

    def failing_destroy(session, lab, **_):
        raise LabError("cdk destroy mlref-data-lake failed (exit 1)")

    monkeypatch.setattr(teardown, "destroy", failing_destroy)
    lines: list[str] = []
    with pytest.raises(LabError, match=r"^cdk deploy mlref-data-lake failed \(exit 1\)"):
        deploy(aws, DeployRequest(lab="data-lake", yes=True), out=lines.append, interactive=False,
               cdk=FakeCdk(aws, sandbox.outdir, events=[FAILED_EVENT], deploy_code=1))
    assert lines[-1] == "cleanup failed too: cdk destroy mlref-data-lake failed (exit 1)"


def test_the_janitor_is_named_when_asked_to_deploy_it_as_a_lab(capsys):
    with pytest.raises(SystemExit):
        cli.main(["deploy", "janitor"])
    assert capsys.readouterr().err.strip() == (
        "error: janitor is not a lab but the account janitor that sweeps them: deploy it once per account and "
        "region with `labs janitor deploy`")


PREFLIGHT_OPTIONS: list = []


def record_preflight(session, options, out):
    """A lab's preflight, named by its catalog entry as ``module:function``: here it records the options."""
    PREFLIGHT_OPTIONS.append(options)


def test_deploy_uses_the_validated_options_for_cost_and_preflight(aws, sandbox, monkeypatch):
    """The -c values are validated once; cost and the lab's preflight read the options, not the strings."""
    import dataclasses

    import catalog as contracts

    bootstrap(aws)
    PREFLIGHT_OPTIONS.clear()
    fake = dataclasses.replace(LABS["fsx-training"], preflight=f"{__name__}:record_preflight")
    monkeypatch.setitem(contracts.LABS, "fsx-training", fake)
    record, _, lines = run(aws, sandbox, lab="fsx-training",
                           context=("training_source=efs", "training_instance_type=ml.g5.xlarge"))
    (options,) = PREFLIGHT_OPTIONS
    assert options.source.value == "efs" and options.instance_type == "ml.g5.xlarge"
    cost = fake.cost(options)
    assert any(f"{cost.idle_text} while deployed, {cost.run_text} per practice run" in line for line in lines)
    assert record.context == {"training_source": "efs", "training_instance_type": "ml.g5.xlarge"}
