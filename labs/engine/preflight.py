"""What ``labs deploy`` checks against the account before anything is created.

Credentials and region, the CDK bootstrap, the stack's current state, the account janitor,
and the account-level quotas the lab's template adds to. Each problem is a LabError with the
fix; a check that cannot be made (no permission to read quotas) warns and goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from labs.engine.deployed import caller_account, describe, stack_state_problem
from labs.engine.errors import LabError, explain

BOOTSTRAP_PARAMETER = "/cdk-bootstrap/hnb659fds/version"  # the default qualifier's version parameter
MIN_BOOTSTRAP_VERSION = 6  # what the synthesized stacks' CheckBootstrapVersion rule requires
Out = Callable[[str], None]


@dataclass(frozen=True)
class Target:
    account: str
    region: str


def target_of(session: Any) -> Target:
    if not session.region_name:
        raise LabError("no AWS region set: pass --region or set AWS_DEFAULT_REGION (or `aws configure`)")
    return Target(account=caller_account(session), region=session.region_name)


def bootstrap_version(session: Any, target: Target, out: Out) -> int | None:
    """The CDK bootstrap version of the account and region; LabError when missing or too old."""
    from botocore.exceptions import ClientError

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
    try:
        version = int(value)
    except ValueError:
        raise LabError(f"{BOOTSTRAP_PARAMETER} is {value!r}, not a version: {fix}") from None
    if version < MIN_BOOTSTRAP_VERSION:
        raise LabError(f"the CDK bootstrap in {target.region} is version {version}, the labs need "
                       f"{MIN_BOOTSTRAP_VERSION} or newer: {fix}")
    return version


def current_status(session: Any, lab: str, stack_name: str) -> str | None:
    """The stack's status, None when it does not exist; LabError when it cannot be deployed over."""
    stack = describe(session, stack_name)
    if stack is None:
        return None
    status = stack["StackStatus"]
    if problem := stack_state_problem(lab, stack_name, status):
        raise LabError(problem)
    return status


def janitor_note(session: Any, target: Target, out: Out) -> None:
    """Says when the account janitor, which sweeps what an expired lab leaves, is not deployed."""
    from catalog import JANITOR_STACK_NAME

    if describe(session, JANITOR_STACK_NAME) is None:
        out(f"note: the account janitor ({JANITOR_STACK_NAME}) is not deployed in {target.region}: after the lab "
            "expires nothing sweeps what CloudFormation leaves; deploy it once: `labs janitor deploy`")


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
    from botocore.exceptions import ClientError

    for operation in (quotas.get_service_quota, quotas.get_aws_default_service_quota):
        try:
            return operation(ServiceCode=service, QuotaCode=code)["Quota"]["Value"]
        except ClientError as error:
            if error.response["Error"]["Code"] != "NoSuchResourceException":
                raise
    return default


def unchecked(error: Exception) -> str | None:
    """Why a quota could not be read (an AWS error), None for anything else."""
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(error, ClientError):
        return error.response["Error"]["Code"]
    if isinstance(error, BotoCoreError):
        return explain(error)
    return None


def check_network_quotas(session: Any, template: dict, region: str, out: Out) -> None:
    """Stops when the lab's VPCs or internet gateways would exceed the region's quotas."""
    types = [resource.get("Type") for resource in template.get("Resources", {}).values()]
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
        except Exception as error:  # only AWS errors are tolerated, the rest re-raised
            if (reason := unchecked(error)) is None:
                raise
            out(f"warning: cannot check \"{quota.name}\" ({reason}); going on")
            continue
        if used + needed > limit:
            raise LabError(f"\"{quota.name}\" is {limit:g} in {region} and {used} are in use; the lab needs {needed} "
                           "more: delete an unused one or request an increase (Service Quotas > Amazon VPC)")
        out(f"quota: \"{quota.name}\" {used} used + {needed} for the lab <= {limit:g}")
