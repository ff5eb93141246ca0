"""What ``labs classroom deploy`` checks before anything is created, each problem one line.

The admin account (management account or delegated administrator of the organization), the
targets (every account or OU known to the organization; never the management account in a
service-managed target), the regions (enabled), the permission model's prerequisites
(Organizations trusted access for service-managed; the execution role in a sample of the
self-managed accounts) and the CDK bootstrap in every region the admin stacks go to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from catalog.classroom import EXECUTION_ROLE_NAME, SERVICE_MANAGED
from labs.classroom.stacksets import error_code
from labs.engine.errors import LabError

SAMPLE_SIZE = 3  # self-managed accounts whose execution role is checked
STACKSETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"
Out = Callable[[str], None]


@dataclass(frozen=True)
class Organization:
    """The caller's organization, when it has one: its id and management account."""

    id: str | None
    management_account: str | None


def organization_of(session: Any) -> Organization:
    try:
        described = session.client("organizations").describe_organization()["Organization"]
    except Exception as error:
        if error_code(error) in {"AWSOrganizationsNotInUseException", "AccessDeniedException"}:
            return Organization(None, None)
        raise
    return Organization(described["Id"], described["MasterAccountId"])


def caller_role(session: Any, admin: str, org: Organization, permissions: str) -> str:
    """SELF from the management account, DELEGATED_ADMIN from a registered delegated administrator."""
    if permissions != SERVICE_MANAGED or admin == org.management_account:
        return "SELF"
    if org.id is None:
        raise LabError(f"account {admin} is not in an organization: service-managed StackSets need AWS "
                       "Organizations; use --accounts (self-managed) instead")
    cfn = session.client("cloudformation")
    try:
        cfn.describe_organizations_access(CallAs="DELEGATED_ADMIN")
    except Exception as error:
        if error_code(error) in {"ValidationError", "AccessDeniedException", "InvalidOperationException"}:
            raise LabError(f"account {admin} is neither the management account ({org.management_account}) nor a "
                           "delegated administrator for StackSets: run from the management account, or register it "
                           f"with `aws organizations register-delegated-administrator --account-id {admin} "
                           f"--service-principal {STACKSETS_PRINCIPAL}`") from None
        raise
    return "DELEGATED_ADMIN"


def check_trusted_access(session: Any, call_as: str) -> None:
    status = session.client("cloudformation").describe_organizations_access(CallAs=call_as).get("Status")
    if status != "ENABLED":
        raise LabError("Organizations trusted access for CloudFormation StackSets is off: turn it on from the "
                       "management account with `aws cloudformation activate-organizations-access`, then retry")


def check_accounts(session: Any, accounts: Sequence[str], org: Organization, service_managed: bool, out: Out) -> None:
    if service_managed and org.management_account in accounts:
        raise LabError(f"account {org.management_account} is the organization's management account: service-managed "
                       "StackSets never deploy to it; leave it out, or use --permissions self-managed")
    if org.id is None:
        out("note: no organization to look the accounts up in; StackSets will report any account it cannot reach")
        return
    client = session.client("organizations")
    for account in accounts:
        try:
            client.describe_account(AccountId=account)
        except Exception as error:
            if error_code(error) == "AccountNotFoundException":
                raise LabError(f"account {account} is not in organization {org.id}: check the id, or invite the "
                               "account first") from None
            raise


def accounts_in_ous(session: Any, ous: Sequence[str]) -> list[str]:
    """Every active account in the OUs and the OUs below them (what StackSets deploys to); a LabError
    naming an OU the organization does not have."""
    client = session.client("organizations")
    found: list[str] = []
    pending = list(ous)
    while pending:
        parent = pending.pop()
        try:
            if parent in ous:
                client.describe_organizational_unit(OrganizationalUnitId=parent)
            for page in client.get_paginator("list_accounts_for_parent").paginate(ParentId=parent):
                found += [a["Id"] for a in page["Accounts"] if a.get("Status", "ACTIVE") == "ACTIVE"]
            for page in client.get_paginator("list_organizational_units_for_parent").paginate(ParentId=parent):
                pending += [unit["Id"] for unit in page["OrganizationalUnits"]]
        except Exception as error:
            if error_code(error) in {"OrganizationalUnitNotFoundException", "ParentNotFoundException"}:
                raise LabError(f"OU {parent} is not in this organization: check the id "
                               "(`aws organizations list-organizational-units-for-parent`)") from None
            raise
    return sorted(set(found))


def check_regions(session: Any, regions: Sequence[str]) -> None:
    described = session.client("ec2").describe_regions(AllRegions=True)["Regions"]
    status = {region["RegionName"]: region.get("OptInStatus", "opt-in-not-required") for region in described}
    for region in regions:
        if region not in status:
            raise LabError(f"{region} is not an AWS region: check --regions")
        if status[region] == "not-opted-in":
            raise LabError(f"region {region} is not enabled in the admin account: enable it (Account > AWS Regions) "
                           "or leave it out of --regions")


def check_execution_roles(session: Any, accounts: Sequence[str], out: Out) -> None:
    """Self-managed StackSets assume AWSCloudFormationStackSetExecutionRole in each account: tries it on
    a sample (the first accounts), since an account without it fails its instance."""
    sts = session.client("sts")
    partition = "aws"
    for account in list(accounts)[:SAMPLE_SIZE]:
        try:
            sts.assume_role(RoleArn=f"arn:{partition}:iam::{account}:role/{EXECUTION_ROLE_NAME}",
                            RoleSessionName="mlref-classroom-preflight", DurationSeconds=900)
        except Exception as error:
            if error_code(error) == "AccessDenied":
                raise LabError(f"account {account} has no {EXECUTION_ROLE_NAME} that this account may assume: "
                               "create it there from AWS's AWSCloudFormationStackSetExecutionRole.yml template, "
                               "trusting the admin account, then retry") from None
            raise
    out(f"execution role: {EXECUTION_ROLE_NAME} assumable in {min(len(accounts), SAMPLE_SIZE)} of "
        f"{len(accounts)} account(s) checked")
