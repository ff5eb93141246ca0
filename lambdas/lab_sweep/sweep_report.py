"""What one sweep saw and did, and how it says so.

A delete counts (``deleted``) only once a read shows the thing gone: a delete accepted but still
running (an endpoint Deleting), objects ``DeleteObjects`` refused, a read-back the service
throttled, are "not gone yet" (``waiting``) or "could not delete" (``failed``), never "deleted".
"""

from __future__ import annotations

from dataclasses import dataclass, field


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

    def but(self, detail: str) -> Leftover:
        return Leftover(self.kind, self.identifier, detail, self.arn)


@dataclass(frozen=True)
class Unchecked:
    """A kind the sweep could not finish listing (a refused or unanswered call, or no time left):
    nothing is known of the rest of it. ``swept``: how many of its items were acted on before."""

    kind: str
    reason: str
    swept: int = 0


@dataclass
class SweepReport:
    """What one sweep (or, with ``dry_run``, one verification pass) saw.

    ``deleted``: removed, and read back as gone. ``stopped``: runs and jobs stopped (their owner
    waits for the next round). ``failed``: a delete the service refused. ``waiting``: not gone yet
    (busy, or a delete accepted and still running): the next round retries. ``found``: what a dry
    run would delete. ``left``: tagged for the lab but not proven its own, never deleted blindly.
    ``kept``: left on purpose (shared, free, or held by a live stack). ``retained``: what the deleted
    stack kept (DeletionPolicy Retain). ``unchecked``: kinds that could not be listed to the end.
    ``refused``: why nothing at all was deleted (a stack of the lab exists).
    """

    lab: str
    deleted: list[Leftover] = field(default_factory=list)
    stopped: list[Leftover] = field(default_factory=list)
    failed: list[Leftover] = field(default_factory=list)
    waiting: list[Leftover] = field(default_factory=list)
    found: list[Leftover] = field(default_factory=list)
    left: list[Leftover] = field(default_factory=list)
    kept: list[Leftover] = field(default_factory=list)
    retained: list[Leftover] = field(default_factory=list)
    unchecked: list[Unchecked] = field(default_factory=list)
    refused: str = ""

    @property
    def clean(self) -> bool:
        return not self.refused and not self.unchecked and not self.leftovers()


    def leftovers(self) -> list[Leftover]:
        """Everything still there or not known to be gone: the items a closing count counts."""
        return [*self.failed, *self.waiting, *self.found, *self.left]

    def closing_line(self, region: str) -> str:
        """The last word of ``labs destroy``: what is true, counted."""
        if self.refused:
            return f"{self.lab}: nothing swept: {self.refused}"
        if self.clean:
            return f"{self.lab}: nothing tagged lab={self.lab} is left in {region}"
        kinds = f", {len(self.unchecked)} kind(s) not checked" if self.unchecked else ""
        return f"{self.lab}: {len(self.leftovers())} item(s) left{kinds}: see above"

    def lines(self) -> list[str]:
        return (
            ([f"refused: {self.refused}"] if self.refused else [])
            + [f"deleted {item}" for item in self.deleted]
            + [f"stopped {item}" for item in self.stopped]
            + self._unchecked_lines()
            + [f"could not delete {item}" for item in self.failed]
            + [f"not gone yet, sweep again later: {item}" for item in self.waiting]
            + [f"still there: {item}" for item in self.found]
            + [f"left, delete by hand: {item}" for item in self.left]
            + [f"kept by the stack (Retain): {item}" for item in self.retained]
            + [f"kept on purpose: {item}" for item in self.kept]
        )

    def _unchecked_lines(self) -> list[str]:
        """One line per cause: an endpoint that does not answer costs one line, not one per kind."""
        by_reason: dict[str, list[Unchecked]] = {}
        for item in self.unchecked:
            by_reason.setdefault(item.reason, []).append(item)
        lines = []
        for reason, items in by_reason.items():
            swept = sum(item.swept for item in items)
            done = ("nothing of that kind was swept" if len(items) == 1 else "nothing of those kinds was swept") \
                if not swept else "only what is listed above of it was swept"
            lines.append(f"could not check {', '.join(i.kind for i in items)} ({reason}): {done}; rerun the sweep "
                         f"(`labs destroy {self.lab}`) later, or look in the console")
        return lines
