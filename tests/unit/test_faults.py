"""Faults end in one line with the fix: no region, partial or missing credentials, an unknown profile,
a refused connection, an endpoint that never answers, a web page instead of AWS, corrupt saved
records, Ctrl-C. The command line runs as a subprocess where exit codes and stderr matter."""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from catalog import LABS
from labs.engine import session as session_module
from labs.engine import state
from labs.engine.deployed import deployed_stack
from labs.engine.errors import LabError, explain
from tests.conftest import ROOT


def labs(*arguments: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labs", *arguments], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def clean_env(tmp_path) -> dict:
    """An environment with no AWS configuration at all (no region, no credentials, no profile)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=str(tmp_path / "no-config"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-creds"),
               AWS_EC2_METADATA_DISABLED="true", MLREF_LABS_STATE=str(tmp_path / "state"))
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Silent(socketserver.BaseRequestHandler):
    """Accepts the connection and never answers."""

    def handle(self) -> None:
        time.sleep(30)


class WebPage(http.server.BaseHTTPRequestHandler):
    """A captive portal: every request gets a login page."""

    def do_POST(self) -> None:  # http.server's naming
        body = b"<html><body>Log in to the hotel Wi-Fi</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        return None


@pytest.fixture
def server():
    servers = []

    def start(handler) -> int:
        instance = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
        instance.daemon_threads = True
        threading.Thread(target=instance.serve_forever, daemon=True).start()
        servers.append(instance)
        return instance.server_address[1]

    yield start
    for instance in servers:
        instance.shutdown()
        instance.server_close()


CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@pytest.mark.parametrize("case,extra,reason", [
    ("no region", CREDENTIALS, "no AWS region set: pass --region or set AWS_DEFAULT_REGION"),
    ("partial credentials", {"AWS_ACCESS_KEY_ID": "testing", "AWS_DEFAULT_REGION": "us-east-1"},
     "incomplete AWS credentials: env lacks AWS_SECRET_ACCESS_KEY"),
    ("unknown profile", {"AWS_PROFILE": "nosuch", "AWS_DEFAULT_REGION": "us-east-1"},
     "AWS profile 'nosuch' is not configured: run `aws configure --profile nosuch`"),
    ("refused connection", {**CREDENTIALS, "AWS_DEFAULT_REGION": "us-east-1",
                            "AWS_ENDPOINT_URL": "http://localhost:{refused}"}, "cannot reach http://localhost:"),
])
def test_list_still_lists_and_status_is_one_line(clean_env, monkeypatch, capsys, case, extra, reason):
    from labs.cli import main as cli

    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in {**clean_env, **{k: v.format(refused=free_port()) for k, v in extra.items()}}.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["list"]) == 0
    listing = capsys.readouterr()
    rows = listing.out.splitlines()
    assert rows[0].startswith("lab ") and len(rows) == 2 + len(LABS)
    assert rows[-1].startswith("deployed: unknown (") and reason in rows[-1], rows[-1]
    assert cli.main(["status"]) == 1
    status = capsys.readouterr()
    assert status.out == "" and status.err.startswith("error: ") and reason in status.err
    assert status.err.count("\n") == 1 and "AWS refused" not in status.err and "Traceback" not in status.err


def test_a_fault_from_a_real_process_is_one_line_on_stderr_with_exit_1(clean_env):
    """The same through a real process, once: exit code, stdout and stderr as a user sees them."""
    result = labs("status", env={**clean_env, **CREDENTIALS})
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == "error: no AWS region set: pass --region or set AWS_DEFAULT_REGION (or `aws configure`)\n"


def test_an_endpoint_that_never_answers_gives_up_in_one_line(server, monkeypatch):
    """The mechanism with short timeouts; the defaults' bound is checked below."""
    monkeypatch.setattr(session_module, "READ_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setattr(session_module, "CONNECT_TIMEOUT_SECONDS", 0.5)
    port = server(Silent)
    cloudformation = session_module.aws_session(region="us-east-1", credentials={
        "AccessKeyId": "testing", "SecretAccessKey": "testing"}).client("cloudformation",
                                                                        endpoint_url=f"http://localhost:{port}")
    started = time.monotonic()
    with pytest.raises(Exception) as raised:
        cloudformation.describe_stacks()
    assert time.monotonic() - started < 10
    assert explain(raised.value) == (f"http://localhost:{port}/ accepted the connection but did not answer in time: "
                                     "check your network, proxy or AWS_ENDPOINT_URL, then retry")


def test_the_default_timeouts_and_retries_give_up_within_30_seconds():
    config = session_module.client_config()
    assert config.retries == {"mode": "standard", "total_max_attempts": 3}
    # botocore's standard mode backs off at most 1 s, then 2 s, between its attempts
    worst = 3 * (config.connect_timeout + config.read_timeout) - config.connect_timeout * 3 + 1 + 2
    assert config.read_timeout * 3 + 1 + 2 <= 30 and config.connect_timeout * 3 + 1 + 2 <= 30 and worst <= 30


def test_every_client_of_the_factory_has_the_bounded_config():
    client = session_module.aws_session(region="eu-west-1").client("sts")
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (
        session_module.CONNECT_TIMEOUT_SECONDS, session_module.READ_TIMEOUT_SECONDS)
    assert client.meta.config.retries["mode"] == "standard"


def test_the_translation_covers_every_family():
    from boto3.exceptions import S3UploadFailedError
    from botocore import exceptions as core
    from botocore.parsers import ResponseParserError

    cases = {
        core.NoRegionError(): "no AWS region set",
        core.NoCredentialsError(): "no AWS credentials found",
        core.PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"):
            "incomplete AWS credentials: env lacks AWS_SECRET_ACCESS_KEY",
        core.ProfileNotFound(profile="nosuch"): "AWS profile 'nosuch' is not configured",
        core.EndpointConnectionError(endpoint_url="https://sts.amazonaws.com"): "cannot reach https://sts.amazonaws.com",
        core.ConnectTimeoutError(endpoint_url="https://x"): "connecting to https://x timed out",
        core.ReadTimeoutError(endpoint_url="https://x"): "did not answer in time",
        ResponseParserError("bad"): "could not be read",
        S3UploadFailedError("Failed to upload a to b/c: An error occurred (NoSuchBucket) when calling the "
                            "PutObject operation"): "the lab's bucket does not exist: redeploy the lab",
        core.ClientError({"Error": {"Code": "ExpiredToken", "Message": "x"}}, "GetCallerIdentity"):
            "session token has expired",
        core.ClientError({"Error": {"Code": "AccessDenied", "Message": "nope"}}, "DeleteStack"):
            "AWS denied DeleteStack (AccessDenied): your identity needs that permission: nope",
        core.ClientError({"Error": {"Code": "ValidationError", "Message": "bad"}}, "CreateStack"):
            "AWS refused CreateStack: ValidationError: bad",
    }
    for error, expected in cases.items():
        text = explain(error)
        assert text is not None and expected in text and "\n" not in text, (error, text)
    assert explain(ValueError("not AWS")) is None


def test_a_missing_bucket_during_an_upload_is_one_line(aws, tmp_path):
    from boto3.exceptions import S3UploadFailedError

    sample = tmp_path / "x.csv"
    sample.write_text("a\n")
    with pytest.raises(S3UploadFailedError) as raised:
        aws.client("s3").upload_file(str(sample), "mlref-gone", "k")
    assert explain(raised.value).startswith("the lab's bucket does not exist")


# -- saved records are untrusted -------------------------------------------------------------

ACCOUNT = "123456789012"
GOOD = {"lab": "data-lake", "stack": "mlref-data-lake", "account": ACCOUNT, "region": "us-east-1",
        "profile": "sandbox", "deployed_at": "2026-01-01T00:00:00+00:00", "expires_at": "2999-01-01T00:00:00+00:00",
        "outputs": {"RawBucketName": "saved"}, "tags": {}}


@pytest.mark.parametrize("content,why", [
    ("{not json", "Expecting property name"),
    (json.dumps({**GOOD, "expires_at": "soon"}), "Invalid isoformat"),
    (json.dumps({**GOOD, "expires_at": "2999-01-01T00:00:00"}), "has no time zone"),
    (json.dumps({k: v for k, v in GOOD.items() if k != "account"}), "lacks account"),
    (json.dumps({**GOOD, "outputs": ["x"]}), "outputs is not a mapping"),
    (json.dumps([1, 2]), "not a JSON object"),
])
def test_a_bad_saved_record_is_reported_and_cloudformation_asked(aws, monkeypatch, tmp_path, content, why):
    monkeypatch.setenv("MLREF_LABS_STATE", str(tmp_path))
    (tmp_path / f"mlref-data-lake.{ACCOUNT}.us-east-1.json").write_text(content)
    warnings: list[str] = []
    assert state.load("mlref-data-lake", ACCOUNT, "us-east-1", warn=warnings.append) is None
    assert len(warnings) == 1 and why in warnings[0] and "asking CloudFormation" in warnings[0]
    with pytest.raises(LabError, match="lab data-lake is not deployed in us-east-1"):
        deployed_stack(aws, "mlref-data-lake", ["RawBucketName"])


def test_a_good_saved_record_round_trips(tmp_path):
    record = state.SavedDeployment.from_json(GOOD)
    path = state.save(record, tmp_path)
    assert state.load("mlref-data-lake", ACCOUNT, "us-east-1", tmp_path) == record
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left
    assert path.read_text().endswith("\n")


def test_a_read_only_state_folder_never_stops_the_sweep_of_a_destroy(aws, monkeypatch, tmp_path):
    from labs.engine import destroy as teardown

    folder = tmp_path / "state"
    folder.mkdir()
    monkeypatch.setenv("MLREF_LABS_STATE", str(folder))
    state.save(state.SavedDeployment.from_json(GOOD), folder)
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="mlref-data-lake-left")
    s3.put_bucket_tagging(Bucket="mlref-data-lake-left", Tagging={"TagSet": [
        {"Key": "lab", "Value": "data-lake"}, {"Key": "profile", "Value": "sandbox"}]})
    monkeypatch.setattr(Path, "unlink", lambda self, missing_ok=False: (_ for _ in ()).throw(
        PermissionError(13, "Permission denied")))
    lines: list[str] = []
    assert teardown.destroy(aws, "data-lake", cdk=None, out=lines.append) == 0
    assert any(line.startswith("warning: cannot remove the saved record") for line in lines)
    assert "deleted bucket mlref-data-lake-left" in lines
    assert lines[-1] == "data-lake: nothing tagged lab=data-lake is left in us-east-1"


# -- Ctrl-C ------------------------------------------------------------------------------------

# A CDK CLI that starts a synthesis (writes into its -o folder), says so in a file, and runs until
# Ctrl-C stops it: the interrupt always lands mid-synthesis, however fast or slow the machine.
STUCK_CDK = """import os, pathlib, sys, time
out = pathlib.Path(sys.argv[sys.argv.index("-o") + 1])
out.mkdir(parents=True)
(out / "manifest.json").write_text("{")  # half-written
pathlib.Path(os.environ["STUCK_CDK_STARTED"]).touch()
while True:
    time.sleep(0.1)
"""
# The labs command with its CDK CLI runner pointed at that stand-in.
WITH_STUCK_CDK = ("import pathlib, sys; from labs.cli import common, main; from labs.engine.cdk_cli import CdkCli; "
                  "common.cdk_of = lambda args, session=None: "
                  "CdkCli(region='us-east-1', executable=pathlib.Path(sys.argv[1]));"
                  " sys.exit(main.main(sys.argv[2:]))")


def default_sigint() -> None:
    """A child as a terminal starts it: Ctrl-C interrupts. A test run in a background job would otherwise
    hand the labs command (and its CLI) an ignored SIGINT."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal (the whole group)", "no terminal (labs only)"])
def test_ctrl_c_during_synth_is_one_line_exit_130_and_leaves_nothing_half_written(clean_env, tmp_path, terminal):
    cdk, started = tmp_path / "cdk", tmp_path / "started"
    cdk.write_text(f"#!{sys.executable}\n{STUCK_CDK}")
    cdk.chmod(0o755)
    env = {**clean_env, "AWS_DEFAULT_REGION": "us-east-1", "STUCK_CDK_STARTED": str(started)}
    process = subprocess.Popen([sys.executable, "-c", WITH_STUCK_CDK, str(cdk), "synth", "data-lake"], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True, preexec_fn=default_sigint)
    deadline = time.monotonic() + 60
    while not started.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # until the CLI is mid-synthesis
    assert started.exists(), process.communicate(timeout=10)
    if terminal:
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "interrupted" and "Traceback" not in stderr
    assembly = tmp_path / "state" / "assembly" / "sandbox"
    assert not (assembly / "data-lake").exists()
    assert [p.name for p in assembly.glob(".*")] == []  # no half-built folder left
