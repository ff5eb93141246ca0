"""The model-development practice: its dry run checked request by request against botocore's models, and
each step run against Stubber-checked clients (every request validated by the real service model): the
approach table with a model that is not available, tuning cold and warm, Clarify with its shadow endpoint
cleaned up and Clarify refused (the lab's script instead), the diagnose verdicts, Ctrl-C and a quota."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import botocore.session
import pytest
from botocore.response import StreamingBody
from botocore.validate import validate_parameters

from catalog import model_development as lab
from catalog import model_development_facts as facts
from jobs.model_development import bias_report
from labs.engine.errors import LabError
from labs.engine.session import offline_session
from labs.practice.common.dry_run import printed_calls
from labs.practice.common.steps import announced_steps
from labs.practice.model_development import bias, command, requests, tune
from labs.practice.model_development.data import text_set
from labs.practice.model_development.jobs import Jobs
from tests.fakes import FakeClock, StubbedSession

REGION, ACCOUNT = "us-east-1", "123456789012"
RUN = "260115093000"
WHEN = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
TAGS = {"lab": lab.LAB, "profile": "sandbox", "owner": "tester"}
ROLE = f"arn:aws:iam::{ACCOUNT}:role/mlref-model-development-Jobs"
OUTPUTS = {lab.BUCKET: "mlref-model-development-labbucket1a2b", lab.KEY: f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k-1",
           lab.TRAINING_ROLE: f"{ROLE}TrainingRole", lab.PROCESSING_ROLE: f"{ROLE}ProcessingRole",
           lab.MODEL_ROLE: f"{ROLE}ModelRole", lab.CLARIFY: "on"}
CORE = botocore.session.get_session()
SERVICES = ("s3", "sagemaker", "logs", "comprehend", "bedrock-runtime")


def arn(resource: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{resource}"


class Session(StubbedSession):
    """Stubbed clients; ``sent`` records every request's parameters by operation, and leaving the ``with``
    without an error asserts that every stubbed answer was asked for."""

    def __init__(self) -> None:
        super().__init__(SERVICES)
        self.sent: dict[str, list[dict]] = {}
        for client in self.clients.values():
            client.meta.events.register("provide-client-params.*.*", self._record)

    def _record(self, params, model, **_):
        self.sent.setdefault(model.name, []).append(dict(params))

    def __exit__(self, *exc) -> None:
        super().__exit__(*exc)
        if exc[0] is None:
            for stub in self.stubs.values():
                stub.assert_no_pending_responses()


@pytest.fixture
def deployed(monkeypatch):
    monkeypatch.setattr(command, "deployed_stack", lambda session, name, required: (OUTPUTS, TAGS))


def practice(session, tmp_path, clock=None, **flags):
    lines: list[str] = []
    clock = clock or FakeClock()
    flags.setdefault("yes", True)
    run = command.ModelDevelopmentPractice(session, out=lines.append, clock=clock, sleep=clock.sleep, poll_seconds=5,
                                           output_dir=tmp_path, now=lambda: WHEN, **flags)
    return run, lines


def body(data: dict | bytes) -> StreamingBody:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def training(name: str, status: str = "Completed", metrics: dict | None = None, **extra) -> dict:
    return {"TrainingJobName": name, "TrainingJobArn": arn(f"training-job/{name}"), "TrainingJobStatus": status,
            "SecondaryStatus": "Completed" if status == "Completed" else "Training", "CreationTime": WHEN,
            "ModelArtifacts": {"S3ModelArtifacts": f"s3://{OUTPUTS[lab.BUCKET]}/runs/{RUN}/x/{name}/model.tar.gz"},
            "StoppingCondition": {"MaxRuntimeInSeconds": 900},
            "AlgorithmSpecification": {"TrainingImage": requests.xgboost_image(REGION), "TrainingInputMode": "File"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
            "EnableManagedSpotTraining": True, "HyperParameters": {"eta": "0.3"},
            "FinalMetricDataList": [{"MetricName": k, "Value": v} for k, v in (metrics or {}).items()],
            "BillableTimeInSeconds": 60, "TrainingTimeInSeconds": 150, **extra}


def tuning_summary(name: str, status: str = "Completed", strategy: str = "Bayesian") -> dict:
    return {"HyperParameterTuningJobName": name,
            "HyperParameterTuningJobArn": arn(f"hyper-parameter-tuning-job/{name}"),
            "HyperParameterTuningJobStatus": status, "Strategy": strategy, "CreationTime": WHEN,
            "TrainingJobStatusCounters": {}, "ObjectiveStatusCounters": {}}


def tuning_described(name: str, best: str | None = None, *, ranges=None, inputs=None) -> dict:
    plan = requests.Plan(OUTPUTS, REGION, RUN)
    request = requests.tuning_job(plan, "bayesian")
    definition = request["TrainingJobDefinition"]
    if inputs is not None:
        definition = {**definition, "InputDataConfig": inputs}
    config = {**request["HyperParameterTuningJobConfig"]}
    if ranges is not None:
        config["ParameterRanges"] = ranges
    found = {"HyperParameterTuningJobName": name,
             "HyperParameterTuningJobArn": arn(f"hyper-parameter-tuning-job/{name}"),
             "HyperParameterTuningJobConfig": config, "TrainingJobDefinition": definition,
             "HyperParameterTuningJobStatus": "Completed", "CreationTime": WHEN,
             "TrainingJobStatusCounters": {"Completed": 5, "Stopped": 1}, "ObjectiveStatusCounters": {"Succeeded": 6}}
    if best:
        found["BestTrainingJob"] = {"TrainingJobName": best, "TrainingJobArn": arn(f"training-job/{best}"),
                                    "CreationTime": WHEN, "TrainingJobStatus": "Completed",
                                    "TunedHyperParameters": {"eta": "0.2"},
                                    "FinalHyperParameterTuningJobObjectiveMetric": {"MetricName": "validation:auc",
                                                                                    "Value": 0.84}}
    return found


# -- the dry run -------------------------------------------------------------------------------

def dry_run_lines(**flags) -> tuple[list[str], object]:
    session = offline_session(REGION)
    lines: list[str] = []
    command.ModelDevelopmentPractice(session, dry_run=True, out=lines.append, **flags).run()
    return lines, session


def test_every_dry_run_request_is_valid_and_nothing_is_sent():
    lines, session = dry_run_lines()
    found = printed_calls(lines)
    assert session.blocked_attempts == []
    for request in found:
        operation = CORE.get_service_model(request.service).operation_model(request.operation)
        validate_parameters(request.params, operation.input_shape)
    operations = {(r.service, r.operation) for r in found}
    assert {("sagemaker", "CreateHyperParameterTuningJob"), ("sagemaker", "CreateProcessingJob"),
            ("comprehend", "BatchDetectSentiment"), ("bedrock-runtime", "Converse"),
            ("logs", "FilterLogEvents")} <= operations
    assert [step for step, _ in announced_steps(lines)] == list(lab.STEPS)


def test_the_jobs_train_on_spot_with_the_lab_key_tags_and_no_debugger():
    found = printed_calls(dry_run_lines()[0])
    creates = [r.params for r in found if r.operation in {"CreateTrainingJob", "CreateHyperParameterTuningJob",
                                                          "CreateProcessingJob", "CreateModel"}]
    assert len(creates) == 8  # BlazingText, baseline, tuning, model, Clarify, script, overfit, regular
    for request in creates:
        assert {"Key": "lab", "Value": lab.LAB} in request["Tags"]
        for key in ("DebugHookConfig", "DebugRuleConfigurations", "ProfilerConfig", "ProfilerRuleConfigurations"):
            assert key not in request and key not in request.get("TrainingJobDefinition", {})
    jobs = [r.params for r in found if r.operation == "CreateTrainingJob"]
    tuning = next(r.params for r in found if r.operation == "CreateHyperParameterTuningJob")
    jobs.append(tuning["TrainingJobDefinition"])
    for job in jobs:
        assert job["EnableManagedSpotTraining"] and job["StoppingCondition"]["MaxWaitTimeInSeconds"] >= \
            job["StoppingCondition"]["MaxRuntimeInSeconds"]
        key = command.PLACEHOLDERS[lab.KEY]
        assert job["ResourceConfig"]["VolumeKmsKeyId"] == job["OutputDataConfig"]["KmsKeyId"] == key
        assert job["EnableNetworkIsolation"]


def test_the_tuning_request_is_the_issues_budget():
    tuning = next(r.params for r in printed_calls(dry_run_lines(tuning_strategy="random")[0])
                  if r.operation == "CreateHyperParameterTuningJob")
    config = tuning["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Random" and config["TrainingJobEarlyStoppingType"] == "Auto"
    limits = config["ResourceLimits"]
    assert (limits["MaxNumberOfTrainingJobs"], limits["MaxParallelTrainingJobs"]) == (6, 2)
    assert tuning["WarmStartConfig"]["WarmStartType"] == "IdenticalDataAndAlgorithm"
    assert len(tuning["HyperParameterTuningJobName"]) <= 32


def test_clarify_runs_its_container_as_documented_and_the_script_isolated():
    processing = [r.params for r in printed_calls(dry_run_lines()[0]) if r.operation == "CreateProcessingJob"]
    clarify, script = processing
    assert clarify["AppSpecification"] == {"ImageUri": requests.clarify_image(REGION)}  # no entrypoint: unsupported
    assert [i["InputName"] for i in clarify["ProcessingInputs"]] == ["analysis_config", "dataset"]
    assert clarify["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["LocalPath"] == "/opt/ml/processing/output"
    assert not clarify["NetworkConfig"]["EnableNetworkIsolation"] and script["NetworkConfig"]["EnableNetworkIsolation"]
    entrypoint = ["python3", "/opt/ml/processing/input/code/bias_report.py"]
    assert script["AppSpecification"]["ContainerEntrypoint"] == entrypoint


def test_on_demand_training_sends_no_max_wait():
    jobs = [r.params for r in printed_calls(dry_run_lines(on_demand=True, step="diagnose")[0])
            if r.operation == "CreateTrainingJob"]
    assert jobs and all(not j["EnableManagedSpotTraining"] and "MaxWaitTimeInSeconds" not in j["StoppingCondition"]
                        for j in jobs)


@pytest.mark.parametrize("flags,message", [
    ({"step": "train"}, "step 'train': use one of approach, tune, bias, diagnose or all"),
    ({"items": 100}, "--items 100: use 30 to 600, a multiple of 3"),
    ({"tuning_strategy": "grid"}, "--tuning-strategy 'grid': use bayesian or random"),
    ({"bias_engine": "shap"}, "--bias-engine 'shap'"),
    ({"runs": "overfit,overfit"}, "--runs 'overfit,overfit'"),
    ({"bedrock_model": "us.amazon.nova-micro-v1:0"}, "is not a Bedrock model id"),
    ({"training_instance_type": "m5.large"}, "is not a SageMaker instance type"),
    ({"seed": -1}, "--seed -1"),
])
def test_a_bad_flag_is_one_line_before_anything_is_sent(flags, message):
    with pytest.raises(LabError) as raised:
        command.ModelDevelopmentPractice(offline_session(REGION), **flags)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_without_a_terminal_the_estimate_needs_yes(deployed, tmp_path):
    session = Session()
    run, lines = practice(session, tmp_path, yes=False, ask=None, step="tune")
    with session, pytest.raises(LabError, match="rerun with --yes"):
        run.run()
    assert any(line.startswith("  tune      ~$0.01: 1 baseline + 6 tuning jobs") for line in lines)
    assert session.sent == {}
    declined, lines = practice(session, tmp_path, yes=False, ask=lambda question: False, step="diagnose")
    with session:
        assert declined.run() is None
    assert lines[-1] == "nothing started"


# -- approach ----------------------------------------------------------------------------------------

def converse_answer(text: str) -> dict:
    return {"output": {"message": {"role": "assistant", "content": [{"text": text}]}}, "stopReason": "end_turn",
            "usage": {"inputTokens": 110, "outputTokens": 2, "totalTokens": 112}, "metrics": {"latencyMs": 300}}


def approach_stubs(stubs, *, bedrock_error: tuple[str, str] | None = None):
    texts = text_set(facts.DEFAULT_SEED, 30).heldout
    for _ in range(2):
        stubs["s3"].add_response("put_object", {})
    bt = f"mlref-md-bt-{RUN}"
    stubs["sagemaker"].add_response("create_training_job", {"TrainingJobArn": arn(f"training-job/{bt}")})
    # Comprehend gets all but the first two right; the first answer is MIXED
    answers = ["MIXED", "NEGATIVE" if texts[1][1] != "negative" else "POSITIVE"] + [t[1].upper() for t in texts[2:]]
    for start in (0, 25):
        stubs["comprehend"].add_response("batch_detect_sentiment", {"ResultList": [
            {"Index": i, "Sentiment": answers[start + i]} for i in range(len(texts[start:start + 25]))],
            "ErrorList": []}, {"TextList": [t for t, _ in texts[start:start + 25]], "LanguageCode": "en"})
    if bedrock_error:
        stubs["bedrock-runtime"].add_client_error("converse", *bedrock_error)
    else:
        for i, (_, label) in enumerate(texts):  # Bedrock misses every tenth, and says it in a sentence
            stubs["bedrock-runtime"].add_response("converse", converse_answer(
                "Neutral." if i % 10 == 0 and label != "neutral" else f"{label.capitalize()}\n"))
    stubs["sagemaker"].add_response("describe_training_job", training(bt, "InProgress"))
    stubs["sagemaker"].add_response("describe_training_job", training(
        bt, metrics={"validation:accuracy": 0.9}, AlgorithmSpecification={
            "TrainingImage": requests.blazingtext_image(REGION), "TrainingInputMode": "File"}))
    stubs["s3"].add_response("put_object", {})  # lineage


def test_approach_compares_three_ways_on_the_same_held_out_texts(deployed, tmp_path):
    session = Session()
    run, lines = practice(session, tmp_path, step="approach", items=30)
    with session as stubs:
        approach_stubs(stubs)
        rows = run.run()["approach"]
    texts = text_set(facts.DEFAULT_SEED, 30).heldout
    bedrock_hits = sum(1 for i, (_, label) in enumerate(texts) if not (i % 10 == 0 and label != "neutral"))
    assert [row.accuracy for row in rows] == pytest.approx([28 / 30, bedrock_hits / 30, 0.9])
    assert rows[0].note == "1 answered MIXED (a miss: no such label here)"
    assert rows[0].cost_per_1000 == "$0.30" and rows[1].cost_per_1000.startswith("$0.00")
    assert rows[2].cost_per_1000.startswith("n/a: serving needs an endpoint")
    assert len(session.sent["Converse"]) == 30 and session.sent["Converse"][0]["modelId"] == facts.BEDROCK_MODEL
    assert lines.index("step approach: MLA-C01 2.1 Choose a modeling approach") < lines.index(
        "one task, three ways: sentiment of 30 held-out reviews")
    assert any(line.startswith("lineage of run 260115093000") for line in lines)


def test_a_model_not_available_says_so_in_its_row_and_the_rest_runs(deployed, tmp_path):
    session = Session()
    run, lines = practice(session, tmp_path, step="approach", items=30)
    with session as stubs:
        approach_stubs(stubs, bedrock_error=("AccessDeniedException",
                                             "You don't have access to the model with the specified model ID."))
        rows = run.run()["approach"]
    assert rows[1].problem == "model access not granted in this account"
    assert rows[0].accuracy is not None and rows[2].accuracy == 0.9
    assert any(line.endswith("unavailable: model access not granted in this account") for line in lines)


# -- tune --------------------------------------------------------------------------------------------

def test_tuning_cold_prints_the_leaderboard_and_default_against_tuned(deployed, tmp_path):
    session = Session()
    run, lines = practice(session, tmp_path, step="tune")
    name, base = f"mlref-md-tune-{RUN}", f"mlref-md-base-{RUN}"
    best = f"{name}-004-abcdef12"
    with session as stubs:
        for _ in range(2):
            stubs["s3"].add_response("put_object", {})
        sm = stubs["sagemaker"]
        sm.add_response("list_hyper_parameter_tuning_jobs", {"HyperParameterTuningJobSummaries": [
            tuning_summary("mlref-md-tune-251231000000", strategy="Random")]})  # another strategy: no parent
        sm.add_response("create_training_job", {"TrainingJobArn": arn(f"training-job/{base}")})
        sm.add_response("describe_training_job", training(base, metrics={"validation:auc": 0.8}))
        sm.add_response("create_hyper_parameter_tuning_job", {"HyperParameterTuningJobArn": arn(name)})
        sm.add_response("describe_hyper_parameter_tuning_job", tuning_described(name, best))
        sm.add_response("list_training_jobs_for_hyper_parameter_tuning_job", {"TrainingJobSummaries": [
            {"TrainingJobName": job, "TrainingJobArn": arn(f"training-job/{job}"), "CreationTime": WHEN,
             "TrainingJobStatus": status, "TunedHyperParameters": {"eta": "0.2", "max_depth": "4"},
             "FinalHyperParameterTuningJobObjectiveMetric": {"MetricName": "validation:auc", "Value": auc}}
            for job, status, auc in ((best, "Completed", 0.84), (f"{name}-002-0000aaaa", "Stopped", 0.79))]},
            tune.leaderboard_request(name))
        sm.add_response("describe_training_job", training(best, metrics={"validation:auc": 0.84}))
        stubs["s3"].add_response("put_object", {})
        result = run.run()["tune"]
    assert "WarmStartConfig" not in session.sent["CreateHyperParameterTuningJob"][0]
    assert result.model_artifact.endswith(f"{best}/model.tar.gz")
    assert (result.default_auc, result.tuned_auc) == (0.8, 0.84)
    assert "cold start: no finished tuning job of the lab with this strategy and hyperparameter set" in lines
    assert any(line.startswith("validation AUC: default 0.8000 -> tuned 0.8400 (+0.0400)") for line in lines)
    assert any("1 stopped early by the tuner" in line for line in lines)
    lineage = json.loads(session.sent["PutObject"][-1]["Body"])
    assert [job["name"] for job in lineage["jobs"]] == [base, best, name]


def test_a_best_job_of_the_parent_tuning_job_is_named_as_the_parents():
    best = {"TrainingJobName": "mlref-md-tune-260101000000-004-ef", "TuningJobName": "mlref-md-tune-260101000000"}
    assert tune.parent_origin_line(best, "mlref-md-tune-260102000000") == (
        "the best job, mlref-md-tune-260101000000-004-ef, is one of the parent tuning job mlref-md-tune-260101000000: "
        "none of this job's runs beat it (with a warm start SageMaker ranks the parents' runs too)")
    assert tune.parent_origin_line(best, "mlref-md-tune-260101000000") is None
    assert tune.parent_origin_line({"TrainingJobName": "x"}, "mlref-md-tune-260101000000") is None


def test_a_tuning_quota_refusal_says_how_many_instances_tuning_runs_at_once():
    session, clock = StubbedSession(["sagemaker"]), FakeClock()
    with session as stubs:
        stubs["sagemaker"].add_client_error("create_hyper_parameter_tuning_job", "ResourceLimitExceeded",
                                            "The account-level service limit 'ml.m5.large for spot training job "
                                            "usage' is 1 Instances")
        jobs = Jobs(session.client("sagemaker"), out=print, clock=clock, sleep=clock.sleep)
        with pytest.raises(LabError) as raised:
            jobs.start("create_hyper_parameter_tuning_job", requests.tuning_job(requests.Plan(OUTPUTS, REGION, RUN),
                                                                                "bayesian"))
    assert f"(a tuning job runs {facts.MAX_PARALLEL_JOBS} training jobs at a time, one instance each); request " \
           "more in Service Quotas" in str(raised.value)


@pytest.mark.parametrize("same_data", [True, False], ids=["identical data", "other data"])
def test_a_rerun_warm_starts_from_the_labs_previous_tuning_job(same_data):
    session = Session()
    plan = requests.Plan(OUTPUTS, REGION, RUN)
    parent = "mlref-md-tune-260101000000"
    other = [requests.channel("train", "s3://elsewhere/train.csv", "text/csv")]
    with session as stubs:
        stubs["sagemaker"].add_response("list_hyper_parameter_tuning_jobs", {"HyperParameterTuningJobSummaries": [
            tuning_summary("mlref-md-tune-260102000000", status="InProgress"), tuning_summary(parent)]},
            tune.list_parents_request())
        stubs["sagemaker"].add_response("describe_hyper_parameter_tuning_job", tuning_described(
            parent, inputs=None if same_data else other), {"HyperParameterTuningJobName": parent})
        found = tune.find_parent(session.client("sagemaker"), plan, "bayesian")
    assert found == (parent, same_data)
    warm = requests.tuning_job(plan, "bayesian", parent=found[0], identical_data=found[1])["WarmStartConfig"]
    assert warm == {"ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": parent}],
                    "WarmStartType": "IdenticalDataAndAlgorithm" if same_data else "TransferLearning"}


def test_a_parent_with_another_hyperparameter_set_is_not_warm_started_from():
    session = Session()
    with session as stubs:
        stubs["sagemaker"].add_response("list_hyper_parameter_tuning_jobs", {"HyperParameterTuningJobSummaries": [
            tuning_summary("mlref-md-tune-260101000000")]})
        stubs["sagemaker"].add_response("describe_hyper_parameter_tuning_job", tuning_described(
            "mlref-md-tune-260101000000", ranges={"IntegerParameterRanges": [
                {"Name": "max_depth", "MinValue": "2", "MaxValue": "8"}]}))
        assert tune.find_parent(session.client("sagemaker"), requests.Plan(OUTPUTS, REGION, RUN), "bayesian") is None


# -- bias --------------------------------------------------------------------------------------------

CLARIFY_REPORT = {
    "pre_training_bias_metrics": {"label": "approved", "label_value_or_threshold": "1", "facets": {"gender": [
        {"value_or_threshold": "1", "metrics": [{"name": "CI", "description": "Class Imbalance (CI)", "value": 0.49},
                                                {"name": "DPL", "description": "...", "value": 0.1194}]}]}},
    "post_training_bias_metrics": {"label": "approved", "label_value_or_threshold": "1", "facets": {"gender": [
        {"value_or_threshold": "1", "metrics": [{"name": "DPPL", "description": "...", "value": 0.21},
                                                {"name": "DI", "description": "...", "value": 0.55},
                                                {"name": "AD", "description": "...", "value": 0.03}]}]}},
    "explanations": {"kernel_shap": {"label0": {"global_shap_values": {
        "credit_score": 0.12, "income": 0.08, "gender": 0.05, "part_time": 0.04, "debt_ratio": 0.09, "age": 0.001},
        "expected_value": 0.37}}},
}


def processing(job: str, image: str) -> dict:
    return {"ProcessingJobName": job, "ProcessingJobArn": arn(f"processing-job/{job}"),
            "ProcessingJobStatus": "Completed", "CreationTime": WHEN, "AppSpecification": {"ImageUri": image},
            "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                                                      "VolumeSizeInGB": 20}}}


def endpoint(name: str, status: str = "InService") -> dict:
    return {"EndpointName": name, "EndpointArn": arn(f"endpoint/{name}"), "EndpointConfigName": name,
            "EndpointStatus": status, "CreationTime": WHEN, "LastModifiedTime": WHEN}


def endpoint_config(name: str, model: str) -> dict:
    return {"EndpointConfigName": name, "EndpointConfigArn": arn(f"endpoint-config/{name}"), "CreationTime": WHEN,
            "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": model}]}


def test_a_shadow_endpoint_clarify_is_already_removing_is_left_to_it():
    """Clarify deletes its shadow endpoint when its job ends: listed while Deleting, its config (or the endpoint
    itself) may be gone by the next call. The cleanup runs in a `finally`, so an error there would hide the
    report and the fallback."""
    sagemaker = StubbedSession(["sagemaker"])
    deleting, vanished, model = "mlref-md-clarify-1700000000-1234", "mlref-md-clarify-1700000000-5678", "m"
    with sagemaker as stubs:
        sm = stubs["sagemaker"]
        sm.add_response("list_endpoints", {"Endpoints": [
            {k: v for k, v in endpoint(name, "Deleting").items() if k != "EndpointConfigName"}
            for name in (deleting, vanished)]}, {"NameContains": lab.SHADOW_ENDPOINT_PREFIX})
        sm.add_response("describe_endpoint", endpoint(deleting, "Deleting"), {"EndpointName": deleting})
        sm.add_client_error("describe_endpoint_config", "ValidationException",
                            f'Could not find endpoint configuration "{deleting}".',
                            expected_params={"EndpointConfigName": deleting})
        sm.add_client_error("describe_endpoint", "ValidationException", f'Could not find endpoint "{vanished}".',
                            expected_params={"EndpointName": vanished})
        clock, lines = FakeClock(), []
        assert bias.remove_shadow_endpoints(sagemaker.client("sagemaker"), model, lines.append, clock=clock,
                                            sleep=clock.sleep, poll_seconds=10) == ([], [])
    assert lines == []


def test_clarify_reports_each_metric_and_its_shadow_endpoint_is_removed(deployed, tmp_path):
    session = Session()
    run, lines = practice(session, tmp_path, step="bias")
    model, parent, best = f"mlref-md-tuned-{RUN}", "mlref-md-tune-260101000000", "mlref-md-tune-260101000000-003-ab"
    ours, theirs = "mlref-md-clarify-1700000000-1234", "mlref-md-clarify-1600000000-9999"
    job = f"mlref-md-bias-clarify-{RUN}"
    with session as stubs:
        sm, s3 = stubs["sagemaker"], stubs["s3"]
        for _ in range(4):  # the three splits and the analysis configuration
            s3.add_response("put_object", {})
        sm.add_response("list_hyper_parameter_tuning_jobs", {"HyperParameterTuningJobSummaries": [
            tuning_summary(parent)]})
        sm.add_response("describe_hyper_parameter_tuning_job", tuning_described(parent, best))
        sm.add_response("describe_training_job", training(best))
        sm.add_response("create_model", {"ModelArn": arn(f"model/{model}")})
        sm.add_response("create_processing_job", {"ProcessingJobArn": arn(f"processing-job/{job}")})
        sm.add_response("describe_processing_job", processing(job, requests.clarify_image(REGION)))
        sm.add_response("list_endpoints", {"Endpoints": [
            {k: v for k, v in endpoint(name).items() if k != "EndpointConfigName"} for name in (ours, theirs)]},
            {"NameContains": lab.SHADOW_ENDPOINT_PREFIX})
        sm.add_response("describe_endpoint", endpoint(ours), {"EndpointName": ours})
        sm.add_response("describe_endpoint_config", endpoint_config(ours, model), {"EndpointConfigName": ours})
        sm.add_response("describe_endpoint", endpoint(ours), {"EndpointName": ours})
        sm.add_response("delete_endpoint", {}, {"EndpointName": ours})
        sm.add_response("delete_endpoint_config", {}, {"EndpointConfigName": ours})
        sm.add_response("describe_endpoint", endpoint(theirs), {"EndpointName": theirs})
        sm.add_response("describe_endpoint_config", endpoint_config(theirs, "mlref-md-tuned-160101000000"),
                        {"EndpointConfigName": theirs})
        sm.add_response("delete_model", {}, {"ModelName": model})
        group = f"/aws/sagemaker/Endpoints/{ours}"
        stubs["logs"].add_response("describe_log_groups", {"logGroups": [
            {"logGroupName": group, "arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:*"}]},
            {"logGroupNamePrefix": f"/aws/sagemaker/Endpoints/{lab.SHADOW_ENDPOINT_PREFIX}"})
        stubs["logs"].add_response("tag_resource", {}, {
            "resourceArn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}", "tags": TAGS})
        s3.add_response("get_object", {"Body": body(CLARIFY_REPORT)}, {
            "Bucket": OUTPUTS[lab.BUCKET], "Key": f"runs/{RUN}/bias/output/analysis.json"})
        s3.add_response("put_object", {})
        result = run.run()["bias"]
    assert result.engine == "clarify" and result.removed == [ours] and not result.fallback
    config = json.loads(session.sent["PutObject"][3]["Body"])
    assert config["predictor"]["model_name"] == model and session.sent["CreateModel"][0]["ExecutionRoleArn"] == \
        OUTPUTS[lab.MODEL_ROLE]
    text = "\n".join(lines)
    for name in ("CI", "DPL", "DPPL", "DI", "AD"):
        assert f"  {name:<5}" in text and facts.BIAS_METRICS[name].title in text
    assert "computed here from the same rows and definitions: CI 0.490, DPL 0.119" in text
    top = lines[lines.index("top features by mean |SHAP| (probability (kernel SHAP)):") + 1:][:5]
    assert [line.split()[1] for line in top] == ["credit_score", "debt_ratio", "income", "gender", "part_time"]


def test_clarify_refused_falls_back_to_the_labs_script_with_one_line_why(deployed, tmp_path):
    """Also: a tuning job of an earlier, destroyed deployment (tuning jobs cannot be deleted) is not used, its
    model being in a bucket that is gone; the baseline job trains one in this deployment's bucket."""
    session = Session()
    run, lines = practice(session, tmp_path, step="bias")
    base, model = f"mlref-md-base-{RUN}", f"mlref-md-tuned-{RUN}"
    old_tuning, old_best = "mlref-md-tune-251101000000", "mlref-md-tune-251101000000-002-cd"
    job = f"mlref-md-bias-script-{RUN}"
    with session as stubs:
        sm, s3 = stubs["sagemaker"], stubs["s3"]
        for _ in range(4):
            s3.add_response("put_object", {})
        sm.add_response("list_hyper_parameter_tuning_jobs", {"HyperParameterTuningJobSummaries": [
            tuning_summary(old_tuning)]})
        sm.add_response("describe_hyper_parameter_tuning_job", tuning_described(old_tuning, old_best))
        sm.add_response("describe_training_job", training(old_best, ModelArtifacts={
            "S3ModelArtifacts": f"s3://mlref-model-development-bucket-destroyed/runs/x/{old_best}/model.tar.gz"}))
        sm.add_response("create_training_job", {"TrainingJobArn": arn(f"training-job/{base}")})
        sm.add_response("describe_training_job", training(base))
        sm.add_response("create_model", {"ModelArn": arn(f"model/{model}")})
        sm.add_client_error("create_processing_job", "ValidationException",
                            "SageMaker Clarify is not available for new customers in this account")
        sm.add_response("list_endpoints", {"Endpoints": []})
        sm.add_response("delete_model", {}, {"ModelName": model})
        stubs["logs"].add_response("describe_log_groups", {"logGroups": []})
        for _ in range(2):  # the configuration again (no predictor) and the script
            s3.add_response("put_object", {})
        sm.add_response("create_processing_job", {"ProcessingJobArn": arn(f"processing-job/{job}")})
        sm.add_response("describe_processing_job", processing(job, requests.xgboost_image(REGION)))
        report = {**CLARIFY_REPORT, "explanations": {"tree_shap": {"label0": {"global_shap_values": {"income": 0.4},
                                                                              "expected_value": -0.5}}}}
        s3.add_response("get_object", {"Body": body(report)})
        s3.add_response("put_object", {})
        result = run.run()["bias"]
    assert result.engine == "script" and result.fallback.startswith("ValidationException: SageMaker Clarify is not")
    assert "model: this deployment has no finished tuning job; the baseline job trains one now" in lines
    assert any(line.startswith("Clarify did not analyse (ValidationException") for line in lines)
    script = session.sent["CreateProcessingJob"][1]
    assert script["ProcessingJobName"] == job and script["ProcessingInputs"][-1]["S3Input"]["S3Uri"].endswith(
        f"{base}/model.tar.gz")
    assert session.sent["PutObject"][5]["Body"] == Path(bias_report.__file__).read_bytes()
    assert "top features by mean |SHAP| (log-odds (exact tree SHAP)):" in lines


def test_clarify_asked_for_on_a_stack_without_it_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setattr(command, "deployed_stack", lambda s, n, r: ({**OUTPUTS, lab.CLARIFY: "off"}, TAGS))
    from labs.practice.model_development.bias import choose_engine

    with pytest.raises(LabError, match="redeploy with -c clarify=on or use --bias-engine script"):
        choose_engine("clarify", False, REGION)
    assert choose_engine("auto", False, REGION) == ("script", "the stack was deployed with -c clarify=off")
    assert choose_engine("auto", True, "il-central-1") == ("script", "Clarify has no container in il-central-1")


# -- diagnose ----------------------------------------------------------------------------------------

def log_events(train, valid):
    return {"events": [{"logStreamName": "x/algo-1", "timestamp": i, "message":
                        f"[{i}]#011train-logloss:{t:.5f}#011validation-logloss:{v:.5f}"}
                       for i, (t, v) in enumerate(zip(train, valid, strict=True))]}


def test_diagnose_judges_the_overfitting_run_and_the_regularized_one_from_their_logs(deployed, tmp_path):
    from tests.unit.test_model_development import CONVERGING, OVERFITTING

    session = Session()
    run, lines = practice(session, tmp_path, step="diagnose")
    names = [f"mlref-md-diag-{r}-{RUN}" for r in ("overfit", "regular")]
    with session as stubs:
        for _ in range(2):
            stubs["s3"].add_response("put_object", {})
        for name in names:
            stubs["sagemaker"].add_response("create_training_job", {"TrainingJobArn": arn(f"training-job/{name}")})
        for name in names:
            stubs["sagemaker"].add_response("describe_training_job", training(name))
        for name, series in zip(names, (OVERFITTING, CONVERGING), strict=True):
            stubs["logs"].add_response("filter_log_events", log_events(*series), {
                "logGroupName": "/aws/sagemaker/TrainingJobs", "logStreamNamePrefix": f"{name}/",
                "filterPattern": '"train-logloss"'})
        stubs["s3"].add_response("put_object", {})
        results = run.run()["diagnose"]
    assert [r.verdict.label for r in results] == [facts.OVERFITS, facts.GOOD_FIT]
    assert all(r.png.is_file() and r.png.parent == tmp_path / RUN for r in results)
    assert facts.DEBUGGER_NOTE in lines and any(line.startswith("  overfit  overfits:") for line in lines)
    assert session.sent["CreateTrainingJob"][0]["HyperParameters"]["max_depth"] == "12"
    assert session.sent["CreateTrainingJob"][1]["HyperParameters"]["early_stopping_rounds"] == "20"


def test_ctrl_c_stops_the_running_job(deployed, tmp_path):
    def interrupt(n):
        raise KeyboardInterrupt

    session = Session()
    run, lines = practice(session, tmp_path, clock=FakeClock(on_sleep=interrupt), step="diagnose", runs="slow")
    name = f"mlref-md-diag-slow-{RUN}"
    with session as stubs:
        for _ in range(2):
            stubs["s3"].add_response("put_object", {})
        stubs["sagemaker"].add_response("create_training_job", {"TrainingJobArn": arn(f"training-job/{name}")})
        stubs["sagemaker"].add_response("describe_training_job", training(name, "InProgress"))
        stubs["sagemaker"].add_response("stop_training_job", {}, {"TrainingJobName": name})
        with pytest.raises(KeyboardInterrupt):
            run.run()
    assert lines[-1] == f"stopped {name} (Ctrl-C)"


def test_a_quota_refusal_is_one_line_with_the_fix(deployed, tmp_path):
    session = Session()
    run, _ = practice(session, tmp_path, step="diagnose", runs="overfit")
    with session as stubs:
        for _ in range(2):
            stubs["s3"].add_response("put_object", {})
        stubs["sagemaker"].add_client_error("create_training_job", "ResourceLimitExceeded",
                                            "The account-level service limit 'ml.m5.large for spot training job usage' "
                                            "is 0 Instances")
        with pytest.raises(LabError, match="request more in Service Quotas") as raised:
            run.run()
    assert "\n" not in str(raised.value)
