"""Whose is it? The proof the sweep asks of CloudFormation before it deletes anything.

- The lab's stacks (``lab_names.lab_of_stack``: ``mlref-<lab>`` and a classroom's copies
  ``StackSet-mlref-<lab>-<UUID>``, which carry the same tags): while any of them exists in this
  account and region, whatever its status, nothing is deleted. One ListStacks call answers that
  and lists every other live stack too.
- Each resource: its ``aws:cloudformation:stack-id`` tag, or else CloudFormation's
  DescribeStackResources by its physical id, names the stack that holds it. A live stack's
  resource is never touched; a deleted stack's only when that stack was one of the lab's here; a
  resource no stack holds (made at run time by a practice or a service) by its tags alone.
- The deleted stack's own resources (CloudFormation keeps them 90 days): what it retained, and
  the names of what services made for its resources (the log groups of its endpoints).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

try:  # in the Lambda asset the modules sit side by side
    from lab_names import is_classroom_copy, lab_of_stack, lab_stack_name
    from sweep_report import Leftover
except ImportError:  # imported as a package (tests, the labs command)
    from lambdas.lab_sweep.sweep_report import Leftover
    from lambdas.shared.lab_names import is_classroom_copy, lab_of_stack, lab_stack_name

STACK_ID_TAG = "aws:cloudformation:stack-id"


def error_code(error: Exception) -> str:
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code", "")
    return type(error).__name__


def not_found(error: ClientError) -> bool:
    return "does not exist" in error.response.get("Error", {}).get("Message", "")


def stack_name_of(stack_id: str) -> str:
    """``mlref-x`` of ``arn:aws:cloudformation:<region>:<account>:stack/mlref-x/<uuid>``."""
    return stack_id.split(":stack/", 1)[-1].split("/", 1)[0] if ":stack/" in stack_id else ""


class Ownership:
    """Mixed into ``SweepBase``: uses its ``client``, ``lab``, ``owns_arn``, ``account``, ``region``."""

    report: Any
    stack_id: str | None

    @property
    def stack_name(self) -> str:
        return lab_stack_name(self.lab)

    @cached_property
    def live_stacks(self) -> dict[str, tuple[str, str]]:
        """Every stack of this account and region that is not deleted: id -> (name, status)."""
        cloudformation = self.client("cloudformation")
        statuses = [s for s in cloudformation.meta.service_model.shape_for("StackStatus").enum
                    if s != "DELETE_COMPLETE"]
        pages = cloudformation.get_paginator("list_stacks").paginate(StackStatusFilter=statuses)
        return {s["StackId"]: (s["StackName"], s["StackStatus"]) for page in pages for s in page["StackSummaries"]}

    def stack_allows_sweep(self) -> bool:
        """False (and ``report.refused`` says why) while any stack of the lab exists, or when unsure."""
        try:
            live = sorted((name, status) for name, status in self.live_stacks.values()
                          if lab_of_stack(name) == self.lab)
        except (ClientError, BotoCoreError) as error:
            self.report.refused = (f"could not tell whether a stack of {self.lab} still exists ({error_code(error)}); "
                                   "nothing deleted")
            return False
        if not live:
            return True
        name, status = live[0]
        if is_classroom_copy(name):
            self.report.refused = (f"stack {name}, a classroom's copy of {self.lab}, exists ({status}) in "
                                   f"{self.account} {self.region}: nothing deleted, its resources carry the lab's "
                                   f"tags too; the class's instructor removes it with "
                                   f"`labs classroom destroy {self.lab}`")
        else:
            self.report.refused = (f"stack {name} still exists ({status}) in {self.account} {self.region}: nothing "
                                   f"deleted; delete the stack first (`labs destroy {self.lab}`)")
        return False

    # -- one resource --------------------------------------------------------------------------

    def holder(self, tags: dict[str, str], physical_id: str | None) -> str | None:
        """The id of the stack that holds a resource: its stack-id tag, else CloudFormation's answer
        for its physical id; None when no stack holds it."""
        if tags.get(STACK_ID_TAG):
            return tags[STACK_ID_TAG]
        if not physical_id:
            return None
        try:
            found = self.client("cloudformation").describe_stack_resources(
                PhysicalResourceId=physical_id)["StackResources"]
        except ClientError as error:
            if not_found(error):
                return None
            raise
        return found[0]["StackId"] if found else None

    def problem(self, tags: dict[str, str], physical_id: str | None) -> tuple[str, str] | None:
        """Why a resource tagged for the lab is not proven its own, as (where it is reported, why);
        None when it is. Raises what CloudFormation raises."""
        stack_id = self.holder(tags, physical_id)
        if not stack_id:
            return None
        name = stack_name_of(stack_id)
        if stack_id in self.live_stacks:
            return "kept", f"held by live stack {name} ({self.live_stacks[stack_id][1]}): never touched"
        if lab_of_stack(name) != self.lab or not self.owns_arn(stack_id):
            return "left", f"made by stack {name}, not by a stack of {self.lab} in this account and region"
        return None

    def proven(self, item: Leftover, tags: dict[str, str], physical_id: str | None = None) -> bool:
        """Whether a resource tagged for the lab is proven the lab's to delete. If not, it is noted:
        ``kept`` when a live stack holds it, ``left`` when another stack made it, ``failed`` when
        CloudFormation could not be asked."""
        try:
            found = self.problem(tags, physical_id)
        except (ClientError, BotoCoreError) as error:
            self.report.failed.append(item.but(f"its stack could not be asked for ({error_code(error)}): not deleted"))
            return False
        if found is not None:
            where, why = found
            getattr(self.report, where).append(item.but(why))
        return found is None

    # -- the deleted stack ---------------------------------------------------------------------

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
        if not stack_id or not self.owns_arn(stack_id) or lab_of_stack(stack_name_of(stack_id)) != self.lab:
            return []
        pages = self.client("cloudformation").get_paginator("list_stack_resources").paginate(StackName=stack_id)
        try:
            return [r for page in pages for r in page["StackResourceSummaries"]]
        except ClientError as error:
            if not_found(error):
                return []  # deleted more than 90 days ago, or never created
            raise

    def stack_resources(self) -> None:
        """Reads the deleted stack's resources and notes what it retained. Runs first; the kinds
        that use them (``stack_ids_of``) see [] if it failed."""
        self._stack_resources: list[dict] = []
        self._stack_resources = self._load_stack_resources()
        for resource in self._stack_resources:
            if resource["ResourceStatus"] == "DELETE_SKIPPED" and resource.get("PhysicalResourceId"):
                self.report.retained.append(Leftover(resource["ResourceType"], resource["PhysicalResourceId"]))

    def stack_ids_of(self, resource_type: str) -> list[str]:
        """Physical ids of the deleted stack's resources of one type."""
        return [r["PhysicalResourceId"] for r in getattr(self, "_stack_resources", None) or []
                if r["ResourceType"] == resource_type and r.get("PhysicalResourceId")]
