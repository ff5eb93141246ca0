"""The bias step: pre-training bias of the data (CI, DPL), post-training bias of the tuned model (DPPL, DI,
AD) and its SHAP explanations, from SageMaker Clarify or, where Clarify is off, absent or refuses the account,
from the lab's own script (jobs/model_development/bias_report.py), which writes the same report layout.

Clarify hosts the model on a shadow endpoint it creates and deletes itself (billed while it runs). Whatever
happens (success, failure, Ctrl-C), the step then deletes the model it made and any shadow endpoint still
hosting it, after proving from the endpoint's config that the endpoint serves this run's model, and tags the
endpoint's log group for the janitor.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from catalog import model_development as lab
from catalog import model_development_facts as facts
from catalog.sagemaker_images import CLARIFY_ACCOUNTS
from jobs.model_development import bias_report
from labs.engine.errors import LabError
from labs.practice.common.polling import PollTimeout, poll
from labs.practice.model_development import requests
from labs.practice.model_development.data import TabularSet
from labs.practice.model_development.jobs import Jobs, Lineage
from lambdas.shared.lab_names import ENDPOINT_LOG_GROUP_PREFIX, PROCESSING_LOG_GROUP

ENGINES = ("auto", "clarify", "script")
BUSY = {"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"}
CLEANUP_SECONDS = 15 * 60


class ClarifyRefused(Exception):
    """Clarify could not analyse here (refused at creation, or its job failed): the reason, one line."""


@dataclass
class BiasResult:
    engine: str
    metrics: dict[str, float]
    shap_kind: str
    shap: dict[str, float]
    local: dict[str, float]
    fallback: str = ""
    removed: list[str] = field(default_factory=list)


def choose_engine(requested: str, clarify_enabled: bool, region: str) -> tuple[str, str]:
    """(engine, why): ``auto`` takes Clarify where the stack allows it and the region has its container."""
    if requested not in ENGINES:
        raise LabError(f"--bias-engine {requested!r}: use one of {', '.join(ENGINES)}")
    missing = ("the stack was deployed with -c clarify=off" if not clarify_enabled else
               f"Clarify has no container in {region}" if region not in CLARIFY_ACCOUNTS else "")
    if requested == "clarify" and missing:
        raise LabError(f"--bias-engine clarify: {missing}; redeploy with -c clarify=on or use --bias-engine script")
    if requested == "script" or missing:
        return "script", missing or "--bias-engine script"
    return "clarify", ""


def shadow_request() -> dict[str, Any]:
    return {"NameContains": lab.SHADOW_ENDPOINT_PREFIX}


def shadow_log_groups_request() -> dict[str, Any]:
    return {"logGroupNamePrefix": f"{ENDPOINT_LOG_GROUP_PREFIX}{lab.SHADOW_ENDPOINT_PREFIX}"}


def remove_shadow_endpoints(sagemaker: Any, model_name: str, out: Callable[[str], None], *, clock: Callable[[], float],
                            sleep: Callable[[float], None], poll_seconds: float) -> tuple[list[str], list[str]]:
    """(removed, still there): deletes every endpoint (and its config) named like Clarify's shadow endpoints that
    hosts ``model_name`` and nothing else, the proof that it is this run's. Others are left alone."""
    removed, busy = [], []
    for page in sagemaker.get_paginator("list_endpoints").paginate(**shadow_request()):
        for summary in page["Endpoints"]:
            name = summary["EndpointName"]
            try:
                endpoint = sagemaker.describe_endpoint(EndpointName=name)
                config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
            except ClientError as error:
                if not _not_found(error):
                    raise
                continue  # Clarify deleted the endpoint, or its config while the endpoint is Deleting
            if {variant["ModelName"] for variant in config["ProductionVariants"]} != {model_name}:
                continue
            try:
                endpoint = poll(lambda n=name: sagemaker.describe_endpoint(EndpointName=n),
                                lambda found: found["EndpointStatus"] not in BUSY - {"Deleting"},
                                timeout=CLEANUP_SECONDS, interval=poll_seconds, clock=clock, sleep=sleep)
            except PollTimeout:
                out(f"shadow endpoint {name} is still busy: delete it later (aws sagemaker delete-endpoint "
                    f"--endpoint-name {name}); the lab's expiry and the janitor remove it too")
                busy.append(name)
                continue
            try:
                if endpoint["EndpointStatus"] != "Deleting":
                    sagemaker.delete_endpoint(EndpointName=name)
                sagemaker.delete_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
            except ClientError as error:
                if not _not_found(error):
                    raise
                continue  # Clarify's own cleanup got there first
            removed.append(name)
            out(f"deleted Clarify's shadow endpoint {name}, still up after the job (it bills while it exists)")
    return removed, busy


def _not_found(error: ClientError) -> bool:
    """SageMaker's answer for an endpoint or config that is gone: ValidationException "Could not find ..."."""
    return (error.response.get("Error", {}).get("Code") == "ValidationException"
            and "Could not find" in error.response["Error"].get("Message", ""))


def tag_shadow_log_groups(logs: Any, tags: dict[str, str]) -> None:
    """SageMaker creates the shadow endpoint's log group untagged; the lab's tags let the janitor remove it."""
    for page in logs.get_paginator("describe_log_groups").paginate(**shadow_log_groups_request()):
        for group in page["logGroups"]:
            logs.tag_resource(resourceArn=group["arn"].removesuffix(":*"), tags=tags)


def report_values(report: dict[str, Any]) -> tuple[dict[str, float], str, dict[str, float]]:
    """(metric -> value, SHAP kind, feature -> global SHAP value) from either engine's analysis.json."""
    metrics: dict[str, float] = {}
    for section in ("pre_training_bias_metrics", "post_training_bias_metrics"):
        facets = report.get(section, {}).get("facets", {}).get(facts.FACET, [])
        for metric in facets[0]["metrics"] if facets else []:
            metrics[metric["name"]] = float(metric["value"])
    explanations = report.get("explanations", {})
    kind = next(iter(explanations), "")
    shap = explanations[kind]["label0"]["global_shap_values"] if kind else {}
    return metrics, kind, {name: float(value) for name, value in shap.items()}


def report_lines(result: BiasResult, rows: int) -> list[str]:
    engine = "SageMaker Clarify" if result.engine == "clarify" else "the lab's script"
    lines = [f"bias on the test split ({rows} rows; facet d: {facts.FACET} = {facts.FACET_VALUE}), by {engine}:"]
    for name in (*facts.PRE_TRAINING, *facts.POST_TRAINING):
        if name in result.metrics:
            metric = facts.BIAS_METRICS[name]
            lines.append(f"  {name:<5} {result.metrics[name]:>7.3f}  {metric.title}: {metric.meaning}")
    checks = [f"{name} {value:.3f}" + ("" if abs(value - result.metrics.get(name, float('nan'))) < 1e-6 else
                                       f" (report: {result.metrics.get(name, float('nan')):.3f})")
              for name, value in result.local.items()]
    lines.append("  computed here from the same rows and definitions: " + ", ".join(checks))
    top = sorted(result.shap.items(), key=lambda item: -abs(item[1]))[:facts.TOP_FEATURES]
    units = "log-odds (exact tree SHAP)" if result.shap_kind == "tree_shap" else "probability (kernel SHAP)"
    lines.append(f"top features by mean |SHAP| ({units}):")
    lines += [f"  {rank}. {name:<15} {value:.4f}" for rank, (name, value) in enumerate(top, 1)]
    return lines


def dry_run(plan: requests.Plan, engine: str, data: TabularSet) -> list[tuple[str, str, dict[str, Any], str]]:
    """The step's requests; with Clarify, then those of the script that ``auto`` falls back to."""
    from labs.practice.model_development.tune import list_parents_request

    artifact = plan.uri(lab.run_prefix(plan.run, "tune") + "<best job>/output/model.tar.gz")
    best = f"{plan.name('tune')}-001-0123abcd"
    found = [("sagemaker", "ListHyperParameterTuningJobs", list_parents_request(),
              "run alone: the lab's newest tuning job (without one, the baseline job trains a model first)"),
             ("sagemaker", "DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": plan.name("tune")},
              "its best training job"),
             ("sagemaker", "DescribeTrainingJob", {"TrainingJobName": best}, "the best job's model artifact"),
             _put(plan, "config", requests.CONFIG_FILE, "the analysis configuration (printed below)")]
    if engine == "clarify":
        job = requests.clarify_job(plan)
        shadow = f"{lab.SHADOW_ENDPOINT_PREFIX}-0123456789"
        found += [("sagemaker", "CreateModel", requests.create_model(plan, artifact),
                   "the tuned model, for Clarify's shadow endpoint"),
                  ("sagemaker", "CreateProcessingJob", job, "SageMaker Clarify"),
                  *_follow(plan, job["ProcessingJobName"]),
                  ("sagemaker", "ListEndpoints", shadow_request(), "afterwards: a shadow endpoint still up?"),
                  ("sagemaker", "DescribeEndpoint", {"EndpointName": shadow}, "its endpoint config"),
                  ("sagemaker", "DescribeEndpointConfig", {"EndpointConfigName": shadow},
                   "the model it hosts: only one hosting this run's model is deleted"),
                  ("sagemaker", "DeleteEndpoint", {"EndpointName": shadow}, "only if it hosts this run's model"),
                  ("sagemaker", "DeleteEndpointConfig", {"EndpointConfigName": shadow}, "its config"),
                  ("sagemaker", "DeleteModel", {"ModelName": plan.name("tuned")}, "the model made for Clarify"),
                  ("logs", "DescribeLogGroups", shadow_log_groups_request(), "the shadow endpoint's log group"),
                  ("logs", "TagResource", {"resourceArn": f"arn:aws:logs:{plan.region}:111122223333:log-group:"
                                           f"{ENDPOINT_LOG_GROUP_PREFIX}{shadow}", "tags": dict(plan.tags)},
                   "tagged for the janitor")]
    script = requests.script_job(plan, artifact)
    when = "--bias-engine auto, only if Clarify does not analyse: " if engine == "clarify" else ""
    found += [_put(plan, "code", requests.SCRIPT_FILE, f"{when}the lab's bias script"),
              ("sagemaker", "CreateProcessingJob", script, f"{when}the lab's script in the XGBoost container"),
              *_follow(plan, script["ProcessingJobName"])]
    return found


def _put(plan: requests.Plan, folder: str, name: str, title: str) -> tuple[str, str, dict[str, Any], str]:
    upload = requests.upload(plan, requests.bias_key(plan, folder, name), b"")
    return "s3", "PutObject", {k: v for k, v in upload.items() if k != "Body"}, title


def _follow(plan: requests.Plan, name: str) -> list[tuple[str, str, dict[str, Any], str]]:
    return [("sagemaker", "DescribeProcessingJob", {"ProcessingJobName": name}, "until it has finished"),
            ("sagemaker", "StopProcessingJob", {"ProcessingJobName": name}, "only on Ctrl-C"),
            ("s3", "GetObject", {"Bucket": plan.bucket, "Key": requests.bias_key(plan, "output", requests.REPORT_FILE)},
             "the report (analysis.json)")]


class BiasStep:
    """Runs one engine (Clarify, falling back to the script under ``auto``) and reads its report."""

    def __init__(self, plan: requests.Plan, *, jobs: Jobs, s3: Any, logs: Any, lineage: Lineage,
                 out: Callable[[str], None]) -> None:
        self.plan, self.jobs, self.s3, self.logs, self.lineage, self.out = plan, jobs, s3, logs, lineage, out

    def run(self, requested: str, artifact: str, data: TabularSet) -> BiasResult:
        engine, why = choose_engine(requested, self.plan.outputs.get(lab.CLARIFY) == "on", self.plan.region)
        if why:
            self.out(f"bias engine: the lab's script ({why})")
        local = data.split_of("test")
        fallback, removed = "", []
        if engine == "clarify":
            self.out(facts.CLARIFY_NOTE)
            try:
                removed = self.clarify(artifact, data)
            except ClarifyRefused as refusal:
                if requested == "clarify":
                    raise LabError(f"SageMaker Clarify did not analyse: {refusal}; rerun with --bias-engine script") \
                        from None
                fallback = str(refusal)
                self.out(f"Clarify did not analyse ({fallback}); the lab's script runs instead")
                engine = "script"
        if engine == "script":
            self.script(artifact, data)
        key = requests.bias_key(self.plan, "output", requests.REPORT_FILE)
        body = self.s3.get_object(Bucket=self.plan.bucket, Key=key)
        metrics, kind, shap = report_values(json.loads(body["Body"].read()))
        result = BiasResult(engine, metrics, kind, shap, local, fallback, removed)
        for line in report_lines(result, len(data.splits["test"])):
            self.out(line)
        return result

    def upload_config(self, data: TabularSet, model_name: str | None) -> None:
        config = requests.analysis_config(data.baseline(), model_name=model_name, seed=self.plan.seed)
        key = requests.bias_key(self.plan, "config", requests.CONFIG_FILE)
        self.s3.put_object(**requests.upload(self.plan, key, json.dumps(config, indent=1).encode()))

    def processing(self, request: dict[str, Any], engine: str) -> dict[str, Any]:
        name = request["ProcessingJobName"]
        self.jobs.start("create_processing_job", request)
        self.out(f"started processing job {name} ({engine})")
        found = self.jobs.wait("processing", name, timeout=lab.PROCESSING_MAX_RUNTIME_SECONDS + 10 * 60)
        self.lineage.other("bias", "processing job", name, engine=engine, image=request["AppSpecification"]["ImageUri"],
                           status=found["ProcessingJobStatus"],
                           config=self.plan.uri(requests.bias_key(self.plan, "config", requests.CONFIG_FILE)))
        return found

    def clarify(self, artifact: str, data: TabularSet) -> list[str]:
        model = requests.create_model(self.plan, artifact)
        self.upload_config(data, model["ModelName"])
        sagemaker = self.jobs.sagemaker
        sagemaker.create_model(**model)
        removed: list[str] = []
        try:
            try:
                found = self.processing(requests.clarify_job(self.plan), "clarify")
            except ClientError as error:
                raise ClarifyRefused(f"{error.response['Error']['Code']}: "
                                     f"{error.response['Error'].get('Message', '')[:200]}") from None
            if found["ProcessingJobStatus"] != "Completed":
                raise ClarifyRefused(f"its job ended {found['ProcessingJobStatus']}: "
                                     f"{found.get('FailureReason', 'no reason given')[:200]}")
        finally:
            removed, busy = remove_shadow_endpoints(sagemaker, model["ModelName"], self.out, clock=self.jobs.clock,
                                                    sleep=self.jobs.sleep, poll_seconds=self.jobs.poll_seconds)
            if busy:  # the tagged model is how the janitor proves such an endpoint the lab's: it stays
                self.out(f"kept model {model['ModelName']} while {', '.join(busy)} is up (the janitor proves the "
                         "endpoint the lab's by it)")
            else:
                sagemaker.delete_model(ModelName=model["ModelName"])
            tag_shadow_log_groups(self.logs, dict(self.plan.tags))
        return removed

    def script(self, artifact: str, data: TabularSet) -> None:
        self.upload_config(data, None)
        code = bias_report.__file__
        with open(code, "rb") as handle:
            self.s3.put_object(**requests.upload(self.plan, requests.bias_key(self.plan, "code", requests.SCRIPT_FILE),
                                                 handle.read()))
        found = self.processing(requests.script_job(self.plan, artifact), "script")
        if found["ProcessingJobStatus"] != "Completed":
            raise LabError(f"the bias script's job ended {found['ProcessingJobStatus']}: "
                           f"{found.get('FailureReason', 'no reason given')}; its log is in {PROCESSING_LOG_GROUP}")
