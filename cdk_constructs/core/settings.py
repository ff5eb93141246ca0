"""Typed settings passed from app.py down to every stack and construct.

Only app.py reads context and environment; everything below receives these
frozen dataclasses as keyword arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_logs as logs

from catalog.base import Profile
from lambdas.shared.lab_names import EXPIRES_TAG, LAB_TAG, OWNER_TAG, PROFILE_TAG

__all__ = ["LabSettings", "Profile", "utc_now"]


@dataclass(frozen=True)
class LabSettings:
    """Settings every lab stack receives.

    Attributes:
        lab: the lab's name as listed by ``labs list`` (for example ``data-lake``).
        profile: sandbox (default) or production.
        owner: who deployed the lab; written to the ``owner`` tag.
        ttl_hours: sandbox expiry in hours; 0 means the lab never expires.
        synth_time: when the app was synthesized (UTC); expiry counts from here.
        alert_email: where cost alerts go; None means no budget.
        expires_itself: whether the stack carries its own expiry schedule (default). False for a
            StackSet member: the classroom's stack in the admin account deletes every instance.
        copies_per_account: how many copies of the lab one account holds: 1, or a classroom's number of
            regions. A budget filters the whole account by the lab's tag, so it is sized for all of them.
    """

    lab: str
    profile: Profile
    owner: str
    ttl_hours: int
    synth_time: datetime
    alert_email: str | None = None
    expires_itself: bool = True
    copies_per_account: int = 1

    @property
    def is_sandbox(self) -> bool:
        return self.profile is Profile.SANDBOX

    @property
    def expires_at(self) -> str | None:
        """ISO-8601 UTC expiry time in sandbox, or None when the lab does not expire."""
        if not self.is_sandbox or self.ttl_hours == 0:
            return None
        moment = self.synth_time.astimezone(UTC) + timedelta(hours=self.ttl_hours)
        return moment.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")

    @property
    def removal_policy(self) -> RemovalPolicy:
        """DESTROY in sandbox, RETAIN for stateful resources in production."""
        return RemovalPolicy.DESTROY if self.is_sandbox else RemovalPolicy.RETAIN

    @property
    def log_retention(self) -> logs.RetentionDays:
        """A week in sandbox; a year in production (NIST 800-53 AU-11)."""
        return logs.RetentionDays.ONE_WEEK if self.is_sandbox else logs.RetentionDays.ONE_YEAR

    @property
    def kms_pending_window(self) -> Duration:
        """Minimum KMS deletion window (7 days) in sandbox, the maximum (30) in production."""
        return Duration.days(7) if self.is_sandbox else Duration.days(30)

    @property
    def tags(self) -> dict[str, str]:
        """Tags put on every resource of the lab so it can be found later."""
        tags = {LAB_TAG: self.lab, PROFILE_TAG: self.profile.value, OWNER_TAG: self.owner}
        if self.expires_at:
            tags[EXPIRES_TAG] = self.expires_at
        return tags


def utc_now() -> datetime:
    return datetime.now(UTC)
