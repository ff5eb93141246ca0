"""The one runner of the pinned CDK CLI (synth, deploy, destroy) and the one reader of its output.

The command line never imports aws-cdk-lib: whenever it needs a template it runs
``node_modules/.bin/cdk`` as a process. Each line the CLI prints goes to a callback; Ctrl-C
stops the CLI (SIGINT, then terminate) and surfaces as KeyboardInterrupt whether or not a
terminal delivered it, and a synthesis is written to a temporary folder that replaces the
target only when it succeeded, so nothing half-written is left.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from catalog.paths import ROOT
from catalog.toolchain import QUIET_TOOLCHAIN
from labs.engine.errors import LabError

CDK = ROOT / "node_modules" / ".bin" / "cdk"
OnLine = Callable[[str], None]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
INTERRUPTED_CODES = {-signal.SIGINT, 128 + signal.SIGINT}


def _quiet(_line: str) -> None:
    return None


@dataclass(frozen=True)
class CdkCli:
    """How to run the CDK CLI: the AWS profile and region its AWS calls use.

    Attributes:
        aws_profile: passed as ``--profile`` to commands that talk to AWS (None: the default chain).
        region: set as AWS_REGION / AWS_DEFAULT_REGION for the CLI and the app.
        executable: the CLI (default: the pinned one in node_modules).
    """

    aws_profile: str | None = None
    region: str | None = None
    executable: Path = CDK

    def environment(self) -> dict[str, str]:
        env = {**os.environ, **QUIET_TOOLCHAIN}
        if self.region:
            env.update(AWS_REGION=self.region, AWS_DEFAULT_REGION=self.region)
        return env

    def run(self, arguments: Sequence[str], on_line: OnLine = print) -> int:
        """Runs the CLI with ``arguments``, handing each output line (stdout and stderr) to ``on_line``."""
        if not Path(self.executable).exists():
            raise LabError(f"the CDK CLI is not installed at {self.executable}: run `make setup` first")
        profile = ["--profile", self.aws_profile] if self.aws_profile else []
        process = subprocess.Popen([str(self.executable), *arguments, *profile], cwd=ROOT, env=self.environment(),
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   text=True, bufsize=1, errors="replace")
        try:
            assert process.stdout is not None
            for line in process.stdout:
                on_line(line.rstrip("\n"))
            code = process.wait()
        except KeyboardInterrupt:
            stop(process)
            raise
        finally:
            if process.stdout is not None:
                process.stdout.close()
        if code in INTERRUPTED_CODES:  # the terminal's Ctrl-C reached the CLI first
            raise KeyboardInterrupt
        return code

    def synth(self, context: Mapping[str, str], outdir: Path, on_line: OnLine = print,
              on_failure: OnLine | None = None) -> Path:
        """Synthesizes the app with ``context`` into ``outdir``, replacing it only on success.

        A failure is a LabError: the app's own one-line error when it printed one, else the
        CLI's last lines go to ``on_failure`` (when ``on_line`` did not show them) first."""
        outdir = Path(outdir)
        try:
            outdir.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            from labs.engine.state import state_problem

            raise LabError(state_problem() or f"cannot write a synthesis under {outdir.parent} "
                           f"({error.strerror or error}): choose a folder you may write") from None
        building = outdir.with_name(f".{outdir.name}.building-{os.getpid()}")
        shutil.rmtree(building, ignore_errors=True)
        flags = [flag for key, value in context.items() for flag in ("-c", f"{key}={value}")]
        lines: deque[str] = deque(maxlen=40)

        def keep(line: str) -> None:
            lines.append(line)
            on_line(line)

        try:
            code = self.run(["synth", "--quiet", *flags, "-o", str(building)], keep)
            if code != 0:
                message = synth_failure(list(lines), code)
                if on_failure is not None and message.startswith("cdk synth failed"):
                    for line in lines:
                        on_failure(line)
                raise LabError(message)
            old = outdir.with_name(f".{outdir.name}.old-{os.getpid()}")
            if outdir.exists():
                outdir.rename(old)
            building.rename(outdir)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(building, ignore_errors=True)
        return outdir

    def deploy(self, stack_name: str, assembly: Path, on_line: OnLine) -> int:
        return self.run(["deploy", stack_name, "--app", str(assembly), "--require-approval", "never",
                         "--progress", "events"], on_line)

    def destroy(self, stack_name: str, assembly: Path, on_line: OnLine) -> int:
        return self.run(["destroy", stack_name, "--app", str(assembly), "--force"], on_line)


def stop(process: subprocess.Popen) -> None:
    """Stops the CLI as Ctrl-C would (SIGINT: it ends its deployment cleanly), then harder."""
    for action, wait in ((signal.SIGINT, 15), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        if process.poll() is not None:
            return
        process.send_signal(action)
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue


def synth_failure(lines: list[str], code: int) -> str:
    """One line for a failed synthesis: the app's own ``error:`` line when it printed one."""
    for line in lines:
        text = ANSI.sub("", line).strip()
        if text.startswith("error: "):
            return text.removeprefix("error: ")
    return f"cdk synth failed (exit {code}); the lines above say why"


# -- the cloud assembly ------------------------------------------------------------------

def stack_artifact(assembly: Path, stack_name: str) -> dict | None:
    """The manifest artifact of ``stack_name`` in ``assembly``; None when it is not there.
    A missing or corrupt manifest is a LabError that says how to rebuild it."""
    manifest = Path(assembly) / "manifest.json"
    if not manifest.is_file():
        return None
    try:
        artifacts = json.loads(manifest.read_text()).get("artifacts", {})
    except (OSError, ValueError, AttributeError) as error:
        raise LabError(f"{manifest} cannot be read ({error}): synthesize again with `labs synth`") from None
    for artifact_id, artifact in artifacts.items() if isinstance(artifacts, dict) else ():
        if isinstance(artifact, dict) and artifact.get("type") == "aws:cloudformation:stack" and \
                artifact.get("properties", {}).get("stackName", artifact_id) == stack_name:
            return artifact
    return None


def read_stack(assembly: Path, stack_name: str) -> tuple[dict, dict[str, str]]:
    """The template and stack tags of ``stack_name`` in ``assembly``; a LabError if unreadable."""
    artifact = stack_artifact(assembly, stack_name)
    if artifact is None:
        raise LabError(f"{stack_name} is not in {assembly}: synthesize it with `labs synth`")
    path = Path(assembly) / artifact.get("properties", {}).get("templateFile", "")
    try:
        template = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise LabError(f"{path} cannot be read ({error}): synthesize again with `labs synth`") from None
    if not isinstance(template, dict):
        raise LabError(f"{path} is not a template: synthesize again with `labs synth`")
    return template, dict(artifact.get("properties", {}).get("tags", {}) or {})


# -- the CLI's `--progress events` lines ---------------------------------------------------

# "mlref-data-lake |  3/42 | 10:15:02 AM | CREATE_COMPLETE | AWS::S3::Bucket | Raw/Resource (Raw1234)"
# (its HistoryActivityPrinter; the total is left out while unknown)
EVENT = re.compile(r"^\s*(?P<stack>[\w-]+)\s*\|\s*(?P<done>[0-9]+)(?:/(?P<total>[0-9]+))?\s*\|[^|]*\|\s*"
                   r"(?P<status>[A-Z_]+)(?P<skipped> \(skipped\))?\s*\|\s*(?P<type>[\w:]+)\s*\|\s*(?P<what>.*)$")


@dataclass
class DeployProgress:
    """Turns the CLI's event lines into a progress bar (rich) and keeps what matters.

    Failed resources are always printed; everything else only with ``verbose`` or when there
    is no terminal to draw a bar on (then every line is printed as it comes, once). The last
    lines are kept to show on a failure that printed nothing yet.
    """

    total: int
    verbose: bool = False
    out: OnLine = print
    interactive: bool = field(default_factory=lambda: sys.stdout.isatty())
    done: int = 0
    failures: list[str] = field(default_factory=list)
    tail: deque = field(default_factory=lambda: deque(maxlen=30))
    _bar: Any = None
    _task: Any = None

    def __enter__(self) -> DeployProgress:
        if self.interactive and not self.verbose:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), transient=False)
            self._bar.start()
            self._task = self._bar.add_task("deploying", total=self.total)
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    @property
    def printed_everything(self) -> bool:
        return self._bar is None

    def line(self, text: str) -> None:
        text = ANSI.sub("", text)
        self.tail.append(text)
        event = EVENT.match(text)
        if event:
            self.done = int(event["done"])
            self.total = max(self.total, int(event["total"] or 0), self.done)
            if event["status"].endswith("_FAILED") and not event["skipped"]:  # skipped: CFN retries it
                message = f"{event['status']} {event['type']} {event['what'].strip()}"
                self.failures.append(message)
                self._print(f"failed: {message}")
            elif self.printed_everything:
                self._print(text)
            if self._bar is not None:
                self._bar.update(self._task, completed=self.done, total=self.total,
                                 description=f"{event['status'].lower():<20} {event['type']}")
        elif self.printed_everything:
            self._print(text)

    def show_tail(self) -> None:
        """After a failure: the last lines, unless they were printed already."""
        if not self.printed_everything and not self.failures:
            for text in self.tail:
                self._print(text)

    def _print(self, text: str) -> None:
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False)
        else:
            self.out(text)
