"""``labs destroy`` and the cleanup of a failed first deploy (issue 24): in the account and region the
user named, with a last line that counts what is true, whatever the state folder is. moto; the CDK CLI
is the real runner (``CdkCli``) whose process is played against moto by the account its profile names."""

from __future__ import annotations

import shutil
from pathlib import Path

import boto3
import pytest

from labs.cli import common
from labs.cli import main as cli
from labs.engine import destroy as teardown
from labs.engine.cdk_cli import CdkCli
from lambdas.lab_sweep.sweep import Leftover, Sweeper
from tests.unit.test_labs_command import TEMPLATE, FakeCdk, deploy

STUDENT = "210987654321"


def test_the_closing_count_includes_what_waits_and_what_was_refused(aws, monkeypatch):
    lines: list[str] = []
    monkeypatch.setattr(Sweeper, "endpoints", lambda self: self.wait(Leftover("endpoint", "churn"), "Creating",
                                                                      "DeleteEndpoint fails until it settles"))
    assert teardown.destroy(aws, "data-lake", cdk=None, out=lines.append) == 1
    assert lines[-1] == "data-lake: 1 item(s) left: see above"
    aws.client("cloudformation").create_stack(  # a classroom's copy of the lab lives here
        StackName="StackSet-mlref-data-lake-0f5d2c9e-1b2a-4c3d-8e9f-0a1b2c3d4e5f", TemplateBody=TEMPLATE)
    lines.clear()
    assert teardown.destroy(aws, "data-lake", cdk=None, out=lines.append) == 1
    assert lines[-1].startswith("data-lake: nothing swept: stack StackSet-mlref-data-lake-0f5d2c9e-1b2a-4c3d-8e9f-"
                                "0a1b2c3d4e5f, a classroom's copy of data-lake, exists (CREATE_COMPLETE)")


def test_a_state_folder_that_is_a_file_never_stops_a_destroy(aws, sandbox, monkeypatch, tmp_path):
    not_a_folder = tmp_path / "state"
    not_a_folder.write_text("not a folder")
    monkeypatch.setenv("MLREF_LABS_STATE", str(not_a_folder))
    deploy(aws, "clickstream")
    lines: list[str] = []
    cdk = FakeCdk(aws, sandbox.outdir)
    assert teardown.destroy(aws, "clickstream", cdk=cdk, out=lines.append, yes=True) == 0
    assert [call[0] for call in cdk.calls] == ["synth", "destroy"] and not Path(cdk.calls[0][2]).exists()
    assert lines[0] == (f"warning: MLREF_LABS_STATE={not_a_folder} cannot be the labs' state folder (it is a file): "
                        "point MLREF_LABS_STATE at a folder you may write, or unset it; synthesizing into a temporary "
                        "folder instead")
    assert lines[-1] == "clickstream: nothing tagged lab=clickstream is left in us-east-1"


def test_a_deploy_with_a_state_folder_that_is_a_file_is_one_line(aws, monkeypatch, tmp_path, capsys):
    aws.client("ssm").put_parameter(Name="/cdk-bootstrap/hnb659fds/version", Value="27", Type="String")
    (tmp_path / "state").write_text("not a folder")
    monkeypatch.setenv("MLREF_LABS_STATE", str(tmp_path / "state"))
    cdk = FakeCdk()
    monkeypatch.setattr(common, "cdk_of", lambda args, session=None: cdk)
    assert cli.main(["deploy", "data-lake", "--yes"]) == 1
    assert cdk.calls == []  # nothing synthesized
    assert capsys.readouterr().err == (f"error: MLREF_LABS_STATE={tmp_path / 'state'} cannot be the labs' state "
                                       "folder (it is a file): point MLREF_LABS_STATE at a folder you may write, or "
                                       "unset it\n")


# -- a failed first deploy, cleaned up in the account the user named --------------------------------

def student_profile(monkeypatch, tmp_path) -> boto3.Session:
    """An AWS profile ``student`` for another account than the default credentials' (moto's 123456789012)."""
    credentials = boto3.client("sts", region_name="us-east-1").assume_role(
        RoleArn=f"arn:aws:iam::{STUDENT}:role/student", RoleSessionName="student")["Credentials"]
    (tmp_path / "config").write_text("[profile student]\nregion = us-east-1\n")
    (tmp_path / "credentials").write_text(
        f"[student]\naws_access_key_id = {credentials['AccessKeyId']}\n"
        f"aws_secret_access_key = {credentials['SecretAccessKey']}\n"
        f"aws_session_token = {credentials['SessionToken']}\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    return boto3.Session(profile_name="student")


def play_the_cli(sandbox):
    """``CdkCli.run`` played against moto in the account of the runner's own ``--profile`` (None: the
    default credentials), as the real CLI would act: synth writes the assembly, deploy creates the stack
    and fails (exit 1, as a first deploy that rolled back), destroy deletes the stack."""
    def run(self, arguments, on_line=print):
        session = boto3.Session(profile_name=self.aws_profile, region_name=self.region)
        command = arguments[0]
        if command == "synth":
            shutil.copytree(sandbox.outdir, arguments[arguments.index("-o") + 1], dirs_exist_ok=True)
            return 0
        stack = arguments[1]
        cloudformation = session.client("cloudformation")
        if command == "deploy":
            cloudformation.create_stack(StackName=stack, TemplateBody=TEMPLATE)
            on_line(f"{stack} |  1/3 | 10:00:09 AM | CREATE_FAILED        | AWS::S3::Bucket | Raw (Raw3C4D)")
            return 1
        cloudformation.delete_stack(StackName=stack)
        return 0

    return run


def test_a_failed_first_deploy_is_cleaned_up_in_the_profiles_account_only(aws, sandbox, monkeypatch, tmp_path, capsys):
    student = student_profile(monkeypatch, tmp_path)
    assert student.client("sts").get_caller_identity()["Account"] == STUDENT
    student.client("ssm").put_parameter(Name="/cdk-bootstrap/hnb659fds/version", Value="27", Type="String")
    others = aws.client("cloudformation")  # the default credentials' account has a stack of the same name
    others.create_stack(StackName="mlref-data-lake", TemplateBody=TEMPLATE)
    monkeypatch.setattr(CdkCli, "run", play_the_cli(sandbox))

    assert cli.main(["deploy", "data-lake", "--aws-profile", "student", "--yes"]) == 1

    err = capsys.readouterr().err
    assert err.startswith("error: cdk deploy mlref-data-lake failed (exit 1)")
    assert others.describe_stacks(StackName="mlref-data-lake")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    gone = student.client("cloudformation").list_stacks(StackStatusFilter=["DELETE_COMPLETE"])["StackSummaries"]
    assert [s["StackName"] for s in gone] == ["mlref-data-lake"]
    assert student.client("cloudformation").list_stacks(StackStatusFilter=["CREATE_COMPLETE"])["StackSummaries"] == []


def test_the_janitor_with_a_state_folder_that_is_a_file_is_one_line(aws, monkeypatch, tmp_path, capsys):
    (tmp_path / "state").write_text("not a folder")
    monkeypatch.setenv("MLREF_LABS_STATE", str(tmp_path / "state"))
    monkeypatch.setattr(CdkCli, "run", lambda self, arguments, on_line=print: pytest.fail("no CLI may run"))
    assert cli.main(["janitor", "deploy", "--yes"]) == 1
    assert capsys.readouterr().err.startswith(f"error: MLREF_LABS_STATE={tmp_path / 'state'} cannot be the labs' "
                                              "state folder (it is a file)")
