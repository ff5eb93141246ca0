"""The janitor's teardown record: one SSM Parameter Store Standard parameter per lab.

``/mlref/janitor/<lab>`` holds JSON (a Standard parameter is free, and at most 4 KB): the
state, when it was checked, the deleted stack's id, the sweep rounds, and the leftovers
(ARNs where known), truncated to fit with a count of how many more there were.

The janitor writes it (``write_record``); ``labs status`` and ``labs destroy`` read it with
``read_record(session, lab)``, which never raises for a missing, unreadable or corrupt record.
CDK-free and boto3-only, so the command line can import it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

RECORD_PREFIX = "/mlref/janitor/"
ALERT_TOPIC_ENV = "ALERT_TOPIC_ARN"  # the janitor function's environment: where alerts go
STANDARD_LIMIT = 4096  # bytes of a Standard parameter's value

CLEAN = "clean"                # two verification passes in a row found nothing
LEFTOVERS = "leftovers"        # something is still there after the janitor's rounds
NOT_VERIFIED = "not-verified"  # a verification pass could not ask a service: nothing proven
STACK_EXISTS = "stack-exists"  # the stack is still there (DELETE_FAILED): nothing deleted
UNREADABLE = "unreadable"      # the parameter exists but could not be read or parsed
STATES = (CLEAN, LEFTOVERS, NOT_VERIFIED, STACK_EXISTS, UNREADABLE)


@dataclass(frozen=True)
class TeardownRecord:
    """The janitor's last word on one lab.

    Attributes:
        lab: the lab's name.
        state: one of ``STATES``.
        checked_at: ISO-8601 UTC time of the last verification ("" when unreadable).
        stack_id: the deleted stack's id ("" when unknown).
        rounds: sweep rounds the janitor ran.
        leftovers: what is left, each an ARN (or kind and name) with a reason.
        more: how many more leftovers there were than fit in the parameter.
        error: why the state is not-verified, stack-exists or unreadable.
    """

    lab: str
    state: str
    checked_at: str = ""
    stack_id: str = ""
    rounds: int = 0
    leftovers: tuple[str, ...] = field(default_factory=tuple)
    more: int = 0
    error: str = ""

    @property
    def clean(self) -> bool:
        return self.state == CLEAN

    def line(self) -> str:
        """One line for ``labs status`` / ``labs destroy``."""
        when = f" at {self.checked_at}" if self.checked_at else ""
        if self.state == CLEAN:
            return f"janitor: {self.lab} verified clean twice{when}"
        if self.state == LEFTOVERS:
            count = len(self.leftovers) + self.more
            return f"janitor: {self.lab} has {count} leftover(s){when}: " + "; ".join(self.leftovers[:3]) + \
                ("; ..." if count > 3 else "")
        return f"janitor: {self.lab} {self.state}{when}: {self.error}"

    def to_json(self, limit: int = STANDARD_LIMIT) -> str:
        """The record as JSON of at most ``limit`` bytes: leftovers dropped from the end (counted in ``more``)."""
        record = self
        while True:
            text = json.dumps({**asdict(record), "leftovers": list(record.leftovers)}, separators=(",", ":"))
            if len(text.encode()) <= limit:
                return text
            if record.leftovers:
                record = replace(record, leftovers=record.leftovers[:-1], more=record.more + 1)
            elif len(record.error) > 40:
                record = replace(record, error=record.error[: len(record.error) // 2] + "...")
            else:
                raise ValueError(f"a teardown record for {self.lab} does not fit in {limit} bytes")

    @classmethod
    def from_json(cls, lab: str, text: str) -> TeardownRecord:
        """Parses a stored record; ValueError when it is not one."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"not JSON ({error.msg})") from None
        if not isinstance(data, dict) or data.get("state") not in STATES or data.get("lab") != lab:
            raise ValueError("not a teardown record of this lab")
        leftovers = data.get("leftovers") or []
        if not isinstance(leftovers, list) or not all(isinstance(item, str) for item in leftovers):
            raise ValueError("leftovers is not a list of strings")
        try:
            return cls(lab=lab, state=data["state"], checked_at=str(data.get("checked_at", "")),
                       stack_id=str(data.get("stack_id", "")), rounds=int(data.get("rounds", 0)),
                       leftovers=tuple(leftovers), more=int(data.get("more", 0)), error=str(data.get("error", "")))
        except (TypeError, ValueError):
            raise ValueError("rounds or more is not a number") from None


def parameter_name(lab: str) -> str:
    return f"{RECORD_PREFIX}{lab}"


def write_record(session: Any, record: TeardownRecord, tags: dict[str, str] | None = None) -> str:
    """Writes (overwrites) the lab's parameter and tags it; returns the parameter name."""
    ssm = session.client("ssm")
    name = parameter_name(record.lab)
    ssm.put_parameter(Name=name, Value=record.to_json(), Type="String", Tier="Standard", Overwrite=True,
                      Description=f"mlref janitor: teardown record of lab {record.lab}")
    if tags:  # PutParameter refuses Tags together with Overwrite
        ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=name,
                                 Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    return name


def read_record(session: Any, lab: str) -> TeardownRecord | None:
    """The janitor's last record of ``lab`` in the session's account and region.

    None when there is none (the janitor never swept the lab here). A record with state
    ``unreadable`` (and the reason in ``error``) when the parameter cannot be read or is
    not a record. Never raises for AWS or parse errors.
    """
    try:
        value = session.client("ssm").get_parameter(Name=parameter_name(lab))["Parameter"]["Value"]
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code == "ParameterNotFound":
            return None
        return TeardownRecord(lab=lab, state=UNREADABLE, error=f"cannot read {parameter_name(lab)}: {code}")
    except BotoCoreError as error:
        return TeardownRecord(lab=lab, state=UNREADABLE, error=f"cannot read {parameter_name(lab)}: {error}")
    try:
        return TeardownRecord.from_json(lab, value)
    except ValueError as error:
        return TeardownRecord(lab=lab, state=UNREADABLE, error=f"{parameter_name(lab)} is corrupt: {error}")
