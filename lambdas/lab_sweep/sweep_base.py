"""The sweep's machinery: its scope (one account, one region, no live stack), its report,
and the one place where anything is deleted (``SweepBase.attempt``).

The kinds of leftovers live in ``sweep_sagemaker.py`` and ``sweep_services.py``; ``sweep.py``
puts them together as ``Sweeper``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

try:  # in the Lambda asset, lab_names.py sits beside this file
    from lab_names import LAB_TAG, PROFILE_TAG, STACK_PREFIX, SWEPT_PROFILE
except ImportError:  # imported as a package (tests, the labs command)
    from lambdas.shared.lab_names import LAB_TAG, PROFILE_TAG, STACK_PREFIX, SWEPT_PROFILE

GONE_CODES = frozenset({"ResourceNotFoundException", "NoSuchBucket", "EntityNotFoundException",
                        "InvalidNetworkInterfaceID.NotFound"})
# GetBucketLocation answers None for us-east-1 and the legacy "EU" for eu-west-1.
LEGACY_LOCATIONS = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}


@dataclass(frozen=True)
class Leftover:
    kind: str
    identifier: str
    detail: str = ""
    arn: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.identifier}" + (f" ({self.detail})" if self.detail else "")

    @property
    def reference(self) -> str:
        """The ARN where one is known, else the kind and identifier; with the detail."""
        name = self.arn or f"{self.kind} {self.identifier}"
        return name + (f" ({self.detail})" if self.detail else "")


@dataclass
class SweepReport:
    """What one sweep (or, with ``dry_run``, one verification pass) saw.

    ``deleted``: removed. ``failed``: a delete or a listing the service refused.
    ``waiting``: busy in a state that cannot be deleted yet (Creating, Pending, Stopping):
    the next round retries. ``found``: what a dry run would delete. ``left``: still
    tagged for the lab, never deleted blindly. ``kept``: left on purpose (shared, free).
    ``retained``: what the deleted stack kept (DeletionPolicy Retain). ``refused``: why
    nothing at all was deleted (the lab's stack exists).
    """

    lab: str
    deleted: list[Leftover] = field(default_factory=list)
    failed: list[Leftover] = field(default_factory=list)
    waiting: list[Leftover] = field(default_factory=list)
    found: list[Leftover] = field(default_factory=list)
    left: list[Leftover] = field(default_factory=list)
    kept: list[Leftover] = field(default_factory=list)
    retained: list[Leftover] = field(default_factory=list)
    refused: str = ""

    @property
    def clean(self) -> bool:
        return not self.refused and not self.leftovers()

    @property
    def listing_failed(self) -> bool:
        """Whether a service could not even be asked what is there: the pass proves nothing."""
        return bool(self.refused) or any(item.identifier == "(listing)" for item in self.failed)

    def leftovers(self) -> list[Leftover]:
        return [*self.failed, *self.waiting, *self.found, *self.left]

    def lines(self) -> list[str]:
        return (
            ([f"refused: {self.refused}"] if self.refused else [])
            + [f"deleted {item}" for item in self.deleted]
            + [f"could not check {item.kind} ({item.detail}): nothing of that kind was swept; rerun the sweep "
               f"(`labs destroy {self.lab}`) later, or look in the console" if item.identifier == "(listing)"
               else f"could not delete {item}" for item in self.failed]
            + [f"not deletable yet, sweep again later: {item}" for item in self.waiting]
            + [f"still there: {item}" for item in self.found]
            + [f"left, delete by hand: {item}" for item in self.left]
            + [f"kept by the stack (Retain): {item}" for item in self.retained]
            + [f"kept on purpose: {item}" for item in self.kept]
        )


def tags_of(pairs: Iterable[dict] | dict | None) -> dict[str, str]:
    if isinstance(pairs, dict):
        return dict(pairs)
    return {p.get("Key", p.get("key")): p.get("Value", p.get("value")) for p in pairs or []}


def split_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    return bucket, prefix


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


class SweepBase:
    """One lab in one account and one region, with a boto3 session.

    ``stack_id``: the deleted stack (the janitor's event names it); without it the
    newest deleted stack called ``mlref-<lab>`` is used. ``dry_run``: delete nothing,
    report in ``found`` what would be deleted (a verification pass). ``sleep``/``clock``
    bound the waits (an EMR Serverless application stopping); ``deadline`` is a
    ``clock()`` value no wait goes past.
    """

    def __init__(
        self, session: Any, lab: str, *, log: Callable[[str], None] = print,
        clients: dict[str, Any] | None = None, profile: str | None = SWEPT_PROFILE,
        stack_id: str | None = None, dry_run: bool = False,
        sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
        deadline: float | None = None,
    ) -> None:
        """``profile``: only resources tagged ``profile=<profile>`` are deleted; None: any profile."""
        self.session = session
        self.lab = lab
        self.profile = profile
        self.log = log
        self.stack_id = stack_id
        self.dry_run = dry_run
        self.sleep, self.clock, self.deadline = sleep, clock, deadline
        self.report = SweepReport(lab=lab)
        self._clients: dict[str, Any] = dict(clients or {})

    @property
    def stack_name(self) -> str:
        return f"{STACK_PREFIX}{self.lab}"

    def client(self, name: str) -> Any:
        if name not in self._clients:
            self._clients[name] = self.session.client(name)
        return self._clients[name]

    # -- scope: one account, one region ---------------------------------------------------

    @cached_property
    def region(self) -> str:
        region = self.session.region_name
        if not region:
            raise ValueError("a sweep is scoped to one region and the session has none: set AWS_REGION")
        return region

    @cached_property
    def _identity(self) -> dict:
        return self.client("sts").get_caller_identity()

    @property
    def account(self) -> str:
        return self._identity["Account"]

    @property
    def partition(self) -> str:
        return self._identity["Arn"].split(":")[1]

    def owns_arn(self, arn: str) -> bool:
        """Whether a regional ARN is of this sweep's account and region."""
        parts = arn.split(":", 5)
        return len(parts) == 6 and parts[3] == self.region and parts[4] == self.account

    def bucket_region(self, bucket: str) -> str | None:
        """The bucket's region; None when it is gone. A ClientError (AccessDenied) when this
        account does not own it (``ExpectedBucketOwner``) or may not read it."""
        try:
            location = self.client("s3").get_bucket_location(
                Bucket=bucket, ExpectedBucketOwner=self.account)["LocationConstraint"]
        except ClientError as error:
            if error_code(error) == "NoSuchBucket":
                return None
            raise
        return LEGACY_LOCATIONS.get(location, location)

    def bucket_in_scope(self, bucket: str) -> bool:
        """Whether the bucket exists, belongs to this account and is in this region."""
        try:
            region = self.bucket_region(bucket)
        except ClientError as error:
            self.log(f"skipped bucket {bucket}: not this account's to read ({error_code(error)})")
            return False
        if region is not None and region != self.region:
            self.log(f"skipped bucket {bucket}: it is in {region}, this sweep is for {self.region}")
        return region == self.region

    # -- tags -----------------------------------------------------------------------------

    def carries_tag(self, tags: Iterable[dict] | dict | None) -> bool:
        tags = tags_of(tags)
        return tags.get(LAB_TAG) == self.lab and (self.profile is None or tags.get(PROFILE_TAG) == self.profile)

    def tag_filters(self) -> list[dict]:
        filters = [{"Name": f"tag:{LAB_TAG}", "Values": [self.lab]}]
        if self.profile is not None:
            filters.append({"Name": f"tag:{PROFILE_TAG}", "Values": [self.profile]})
        return filters

    # -- the lab's stack ------------------------------------------------------------------

    def live_stack_status(self) -> str | None:
        """The status of the stack called ``mlref-<lab>`` here, None when there is none."""
        try:
            stacks = self.client("cloudformation").describe_stacks(StackName=self.stack_name)["Stacks"]
        except ClientError as error:
            if "does not exist" in error.response.get("Error", {}).get("Message", ""):
                return None
            raise
        statuses = [s["StackStatus"] for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"]
        return statuses[0] if statuses else None

    def stack_allows_sweep(self) -> bool:
        """False (and ``report.refused`` says why) while the lab's stack exists, or when unsure."""
        try:
            status = self.live_stack_status()
        except (ClientError, BotoCoreError) as error:
            code = error_code(error) if isinstance(error, ClientError) else type(error).__name__
            self.report.refused = f"could not tell whether {self.stack_name} still exists ({code}); nothing deleted"
            return False
        if status is not None:
            self.report.refused = (f"stack {self.stack_name} still exists ({status}) in {self.account} "
                                   f"{self.region}: nothing deleted; delete the stack first "
                                   f"(`labs destroy {self.lab}`)")
            return False
        return True

    def _deleted_stack_id(self) -> str | None:
        if self.stack_id:
            return self.stack_id
        pages = self.client("cloudformation").get_paginator("list_stacks").paginate(
            StackStatusFilter=["DELETE_COMPLETE"])
        gone = [s for page in pages for s in page["StackSummaries"] if s["StackName"] == self.stack_name]
        newest = max(gone, key=lambda s: s.get("DeletionTime") or s["CreationTime"], default=None)
        return newest["StackId"] if newest else None

    def _load_stack_resources(self) -> list[dict]:
        stack_id = self._deleted_stack_id()
        if not stack_id or not self.owns_arn(stack_id):
            return []
        pages = self.client("cloudformation").get_paginator("list_stack_resources").paginate(StackName=stack_id)
        try:
            return [r for page in pages for r in page["StackResourceSummaries"]]
        except ClientError as error:
            if "does not exist" in error.response.get("Error", {}).get("Message", ""):
                return []  # deleted more than 90 days ago, or never created
            raise

    def stack_resources(self) -> None:
        """Reads the deleted stack's resources (CloudFormation keeps them 90 days) and notes what
        it retained. Runs first; the kinds that use them (``stack_ids_of``) see [] if it failed."""
        self._stack_resources = []
        self._stack_resources = self._load_stack_resources()
        for resource in self._stack_resources:
            if resource["ResourceStatus"] == "DELETE_SKIPPED" and resource.get("PhysicalResourceId"):
                self.report.retained.append(Leftover(resource["ResourceType"], resource["PhysicalResourceId"]))

    def stack_ids_of(self, resource_type: str) -> list[str]:
        """Physical ids of the deleted stack's resources of one type."""
        return [r["PhysicalResourceId"] for r in getattr(self, "_stack_resources", None) or []
                if r["ResourceType"] == resource_type and r.get("PhysicalResourceId")]

    # -- acting ---------------------------------------------------------------------------

    def attempt(self, item: Leftover, action: Callable[[], Any]) -> bool:
        """Runs one delete (or, in a dry run, only notes it); True when the item is gone."""
        if self.dry_run:
            self.report.found.append(item)
            return False
        try:
            action()
        except ClientError as error:
            if error_code(error) in GONE_CODES:
                return True  # already gone: nothing to do
            message = error.response.get("Error", {}).get("Message", "")
            self.report.failed.append(Leftover(item.kind, item.identifier, f"{error_code(error)}: {message}", item.arn))
            self.log(f"could not delete {item}: {error_code(error)}")
            return False
        self.report.deleted.append(item)
        self.log(f"deleted {item}")
        return True

    def wait(self, item: Leftover, status: str, why: str) -> None:
        """Notes an item that cannot be deleted in its current state; the next round retries."""
        self.report.waiting.append(Leftover(item.kind, item.identifier, f"{status}: {why}", item.arn))

    def poll(self, done: Callable[[], bool], *, timeout: float, every: float = 5.0) -> bool:
        """Calls ``done`` until it is true, at most ``timeout`` seconds (and never past the deadline)."""
        end = self.clock() + timeout
        if self.deadline is not None:
            end = min(end, self.deadline)
        while True:
            if done():
                return True
            if self.clock() + every > end:
                return False
            self.sleep(every)
