"""The diagnose step: an overfitting XGBoost run beside a regularized one (and, with ``--runs ...,slow``, one
that does not converge), on the same data. Each job's per-round training and validation loss comes from its
training log (SageMaker Debugger is closed to new customers; CloudWatch's one-minute metrics would hide the
rounds of a one-minute job), the curves are drawn, and the catalog's rules give each run its verdict.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catalog import model_development_facts as facts
from catalog.model_development_facts import DiagnoseRules
from labs.engine.errors import LabError
from labs.practice.model_development import requests
from labs.practice.model_development.curves import draw_png, terminal_curves
from labs.practice.model_development.jobs import Jobs, Lineage, log_request, round_metrics, training_timeout


@dataclass(frozen=True)
class Verdict:
    label: str
    reason: str


def verdict(train: Sequence[float], valid: Sequence[float], rules: DiagnoseRules = facts.RULES) -> Verdict:
    """What the loss curves say, by the catalog's rules (catalog/model_development_facts.DiagnoseRules)."""
    if len(train) != len(valid) or len(train) < 3:
        return Verdict("too few rounds", f"{len(train)} rounds logged: not enough to judge")
    if any(not math.isfinite(v) for v in (*train, *valid)) or train[-1] > train[0]:
        return Verdict(facts.DIVERGES, "the training loss is not finite or ends above where it started: lower eta")
    best = min(range(len(valid)), key=valid.__getitem__)
    rise, gap = valid[-1] - valid[best], valid[-1] - train[-1]
    if rise >= rules.rise and train[-1] < train[best] and gap >= rules.gap:
        return Verdict(facts.OVERFITS, f"validation loss rose {rise:.3f} after round {best} while training loss "
                                       f"kept falling (gap {gap:.3f}): stop near round {best} or regularize")
    window = max(2, min(rules.window, len(train) // 3))
    before = train[-window - 1]
    falling = (before - train[-1]) / before if before else 0.0
    if falling >= rules.still_falling and valid[-1] < valid[-window - 1]:
        return Verdict(facts.NOT_CONVERGED, f"training loss still fell {falling:.1%} over the last {window} rounds "
                                            f"and validation loss with it: raise num_round or eta")
    return Verdict(facts.GOOD_FIT, f"validation loss within {rise:.3f} of its best (round {best}); gap {gap:.3f}")


@dataclass
class RunResult:
    run: str
    job: str
    rounds: list[tuple[int, float, float]]
    verdict: Verdict
    png: Path | None


def dry_run(plan: requests.Plan, runs: Sequence[str]) -> list[tuple[str, str, dict[str, Any], str]]:
    found = []
    for run in runs:
        request = requests.diagnose_job(plan, run)
        found.append(("sagemaker", "CreateTrainingJob", request, f"the {run} run: " + " ".join(
            f"{k}={v}" for k, v in facts.DIAGNOSE_RUNS[run].items())))
    job = requests.diagnose_job(plan, runs[0])["TrainingJobName"]
    found += [("sagemaker", "DescribeTrainingJob", {"TrainingJobName": job}, "each run, until it has finished"),
              ("sagemaker", "StopTrainingJob", {"TrainingJobName": job}, "only on Ctrl-C"),
              ("logs", "FilterLogEvents", log_request(job, facts.DIAGNOSE_METRIC),
               "each run's per-round train and validation loss, from its log")]
    return found


def run_diagnose(plan: requests.Plan, runs: Sequence[str], *, jobs: Jobs, logs: Any, lineage: Lineage,
                 out: Callable[[str], None], output_dir: Path) -> list[RunResult]:
    """Trains the runs (at most two at a time), reads each one's rounds, prints curves and verdicts."""
    out(facts.DEBUGGER_NOTE)
    described: dict[str, dict[str, Any]] = {}
    for start in range(0, len(runs), facts.MAX_PARALLEL_JOBS):
        batch = [requests.diagnose_job(plan, run) for run in runs[start:start + facts.MAX_PARALLEL_JOBS]]
        for request in batch:
            jobs.start("create_training_job", request)
            out(f"started {request['TrainingJobName']}")
        for run, request in zip(runs[start:], batch, strict=False):
            found = jobs.wait("training", request["TrainingJobName"], timeout=training_timeout(request))
            if found["TrainingJobStatus"] != "Completed":
                raise LabError(f"{request['TrainingJobName']} ended {found['TrainingJobStatus']}: "
                               f"{found.get('FailureReason', 'no reason given')}")
            described[run] = found
            lineage.training("diagnose", found)
    results = []
    for run in runs:
        job = described[run]["TrainingJobName"]
        rounds = round_metrics(logs, job, facts.DIAGNOSE_METRIC)
        train, valid = [r[1] for r in rounds], [r[2] for r in rounds]
        judged = verdict(train, valid)
        png = None
        if len(rounds) >= 3:
            for line in terminal_curves(run, train, valid, facts.DIAGNOSE_METRIC):
                out(line)
            png = draw_png(output_dir / f"{job}.png", job, [r[0] for r in rounds], train, valid,
                           facts.DIAGNOSE_METRIC, judged.label)
        results.append(RunResult(run, job, rounds, judged, png))
    out("verdicts (rules: catalog/model_development_facts.py DiagnoseRules):")
    for result in results:
        out(f"  {result.run:<8} {result.verdict.label}: {result.verdict.reason}"
            + (f" [{result.png}]" if result.png else ""))
    return results

