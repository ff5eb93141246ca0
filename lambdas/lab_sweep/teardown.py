"""The janitor's teardown of one lab: sweep, wait, verify twice, in bounded rounds.

A round sweeps, then verifies: a verification pass is a dry-run sweep (each kind listed by its
own service) plus the Tagging API, and finds nothing to delete. The lab counts as clean after
two clean passes in a row, ``interval`` seconds apart (as aws-nuke counts it). A dirty pass, or
one that could not ask a service, starts another round, at most ``max_rounds``; no round starts
after ``time_budget`` seconds and no request is sent after ``LAST_REQUEST``, so the Lambda (15
minutes at most) ends within its limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

try:  # in the Lambda asset the modules sit side by side
    from lab_names import LAB_TAG, OWNER_TAG, PROFILE_TAG, classroom_copy_set
    from ownership import stack_name_of
    from record import CLEAN, LEFTOVERS, NOT_VERIFIED, STACK_EXISTS, TeardownRecord, parameter_name
    from sweep import Sweeper, SweepReport
except ImportError:  # imported as a package (tests, the labs command)
    from lambdas.lab_sweep.ownership import stack_name_of
    from lambdas.lab_sweep.record import CLEAN, LEFTOVERS, NOT_VERIFIED, STACK_EXISTS, TeardownRecord, parameter_name
    from lambdas.lab_sweep.sweep import Sweeper, SweepReport
    from lambdas.shared.lab_names import LAB_TAG, OWNER_TAG, PROFILE_TAG, classroom_copy_set

INTERVAL = 30.0       # seconds between verification passes
MAX_ROUNDS = 8        # sweep rounds at most: an endpoint takes 3-4 minutes to delete
TIME_BUDGET = 600.0   # seconds after the start when no new round begins
LAST_REQUEST = 840.0  # seconds after the start when no request is sent (nor wait begun): the Lambda stops at 900
RECORDED_TAGS = (LAB_TAG, PROFILE_TAG, OWNER_TAG)
LEFTOVER_CHARS = 300  # one leftover's text in the record


def utc_now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _outcome(report: SweepReport) -> tuple[str, tuple[str, ...], str]:
    """State, leftovers and error of the last verification pass."""
    if report.refused:
        return STACK_EXISTS, (), report.refused
    listing = [f"{item.kind}: {item.reason}" for item in report.unchecked]
    leftovers = tuple(item.reference[:LEFTOVER_CHARS] for item in report.leftovers())
    if listing:
        return NOT_VERIFIED, leftovers, "could not verify " + ", ".join(listing)
    return (CLEAN if not leftovers else LEFTOVERS), leftovers, ""


def teardown(
    session: Any, lab: str, *, stack_id: str = "", log: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
    now: Callable[[], datetime] = utc_now, interval: float = INTERVAL, max_rounds: int = MAX_ROUNDS,
    time_budget: float = TIME_BUDGET, **options: Any,
) -> tuple[TeardownRecord, list[SweepReport]]:
    """Sweeps ``lab`` until two verification passes in a row are clean, or the rounds run out.

    Returns the record to keep and the sweep rounds' reports. ``options`` go to ``Sweeper``.
    """
    started = clock()
    deadline = started + time_budget

    def sweeper(**extra: Any) -> Sweeper:
        return Sweeper(session, lab, stack_id=stack_id or None, log=log, sleep=sleep, clock=clock,
                       deadline=started + LAST_REQUEST, **options, **extra)

    reports: list[SweepReport] = []
    check: SweepReport | None = None
    for round_ in range(1, max_rounds + 1):
        reports.append(sweeper().run())
        check = reports[-1]
        if check.refused:
            break
        clean_passes = 0
        while clean_passes < 2:
            sleep(interval)
            check = sweeper(dry_run=True).run()
            if not check.clean:
                break
            clean_passes += 1
        if clean_passes == 2 or check.refused or clock() >= deadline:
            break
        log(f"round {round_}: {len(check.leftovers())} item(s) still there; sweeping again")
    state, leftovers, error = _outcome(check)
    record = TeardownRecord(lab=lab, state=state, checked_at=_stamp(now()), stack_id=stack_id,
                            rounds=len(reports), leftovers=leftovers, error=error)
    return record, reports


def failed_delete_record(lab: str, stack_id: str, *, now: Callable[[], datetime] = utc_now) -> TeardownRecord:
    """The record for a stack that failed to delete: it still exists, so nothing was swept. A
    classroom's copy is the instructor's to delete again (a learner's `labs destroy` would remove the
    learner's own deployment, never the copy)."""
    stack_set = classroom_copy_set(stack_name_of(stack_id))
    if stack_set:
        fix = (f"this is a classroom's copy (StackSet {stack_set}): the class's instructor deletes it again with "
               f"`labs classroom destroy {lab}` from the admin account, after fixing what its events name")
    else:
        fix = f"fix what its events name, then run `labs destroy {lab}`"
    return TeardownRecord(
        lab=lab, state=STACK_EXISTS, checked_at=_stamp(now()), stack_id=stack_id,
        error=f"stack delete failed (DELETE_FAILED): nothing swept while the stack exists; {fix}")


def record_tags(session: Any, lab: str, stack_id: str) -> dict[str, str]:
    """The deleted stack's lab, profile and owner tags (CloudFormation describes a deleted
    stack by id); at least ``lab``."""
    tags = {LAB_TAG: lab}
    if stack_id:
        try:
            stacks = session.client("cloudformation").describe_stacks(StackName=stack_id)["Stacks"]
        except (ClientError, BotoCoreError):
            return tags
        for pair in stacks[0].get("Tags", []) if stacks else []:
            if pair["Key"] in RECORDED_TAGS and pair["Key"] != LAB_TAG:
                tags[pair["Key"]] = pair["Value"]
    return tags


def alert_message(record: TeardownRecord) -> tuple[str, str]:
    """Subject (at most 100 characters) and body of the e-mail for a record that is not clean."""
    subject = f"mlref janitor: lab {record.lab} is not clean ({record.state})"[:100]
    body = [record.line(), "", f"stack: {record.stack_id or 'unknown'}", f"sweep rounds: {record.rounds}"]
    if record.leftovers:
        body += ["", "left (delete by hand, or run `labs destroy " + record.lab + "` again):",
                 *[f"- {item}" for item in record.leftovers]]
    if record.more:
        body.append(f"- ... and {record.more} more")
    if record.error:
        body += ["", record.error]
    body += ["", f"The full record: SSM parameter {parameter_name(record.lab)} in this account and region."]
    return subject, "\n".join(body)


def publish_alert(session: Any, topic_arn: str, record: TeardownRecord) -> str:
    subject, message = alert_message(record)
    return session.client("sns").publish(TopicArn=topic_arn, Subject=subject, Message=message)["MessageId"]
