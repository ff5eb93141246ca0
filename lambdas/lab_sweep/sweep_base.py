"""The sweep's machinery: its scope (one account, one region, proven ownership), its clients
(each bounded by the sweep's deadline, and a service that did not answer asked no more), and the
one place where anything is deleted (``SweepBase.attempt``), which counts a delete only once a read
shows the thing gone.

The kinds of leftovers live in ``sweep_sagemaker.py`` and ``sweep_services.py``; ``sweep.py``
puts them together as ``Sweeper``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from functools import cached_property
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError

try:  # in the Lambda asset the modules sit side by side
    from lab_names import LAB_TAG, PROFILE_TAG, SWEPT_PROFILE
    from ownership import Ownership, error_code
    from sweep_report import Leftover, SweepReport, Unchecked
except ImportError:  # imported as a package (tests, the labs command)
    from lambdas.lab_sweep.ownership import Ownership, error_code
    from lambdas.lab_sweep.sweep_report import Leftover, SweepReport, Unchecked
    from lambdas.shared.lab_names import LAB_TAG, PROFILE_TAG, SWEPT_PROFILE

__all__ = ["Leftover", "NotDeleted", "OutOfTime", "SweepBase", "SweepReport", "Unchecked", "Unreachable",
           "error_code", "split_s3_uri", "tags_of"]

GONE_CODES = frozenset({"ResourceNotFoundException", "ResourceNotFound", "NoSuchBucket", "EntityNotFoundException",
                        "InvalidNetworkInterfaceID.NotFound", "NotFoundException", "NotFound", "404"})
# GetBucketLocation answers None for us-east-1 and the legacy "EU" for eu-west-1.
LEGACY_LOCATIONS = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}


class Unreachable(BotoCoreError):
    """A service's endpoint did not answer once in this sweep: it is not asked again."""

    fmt = "{endpoint} did not answer ({cause})"


class OutOfTime(BotoCoreError):
    """The sweep's deadline passed: no more requests are sent."""

    fmt = "no time left: the sweep stops asking after {seconds:.0f} s"


class NotDeleted(Exception):
    """A delete the service answered without doing all of it (DeleteObjects' per-key Errors)."""


def tags_of(pairs: Iterable[dict] | dict | None) -> dict[str, str]:
    if isinstance(pairs, dict):
        return dict(pairs)
    return {p.get("Key", p.get("key")): p.get("Value", p.get("value")) for p in pairs or []}


def split_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    return bucket, prefix


class SweepBase(Ownership):
    """One lab in one account and one region, with a boto3 session.

    ``stack_id``: the deleted stack (the janitor's event names it); without it the newest deleted
    stack called ``mlref-<lab>`` is used. ``dry_run``: delete nothing, report in ``found`` what
    would be deleted (a verification pass). ``sleep``/``clock`` bound the waits (an EMR Serverless
    application stopping); ``deadline`` is a ``clock()`` value after which no request is sent. A
    service whose endpoint fails to answer once (a connection refused or timed out) is asked
    nothing more in this sweep: its kinds are reported unchecked in one line.
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
        self.started = clock()
        self.report = SweepReport(lab=lab)
        self._unreachable: dict[str, dict[str, str]] = {}
        self._hooks: list[tuple[Any, str, Callable[..., None]]] = []
        self._clients: dict[str, Any] = {}
        for name, client in (clients or {}).items():
            self._clients[name] = self._guarded(name, client)

    def client(self, name: str) -> Any:
        if name not in self._clients:
            self._clients[name] = self._guarded(name, self.session.client(name))
        return self._clients[name]

    def _guarded(self, name: str, client: Any) -> Any:
        """Every request of ``client`` first checks the deadline and whether its service answered."""
        def before_send(**_: Any) -> None:
            if name in self._unreachable:
                raise Unreachable(**self._unreachable[name])
            if self.deadline is not None and self.clock() >= self.deadline:
                raise OutOfTime(seconds=self.deadline - self.started)

        def needs_retry(caught_exception: Exception | None = None, **_: Any) -> None:
            if isinstance(caught_exception, HTTPClientError) and name not in self._unreachable:
                endpoint = getattr(caught_exception, "kwargs", {}).get("endpoint_url") or client.meta.endpoint_url
                self._unreachable[name] = {"endpoint": endpoint, "cause": type(caught_exception).__name__}

        client.meta.events.register_first("before-send", before_send)  # before anything could answer
        client.meta.events.register("needs-retry", needs_retry)
        self._hooks += [(client, "before-send", before_send), (client, "needs-retry", needs_retry)]
        return client

    def release(self) -> None:
        """Takes this sweep's guards off its clients (clients handed in may serve a later sweep)."""
        for client, event, handler in self._hooks:
            client.meta.events.unregister(event, handler)
        self._hooks.clear()

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

    def ours(self, item: Leftover, tags: Iterable[dict] | dict | None, physical_id: str | None = None) -> bool:
        """Tagged for the lab (and the swept profile), and proven its own (``Ownership.proven``)."""
        tags = tags_of(tags)
        return self.carries_tag(tags) and self.proven(item, tags, physical_id)

    # -- acting ---------------------------------------------------------------------------

    def attempt(self, item: Leftover, action: Callable[[], Any], gone: Callable[[], bool] | None) -> bool:
        """Runs one delete (or, in a dry run, only notes it); True when a read shows the item gone.

        ``gone`` reads it back (True: not there any more); None only where the action's own answer
        is that read (a batch whose per-item errors ``action`` raises as NotDeleted). A delete
        accepted but not yet done, or whose read-back fails, is ``waiting``, never ``deleted``."""
        if self.dry_run:
            self.report.found.append(item)
            return False
        try:
            action()
        except ClientError as error:
            if error_code(error) in GONE_CODES:
                return True  # already gone: nothing to do
            message = error.response.get("Error", {}).get("Message", "")
            self.report.failed.append(item.but(f"{error_code(error)}: {message}"))
            self.log(f"could not delete {item}: {error_code(error)}")
            return False
        except NotDeleted as refused:
            self.report.failed.append(item.but(str(refused)))
            self.log(f"could not delete {item}: {refused}")
            return False
        return self.confirm(item, gone)

    def confirm(self, item: Leftover, gone: Callable[[], bool] | None, after: str = "delete accepted") -> bool:
        """Reads back an item whose delete was accepted: ``deleted`` when it is gone, else ``waiting``."""
        try:
            done = True if gone is None else gone()
        except (ClientError, BotoCoreError) as error:
            self.report.waiting.append(item.but(f"{after}, but it could not be read back ({error_code(error)}): "
                                                "not counted as gone"))
            return False
        if not done:
            self.report.waiting.append(item.but(f"{after}, still there: deleted within minutes, or next round"))
            return False
        self.report.deleted.append(item)
        self.log(f"deleted {item}")
        return True

    def absent(self, read: Callable[[], Any], *codes: str) -> bool:
        """Runs a read (a Describe or Get call); True when it answers that the thing does not exist."""
        try:
            read()
        except ClientError as error:
            message = error.response.get("Error", {}).get("Message", "")
            if (error_code(error) in GONE_CODES | set(codes)
                    or "does not exist" in message or "Could not find" in message):
                return True
            raise
        return False

    def stop(self, item: Leftover, action: Callable[[], Any]) -> bool:
        """Stops a run or job (billing stops; the item itself goes in a later round)."""
        if self.dry_run:
            self.report.found.append(item)
            return False
        try:
            action()
        except ClientError as error:
            message = error.response.get("Error", {}).get("Message", "")
            self.report.failed.append(item.but(f"not stopped: {error_code(error)}: {message}"))
            return False
        self.report.stopped.append(item)
        self.log(f"stopped {item}")
        return True

    def wait(self, item: Leftover, status: str, why: str) -> None:
        """Notes an item that cannot be deleted in its current state; the next round retries."""
        self.report.waiting.append(item.but(f"{status}: {why}"))

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
