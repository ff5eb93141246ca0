"""The classroom's contract: one lab in many accounts through CloudFormation StackSets. CDK-free.

``-c classroom=<lab>`` makes the app build the classroom instead of the labs: stacks in the
admin account (the organization's management account or a delegated administrator) whose
StackSets put the lab's sandbox stack, and the account janitor, into every target account and
region. This module validates that context (``parse``), names every stack and stack set, says
which labs can run as a StackSet member and why the others cannot, and prices a whole class.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from catalog.base import ConfigError, ContextKey, choice, listed
from catalog.prices import LabCost

SELF_MANAGED = "self-managed"
SERVICE_MANAGED = "service-managed"
PERMISSION_MODELS = (SELF_MANAGED, SERVICE_MANAGED)
CALLERS = ("SELF", "DELEGATED_ADMIN")

# Matched whole (fullmatch), with [0-9]: \d would take any Unicode digit.
ACCOUNT_PATTERN = re.compile(r"[0-9]{12}")
OU_PATTERN = re.compile(r"ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}")
ORG_PATTERN = re.compile(r"o-[a-z0-9]{10,32}")
REGION_PATTERN = re.compile(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]")

# The role every self-managed target account needs, trusting the admin account (AWS's default name).
EXECUTION_ROLE_NAME = "AWSCloudFormationStackSetExecutionRole"
ASSETS_STACK_PREFIX = "mlref-classroom-assets"

# How StackSets rolls the lab out: every account of a region at once, all regions in parallel,
# and the operation stops only when more than a tenth of the accounts of a region fail.
MAX_CONCURRENT_PERCENTAGE = 100
FAILURE_TOLERANCE_PERCENTAGE = 10
CAPABILITIES = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM")

# -- how many accounts one policy can name ------------------------------------------------------
# A self-managed class names each account twice: the administration role may assume that account's
# execution role (an IAM managed policy), and the account may read the Lambda code on the admin
# account's shelf (an S3 bucket policy). Accounts are batched within both limits: execution roles
# over several managed policies of the role, readers over several shelves per region (each batch of
# accounts a StackSet instance group whose AssetBucketPrefix names its shelf). Service-managed
# classes (OUs) name no account at all.
IAM_MANAGED_POLICY_CHARS = 6144      # IAM quotas: a managed policy's size (whitespace not counted)
MANAGED_POLICIES_PER_ROLE = 10       # IAM quotas: managed policies attached to one role (default; up to 20)
S3_BUCKET_POLICY_BYTES = 20 * 1024   # S3: the size of a bucket policy
SHELF_POLICY_RESERVE = 4096          # of a shelf's bucket policy, for its other statements (TLS only, auto-delete)
LONGEST_PARTITION = "aws-us-gov"     # ARNs are sized for the longest partition name
ADMINISTRATION_SID = "AssumeTheTargetsExecutionRole"
READERS_SID = "StackSetTargetsReadCode"


def assume_statement(accounts: Sequence[str], partition: str = "${AWS::Partition}") -> dict:
    """The administration role's statement for ``accounts``: their execution role, nothing else."""
    return {"Sid": ADMINISTRATION_SID, "Effect": "Allow", "Action": "sts:AssumeRole",
            "Resource": [f"arn:{partition}:iam::{account}:role/{EXECUTION_ROLE_NAME}" for account in accounts]}


def _compact(document: dict) -> int:
    return len(json.dumps(document, separators=(",", ":")))


def admin_policy_chars(accounts: Sequence[str]) -> int:
    """Characters of a managed policy holding only the statement for ``accounts`` (longest partition)."""
    return _compact({"Version": "2012-10-17", "Statement": [assume_statement(accounts, LONGEST_PARTITION)]})


def reader_statement_bytes(accounts: Sequence[str]) -> int:
    """Bytes of the shelf's statement that lets ``accounts`` read its code (longest partition)."""
    return _compact({"Sid": READERS_SID, "Effect": "Allow", "Action": "s3:GetObject",
                     "Principal": {"AWS": [f"arn:{LONGEST_PARTITION}:iam::{account}:root" for account in accounts]},
                     "Resource": f"arn:{LONGEST_PARTITION}:s3:::{ASSETS_STACK_PREFIX}-000000000000-ap-southeast-7/*"})


def _most(size: Callable[[Sequence[str]], int], limit: int) -> int:
    """How many accounts fit in ``limit``: a list of n items takes its empty size, n items and n-1 commas."""
    empty, item = size([]), size(["0" * 12]) - size([])
    return (limit - empty + 1) // (item + 1)


ACCOUNTS_PER_ADMIN_POLICY = _most(admin_policy_chars, IAM_MANAGED_POLICY_CHARS)
ACCOUNTS_PER_SHELF = _most(reader_statement_bytes, S3_BUCKET_POLICY_BYTES - SHELF_POLICY_RESERVE)
LARGEST_SELF_MANAGED_CLASS = ACCOUNTS_PER_ADMIN_POLICY * MANAGED_POLICIES_PER_ROLE


def batches(items: Sequence[str], size: int) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(items[start:start + size]) for start in range(0, len(items), size))


def class_size_problem(accounts: Sequence[str]) -> str | None:
    """Why a self-managed class of ``accounts`` cannot deploy; None when it can."""
    if len(accounts) <= LARGEST_SELF_MANAGED_CLASS:
        return None
    return (f"{len(accounts)} accounts exceed the largest self-managed class, {LARGEST_SELF_MANAGED_CLASS}: its "
            f"administration role holds at most {MANAGED_POLICIES_PER_ROLE} managed policies of "
            f"{IAM_MANAGED_POLICY_CHARS:,} characters, {ACCOUNTS_PER_ADMIN_POLICY} execution roles each; target the "
            "students' OU instead (--ous, service-managed), which names no account in any policy")


# Labs that cannot run as a StackSet member, and why (every other lab can).
NOT_STACKSET_READY = {
    "data-lake": "its Lake Formation data lake settings are an account-wide singleton that outlives the stack, "
                 "and it keeps the CDK bootstrap's deploy role as a Lake Formation admin, a role member accounts "
                 "do not have (StackSets deploy with their own execution role)",
    "clickstream": "its Redshift workgroup admits Firehose's address range of the one region named at synth "
                   "(the CIDR differs per region), and a StackSet's one template serves every target region",
}

CONTEXT_KEYS = (
    ContextKey("classroom", "none", "a lab name: build the classroom (StackSets) for it instead of the labs"),
    ContextKey("classroom_accounts", "none", "comma-separated 12-digit account ids (self-managed targets)"),
    ContextKey("classroom_ous", "none", "comma-separated OU ids ou-xxxx-xxxxxxxx (service-managed targets)"),
    ContextKey("classroom_regions", "the app's region", "comma-separated regions the lab goes into"),
    ContextKey("classroom_permissions", "by target", "self-managed (accounts) or service-managed (OUs)"),
    ContextKey("classroom_org", "none", "the organization id o-... (service-managed: who may read the code)"),
    ContextKey("classroom_call_as", "SELF", "SELF (management account) or DELEGATED_ADMIN"),
)
KEY_NAMES = tuple(key.name for key in CONTEXT_KEYS)


@dataclass(frozen=True)
class ClassroomOptions:
    """Where one lab goes for a class.

    Attributes:
        lab: the lab every account gets.
        accounts: target account ids (self-managed); empty with OUs.
        ous: target organizational units (service-managed); empty with accounts.
        regions: target regions, in rollout order.
        permissions: self-managed or service-managed.
        organization: the organization id (service-managed only; the asset buckets' readers).
        call_as: SELF from the management account, DELEGATED_ADMIN from a delegated administrator.
    """

    lab: str
    accounts: tuple[str, ...] = ()
    ous: tuple[str, ...] = ()
    regions: tuple[str, ...] = ("us-east-1",)
    permissions: str = SELF_MANAGED
    organization: str | None = None
    call_as: str = "SELF"

    @property
    def service_managed(self) -> bool:
        return self.permissions == SERVICE_MANAGED

    @property
    def stack_name(self) -> str:
        """The admin account's stack that holds the lab's StackSet and the class's expiry."""
        return classroom_stack_name(self.lab)

    @property
    def janitor_stack_name(self) -> str:
        """The admin account's stack that holds the janitor's StackSet (it never expires)."""
        return f"{self.stack_name}-janitor"

    @property
    def stack_set_name(self) -> str:
        """The lab's StackSet, named like the lab's stack so member stacks are ``StackSet-mlref-<lab>-<id>``
        and each account's janitor sweeps them under the lab's name."""
        from catalog import LABS

        return LABS[self.lab].stack_name

    @property
    def janitor_stack_set_name(self) -> str:
        return f"mlref-janitor-{self.lab}"


    @property
    def admin_policy_batches(self) -> tuple[tuple[str, ...], ...]:
        """The accounts each managed policy of the administration role names (self-managed)."""
        return batches(self.accounts, ACCOUNTS_PER_ADMIN_POLICY)

    @property
    def shelf_batches(self) -> tuple[tuple[str, ...], ...]:
        """The accounts each shelf (per region) lets read its code: one batch of none for OUs (the
        organization reads every shelf)."""
        return batches(self.accounts, ACCOUNTS_PER_SHELF) if self.accounts else ((),)

    @property
    def assets_stack_names(self) -> tuple[str, ...]:
        """Every shelf stack of the class, deploy order: each region's, batch by batch."""
        return tuple(assets_stack_name(region, batch) for region in self.regions
                     for batch in range(len(self.shelf_batches)))


def classroom_stack_name(lab: str) -> str:
    return f"mlref-classroom-{lab}"


def assets_stack_name(region: str, batch: int = 0) -> str:
    """The shelf stack of ``region`` for the ``batch``-th batch of accounts (the first keeps the plain name)."""
    return f"{ASSETS_STACK_PREFIX}-{region}" + (f"-{batch + 1}" if batch else "")


def shelf_base(batch: int = 0) -> str:
    """What the shelf buckets of a batch are named after: ``<base>-<admin account>-<region>``."""
    return ASSETS_STACK_PREFIX + (str(batch + 1) if batch else "")


def stackset_problem(lab: str) -> str | None:
    """Why ``lab`` cannot run as a StackSet member; None when it can."""
    reason = NOT_STACKSET_READY.get(lab)
    return f"the {lab} lab cannot run as a StackSet: {reason}" if reason else None


def _items(context: Mapping[str, object], key: str, pattern: re.Pattern, example: str, what: str) -> tuple[str, ...]:
    items = listed(context.get(key))
    bad = [item for item in items if not pattern.fullmatch(item)]
    if bad:
        raise ConfigError(f"{key}: {bad[0]!r} is not {what} (e.g. -c {key}={example})")
    if len(set(items)) != len(items):
        raise ConfigError(f"{key} lists {next(i for i in items if items.count(i) > 1)} twice: list each once")
    return items


def parse(context: Mapping[str, object], region: str) -> ClassroomOptions:
    """The classroom's options from context; a one-line ConfigError for anything unusable."""
    from catalog import LABS

    lab = str(context.get("classroom") or "").strip()
    if lab not in LABS:
        raise ConfigError(f"classroom={lab!r} is not a lab; choose from: {', '.join(LABS)} "
                          "(e.g. -c classroom=feature-store)")
    if problem := stackset_problem(lab):
        raise ConfigError(problem)
    accounts = _items(context, "classroom_accounts", ACCOUNT_PATTERN, "111111111111,222222222222",
                      "a 12-digit account id")
    if problem := class_size_problem(accounts):
        raise ConfigError(problem)
    ous = _items(context, "classroom_ous", OU_PATTERN, "ou-ab12-cd34ef56", "an OU id (ou-xxxx-xxxxxxxx)")
    regions = _items(context, "classroom_regions", REGION_PATTERN, "us-east-1,eu-west-1", "a region name") or (region,)
    for target in regions:  # one template for every region: the lab's own checks (its images' regions) in each
        try:
            options = LABS[lab].parse(context, target)
        except ConfigError as error:
            raise ConfigError(f"classroom region {target}: {error}") from None
        if problem := LABS[lab].class_refusal(options):
            raise ConfigError(f"classroom={lab}: {problem}")
    if bool(accounts) == bool(ous):
        raise ConfigError("a classroom targets either accounts or OUs: give one of -c classroom_accounts=<ids> "
                          "(self-managed) or -c classroom_ous=<ou ids> (service-managed)")
    permissions = choice(context, "classroom_permissions", PERMISSION_MODELS,
                         SERVICE_MANAGED if ous else SELF_MANAGED)
    if permissions == SELF_MANAGED and ous:
        raise ConfigError("self-managed StackSets deploy to listed accounts, not OUs: use -c classroom_accounts=<ids>, "
                          "or -c classroom_permissions=service-managed for OUs")
    if permissions == SERVICE_MANAGED and accounts:
        raise ConfigError("service-managed StackSets create instances by OU: use -c classroom_ous=<ou ids> (the "
                          "students' OU), or -c classroom_permissions=self-managed for a list of accounts")
    organization = str(context.get("classroom_org") or "").strip() or None
    if organization and not ORG_PATTERN.fullmatch(organization):
        raise ConfigError(f"classroom_org={organization!r} is not an organization id "
                          "(e.g. -c classroom_org=o-a1b2c3d4e5)")
    if permissions == SERVICE_MANAGED and not organization:
        raise ConfigError("service-managed classrooms need the organization id, whose accounts may read the lab's "
                          "code: add -c classroom_org=o-... (`aws organizations describe-organization`)")
    call_as = choice(context, "classroom_call_as", [c.lower() for c in CALLERS], "self").upper()
    return ClassroomOptions(lab=lab, accounts=accounts, ous=ous, regions=regions, permissions=permissions,
                            organization=organization if permissions == SERVICE_MANAGED else None, call_as=call_as)


def class_cost(lab_cost: LabCost, *, accounts: int, regions: int) -> LabCost:
    """The whole class: the lab's cost in every account and region (the janitor bills nothing idle).
    One practice run means every student practising once."""
    copies = accounts * regions
    return LabCost(idle_per_hour=lab_cost.idle_per_hour * copies,
                   per_practice_run=None if lab_cost.per_practice_run is None else lab_cost.per_practice_run * copies,
                   run_note=f"{copies} x ({lab_cost.run_note})" if lab_cost.run_note else f"{copies} copies")
