"""What each read job of the fsx-training practice measured, the side-by-side table, and the
closing line that restates the study notes' claim with the measured ratios.

A job's figures come from DescribeTrainingJob (CreationTime, SecondaryStatusTransitions,
BillableTimeInSeconds) and from the MLREF_ lines its script logs:

- first byte: from CreateTrainingJob (the job's CreationTime) to the first byte read
  (``MLREF_READ_START``; after a spot interruption, the first attempt's);
- provisioning: the time in SageMaker's instance phases before that (Starting, Pending,
  LaunchingMLInstances, PreparingTrainingStack; waiting for spot capacity counts here);
- download: the Downloading phases before the first byte (File mode copies the set there);
- read: the script's own reading time and rate over the whole set;
- billable seconds and what they cost at the price table's on-demand rate (managed spot's
  saving is already in BillableTimeInSeconds).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from catalog.fsx_training import billed_cost

READ_START = re.compile(r"MLREF_READ_START epoch=([0-9.]+)")
READ_DONE = re.compile(r"MLREF_READ_DONE files=(\d+) bytes=(\d+) seconds=([0-9.]+) mb_per_s=([0-9.]+)"
                       r"(?: attempts=(\d+))?")
WAITED = re.compile(r"MLREF_WAITED seconds=([0-9.]+)")
PROVISIONING = {"Starting", "Pending", "LaunchingMLInstances", "PreparingTrainingStack"}
DOWNLOADING = {"Downloading"}
INTERRUPTED = {"Interrupted", "Restarting"}


@dataclass
class JobReport:
    """One row of the table."""

    label: str
    name: str
    status: str
    instance_type: str
    spot: bool
    failure_reason: str = ""
    first_byte: float | None = None  # seconds from CreateTrainingJob
    provisioning: float = 0.0
    download: float = 0.0
    waited: float = 0.0
    read_seconds: float | None = None
    megabytes: float | None = None
    billable_seconds: int | None = None
    training_seconds: int | None = None
    attempts: int = 1
    interrupted: bool = False
    phases: tuple[tuple[str, float], ...] = ()

    @property
    def completed(self) -> bool:
        return self.status == "Completed" and self.read_seconds is not None

    @property
    def mb_per_s(self) -> float | None:
        if self.read_seconds is None or self.megabytes is None:
            return None
        return self.megabytes / max(self.read_seconds, 1e-6)

    @property
    def after_ready(self) -> float | None:
        """Seconds from the instance being ready to the first byte (download included)."""
        return None if self.first_byte is None else self.first_byte - self.provisioning

    @property
    def cost(self) -> float | None:
        return None if self.billable_seconds is None else billed_cost(self.instance_type, self.billable_seconds)

    def line(self) -> str:
        """One line per finished job, printed as it finishes."""
        if self.status != "Completed":
            return f"{self.label} ({self.name}): {self.status}: {self.failure_reason or 'no reason given'}"
        parts = [f"{self.label} ({self.name}): Completed"]
        if self.first_byte is not None:
            parts.append(f"first byte {self.first_byte:.0f} s after CreateTrainingJob")
        if self.mb_per_s is not None:
            parts.append(f"read {self.megabytes:.0f} MB in {self.read_seconds:.1f} s ({self.mb_per_s:.0f} MB/s)")
        if self.billable_seconds is not None:
            saved = ""
            if self.training_seconds and self.billable_seconds < self.training_seconds:
                saved = f", spot saved {100 * (1 - self.billable_seconds / self.training_seconds):.0f}%"
            parts.append(f"billable {self.billable_seconds} s{saved}")
        if self.interrupted:
            parts.append(f"interrupted, resumed from its checkpoint ({self.attempts} attempts)")
        if self.phases:
            parts.append("phases " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in self.phases))
        return "; ".join(parts)


def job_report(description: dict[str, Any], log_messages: Iterable[str], *, label: str, instance_type: str,
               spot: bool) -> JobReport:
    """What a finished job took, from DescribeTrainingJob and its MLREF_ log lines."""
    created: datetime = description["CreationTime"]
    transitions = description.get("SecondaryStatusTransitions", [])
    report = JobReport(label=label, name=description["TrainingJobName"], status=description["TrainingJobStatus"],
                       instance_type=instance_type, spot=spot, failure_reason=description.get("FailureReason", ""),
                       billable_seconds=description.get("BillableTimeInSeconds"),
                       training_seconds=description.get("TrainingTimeInSeconds"),
                       interrupted=any(t["Status"] in INTERRUPTED for t in transitions),
                       phases=tuple((t["Status"], (t["EndTime"] - t["StartTime"]).total_seconds())
                                    for t in transitions if t.get("EndTime")))
    starts, done = [], None
    for message in log_messages:
        if match := READ_START.search(message):
            starts.append(float(match.group(1)))
        elif match := READ_DONE.search(message):
            attempts = int(match.group(5) or 1)
            if done is None or attempts >= done[2]:
                done = (int(match.group(2)) / 1e6, float(match.group(3)), attempts)
        elif match := WAITED.search(message):
            report.waited += float(match.group(1))
        elif "MLREF_RESUMED" in message:
            report.interrupted = True
    if starts:
        first = min(starts)
        report.first_byte = first - created.timestamp()
        for transition in transitions:
            if not transition.get("EndTime"):
                continue
            start, end = transition["StartTime"].timestamp(), min(transition["EndTime"].timestamp(), first)
            if end > start and transition["Status"] in PROVISIONING:
                report.provisioning += end - start
            elif end > start and transition["Status"] in DOWNLOADING:
                report.download += end - start
    if done is not None:
        report.megabytes, report.read_seconds, report.attempts = done
    return report


# -- the table ---------------------------------------------------------------------------

COLUMNS = (("input mode", 28), ("first byte", 10), ("provisioning", 12), ("download", 8), ("read", 7),
           ("MB/s", 6), ("billable", 8), ("cost", 16))


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} s"


def _row(cells: Sequence[str]) -> str:
    """The cells under the first columns: a failed job's row has two, the reason follows them."""
    return "  ".join(cell.ljust(width) if n == 0 else cell.rjust(width)
                     for n, (cell, (_, width)) in enumerate(zip(cells, COLUMNS, strict=False))).rstrip()


def table(reports: Sequence[JobReport]) -> list[str]:
    """The side-by-side table: one row per read job, in the order they ran."""
    lines = [_row([name for name, _ in COLUMNS])]
    notes = []
    for report in reports:
        label = report.label + (" *" if report.interrupted else "")
        if report.read_seconds is None:
            lines.append(_row([label, _seconds(report.first_byte)]) + f"  {report.status}: "
                         f"{report.failure_reason or 'no MLREF_READ_DONE line in its log'}")
            continue
        cost = report.cost
        price = "-" if cost is None else f"${cost:.3f} " + ("spot" if report.spot else "on demand")
        lines.append(_row([label, _seconds(report.first_byte), _seconds(report.provisioning),
                           _seconds(report.download) if report.download else "-", f"{report.read_seconds:.1f} s",
                           f"{report.mb_per_s:.0f}", _seconds(report.billable_seconds), price]))
        if report.waited:
            notes.append(f"{report.label}: waited {report.waited:.0f} s for the file system to list the new files")
    if any(r.interrupted for r in reports):
        notes.append("* interrupted by managed spot and resumed from its checkpoint: its first byte is the first "
                     "attempt's, its read covers every attempt")
    total = [r.cost for r in reports if r.cost is not None]
    if total:
        notes.append(f"read jobs billed: ${sum(total):.3f} (BillableTimeInSeconds at pricing/prices.toml's rates)")
    return lines + notes


def _ratio(slow: float | None, fast: float | None) -> float | None:
    return slow / fast if slow is not None and fast else None


def claim_line(reports: Sequence[JobReport]) -> str:
    """The notes' claim, restated with this run's ratios (clauses without both rows are left out)."""
    rows = {r.label: r for r in reports if r.completed}
    file, fastfile = rows.get("S3 File"), rows.get("S3 FastFile")
    first, repeated = rows.get("FSx for Lustre, first run"), rows.get("FSx for Lustre, repeated run")
    efs = rows.get("EFS")
    clauses = []
    if file and first and (ratio := _ratio(file.after_ready, first.after_ready)):
        clauses.append(f"FSx for Lustre skipped S3 File mode's {file.download:.0f} s download and reached the first "
                       f"byte {ratio:.1f}x as soon ({first.after_ready:.0f} s vs {file.after_ready:.0f} s after "
                       f"the instance was ready)")
    if first and repeated and (ratio := _ratio(first.read_seconds, repeated.read_seconds)):
        clauses.append(f"the repeated FSx run read the same files {ratio:.1f}x as fast as the first "
                       f"({repeated.mb_per_s:.0f} vs {first.mb_per_s:.0f} MB/s): nothing was downloaded again")
    if file and efs and (ratio := _ratio(file.after_ready, efs.after_ready)):
        clauses.append(f"EFS reached the first byte {ratio:.1f}x as soon as S3 File mode without moving any data "
                       f"({efs.after_ready:.0f} s vs {file.after_ready:.0f} s)")
    if file and fastfile and (ratio := _ratio(file.after_ready, fastfile.after_ready)):
        clauses.append(f"S3 FastFile, streaming, reached it {ratio:.1f}x as soon as File mode but reads from S3 on "
                       f"every run ({fastfile.mb_per_s:.0f} MB/s)")
    if not clauses:
        return "the claim cannot be restated: it needs S3 File and FSx (or EFS) rows that completed"
    return "The notes' claim, measured: " + "; ".join(clauses) + "."
