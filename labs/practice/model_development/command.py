"""Practice on the model-development lab: four steps, each runnable alone (``labs practice model-development
tune``), or all in order.

1. approach: the same text task through Amazon Comprehend, a Bedrock model and SageMaker BlazingText.
2. tune: a baseline XGBoost job, then automatic model tuning (Bayesian or random), warm started on re-runs.
3. bias: Clarify's (or the lab's script's) pre- and post-training bias metrics and SHAP of the tuned model.
4. diagnose: an overfitting run beside a regularized one, judged from their learning curves.

The data is generated here (catalog/model_development_facts.py) and uploaded under ``data/``. Before
anything bills, the estimate of the chosen steps is printed and confirmed (``--yes`` skips the question).
Every job is tagged with the stack's lab tags, so the janitor can find what a run leaves; the run's
lineage (each job's image, instance, hyperparameters, inputs and final metrics) is printed at the end and
stored under ``lineage/``. ``--dry-run`` prints every request with placeholders, offline.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from catalog import model_development as lab
from catalog import model_development_facts as facts
from catalog.prices import usd as dollars
from catalog.sagemaker import INSTANCE_TYPE
from labs.engine.deployed import deployed_stack
from labs.engine.errors import LabError
from labs.engine.session import patient
from labs.practice.common.dry_run import example_role_arn, show_request, show_stack_outputs
from labs.practice.common.steps import step_line
from labs.practice.model_development import approach, bias, diagnose, requests, tune
from labs.practice.model_development.data import TabularSet, TextSet, tabular_set, text_set
from labs.practice.model_development.jobs import Jobs, Lineage
from lambdas.shared.lab_names import LAB_TAG, OWNER_TAG, PROFILE_TAG

REQUIRED_OUTPUTS = tuple(output for output in lab.OUTPUTS if output.when is None)
PLACEHOLDERS = {
    lab.BUCKET: "mlref-model-development-labbucket-placeholder",
    lab.KEY: "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000",
    lab.TRAINING_ROLE: example_role_arn(lab.TRAINING_ROLE), lab.PROCESSING_ROLE: example_role_arn(lab.PROCESSING_ROLE),
    lab.MODEL_ROLE: example_role_arn(lab.MODEL_ROLE), lab.CLARIFY: "on",
}
EXAMPLE_TAGS = {LAB_TAG: lab.LAB, PROFILE_TAG: "sandbox", OWNER_TAG: "<owner>"}
DEFAULT_OUTPUT_DIR = Path("lab-output") / lab.LAB


class ModelDevelopmentPractice:
    def __init__(self, session: Any, *, dry_run: bool = False, out: Callable[[str], None] = print, step: str = "all",
                 items: int = facts.DEFAULT_ITEMS, tuning_strategy: str = "bayesian", warm_start: bool = True,
                 bias_engine: str = "auto", runs: str = ",".join(facts.DEFAULT_RUNS),
                 bedrock_model: str = facts.BEDROCK_MODEL, training_instance_type: str = lab.DEFAULT_INSTANCE_TYPE,
                 on_demand: bool = False, seed: int = facts.DEFAULT_SEED, yes: bool = False,
                 ask: Callable[[str], bool] | None = None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, poll_seconds: float = 30,
                 output_dir: Path = DEFAULT_OUTPUT_DIR, now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 ) -> None:
        self.steps = self.parse_steps(step)
        if not (facts.MIN_ITEMS <= items <= facts.MAX_ITEMS and items % len(facts.CLASSES) == 0):
            raise LabError(f"--items {items}: use {facts.MIN_ITEMS} to {facts.MAX_ITEMS}, a multiple of 3 (a third per "
                           f"class), e.g. --items {facts.DEFAULT_ITEMS}")
        if tuning_strategy not in facts.STRATEGIES:
            raise LabError(f"--tuning-strategy {tuning_strategy!r}: use {' or '.join(facts.STRATEGIES)}")
        if bias_engine not in bias.ENGINES:
            raise LabError(f"--bias-engine {bias_engine!r}: use one of {', '.join(bias.ENGINES)}")
        self.runs = self.parse_runs(runs)
        if not re.fullmatch(facts.BEDROCK_MODEL_PATTERN, bedrock_model):
            raise LabError(f"--bedrock-model {bedrock_model!r} is not a Bedrock model id; give the id itself, without "
                           f"a us./eu. profile prefix or an ARN (e.g. {facts.BEDROCK_MODEL})")
        if not INSTANCE_TYPE.fullmatch(training_instance_type):
            raise LabError(f"--training-instance-type {training_instance_type!r} is not a SageMaker instance type "
                           f"(e.g. {lab.DEFAULT_INSTANCE_TYPE})")
        if not 0 <= seed < 2**31:
            raise LabError(f"--seed {seed}: use 0 to {2**31 - 1}")
        self.session, self.dry_run, self.out = session, dry_run, out
        self.items, self.strategy, self.warm_start, self.bias_engine = items, tuning_strategy, warm_start, bias_engine
        self.bedrock_model, self.instance_type, self.spot = bedrock_model, training_instance_type, not on_demand
        self.seed = seed
        self.yes, self.ask, self.clock, self.sleep, self.poll_seconds = yes, ask, clock, sleep, poll_seconds
        self.output_dir, self.now = output_dir, now

    @staticmethod
    def parse_steps(step: str) -> tuple[str, ...]:
        if step == "all":
            return lab.STEPS
        if step not in lab.STEPS:
            raise LabError(f"step {step!r}: use one of {', '.join(lab.STEPS)} or all (labs practice model-development "
                           "tune)")
        return (step,)

    @staticmethod
    def parse_runs(text: str) -> tuple[str, ...]:
        given = [run.strip() for run in text.split(",") if run.strip()]
        unknown = [run for run in given if run not in facts.DIAGNOSE_RUNS]
        if unknown or not given or len(set(given)) != len(given):
            raise LabError(f"--runs {text!r}: a comma-separated choice of {', '.join(facts.DIAGNOSE_RUNS)}, each once "
                           f"(e.g. --runs overfit,regular,slow)")
        return tuple(given)

    @property
    def region(self) -> str:
        return getattr(self.session, "region_name", None) or "us-east-1"

    # -- the estimate -------------------------------------------------------------------------------

    def estimate(self, clarify: bool, prefix: str = "") -> float | None:
        total: float | None = 0.0
        kind = "managed spot at the typical 70% saving" if self.spot else "on demand"
        self.out(f"{prefix}estimated cost (pricing/prices.toml; {kind}):")
        for step in self.steps:
            usd, made_of = lab.step_cost(step, spot=self.spot, instance_type=self.instance_type, items=self.items,
                                         clarify=clarify and self.bias_engine != "script", runs=len(self.runs))
            self.out(f"{prefix}  {step:<9} " + ("no price in the table" if usd is None else f"~{dollars(usd)}")
                     + f": {made_of}")
            total = None if usd is None or total is None else total + usd
        self.out(f"{prefix}  total: " + ("unknown" if total is None else f"~{dollars(total)}"))
        return total

    def confirmed(self, clarify: bool) -> bool:
        self.estimate(clarify)
        if self.yes:
            return True
        if self.ask is None:
            raise LabError("cannot ask before starting billable jobs (no terminal): rerun with --yes to accept the "
                           "estimate above")
        return self.ask(f"start {', '.join(self.steps)}?")

    # -- the dry run --------------------------------------------------------------------------------

    @staticmethod
    def dry_run_outputs(_region: str) -> dict[str, str]:
        """The stack outputs as the dry run writes them (``labs permissions`` puts the template's in)."""
        return dict(PLACEHOLDERS)

    def print_dry_run(self) -> list[tuple[str, str, dict[str, Any], str]]:
        plan = self.plan(PLACEHOLDERS, "260101120000", EXAMPLE_TAGS)
        data, texts = tabular_set(self.seed), text_set(self.seed, self.items)
        show_stack_outputs(self.out, lab.STACK_NAME)
        self.estimate(clarify=True, prefix="# ")
        printed = []
        for step in self.steps:
            self.out(step_line(lab.CONTRACT, step))
            for service, operation, request, title in self.step_requests(step, plan, data, texts):
                show_request(self.out, service, operation, request, title)
                printed.append((service, operation, request, title))
            if step == "bias":
                config = requests.analysis_config(data.baseline(), model_name=plan.name("tuned"), seed=plan.seed)
                self.out("# analysis_config.json (both engines read it; the script's has no predictor):")
                self.out("\n".join(f"#   {line}" for line in json.dumps(config, indent=1).splitlines()))
        lineage = requests.upload(plan, lab.lineage_key(plan.run), b"")
        show_request(self.out, "s3", "PutObject", {k: v for k, v in lineage.items() if k != "Body"},
                     "the run's lineage, at the end")
        self.out(f"# placeholders: the {lab.STACK_NAME} stack's outputs (bucket, key, role ARNs) and tags; the run id "
                 "is the start time (yymmddHHMMSS)")
        return printed

    def step_requests(self, step: str, plan: requests.Plan, data: TabularSet,
                      texts: TextSet) -> list[tuple[str, str, dict[str, Any], str]]:
        if step == "approach":
            found = [("s3", "PutObject", self.shown(requests.upload(
                          plan, requests.text_key(plan.seed, self.items, f"bt_{name}.txt"), TextSet.blazingtext(part))),
                      f"{len(part)} labelled texts for BlazingText's {name} channel")
                     for name, part in (("train", texts.train), ("validation", texts.heldout))]
            bt = requests.blazingtext_job(plan, self.items)
            found += [("sagemaker", "CreateTrainingJob", bt, "BlazingText, supervised; validation: the held-out texts"),
                      ("sagemaker", "DescribeTrainingJob", {"TrainingJobName": bt["TrainingJobName"]},
                       "until it has finished; its validation:accuracy"),
                      ("sagemaker", "StopTrainingJob", {"TrainingJobName": bt["TrainingJobName"]}, "only on Ctrl-C"),
                      ("comprehend", "BatchDetectSentiment",
                       requests.comprehend_request([text for text, _ in texts.heldout[:facts.COMPREHEND_BATCH]]),
                       f"the held-out texts, {facts.COMPREHEND_BATCH} per request"),
                      ("bedrock-runtime", "Converse", requests.converse_request(
                          requests.bedrock_model_id(self.bedrock_model, plan.region), texts.heldout[0][0]),
                       f"each of the {self.items} held-out texts")]
            return found
        uploads = [("s3", "PutObject", self.shown(requests.upload(plan, requests.tabular_key(plan.seed, split),
                                                                  data.csv_bytes(split))),
                    f"the {split} split ({len(data.splits[split])} rows, label first, no header)")
                   for split in ("train", "validation", "test")]
        if step == "tune":
            return uploads[:2] + tune.dry_run(plan, self.strategy, self.warm_start)
        if step == "bias":
            return uploads[2:] + bias.dry_run(plan, "script" if self.bias_engine == "script" else "clarify", data)
        return uploads[:2] + diagnose.dry_run(plan, self.runs)

    @staticmethod
    def shown(request: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in request.items() if k != "Body"}

    def plan(self, outputs: dict[str, str], run: str, tags: dict[str, str]) -> requests.Plan:
        return requests.Plan(outputs=outputs, region=self.region, run=run, seed=self.seed,
                             instance_type=self.instance_type, spot=self.spot, tags=tags)

    # -- a run --------------------------------------------------------------------------------------

    def run(self) -> dict[str, Any] | None:
        if self.dry_run:
            self.print_dry_run()
            return None
        if getattr(self.session, "region_name", None) is None:
            raise LabError("no AWS region set: pass --region or set AWS_DEFAULT_REGION (or `aws configure`)")
        outputs, stack_tags = deployed_stack(self.session, lab.STACK_NAME, REQUIRED_OUTPUTS)
        if not self.confirmed(outputs.get(lab.CLARIFY) == "on"):
            self.out("nothing started")
            return None
        tags = {key: stack_tags[key] for key in (LAB_TAG, PROFILE_TAG, OWNER_TAG) if key in stack_tags}
        plan = self.plan(outputs, lab.run_id(self.now()), tags)
        s3 = self.session.client("s3", config=patient())
        jobs = Jobs(self.session.client("sagemaker"), self.out, self.poll_seconds, self.clock, self.sleep)
        lineage = Lineage(plan.run, plan.seed)
        results: dict[str, Any] = {}
        try:
            for step in self.steps:
                self.out(step_line(lab.CONTRACT, step))
                results[step] = getattr(self, f"run_{step}")(plan, s3, jobs, lineage, results)
        finally:
            if lineage.jobs:
                s3.put_object(**requests.upload(plan, lab.lineage_key(plan.run),
                                                json.dumps(lineage.document(), indent=1, default=str).encode()))
                for line in lineage.lines():
                    self.out(line)
        return results

    def upload_tabular(self, plan: requests.Plan, s3: Any, splits: tuple[str, ...]) -> TabularSet:
        data = tabular_set(plan.seed)
        for split in splits:
            s3.put_object(**requests.upload(plan, requests.tabular_key(plan.seed, split), data.csv_bytes(split)))
        injected = data.injected
        self.out(f"data: {facts.ROWS} generated loan rows (seed {plan.seed}) under "
                 f"{plan.uri(lab.data_prefix('tabular', plan.seed))}; injected CI {injected['CI']:.2f}, "
                 f"DPL {injected['DPL']:.3f}")
        return data

    def run_approach(self, plan: requests.Plan, s3: Any, jobs: Jobs, lineage: Lineage, _results: dict) -> list:
        texts = text_set(plan.seed, self.items)
        for name, part in (("train", texts.train), ("validation", texts.heldout)):
            s3.put_object(**requests.upload(plan, requests.text_key(plan.seed, self.items, f"bt_{name}.txt"),
                                            TextSet.blazingtext(part)))
        request = requests.blazingtext_job(plan, self.items)
        started = self.clock()
        jobs.start("create_training_job", request)
        self.out(f"started BlazingText job {request['TrainingJobName']}; Comprehend and Bedrock run meanwhile")
        rows = [approach.run_comprehend(self.session.client("comprehend"), plan.region, texts.heldout, self.clock),
                approach.run_bedrock(self.session.client("bedrock-runtime"), self.bedrock_model, plan.region,
                                     texts.heldout, self.clock, self.sleep)]
        found = jobs.wait("training", request["TrainingJobName"], timeout=lab.MAX_WAIT_SECONDS + 600)
        lineage.training("approach", found)
        problem = "" if found["TrainingJobStatus"] == "Completed" else \
            f"its job ended {found['TrainingJobStatus']}: {found.get('FailureReason', 'no reason given')[:150]}"
        rows.append(approach.blazingtext_row(None if problem else found, self.clock() - started, problem))
        self.out(f"one task, three ways: sentiment of {self.items} held-out reviews")
        for line in approach.table(rows, self.items):
            self.out(line)
        return rows

    def run_tune(self, plan: requests.Plan, s3: Any, jobs: Jobs, lineage: Lineage, _results: dict) -> tune.TuneResult:
        self.upload_tabular(plan, s3, ("train", "validation"))
        return tune.run_tune(plan, strategy=self.strategy, warm_start=self.warm_start, jobs=jobs, lineage=lineage,
                             out=self.out)

    def run_bias(self, plan: requests.Plan, s3: Any, jobs: Jobs, lineage: Lineage, results: dict) -> bias.BiasResult:
        data = self.upload_tabular(plan, s3, ("train", "validation", "test"))
        if "tune" in results:
            artifact = results["tune"].model_artifact
        elif (latest := tune.latest_tuned_model(jobs.sagemaker, plan.bucket)) is not None:
            self.out(f"model: {latest[0]}, the best job of the lab's newest tuning job")
            artifact = latest[1]
        else:
            self.out("model: this deployment has no finished tuning job; the baseline job trains one now")
            found = jobs.train(requests.baseline_job(plan))
            lineage.training("bias", found)
            artifact = found["ModelArtifacts"]["S3ModelArtifacts"]
        step = bias.BiasStep(plan, jobs=jobs, s3=s3, logs=self.session.client("logs"), lineage=lineage, out=self.out)
        return step.run(self.bias_engine, artifact, data)

    def run_diagnose(self, plan: requests.Plan, s3: Any, jobs: Jobs, lineage: Lineage, _results: dict) -> list:
        self.upload_tabular(plan, s3, ("train", "validation"))
        return diagnose.run_diagnose(plan, self.runs, jobs=jobs, logs=self.session.client("logs"), lineage=lineage,
                                     out=self.out, output_dir=self.output_dir / plan.run)
