"""The tune step: a baseline XGBoost job with default hyperparameters, then SageMaker automatic model tuning
of five hyperparameters (Bayesian or random search, early stopping, six jobs, two at a time, managed spot),
warm started from the lab's previous tuning job when there is one. Prints the leaderboard and the default
against the tuned validation AUC.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from catalog import model_development as lab
from catalog import model_development_facts as facts
from labs.engine.errors import LabError
from labs.practice.model_development import requests
from labs.practice.model_development.jobs import Jobs, Lineage, final_metric

TUNABLE = tuple(item.name for item in facts.RANGES)
PARENT_STATES = {"Completed", "Stopped"}


@dataclass
class TuneResult:
    tuning_job: str
    best_job: str
    model_artifact: str
    default_auc: float | None
    tuned_auc: float | None
    leaderboard: list[dict[str, Any]]


def list_parents_request() -> dict[str, Any]:
    return {"NameContains": f"{lab.JOB_PREFIX}tune-", "SortBy": "CreationTime", "SortOrder": "Descending",
            "MaxResults": 10}


def leaderboard_request(name: str) -> dict[str, Any]:
    return {"HyperParameterTuningJobName": name, "SortBy": "FinalObjectiveMetricValue", "SortOrder": "Descending"}


def tuning_jobs(sagemaker: Any) -> list[dict[str, Any]]:
    """The lab's ten newest tuning jobs, newest first."""
    return sagemaker.list_hyper_parameter_tuning_jobs(**list_parents_request())["HyperParameterTuningJobSummaries"]


def _names(definition: dict[str, Any]) -> tuple[set[str], set[str]]:
    ranges = definition.get("HyperParameterRanges", {})
    tunable = {r["Name"] for kind in ranges.values() for r in kind}
    return tunable, set(definition.get("StaticHyperParameters", {}))


def find_parent(sagemaker: Any, plan: requests.Plan, strategy: str) -> tuple[str, bool] | None:
    """The lab's newest finished tuning job of the same strategy and hyperparameter set (warm start needs the
    same objective and hyperparameters), and whether it trained on exactly this data."""
    ours = requests.tuning_job(plan, strategy)
    our_inputs = [c["DataSource"]["S3DataSource"]["S3Uri"] for c in ours["TrainingJobDefinition"]["InputDataConfig"]]
    for summary in tuning_jobs(sagemaker):
        if summary["HyperParameterTuningJobStatus"] not in PARENT_STATES or \
                summary["Strategy"] != facts.STRATEGIES[strategy]:
            continue
        name = summary["HyperParameterTuningJobName"]
        described = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        definition = described.get("TrainingJobDefinition", {})
        config = described["HyperParameterTuningJobConfig"]
        if _names({**definition, "HyperParameterRanges": config.get("ParameterRanges", {})}) != (
                set(TUNABLE), set(facts.STATIC_HYPERPARAMETERS)):
            continue
        inputs = [c["DataSource"]["S3DataSource"]["S3Uri"] for c in definition.get("InputDataConfig", [])]
        return name, inputs == our_inputs
    return None


def leaderboard_rows(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for rank, summary in enumerate(summaries, 1):
        metric = summary.get("FinalHyperParameterTuningJobObjectiveMetric", {}).get("Value")
        rows.append({"rank": rank, "job": summary["TrainingJobName"], "status": summary["TrainingJobStatus"],
                     "auc": metric, **{k: summary.get("TunedHyperParameters", {}).get(k, "") for k in TUNABLE}})
    return rows


def _number(value: str) -> str:
    try:
        return f"{float(value):.3g}"
    except ValueError:
        return value


def leaderboard_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The leaderboard, best first: each job's tuned hyperparameters and validation AUC."""
    head = f"  {'#':>2} {'training job':<40} " + " ".join(f"{k[:10]:>10}" for k in TUNABLE) + "   val AUC  status"
    lines = [head]
    for row in rows:
        auc = "-" if row["auc"] is None else f"{row['auc']:.4f}"
        lines.append(f"  {row['rank']:>2} {row['job']:<40} " + " ".join(f"{_number(row[k]):>10}" for k in TUNABLE)
                     + f"  {auc:>8}  {row['status']}")
    return lines


def comparison_line(default_auc: float | None, tuned_auc: float | None) -> str:
    if default_auc is None or tuned_auc is None:
        return "default vs tuned AUC: not both reported (see the jobs' logs)"
    return (f"validation AUC: default {default_auc:.4f} -> tuned {tuned_auc:.4f} ({tuned_auc - default_auc:+.4f}); "
            "the tuned figure is optimistic: the search chose it on this same validation split")


def dry_run(plan: requests.Plan, strategy: str, warm_start: bool) -> list[tuple[str, str, dict[str, Any], str]]:
    tuning = requests.tuning_job(plan, strategy, parent=requests.Plan(
        plan.outputs, plan.region, "250101000000").name("tune") if warm_start else None)
    name = tuning["HyperParameterTuningJobName"]
    found = []
    if warm_start:
        found += [("sagemaker", "ListHyperParameterTuningJobs", list_parents_request(),
                   "the lab's previous tuning jobs (warm start)"),
                  ("sagemaker", "DescribeHyperParameterTuningJob",
                   {"HyperParameterTuningJobName": tuning["WarmStartConfig"]["ParentHyperParameterTuningJobs"][0][
                       "HyperParameterTuningJobName"]}, "the parent's hyperparameters and data")]
    base = requests.baseline_job(plan)
    found += [("sagemaker", "CreateTrainingJob", base, "the baseline: static hyperparameters only"),
              ("sagemaker", "DescribeTrainingJob", {"TrainingJobName": base["TrainingJobName"]},
               "until it has finished; its validation:auc"),
              ("sagemaker", "StopTrainingJob", {"TrainingJobName": base["TrainingJobName"]}, "only on Ctrl-C"),
              ("sagemaker", "CreateHyperParameterTuningJob", tuning,
               "warm started when a previous tuning job of the lab fits; without one, no WarmStartConfig"),
              ("sagemaker", "DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": name},
               "until it has finished; its best training job"),
              ("sagemaker", "StopHyperParameterTuningJob", {"HyperParameterTuningJobName": name}, "only on Ctrl-C"),
              ("sagemaker", "ListTrainingJobsForHyperParameterTuningJob", leaderboard_request(name), "the leaderboard"),
              ("sagemaker", "DescribeTrainingJob", {"TrainingJobName": f"{name}-001-0123abcd"},
               "the best job: its hyperparameters and model artifact")]
    return found


def run_tune(plan: requests.Plan, *, strategy: str, warm_start: bool, jobs: Jobs, lineage: Lineage,
             out: Callable[[str], None]) -> TuneResult:
    sagemaker = jobs.sagemaker
    parent = find_parent(sagemaker, plan, strategy) if warm_start else None
    if parent:
        out(f"warm start from {parent[0]} ({'identical data' if parent[1] else 'other data: transfer learning'})")
    else:
        out("cold start: " + ("no finished tuning job of the lab with this strategy and hyperparameter set"
                              if warm_start else "--no-warm-start"))
    baseline = jobs.train(requests.baseline_job(plan))
    lineage.training("tune", baseline)
    default_auc = final_metric(baseline, facts.OBJECTIVE_METRIC)
    request = requests.tuning_job(plan, strategy, parent=parent[0] if parent else None,
                                  identical_data=parent[1] if parent else True)
    name = request["HyperParameterTuningJobName"]
    jobs.start("create_hyper_parameter_tuning_job", request)
    out(f"started tuning job {name}: {facts.STRATEGIES[strategy]}, at most {facts.MAX_TUNING_JOBS} jobs, "
        f"{facts.MAX_PARALLEL_JOBS} at a time, early stopping Auto")
    described = jobs.wait("tuning", name, timeout=lab.TUNING_MAX_RUNTIME_SECONDS + 15 * 60)
    best = described.get("OverallBestTrainingJob") or described.get("BestTrainingJob")
    if best is None:
        raise LabError(f"tuning job {name} ended {described['HyperParameterTuningJobStatus']} without a best job: "
                       f"{described.get('FailureReason', 'no reason given')}")
    summaries = [s for page in sagemaker.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job").paginate(
        **leaderboard_request(name)) for s in page["TrainingJobSummaries"]]
    rows = leaderboard_rows(summaries)
    stopped = described.get("TrainingJobStatusCounters", {}).get("Stopped", 0)
    out(f"leaderboard of {name} ({len(rows)} jobs; {stopped} stopped early by the tuner):")
    for line in leaderboard_lines(rows):
        out(line)
    found = sagemaker.describe_training_job(TrainingJobName=best["TrainingJobName"])
    lineage.training("tune", found)
    lineage.other("tune", "tuning job", name, strategy=facts.STRATEGIES[strategy],
                  warm_start=parent[0] if parent else "none", best=best["TrainingJobName"])
    tuned_auc = best.get("FinalHyperParameterTuningJobObjectiveMetric", {}).get("Value")
    out(comparison_line(default_auc, tuned_auc))
    if origin := parent_origin_line(best, name):
        out(origin)
    return TuneResult(name, best["TrainingJobName"], found["ModelArtifacts"]["S3ModelArtifacts"], default_auc,
                      tuned_auc, rows)


def parent_origin_line(best: dict[str, Any], name: str) -> str | None:
    """With a warm start, OverallBestTrainingJob ranks this tuning job's runs with its parents' runs, so the best
    may be a parent's job, which this job's leaderboard does not list: say so."""
    origin = best.get("TuningJobName")
    if origin in (None, name):
        return None
    return (f"the best job, {best['TrainingJobName']}, is one of the parent tuning job {origin}: none of this "
            "job's runs beat it (with a warm start SageMaker ranks the parents' runs too)")


def latest_tuned_model(sagemaker: Any, bucket: str) -> tuple[str, str] | None:
    """(best training job, its model artifact) of the lab's newest completed tuning job whose model is in
    ``bucket``, this deployment's, for a bias step run alone; None when there is none. Tuning jobs cannot be
    deleted, so those of an earlier, destroyed deployment are still listed, with artifacts in a bucket that
    is gone."""
    for summary in tuning_jobs(sagemaker):
        if summary["HyperParameterTuningJobStatus"] != "Completed":
            continue
        described = sagemaker.describe_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=summary["HyperParameterTuningJobName"])
        best = described.get("OverallBestTrainingJob") or described.get("BestTrainingJob")
        if best:
            found = sagemaker.describe_training_job(TrainingJobName=best["TrainingJobName"])
            artifact = found["ModelArtifacts"]["S3ModelArtifacts"]
            if artifact.startswith(f"s3://{bucket}/"):
                return best["TrainingJobName"], artifact
    return None
