"""A local AWS for the end-to-end test: moto's server on 127.0.0.1, and how to run commands against it.

The server runs from ``moto_launcher.py`` (moto with gaps in its CloudFormation patched, see
there) on a free port, and is stopped when the block ends. Commands run as subprocesses with an
environment of their own: fake credentials, ``AWS_ENDPOINT_URL`` at the server (as
``localhost``: with ``127.0.0.1`` moto reads the bucket in a TemplateURL as "127"), an empty
HOME (the CDK CLI's ``~/.cdk.json``) and empty AWS config files so nothing of the user's
configuration leaks in, and a state folder in the test's scratch space. Two caches are the
user's: jsii's package cache (with an empty HOME every synthesis would unpack aws-cdk-lib again,
seconds each) and the CDK CLI's cache folder, which it finds from the account's home directory
and not from HOME (notices, the connectivity check).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from catalog.paths import ROOT
from catalog.toolchain import QUIET_TOOLCHAIN

PYTHON = ROOT / ".venv" / "bin" / "python"
CDK = ROOT / "node_modules" / ".bin" / "cdk"
MOTO_SERVER = ROOT / ".venv" / "bin" / "moto_server"  # installed by moto[server], with its web dependencies
LAUNCHER = Path(__file__).with_name("moto_launcher.py")
ACCOUNT, REGION = "123456789012", "us-east-1"  # moto's default account
STARTUP_SECONDS = 30
COMMAND_SECONDS = 180  # one command; the machine may be shared, so generous, but always bounded
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass(frozen=True)
class Result:
    """A finished command: its exit code and what it printed (ANSI colours removed)."""

    code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return [line.strip() for line in self.stdout.splitlines() if line.strip()]

    def __str__(self) -> str:  # shown when an assertion about the command fails
        return f"exit {self.code}\n--- stdout\n{self.stdout[-4000:]}\n--- stderr\n{self.stderr[-4000:]}"


@dataclass(frozen=True)
class LocalAws:
    endpoint: str
    env: dict[str, str]
    state: Path
    home: Path
    server_log: Path

    def client(self, service: str):
        import boto3
        from botocore.config import Config

        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION, aws_access_key_id="testing",
                            aws_secret_access_key="testing", aws_session_token="testing",
                            config=Config(retries={"total_max_attempts": 1}))  # a local server: no retries

    def run(self, *arguments: str, cwd: Path = ROOT) -> Result:
        try:
            done = subprocess.run([*arguments], cwd=cwd, env=self.env, capture_output=True, text=True,
                                  timeout=COMMAND_SECONDS, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as error:
            pytest.fail(f"{' '.join(arguments)} did not finish within {COMMAND_SECONDS} s:\n{error.stdout}\n"
                        f"{error.stderr}\n--- moto log\n{self.log_tail()}")
        return Result(done.returncode, ANSI.sub("", done.stdout), ANSI.sub("", done.stderr))

    def labs(self, *arguments: str) -> Result:
        return self.run(str(PYTHON), "-m", "labs", *arguments)

    def logged(self, text: str, within: float = 5) -> bool:
        """Whether the server's log shows ``text`` within ``within`` seconds (it may write after answering)."""
        deadline = time.monotonic() + within
        while text not in self.server_log.read_text(errors="replace"):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.server_log.read_text(errors="replace").splitlines()[-lines:])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def jsii_cache() -> Path:
    """The user's jsii package cache: with an empty HOME each synthesis would unpack aws-cdk-lib again."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aws" / "jsii" / "package-cache"


def wait_until_answering(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"moto_server exited ({process.returncode}) before answering:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # the local server
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"moto_server did not answer {url} within {STARTUP_SECONDS} s:\n{log.read_text()[-3000:]}")


@contextmanager
def local_aws(scratch: Path) -> Iterator[LocalAws]:
    """moto's server on a free port of 127.0.0.1 while the block runs; its files go under ``scratch``."""
    missing = [str(path.relative_to(ROOT)) for path in (PYTHON, CDK, MOTO_SERVER) if not path.exists()]
    if missing:
        pytest.fail(f"the end-to-end test needs {', '.join(missing)}: run `make setup` first")
    home, state, log = scratch / "home", scratch / "state", scratch / "moto.log"
    home.mkdir()
    port = free_port()
    endpoint = f"http://localhost:{port}"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(home),
        "AWS_CONFIG_FILE": str(home / "aws-config"), "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "AWS_ENDPOINT_URL": endpoint,
        "AWS_EC2_METADATA_DISABLED": "true", "MLREF_LABS_STATE": str(state),
        **QUIET_TOOLCHAIN, "JSII_RUNTIME_PACKAGE_CACHE_ROOT": str(jsii_cache()),
    }
    with log.open("w") as output:
        server = subprocess.Popen([str(PYTHON), str(LAUNCHER), str(port)], cwd=scratch, env=env, stdout=output,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_until_answering(server, f"http://127.0.0.1:{port}/moto-api/", log)
        yield LocalAws(endpoint=endpoint, env=env, state=state, home=home, server_log=log)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
