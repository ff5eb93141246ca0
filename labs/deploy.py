"""``labs deploy LAB``: check, show, ask, deploy with live progress, save the outputs.

The order matters: everything that can be checked without creating anything is checked
first (credentials, region, CDK bootstrap, the stack's current state, context values),
then the lab is synthesized once into its own cloud assembly, the template is checked
against the account's quotas, cost and expiry are shown, and only after a yes is that
same assembly deployed. A first deployment that fails is removed again (the stack,
then the sweep), so nothing is left half-created.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError

from labs.aws import caller_account, described_stack, stack_state_problem
from labs.errors import LabError
from labs.lifecycle import CDK, ROOT, definition
from labs.practice.fsx_quota import check_training_quota
from labs.state import SavedDeployment, save, state_dir

BOOTSTRAP_PARAMETER = "/cdk-bootstrap/hnb659fds/version"  # the default qualifier's version parameter
MIN_BOOTSTRAP_VERSION = 6  # what the synthesized stacks' CheckBootstrapVersion rule requires

LineRunner = Callable[[Sequence[str], Mapping[str, str], Callable[[str], None]], int]


# -- checks before anything is created ------------------------------------------------

@dataclass(frozen=True)
class Target:
    account: str
    region: str


def target_of(session: Any) -> Target:
    if not session.region_name:
        raise LabError("no AWS region set: pass --region or set AWS_DEFAULT_REGION (or `aws configure`)")
    return Target(account=caller_account(session), region=session.region_name)


def bootstrap_version(session: Any, target: Target, out: Callable[[str], None]) -> int | None:
    """The CDK bootstrap version of the account and region; LabError when missing or too old."""
    fix = f"run `npx cdk bootstrap aws://{target.account}/{target.region}` (once per account and region)"
    try:
        value = session.client("ssm").get_parameter(Name=BOOTSTRAP_PARAMETER)["Parameter"]["Value"]
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code == "ParameterNotFound":
            raise LabError(f"account {target.account} is not bootstrapped for the CDK in {target.region}: {fix}") \
                from error
        out(f"warning: cannot read {BOOTSTRAP_PARAMETER} ({code}); the deployment itself will check the bootstrap")
        return None
    version = int(value)
    if version < MIN_BOOTSTRAP_VERSION:
        raise LabError(f"the CDK bootstrap in {target.region} is version {version}, the labs need "
                       f"{MIN_BOOTSTRAP_VERSION} or newer: {fix}")
    return version


def current_status(session: Any, lab: str, stack_name: str) -> str | None:
    """The stack's status, None when it does not exist; LabError when it cannot be deployed over."""
    try:
        (stack,) = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "ValidationError":
            return None
        raise
    status = stack["StackStatus"]
    if problem := stack_state_problem(lab, stack_name, status):
        raise LabError(problem)
    return status


def janitor_note(session: Any, target: Target, out: Callable[[str], None]) -> None:
    """Says when the account janitor, which sweeps what an expired lab leaves, is not deployed."""
    from labs.contracts import JANITOR_STACK_NAME as STACK_NAME

    try:
        session.client("cloudformation").describe_stacks(StackName=STACK_NAME)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ValidationError":
            raise
        out(f"note: the account janitor ({STACK_NAME}) is not deployed in {target.region}: after the lab expires "
            f"nothing sweeps what CloudFormation leaves; deploy it once: node_modules/.bin/cdk deploy {STACK_NAME}")


def checked_context(lab: str, profile: str, context: Sequence[str], target: Target) -> dict[str, str]:
    """The -c KEY=VALUE pairs for the lab, validated by the app's own rules (a one-line error)."""
    from labs.contracts.config import ConfigError, read_config

    pairs: dict[str, str] = {}
    for item in context:
        key, separator, value = item.partition("=")
        if not separator or not key.strip():
            raise LabError(f"-c {item!r} is not KEY=VALUE (e.g. -c ttl_hours=8)")
        if key.strip() in {"labs", "profile"}:
            raise LabError(f"-c {key.strip()}=... is set by `labs deploy`: use the LAB argument and --profile")
        pairs[key.strip()] = value.strip()
    pairs.update({"labs": lab, "profile": profile})
    defaults = json.loads((ROOT / "cdk.json").read_text())["context"]
    try:
        read_config({**defaults, **pairs}, {"CDK_DEFAULT_ACCOUNT": target.account,
                                                "CDK_DEFAULT_REGION": target.region,
                                                "USER": os.environ.get("USER", "")})
    except ConfigError as error:
        raise LabError(str(error)) from error
    return pairs


# -- quotas ----------------------------------------------------------------------------

@dataclass(frozen=True)
class NetworkQuota:
    """An account-level count the lab's template adds to."""

    resource_type: str
    name: str
    quota_code: str
    default: int
    count: Callable[[Any], int]


def _count_vpcs(ec2: Any) -> int:
    return sum(len(page["Vpcs"]) for page in ec2.get_paginator("describe_vpcs").paginate())


def _count_internet_gateways(ec2: Any) -> int:
    return sum(len(page["InternetGateways"])
               for page in ec2.get_paginator("describe_internet_gateways").paginate())


NETWORK_QUOTAS = (
    NetworkQuota("AWS::EC2::VPC", "VPCs per Region", "L-F678F1CE", 5, _count_vpcs),
    NetworkQuota("AWS::EC2::InternetGateway", "Internet gateways per Region", "L-A4707A72", 5,
                 _count_internet_gateways),
)


def quota_value(quotas: Any, service: str, code: str, default: float) -> float:
    """The applied quota, else AWS's default, else ``default``."""
    try:
        return quotas.get_service_quota(ServiceCode=service, QuotaCode=code)["Quota"]["Value"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchResourceException":
            raise
    try:
        return quotas.get_aws_default_service_quota(ServiceCode=service, QuotaCode=code)["Quota"]["Value"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchResourceException":
            raise
    return default


def check_network_quotas(session: Any, template: dict, region: str, out: Callable[[str], None]) -> None:
    """Stops when the lab's VPCs or internet gateways would exceed the region's quotas."""
    types = [resource["Type"] for resource in template.get("Resources", {}).values()]
    quotas = ec2 = None
    for quota in NETWORK_QUOTAS:
        needed = types.count(quota.resource_type)
        if not needed:
            continue
        quotas = quotas or session.client("service-quotas")
        ec2 = ec2 or session.client("ec2")
        try:
            limit = quota_value(quotas, "vpc", quota.quota_code, quota.default)
            used = quota.count(ec2)
        except (ClientError, EndpointConnectionError) as error:
            code = error.response["Error"]["Code"] if isinstance(error, ClientError) else "unreachable"
            out(f"warning: cannot check \"{quota.name}\" ({code}); going on")
            continue
        if used + needed > limit:
            raise LabError(f"\"{quota.name}\" is {limit:g} in {region} and {used} are in use; the lab needs {needed} "
                           "more: delete an unused one or request an increase (Service Quotas > Amazon VPC)")
        out(f"quota: \"{quota.name}\" {used} used + {needed} for the lab <= {limit:g}")


# -- running the CDK CLI ---------------------------------------------------------------

def stream_cdk(arguments: Sequence[str], env: Mapping[str, str], on_line: Callable[[str], None]) -> int:
    """Runs the pinned CDK CLI, handing each line of its output (stdout and stderr) to ``on_line``."""
    if not CDK.exists():
        raise LabError(f"the CDK CLI is not installed at {CDK.relative_to(ROOT)}: run `make setup` first")
    environment = dict(os.environ, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
                       CDK_DISABLE_CLI_TELEMETRY="true", **env)
    with subprocess.Popen([str(CDK), *arguments], cwd=ROOT, env=environment, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, bufsize=1) as process:
        assert process.stdout is not None
        try:
            for line in process.stdout:
                on_line(line.rstrip("\n"))
        except KeyboardInterrupt:
            process.terminate()  # the CLI stops and CloudFormation rolls the stack back
            raise
        return process.wait()


# The CLI's `--progress events` lines (its HistoryActivityPrinter; the total is left out while unknown):
# "mlref-data-lake |  3/42 | 10:15:02 AM | CREATE_COMPLETE | AWS::S3::Bucket | Raw/Resource (Raw1234)"
EVENT = re.compile(r"^\s*(?P<stack>[\w-]+)\s*\|\s*(?P<done>\d+)(?:/(?P<total>\d+))?\s*\|[^|]*\|\s*(?P<status>[A-Z_]+)(?P<skipped> \(skipped\))?\s*"
                   r"\|\s*(?P<type>[\w:]+)\s*\|\s*(?P<what>.*)$")

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass
class DeployProgress:
    """Turns the CLI's event lines into a progress bar (rich) and keeps what matters.

    Failed resources are always printed; everything else only with ``verbose`` or when
    there is no terminal to draw a bar on. The last lines are kept to show on failure.
    """

    total: int
    verbose: bool = False
    out: Callable[[str], None] = print
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
            elif self.verbose or self._bar is None:
                self._print(text)
            if self._bar is not None:
                self._bar.update(self._task, completed=self.done, total=self.total,
                                 description=f"{event['status'].lower():<20} {event['type']}")
        elif self.verbose or self._bar is None:
            self._print(text)

    def _print(self, text: str) -> None:
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False)
        else:
            self.out(text)


# -- the command -----------------------------------------------------------------------

@dataclass(frozen=True)
class DeployRequest:
    """What the user asked for.

    Attributes:
        lab: the lab's name.
        profile: sandbox or production.
        context: extra ``KEY=VALUE`` context pairs for the app.
        yes: deploy without asking.
        verbose: show every line the CDK CLI prints.
        aws_profile: the named AWS profile for the CLI (None: the default chain).
    """

    lab: str
    profile: str = "sandbox"
    context: tuple[str, ...] = ()
    yes: bool = False
    verbose: bool = False
    aws_profile: str | None = None


def _stack_manifest(assembly: Path, stack_name: str) -> tuple[dict, dict[str, str]]:
    manifest = json.loads((assembly / "manifest.json").read_text())
    artifact = manifest["artifacts"][stack_name]
    template = json.loads((assembly / artifact["properties"]["templateFile"]).read_text())
    return template, artifact["properties"].get("tags", {})


def _hours_until(moment: str, now: datetime) -> float:
    return (datetime.fromisoformat(moment.replace("Z", "+00:00")) - now).total_seconds() / 3600


def deploy(session: Any, request: DeployRequest, *, runner: LineRunner = stream_cdk,
           ask: Callable[[str], bool] | None = None, out: Callable[[str], None] = print,
           assemblies: Path | None = None, now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
           interactive: bool | None = None) -> SavedDeployment | None:
    """Deploys the lab; returns what was saved, None when the user said no.

    LabError, with nothing created, on every check that fails.
    """
    item = definition(request.lab)
    target = target_of(session)
    out(f"account {target.account}, region {target.region}")
    version = bootstrap_version(session, target, out)
    if version is not None:
        out(f"CDK bootstrap: version {version}")
    status = current_status(session, request.lab, item.stack_name)
    janitor_note(session, target, out)
    pairs = checked_context(request.lab, request.profile, request.context, target)

    env = {"AWS_REGION": target.region, "AWS_DEFAULT_REGION": target.region}
    profile_flag = ["--profile", request.aws_profile] if request.aws_profile else []
    assembly = (assemblies or state_dir() / "assembly") / request.lab
    context_flags = [flag for key, value in pairs.items() for flag in ("-c", f"{key}={value}")]
    out(f"synthesizing {item.stack_name} ({request.profile})...")
    synth_output: list[str] = []
    code = runner(["synth", "--quiet", *context_flags, "-o", str(assembly), *profile_flag], env, synth_output.append)
    if code != 0:
        for text in synth_output[-20:]:
            out(text)
        raise LabError(f"cdk synth failed (exit {code}); the lines above say why")
    template, tags = _stack_manifest(assembly, item.stack_name)

    if status is None:
        check_network_quotas(session, template, target.region, out)
    else:
        out(f"{item.stack_name} exists ({status}): this deployment updates it")
    if request.lab == "fsx-training":
        from labs.contracts.fsx_training import DEFAULT_INSTANCE_TYPE

        check_training_quota(session, pairs.get("training_instance_type") or DEFAULT_INSTANCE_TYPE,
                             target.region, out)

    cost = item.cost(item.default_options())
    expires_at = tags.get("expires-at")
    moment = now()
    out(f"cost: ~${cost.idle_per_hour:.4f}/hour while deployed, ~${cost.per_practice_run:.2f} per practice run "
        "(pricing/prices.toml)")
    if expires_at:
        hours = _hours_until(expires_at, moment)
        out(f"expires: {expires_at} (in {hours:.1f} h), when it deletes itself; idle cost until then "
            f"~${cost.idle_per_hour * hours:.2f}")
    else:
        out("expires: never (production profile or ttl_hours=0): remove it with `labs destroy "
            f"{request.lab}`")
    resources = len(template.get("Resources", {}))
    if not request.yes:
        question = f"Deploy {item.stack_name} ({resources} resources) to {target.account} {target.region}?"
        if ask is None:
            raise LabError("cannot ask for confirmation without a terminal: rerun with --yes")
        if not ask(question):
            out("not deployed")
            return None

    arguments = ["deploy", item.stack_name, "--app", str(assembly), "--require-approval", "never",
                 "--progress", "events", *profile_flag]
    with DeployProgress(total=resources + 1, verbose=request.verbose, out=out,
                        interactive=sys.stdout.isatty() if interactive is None else interactive) as progress:
        code = runner(arguments, env, progress.line)
    if code != 0:
        if not progress.failures:
            for text in progress.tail:
                out(text)
        _clean_up_failed_create(session, request, status, out)
        raise LabError(f"cdk deploy {item.stack_name} failed (exit {code}): the failed resources are listed above; "
                       "fix the cause and run `labs deploy` again")

    outputs, stack_tags = described_stack(session, item.stack_name, [])
    record = SavedDeployment(
        lab=request.lab, stack=item.stack_name, account=target.account, region=target.region,
        profile=request.profile, deployed_at=moment.replace(microsecond=0).isoformat(),
        expires_at=(stack_tags.get("expires-at") or expires_at or "").replace("Z", "+00:00") or None,
        outputs=outputs, tags=stack_tags)
    path = save(record)
    out(f"deployed {item.stack_name}: {len(outputs)} outputs saved to {_shown(path)}")
    for key in sorted(outputs):
        out(f"  {key} = {outputs[key]}")
    out(f"next: `labs practice {request.lab}`; when done: `labs destroy {request.lab}`")
    return record


def _clean_up_failed_create(session: Any, request: DeployRequest, status_before: str | None,
                            out: Callable[[str], None]) -> None:
    """A first deployment that failed leaves an empty ROLLBACK_COMPLETE stack: remove it and sweep."""
    if status_before is not None:
        return  # an update rolls back to the previous, working deployment
    from labs.lifecycle import destroy

    out(f"the first deployment of {request.lab} failed: removing the rolled-back stack and anything it left")
    destroy(session, request.lab, out=out, yes=True)


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
