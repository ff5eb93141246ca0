"""Practice on the inference lab: ``labs practice inference [table|rollout|shadow]``.

- ``table`` (the default): the same ``--records`` through each way (``--ways`` picks them) and one
  table of what each costs in latency, throughput and money, then which way to pick for which
  traffic (labs/practice/inference/{ways,table}.py).
- ``rollout``: version 2 blue/green (``--strategy`` canary, linear or all-at-once), ``--break`` for a
  version that fails and the alarm that rolls it back, ``--restore`` to put version 1 back
  (labs/practice/inference/rollout.py).
- ``shadow``: model B shadowing model A, compared from CloudWatch (labs/practice/inference/shadow.py).

Each step prints what it will cost and asks first (``--yes`` does not ask; without a terminal it
must be given). Ctrl-C stops the transform job it started; an endpoint update cannot be stopped,
and the message says how to restore. ``--dry-run`` prints every request of every step.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from catalog import inference as contract
from catalog.endpoint import hosting_price_key
from catalog.inference import CONTRACT, InferenceOptions, step_cost
from catalog.prices import price, usd
from jobs.endpoint.model import synthetic_rows
from labs.engine.deployed import deployed_stack
from labs.engine.errors import LabError
from labs.practice.common.steps import step_line
from labs.practice.endpoint.traffic import RUNTIME_CONFIG
from labs.practice.inference.rollout import RolloutStep
from labs.practice.inference.shadow import ShadowStep
from labs.practice.inference.table import recommend, table
from labs.practice.inference.ways import Waits, Ways
from lambdas.shared.lab_names import LAB_TAG, OWNER_TAG, PROFILE_TAG
from lambdas.shared.rollout import STRATEGIES

# Every output the practice reads (the stack emits them all in every variant).
REQUIRED_OUTPUTS = contract.OUTPUTS
JOB_TAG_KEYS = (LAB_TAG, PROFILE_TAG, OWNER_TAG)


def parse_ways(text: str | None) -> tuple[str, ...]:
    """``realtime,batch`` -> the ways in table order; None or empty: all four."""
    if text is None or not text.strip():
        return contract.WAYS
    given = [w.strip().lower() for w in text.split(",") if w.strip()]
    unknown = [w for w in given if w not in contract.WAYS]
    if unknown or not given:
        raise LabError(f"--ways {text!r}: {', '.join(unknown) or 'nothing'} is not a way; use a comma-separated "
                       f"choice of {', '.join(contract.WAYS)} (e.g. --ways realtime,serverless)")
    return tuple(w for w in contract.WAYS if w in given)


def _in_range(flag: str, value: int, low: int, high: int, example: int) -> None:
    if not low <= value <= high:
        raise LabError(f"{flag} {value} is out of range; use {low} to {high} (e.g. {flag} {example})")


def options_of(outputs: dict[str, str]) -> InferenceOptions:
    """The deployed variant's options, from its outputs (the practice prices from them, never from context)."""
    return InferenceOptions(
        instance_type=outputs[contract.INSTANCE_TYPE_OUTPUT],
        realtime_instances=int(outputs[contract.REALTIME_INSTANCES]),
        serverless_memory_mb=int(outputs[contract.SERVERLESS_MEMORY]),
        serverless_max_concurrency=int(outputs[contract.SERVERLESS_CONCURRENCY]),
        serverless_provisioned=int(outputs[contract.SERVERLESS_PROVISIONED]))


class InferencePractice:
    def __init__(self, session: Any, *, dry_run: bool = False, out: Callable[[str], None] = print,
                 step: str | None = None, ways: str | None = None, records: int = contract.PRACTICE_RECORDS,
                 concurrency: int = contract.PRACTICE_CONCURRENCY, strategy: str = "canary", broken: bool = False,
                 bake_seconds: int = contract.DEFAULT_BAKE_SECONDS, restore: bool = False, yes: bool = False,
                 ask: Callable[[str], bool] | None = None, seed: int | None = None, waits: Waits | None = None,
                 clock: Callable[[], float] = time.perf_counter,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 sleep: Callable[[float], None] = time.sleep, traffic_per_poll: int = 10) -> None:
        self.step = step or "table"
        if self.step not in contract.STEPS:
            raise LabError(f"step {self.step!r} is not one of {', '.join(contract.STEPS)}")
        if strategy not in STRATEGIES:
            raise LabError(f"--strategy {strategy!r} is not one of {', '.join(STRATEGIES)}")
        _in_range("--records", records, 1, contract.MAX_RECORDS, contract.PRACTICE_RECORDS)
        _in_range("--concurrency", concurrency, 1, contract.MAX_CONCURRENCY, contract.PRACTICE_CONCURRENCY)
        _in_range("--bake-seconds", bake_seconds, *contract.BAKE_RANGE, contract.DEFAULT_BAKE_SECONDS)
        if (broken or restore) and self.step != "rollout":
            raise LabError("--break and --restore belong to the rollout step: `labs practice inference rollout "
                           "--break`")
        self.ways = parse_ways(ways)
        self.session, self.dry_run, self.out = session, dry_run, out
        self.records, self.concurrency, self.strategy, self.broken = records, concurrency, strategy, broken
        self.bake_seconds, self.restore, self.yes, self.ask = bake_seconds, restore, yes, ask
        self.waits, self.clock, self.now, self.sleep = waits or Waits(), clock, now, sleep
        self.traffic_per_poll = traffic_per_poll
        self.rng = random.Random(seed)
        self.run_id = f"{self.now():%Y%m%d-%H%M%S}-{self.rng.getrandbits(16):04x}"

    @property
    def region(self) -> str:
        return getattr(self.session, "region_name", None) or "us-east-1"

    @staticmethod
    def dry_run_outputs(region: str) -> dict[str, str]:
        """The stack outputs as the dry run writes them (``labs permissions`` puts the template's in)."""
        from labs.practice.inference.dry_run import example_outputs

        return example_outputs(region)

    def client(self, service: str) -> Any:
        if service == "sagemaker-runtime":
            return self.session.client(service, config=RUNTIME_CONFIG)
        return self.session.client(service)

    def rows(self, count: int) -> list:
        return synthetic_rows(count, seed=self.rng.getrandbits(32))

    def run(self) -> Any:
        if self.dry_run:
            from labs.practice.inference.dry_run import print_dry_run

            print_dry_run(self.out, region=self.region, records=self.records, bake_seconds=self.bake_seconds)
            return None
        outputs, stack_tags = deployed_stack(self.session, CONTRACT.stack_name, REQUIRED_OUTPUTS)
        missing = [o for o in REQUIRED_OUTPUTS if o not in outputs]
        if missing:
            raise LabError(f"stack {CONTRACT.stack_name} lacks outputs {', '.join(missing)}: redeploy it with "
                           "`labs deploy inference`")
        tags = {k: stack_tags[k] for k in JOB_TAG_KEYS if k in stack_tags}
        self.out(step_line(CONTRACT, self.step))
        if not self.confirmed(options_of(outputs)):
            self.out("nothing started")
            return None
        if self.step == "table":
            return self.measure(outputs, tags)
        rollout = RolloutStep(self.client("sagemaker"), self.client("cloudwatch"), self.client("sagemaker-runtime"),
                              outputs, records=itertools.cycle(self.rows(200)), out=self.out,
                              traffic_per_poll=self.traffic_per_poll, poll_seconds=self.waits.poll,
                              clock=self.clock, now=self.now, sleep=self.sleep)
        if self.step == "shadow":
            return ShadowStep(rollout, self.client("cloudwatch"), self.client("sagemaker-runtime"), out=self.out,
                              now=self.now, metrics_seconds=self.waits.metrics).run(self.rows(self.records))
        if self.restore:
            return rollout.restore()
        return rollout.run(strategy=self.strategy, broken=self.broken, bake_seconds=self.bake_seconds)

    def confirmed(self, options: InferenceOptions) -> bool:
        """The step's cost beyond the idle cost, from the price table; then ask (``--yes``: do not)."""
        what = "rollout --restore" if self.restore else self.step
        run = step_cost(options, "rollout" if self.restore else self.step, ways=self.ways, records=self.records)
        parts = "; ".join(f"{label} {'n/a' if value is None else '~' + usd(value)}" for label, value in run.parts)
        total = "unknown (a price is missing from pricing/prices.toml)" if run.total is None else f"~{usd(run.total)}"
        self.out(f"estimated cost of {what} beyond the lab's idle cost: {total} ({parts}; minutes assumed in "
                 "catalog/inference.py)")
        if self.yes:
            return True
        if self.ask is None:
            raise LabError(f"cannot ask before starting billable work (no terminal): rerun with --yes to accept "
                           f"{total}")
        return self.ask(f"start {what} for {total}?")

    def measure(self, outputs: dict[str, str], tags: dict[str, str]) -> list:
        ways = Ways(self.client, outputs, run_id=self.run_id, tags=tags, concurrency=self.concurrency, out=self.out,
                    waits=self.waits, clock=self.clock, now=self.now, sleep=self.sleep)
        measured = {"realtime": ways.realtime, "serverless": ways.serverless, "async": ways.asynchronous,
                    "batch": ways.batch}
        records, rows = self.rows(self.records), []  # the same records through every way
        try:
            for way in self.ways:
                self.out(f"{way}: {self.records} records")
                rows.append(measured[way](records))
        except BaseException as error:  # Ctrl-C, or a wait that gave up: the transform job stops billing
            self.out("interrupted: stopping what this run started" if isinstance(error, KeyboardInterrupt)
                     else "stopping what this run started")
            ways.stop_started()
            raise
        for line in table(rows):
            self.out(line)
        options = options_of(outputs)
        for line in recommend(rows, host_hour=price(hosting_price_key(options.instance_type)),
                              max_concurrency=options.serverless_max_concurrency,
                              provisioned_hour=contract.provisioned_per_hour(options.serverless_memory_mb, 1)):
            self.out(line)
        return rows
