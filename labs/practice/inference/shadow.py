"""``labs practice inference shadow``: model B as a shadow of model A on the real-time endpoint.

The endpoint switches to the stack's shadow config (production variant model A, shadow variant
model B); every request is answered by production and copied to the shadow, whose answers are
dropped. CloudWatch then compares the two variants: invocations, model latency, errors. GetMetricData
is asked at once for the two variants the stack names, plus any other variant ``ListMetrics`` shows
for the endpoint (the shadow's dimensions are not documented; a new metric can take up to 15 minutes
to be listed, while GetMetricData returns it sooner: CloudWatch's ListMetrics reference). Whatever
happens, the endpoint goes back to version 1 at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from catalog import inference as contract
from jobs.endpoint.model import Row as Record
from labs.engine.errors import LabError
from labs.practice.common.polling import Poll, WaitTimedOut
from labs.practice.endpoint.traffic import send
from labs.practice.inference import requests as build
from labs.practice.inference.rollout import RolloutReport, RolloutStep
from lambdas.shared.rollout import SUCCEEDED, rollout_of

METRICS_SECONDS = 300


def compare_lines(values: dict[str, dict[str, float | None]]) -> list[str]:
    """One line per variant: invocations, ModelLatency mean and max (CloudWatch counts microseconds), errors."""
    def ms(value: float | None) -> str:
        return "n/a" if value is None else f"{value / 1000:.1f} ms"

    def count(value: float | None) -> str:
        return "0" if value is None else f"{value:.0f}"

    width = max(len(name) for name in values) if values else 7
    lines = [f"{'variant'.ljust(width)}  invocations  model latency mean / max  4XX  5XX  model errors"]
    for name, found in values.items():
        lines.append(f"{name.ljust(width)}  {count(found.get('invocations')).rjust(11)}  "
                     f"{(ms(found.get('latency')) + ' / ' + ms(found.get('latency_max'))).ljust(24)}  "
                     f"{count(found.get('errors4xx')).rjust(3)}  {count(found.get('errors5xx')).rjust(3)}  "
                     f"{count(found.get('model_errors')).rjust(12)}")
    return lines


class ShadowStep:
    def __init__(self, rollout: RolloutStep, cloudwatch: Any, runtime: Any, *, out: Callable[[str], None],
                 now: Callable[[], datetime], metrics_seconds: float = METRICS_SECONDS) -> None:
        self.rollout, self.cloudwatch, self.runtime, self.out, self.now = rollout, cloudwatch, runtime, out, now
        self.metrics_seconds = metrics_seconds
        self.endpoint = rollout.endpoint

    def variants(self) -> list[str]:
        """Production first, then the shadow, then any other variant CloudWatch lists for the endpoint."""
        outputs = self.rollout.outputs
        found = self.cloudwatch.list_metrics(**build.variants_request(self.endpoint)).get("Metrics", [])
        names = {d["Value"] for m in found for d in m.get("Dimensions", []) if d["Name"] == "VariantName"}
        names |= {outputs[contract.VARIANT_NAME], outputs[contract.SHADOW_VARIANT_NAME]}
        return sorted(names, key=lambda n: (n != outputs[contract.VARIANT_NAME],
                                            n != outputs[contract.SHADOW_VARIANT_NAME], n))

    def metrics(self, start: datetime, answered: int) -> dict[str, dict[str, float | None]]:
        def read() -> dict[str, dict[str, float | None]]:
            variants = self.variants()
            results = self.cloudwatch.get_metric_data(**build.shadow_metrics_request(
                self.endpoint, variants, start, self.now()))["MetricDataResults"]
            by_id = {r["Id"]: (r["Values"][0] if r.get("Values") else None) for r in results}
            return {variant: {name: by_id.get(f"{name}_{index}") for name, _, _ in build.SHADOW_METRICS}
                    for index, variant in enumerate(variants)}

        poll = self.rollout
        try:
            return Poll("the shadow's metrics", self.metrics_seconds, poll.poll_seconds, clock=poll.clock,
                        sleep=poll.sleep).until(read, lambda v: all((m.get("invocations") or 0) >= answered
                                                                    for m in v.values()))
        except WaitTimedOut as timed_out:
            self.out("CloudWatch has not counted every request yet (it lags a few minutes): the numbers are partial")
            return timed_out.last or {}

    def run(self, records: Sequence[Record]) -> dict[str, dict[str, float | None]]:
        rollout = self.rollout
        shadow = rollout.outputs[contract.SHADOW_CONFIG]
        rollout.require_version_1()
        rollout.update(build.switch_request(self.endpoint, shadow))
        self.out(f"shadow: {self.endpoint} to {shadow} (model A in production, model B its shadow):")
        try:
            final = rollout.follow(rollout.original, shadow, RolloutReport(state="updating"), 1800, traffic=False)
            outcome = rollout_of(final, original=rollout.original, target=shadow)
            if outcome.state != SUCCEEDED:
                raise LabError(f"the shadow config did not deploy ({outcome.phase}): "
                               f"{outcome.reason or 'no FailureReason given'}")
            start = self.now()
            answers = send(self.runtime, self.endpoint, records)
            answered = sum(1 for a in answers if a.error is None)
            self.out(f"sent {len(records)} requests, {answered} answered by production; waiting for CloudWatch")
            values = self.metrics(start, answered)
            for line in compare_lines(values):
                self.out(line)
            return values
        finally:  # after Ctrl-C too: an endpoint still updating says how to restore it later, in one line
            rollout.restore()
