"""StackSet operations for ``labs classroom``: instances, operations, deletion, member sessions.

Every wait is bounded by a clock; an operation already running (``OperationInProgressException``,
which managed execution makes rare) is waited for and the request sent again; a StackSet that
still has instances (``StackSetNotEmptyException``) is a LabError that lists them. CDK-free.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from catalog.classroom import FAILURE_TOLERANCE_PERCENTAGE, MAX_CONCURRENT_PERCENTAGE
from labs.engine.errors import LabError

POLL_SECONDS = 15
OPERATION_TIMEOUT_SECONDS = 3 * 3600
DONE = {"SUCCEEDED", "FAILED", "STOPPED"}
ACTIVE = {"RUNNING", "QUEUED", "STOPPING"}
# Rolling out: a tenth of a region's accounts may fail. Deleting: every account is attempted.
DEPLOY_PREFERENCES = {"RegionConcurrencyType": "PARALLEL", "MaxConcurrentPercentage": MAX_CONCURRENT_PERCENTAGE,
                      "FailureTolerancePercentage": FAILURE_TOLERANCE_PERCENTAGE,
                      "ConcurrencyMode": "SOFT_FAILURE_TOLERANCE"}
DELETE_PREFERENCES = {**DEPLOY_PREFERENCES, "FailureTolerancePercentage": 100}


@dataclass(frozen=True)
class Instance:
    """One stack instance: an account and region of the class."""

    account: str
    region: str
    status: str  # CURRENT | OUTDATED | INOPERABLE
    detailed: str  # PENDING | RUNNING | SUCCEEDED | FAILED | CANCELLED | INOPERABLE | SKIPPED_SUSPENDED_ACCOUNT
    reason: str = ""
    drift: str = "NOT_CHECKED"
    stack_id: str | None = None

    @property
    def failed(self) -> bool:
        return self.detailed in {"FAILED", "INOPERABLE", "CANCELLED"} or self.status == "INOPERABLE"

    @property
    def done(self) -> bool:
        return self.detailed not in {"PENDING", "RUNNING"}


@dataclass(frozen=True)
class Caller:
    """How to call StackSets: ``call_as`` (SELF or DELEGATED_ADMIN) for service-managed ones."""

    call_as: str | None = None

    def args(self) -> dict[str, str]:
        return {"CallAs": self.call_as} if self.call_as else {}


@dataclass
class Clock:
    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    poll_seconds: float = POLL_SECONDS
    timeout_seconds: float = OPERATION_TIMEOUT_SECONDS

    def deadline(self) -> float:
        return self.now() + self.timeout_seconds


def error_code(error: Exception) -> str | None:
    response = getattr(error, "response", None)
    return response.get("Error", {}).get("Code") if isinstance(response, dict) else None


def instances(cfn: Any, stack_set: str, caller: Caller = Caller()) -> list[Instance]:
    """Every instance of ``stack_set``, sorted by account and region; [] when it does not exist."""
    found = []
    try:
        for page in cfn.get_paginator("list_stack_instances").paginate(StackSetName=stack_set, **caller.args()):
            for item in page.get("Summaries", []):
                detailed = item.get("StackInstanceStatus", {}).get("DetailedStatus", "")
                found.append(Instance(account=item["Account"], region=item["Region"], status=item.get("Status", ""),
                                      detailed=detailed, reason=item.get("StatusReason", "") or "",
                                      drift=item.get("DriftStatus", "NOT_CHECKED"), stack_id=item.get("StackId")))
    except Exception as error:
        if error_code(error) == "StackSetNotFoundException":
            return []
        raise
    return sorted(found, key=lambda i: (i.account, i.region))


def stack_set_tags(cfn: Any, stack_set: str, caller: Caller = Caller()) -> dict[str, str]:
    try:
        described = cfn.describe_stack_set(StackSetName=stack_set, **caller.args())["StackSet"]
    except Exception as error:
        if error_code(error) == "StackSetNotFoundException":
            return {}
        raise
    return {tag["Key"]: tag["Value"] for tag in described.get("Tags", [])}


def running_operation(cfn: Any, stack_set: str, caller: Caller) -> str | None:
    for page in cfn.get_paginator("list_stack_set_operations").paginate(StackSetName=stack_set, **caller.args()):
        for operation in page.get("Summaries", []):
            if operation.get("Status") in ACTIVE:
                return operation["OperationId"]
    return None


def wait_for_operation(cfn: Any, stack_set: str, operation_id: str, caller: Caller, clock: Clock,
                       on_poll: Callable[[dict], None] = lambda _op: None) -> dict:
    """Polls the operation until it ends; returns it. LabError when it outlasts the clock's timeout."""
    deadline = clock.deadline()
    while True:
        operation = cfn.describe_stack_set_operation(StackSetName=stack_set, OperationId=operation_id,
                                                     **caller.args())["StackSetOperation"]
        on_poll(operation)
        if operation.get("Status") in DONE:
            return operation
        if clock.now() >= deadline:
            raise LabError(f"StackSet {stack_set} operation {operation_id} is still {operation.get('Status')} after "
                           f"{clock.timeout_seconds / 3600:.1f} h: follow it in the CloudFormation console "
                           "(StackSets) and rerun the command when it ends")
        clock.sleep(clock.poll_seconds)


def targets_of(accounts: Sequence[str], ous: Sequence[str]) -> dict[str, Any]:
    if ous:
        return {"DeploymentTargets": {"OrganizationalUnitIds": list(ous)}}
    return {"Accounts": list(accounts)}


def delete_instances(cfn: Any, stack_set: str, *, accounts: Sequence[str], ous: Sequence[str],
                     regions: Sequence[str], caller: Caller, clock: Clock,
                     on_poll: Callable[[dict], None] = lambda _op: None) -> dict:
    """Deletes the instances (their stacks too) in every target, each account attempted even when others
    fail; waits for the operation and returns it. An operation already running is waited for first."""
    request = {"StackSetName": stack_set, "Regions": list(regions), "RetainStacks": False,
               "OperationPreferences": dict(DELETE_PREFERENCES), **targets_of(accounts, ous), **caller.args()}
    deadline = clock.deadline()
    while True:
        try:
            operation_id = cfn.delete_stack_instances(**request)["OperationId"]
            break
        except Exception as error:
            if error_code(error) != "OperationInProgressException" or clock.now() >= deadline:
                raise
            running = running_operation(cfn, stack_set, caller)
            if running:
                wait_for_operation(cfn, stack_set, running, caller, clock, on_poll)
            else:
                clock.sleep(clock.poll_seconds)
    return wait_for_operation(cfn, stack_set, operation_id, caller, clock, on_poll)


def delete_stack_set(cfn: Any, stack_set: str, caller: Caller) -> bool:
    """Deletes an empty StackSet; False when it does not exist. A StackSet with instances left is a
    LabError listing them."""
    try:
        cfn.delete_stack_set(StackSetName=stack_set, **caller.args())
    except Exception as error:
        code = error_code(error)
        if code == "StackSetNotFoundException":
            return False
        if code == "StackSetNotEmptyException":
            left = instances(cfn, stack_set, caller)
            where = ", ".join(f"{i.account}/{i.region} ({i.detailed or i.status})" for i in left) or "none listed"
            raise LabError(f"StackSet {stack_set} still has instances: {where}; delete them (rerun `labs classroom "
                           "destroy`), then it can go") from None
        raise
    return True


def member_session(session: Any, account: str, region: str, role_name: str) -> Any:
    """A session in a member account, through ``role_name`` there (trusting the admin account)."""
    from labs.engine.session import aws_session

    partition = session.get_partition_for_region(region) if hasattr(session, "get_partition_for_region") else "aws"
    credentials = session.client("sts").assume_role(
        RoleArn=f"arn:{partition}:iam::{account}:role/{role_name}", RoleSessionName="mlref-classroom",
        DurationSeconds=900)["Credentials"]
    return aws_session(credentials=credentials, region=region)


# -- the janitor's records ---------------------------------------------------------------------

RecordReader = Callable[[Any, str], Any]  # (member session, lab) -> the janitor's last record, or None


def default_record_reader() -> RecordReader:
    """``lambdas.lab_sweep.record.read_record``: what each account's janitor last recorded for a lab
    (an SSM parameter /mlref/janitor/<lab>). A LabError when this checkout does not have it yet."""
    try:
        from lambdas.lab_sweep.record import read_record
    except ImportError:
        raise LabError("this checkout's janitor does not keep teardown records yet "
                       "(lambdas/lab_sweep/record.py): update the labs, then verify again") from None
    return read_record


@dataclass(frozen=True)
class RecordView:
    """What the command line reads from a janitor record (``lambdas/lab_sweep/record.py``'s
    TeardownRecord): its state, when it was checked (its ``checked_at``, "" when it has none),
    what it says is left, and why it is not verified."""

    state: str
    at: str
    left: tuple[str, ...]
    error: str = ""

    @classmethod
    def of(cls, record: Any) -> RecordView | None:
        if record is None:
            return None
        return cls(state=record.state, at=record.checked_at or "", left=tuple(record.leftovers), error=record.error)

    @property
    def clean(self) -> bool:
        return self.state == "clean"

    def since(self, moment: datetime) -> bool:
        """Whether the record was checked at or after ``moment``: a record without a readable time
        is never taken for one of this teardown."""
        from labs.engine.state import parse_moment

        try:
            return bool(self.at) and parse_moment(self.at) >= moment
        except ValueError:
            return False

    def text(self) -> str:
        state = f"{len(self.left)} left" if self.left else self.state
        return f"{state}{f' at {self.at}' if self.at else ''}"

    def detail(self) -> str:
        """What is left, else why the record is not clean."""
        return ", ".join(self.left) or self.error or "see its record"
