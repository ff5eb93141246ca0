"""Practice on the endpoint lab.

Real-time endpoint:

1. ``start baseline`` (with Model Monitor): the baseline job, started at the beginning so that it
   runs meanwhile, and only if no baseline is there.
2. ``invoke variants``: send ``--requests`` synthetic customers (``text/csv``, one per request);
   print predictions, client-side latency (median, p95) and how many each variant answered (the
   response's invoked production variant).
3. ``traffic shift``: shift traffic to 90/10 with UpdateEndpointWeightsAndCapacities, wait until
   the endpoint is InService again, send again and print the new split.
4. ``auto scaling``: with ``--load-minutes M``, a bounded load (capped rate, time and requests)
   while printing variant A's desired and current instance counts and the scaling activities.
   Without: the scaling policy, the last minutes of ``InvocationsPerInstance``, and how to trigger it.
5. ``data capture``: wait (bounded) for the captured files and print one record.
6. ``drift check`` (with Model Monitor): traffic drifted on purpose (monthly spend 2.5 times
   higher, support calls missing in a quarter), a one-off execution now on the last hour of
   capture, and the constraint violations it found.

The original weights are restored at the end. Ctrl-C (or a step that gives up) stops the jobs
it started, deletes the one-off schedule and restores the weights. Serverless endpoint: one step,
``serverless cold start``: a cold request and warm ones, with ``ModelSetupTime`` from CloudWatch.
Each step is announced with the MLA-C01 task statements it exercises (``step_line``).
``--dry-run`` prints every request without calling AWS.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from catalog import endpoint as contract
from jobs.endpoint.model import TRAINING_SEED, drifted_rows, synthetic_rows
from labs.engine.deployed import deployed_stack
from labs.engine.errors import LabError
from labs.practice.common.polling import poll
from labs.practice.common.steps import step_line
from labs.practice.endpoint.monitor import BASELINE_ROWS, MonitorStep, Waits
from labs.practice.endpoint.scaling import Load, metric_request, metric_values, policy_lines
from labs.practice.endpoint.traffic import (
    RUNTIME_CONFIG,
    invoke,
    invoke_request,
    send,
    split,
    summary,
    variant_states,
    weights_line,
    weights_request,
)

BASE_OUTPUTS = (contract.ENDPOINT, contract.ENDPOINT_TYPE, contract.VARIANTS)
REQUIRED_OUTPUTS = BASE_OUTPUTS  # what every variant's practice reads; the rest depends on the variant
JOB_TAG_KEYS = ("lab", "profile", "owner")
SETTLED = {"InService", "Failed", "OutOfService"}


def required_outputs(outputs: dict[str, str]) -> tuple[str, ...]:
    """What the deployed variant must output: its type's, and the monitor's when it has a schedule."""
    options = contract.EndpointOptions(endpoint_type=contract.EndpointType(outputs[contract.ENDPOINT_TYPE]),
                                       monitor=contract.SCHEDULE in outputs)
    return contract.CONTRACT.outputs_for(options)


class EndpointPractice:
    def __init__(self, session: Any, *, dry_run: bool = False, out: Callable[[str], None] = print,
                 requests: int = contract.PRACTICE_REQUESTS, load_minutes: int = 0,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 waits: Waits | None = None, seed: int | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 load_report_seconds: float = 30) -> None:
        if not 1 <= requests <= contract.MAX_REQUESTS:
            raise LabError(f"--requests {requests} is out of range; use 1 to {contract.MAX_REQUESTS} "
                           f"(e.g. --requests {contract.PRACTICE_REQUESTS})")
        if not 0 <= load_minutes <= contract.MAX_LOAD_MINUTES:
            raise LabError(f"--load-minutes {load_minutes} is out of range; use 0 (no load) to "
                           f"{contract.MAX_LOAD_MINUTES} (e.g. --load-minutes 10)")
        self.session, self.dry_run, self.out = session, dry_run, out
        self.requests, self.load_minutes = requests, load_minutes
        self.clock, self.sleep, self.waits, self.now = clock, sleep, waits or Waits(), now
        self.rng = random.Random(seed)
        self.run_id = f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{self.rng.getrandbits(16):04x}"
        self.load_report_seconds = load_report_seconds

    @property
    def region(self) -> str:
        return getattr(self.session, "region_name", None) or "us-east-1"

    def rows(self, count: int) -> list:
        return synthetic_rows(count, seed=self.rng.getrandbits(32))

    # -- the run ------------------------------------------------------------------------------

    @staticmethod
    def dry_run_outputs(region: str) -> dict[str, str]:
        """The stack outputs as the dry run writes them (``labs permissions`` puts the template's in)."""
        from labs.practice.endpoint.dry_run import example_outputs

        return example_outputs(region)

    def run(self) -> dict[str, Any] | None:
        if self.dry_run:
            from labs.practice.endpoint.dry_run import print_dry_run

            print_dry_run(self.out, region=self.region, requests=self.requests, load_minutes=self.load_minutes)
            return None
        outputs, stack_tags = deployed_stack(self.session, contract.CONTRACT.stack_name, BASE_OUTPUTS)
        missing = [o for o in required_outputs(outputs) if o not in outputs]
        if missing:
            raise LabError(f"stack {contract.CONTRACT.stack_name} lacks outputs {', '.join(missing)}: redeploy it with "
                           "`labs deploy endpoint`")
        tags = {k: stack_tags[k] for k in JOB_TAG_KEYS if k in stack_tags}
        self.sagemaker = self.session.client("sagemaker")
        self.runtime = self.session.client("sagemaker-runtime", config=RUNTIME_CONFIG)
        endpoint = outputs[contract.ENDPOINT]
        self.wait_in_service(endpoint)
        if outputs[contract.ENDPOINT_TYPE] == contract.EndpointType.SERVERLESS.value:
            return self.serverless(endpoint)
        return self.realtime(outputs, tags)

    def wait_in_service(self, endpoint: str, weights: dict[str, float] | None = None) -> dict[str, dict[str, Any]]:
        """The variants once the endpoint is InService (and, given ``weights``, serving them)."""
        def settled(state: tuple[str, dict[str, dict[str, Any]]]) -> bool:
            status, variants = state
            applied = weights is None or all(
                abs(variants.get(name, {}).get("CurrentWeight", -1) - weight) < 1e-6
                for name, weight in weights.items())
            return status in SETTLED and (applied or status != "InService")

        status, variants = poll(
            lambda: variant_states(self.sagemaker, endpoint), settled,
            timeout=self.waits.endpoint_seconds, interval=self.waits.poll_seconds, clock=self.clock,
            sleep=self.sleep, on_change=lambda state: self.out(f"endpoint {endpoint}: {state[0]}"),
            describe=lambda last, waited: f"endpoint {endpoint} is still {last[0] if last else 'unknown'} after "
                                          f"{waited / 60:.0f} minutes; see `aws sagemaker describe-endpoint "
                                          f"--endpoint-name {endpoint}`")
        if status != "InService":
            raise LabError(f"endpoint {endpoint} is {status}: see its FailureReason with `aws sagemaker "
                           f"describe-endpoint --endpoint-name {endpoint}`, then `labs deploy endpoint` again")
        return variants

    def realtime(self, outputs: dict[str, str], tags: dict[str, str]) -> dict[str, Any]:
        endpoint = outputs[contract.ENDPOINT]
        report: dict[str, Any] = {}
        s3 = self.session.client("s3")
        monitor = MonitorStep(self.sagemaker, s3, outputs=outputs, tags=tags, region=self.region, run_id=self.run_id,
                              out=self.out, clock=self.clock, sleep=self.sleep, waits=self.waits) \
            if contract.SCHEDULE in outputs else None
        original = {name: v.get("CurrentWeight", contract.WEIGHTS.get(name, 1.0))
                    for name, v in self.wait_in_service(endpoint).items()}
        shifted = False
        try:
            if monitor:
                self.step(contract.STEP_BASELINE)
                monitor.start_baseline(synthetic_rows(BASELINE_ROWS, seed=TRAINING_SEED))
            self.step(contract.STEP_INVOKE)
            started = self.now() - timedelta(seconds=5)
            first = send(self.runtime, endpoint, self.rows(self.requests))
            self.say(summary(f"{self.requests} requests at {weights_line(self.states(endpoint))}", first))
            report["first_split"] = split(first)

            self.step(contract.STEP_SHIFT)
            shifted = True
            self.shift(endpoint, contract.SHIFTED_WEIGHTS)
            second = send(self.runtime, endpoint, self.rows(self.requests))
            self.say(summary("after the shift", second))
            report["second_split"] = split(second)

            self.step(contract.STEP_SCALING)
            report["load"] = self.scaling(outputs)
            self.step(contract.STEP_CAPTURE)
            self.say(monitor.first_record(monitor.wait_for_capture(endpoint, started)) if monitor
                     else self.capture_without_monitor(outputs, endpoint, started))
            if monitor:
                self.step(contract.STEP_DRIFT)
                report["violations"] = self.monitoring(monitor, endpoint)
            return report
        except BaseException as error:  # Ctrl-C, or a step that gave up: stop the jobs this run started
            self.out("interrupted: cleaning up what this run started" if isinstance(error, KeyboardInterrupt)
                     else "stopping what this run started")
            if monitor:
                monitor.stop_started()
            raise
        finally:
            if monitor:
                monitor.delete_schedule()
            if shifted:
                self.restore(endpoint, original)

    def step(self, name: str) -> None:
        self.out(step_line(contract.CONTRACT, name))

    def say(self, lines: list[str]) -> None:
        for line in lines:
            self.out(line)

    def states(self, endpoint: str) -> dict[str, dict[str, Any]]:
        return variant_states(self.sagemaker, endpoint)[1]

    def shift(self, endpoint: str, weights: dict[str, float]) -> None:
        self.sagemaker.update_endpoint_weights_and_capacities(**weights_request(endpoint, weights))
        self.out("shifting traffic to " + ", ".join(f"{v} {w:g}" for v, w in weights.items()))
        self.out(f"  now: {weights_line(self.wait_in_service(endpoint, weights))}")

    def restore(self, endpoint: str, weights: dict[str, float]) -> None:
        """Back to the deployed weights (RetainAllVariantProperties would keep the shifted ones)."""
        try:
            self.sagemaker.update_endpoint_weights_and_capacities(**weights_request(endpoint, weights))
        except Exception as error:  # noqa: BLE001 - cleaning up: say what to do instead
            self.out(f"warning: could not restore the weights ({error}); restore them with "
                     f"`aws sagemaker update-endpoint-weights-and-capacities --endpoint-name {endpoint} ...`")
            return
        self.out("restored the weights: " + ", ".join(f"{v} {w:g}" for v, w in weights.items()))

    def scaling(self, outputs: dict[str, str]) -> Any:
        endpoint, resource_id = outputs[contract.ENDPOINT], outputs[contract.SCALABLE_RESOURCE]
        autoscaling = self.session.client("application-autoscaling")
        self.say(policy_lines(autoscaling, resource_id))
        if not self.load_minutes:
            values = metric_values(self.session.client("cloudwatch"), metric_request(
                endpoint, contract.VARIANT_A, "InvocationsPerInstance", "Sum", end=self.now(), minutes=10))
            shown = ", ".join(f"{stamp:%H:%M} {value:g}" for stamp, value in values[-5:]) or "none yet (metrics lag)"
            self.out(f"  InvocationsPerInstance of {contract.VARIANT_A}, last minutes: {shown}")
            return None
        rows = itertools.cycle(self.rows(500))
        load = Load(self.runtime, self.sagemaker, autoscaling, endpoint=endpoint, variant=contract.VARIANT_A,
                    resource_id=resource_id, rows=rows, seconds=self.load_minutes * 60,
                    report_every=self.load_report_seconds, out=self.out)
        report = load.run()
        self.out(f"load done: {report.answered} answered, {report.errors} not; instances scale back in after about "
                 "15 quiet minutes (they bill until then)")
        return report

    def capture_without_monitor(self, outputs: dict[str, str], endpoint: str, started: datetime) -> list[str]:
        step = MonitorStep(self.sagemaker, self.session.client("s3"), outputs=outputs, tags={}, region=self.region,
                           run_id=self.run_id, out=self.out, clock=self.clock, sleep=self.sleep, waits=self.waits)
        return step.first_record(step.wait_for_capture(endpoint, started))

    def monitoring(self, monitor: MonitorStep, endpoint: str) -> list[str]:
        monitor.wait_baseline()
        drift_started = self.now() - timedelta(seconds=5)
        drifted = send(self.runtime, endpoint, drifted_rows(self.requests * contract.DRIFT_FACTOR,
                                                            seed=self.rng.getrandbits(32)))
        self.say(summary("drifted traffic (monthly_spend x2.5, support_calls missing in a quarter)", drifted))
        monitor.wait_for_capture(endpoint, drift_started)
        lines = monitor.run_once()
        self.say(lines)
        return lines

    # -- serverless ------------------------------------------------------------------------------

    def serverless(self, endpoint: str) -> dict[str, Any]:
        self.step(contract.STEP_SERVERLESS)
        rows = self.rows(self.requests + 1)
        cold = invoke(self.runtime, invoke_request(endpoint, rows[0]))
        self.out(f"first request: {cold.latency_ms:.0f} ms (includes a cold start when the endpoint was idle)")
        warm = send(self.runtime, endpoint, rows[1:])
        self.say(summary(f"{self.requests} warm requests", warm))
        cloudwatch = self.session.client("cloudwatch")
        request = metric_request(endpoint, contract.VARIANT_A, "ModelSetupTime", "Maximum", end=self.now(), minutes=15)
        try:
            values = poll(lambda: metric_values(cloudwatch, dict(request, EndTime=self.now())), bool,
                          timeout=5 * 60, interval=self.waits.poll_seconds, clock=self.clock, sleep=self.sleep)
            setup = f"{max(v for _, v in values) / 1000:.0f} ms"  # microseconds
        except LabError:
            setup = "not published yet (no cold start in the last 15 minutes, or CloudWatch lags): rerun in a minute"
        self.out(f"ModelSetupTime (the cold start, from CloudWatch): {setup}")
        return {"cold_ms": cold.latency_ms, "warm": warm}
