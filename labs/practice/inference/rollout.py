"""``labs practice inference rollout``: the real-time endpoint from version 1 to version 2 (or, with
``--break``, to a version whose invocations fail) by a blue/green deployment whose alarm rolls it back.

Before: the endpoint must serve version 1 and the rollback alarm must not be firing (an alarm already
in ALARM ends the deployment at once). During: about one request a second keeps the alarm informed;
every change of the endpoint's status or of the new fleet's variant status is printed with the
seconds since the update. After: the outcome by the config the endpoint ends on
(``lambdas.shared.rollout``), and why: the alarm's history says whether it fired. A rollout that
succeeded is put back on version 1 (one instance again, the idle cost the lab promises).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from catalog import inference as contract
from jobs.endpoint.model import Row as Record
from labs.engine.errors import LabError
from labs.practice.common.polling import Poll
from labs.practice.endpoint.traffic import invoke, invoke_request
from labs.practice.inference import requests as build
from lambdas.shared.rollout import FAILED, ROLLED_BACK, SUCCEEDED, rollout_of

QUIET_ALARM = {"OK", "INSUFFICIENT_DATA"}
ALARM_WAIT_SECONDS = 300
SETTLE_SECONDS = 1800  # a restore: one new instance and the old fleet's removal
INTERRUPTED = ("the update continues in AWS; run `labs practice inference rollout --restore` once it has settled "
               "(`aws sagemaker describe-endpoint --endpoint-name {endpoint}` says InService)")


@dataclass
class RolloutReport:
    """What happened: the outcome, each phase with its seconds, why, and the traffic it saw."""

    state: str
    phases: list[tuple[float, str]] = field(default_factory=list)
    cause: str = ""
    sent: int = 0
    errors: int = 0


class RolloutStep:
    def __init__(self, sagemaker: Any, cloudwatch: Any, runtime: Any, outputs: dict[str, str], *,
                 records: Iterator[Record], out: Callable[[str], None], traffic_per_poll: int = 10,
                 poll_seconds: float = 10, clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.sagemaker, self.cloudwatch, self.runtime, self.outputs = sagemaker, cloudwatch, runtime, outputs
        self.records, self.out, self.traffic_per_poll, self.poll_seconds = records, out, traffic_per_poll, poll_seconds
        self.clock, self.now, self.sleep = clock, now, sleep
        self.endpoint = outputs[contract.REALTIME_ENDPOINT]
        self.original = outputs[contract.REALTIME_CONFIG]

    def describe(self) -> dict[str, Any]:
        return self.sagemaker.describe_endpoint(**build.endpoint_request(self.endpoint))

    def require_version_1(self) -> None:
        endpoint = self.describe()
        status, current = endpoint["EndpointStatus"], endpoint.get("EndpointConfigName", "")
        if status != "InService":
            raise LabError(f"endpoint {self.endpoint} is {status}: wait until it is InService, then rerun")
        if current != self.original:
            raise LabError(f"endpoint {self.endpoint} serves {current}, not version 1 ({self.original}): run "
                           "`labs practice inference rollout --restore` first")

    def wait_quiet_alarm(self, alarm: str) -> None:
        def state() -> str:
            alarms = self.cloudwatch.describe_alarms(**build.alarm_request(alarm)).get("MetricAlarms", [])
            if not alarms:
                raise LabError(f"alarm {alarm} is missing: redeploy the lab with `labs deploy inference`")
            return alarms[0]["StateValue"]

        Poll(f"alarm {alarm} to leave ALARM", ALARM_WAIT_SECONDS, self.poll_seconds, clock=self.clock,
             sleep=self.sleep, fix="an alarm in ALARM ends a deployment at once; rerun in a few minutes").until(
            state, lambda value: value in QUIET_ALARM,
            on_change=lambda value: self.out(f"  alarm {alarm}: {value}"))

    def traffic(self, report: RolloutReport) -> None:
        for _ in range(self.traffic_per_poll):
            answer = invoke(self.runtime, invoke_request(self.endpoint, next(self.records)))
            report.sent += 1
            report.errors += answer.error is not None

    def follow(self, original: str, target: str, report: RolloutReport, timeout: float, *,
               traffic: bool) -> dict[str, Any]:
        """DescribeEndpoint until the rollout is over, each new phase printed with its seconds. An answer
        counts as the end only once the update was seen under way (or a minute passed): the first answers
        after UpdateEndpoint may still show the endpoint as it was."""
        started, seen = self.clock(), {"updating": False}

        def fetch() -> dict[str, Any]:
            if traffic:
                self.traffic(report)
            endpoint = self.describe()
            seen["updating"] |= endpoint["EndpointStatus"] != "InService"
            return endpoint

        def phase(endpoint: dict[str, Any]) -> str:
            return rollout_of(endpoint, original=original, target=target).phase

        def changed(endpoint: dict[str, Any]) -> None:
            seconds = self.clock() - started
            report.phases.append((seconds, phase(endpoint)))
            self.out(f"  {seconds:5.0f} s  {phase(endpoint)}")

        def over(endpoint: dict[str, Any]) -> bool:
            return rollout_of(endpoint, original=original, target=target).done and (
                seen["updating"] or self.clock() - started >= 60)

        return Poll(f"the update of {self.endpoint}", timeout, self.poll_seconds, clock=self.clock, sleep=self.sleep,
                    fix=INTERRUPTED.format(endpoint=self.endpoint)).until(fetch, over, on_change=changed, key=phase)

    def update(self, request: dict[str, Any]) -> None:
        try:
            self.sagemaker.update_endpoint(**request)
        except ClientError as error:
            code, message = error.response["Error"]["Code"], error.response["Error"].get("Message", "")
            hint = (" (a quota: see `labs deploy inference`'s preflight, or request more in Service Quotas)"
                    if code == "ResourceLimitExceeded" else "")
            raise LabError(f"UpdateEndpoint {self.endpoint} refused: {code}: {message}{hint}") from error

    def run(self, *, strategy: str, broken: bool, bake_seconds: int) -> RolloutReport:
        alarm = self.outputs[contract.ROLLBACK_ALARM]
        target = self.outputs[contract.BROKEN_CONFIG if broken else contract.ROLLOUT_CONFIG]
        self.require_version_1()
        self.wait_quiet_alarm(alarm)
        request = build.rollout_request(self.endpoint, target, strategy=strategy, alarm=alarm,
                                        bake_seconds=bake_seconds)
        timeout = request["DeploymentConfig"]["BlueGreenUpdatePolicy"]["MaximumExecutionTimeoutInSeconds"] + 600
        started_at = self.now()
        self.update(request)
        self.out(f"rollout to {target} ({'the broken version' if broken else 'version 2'}), {strategy}, "
                 f"{bake_seconds} s bakes, rolled back by alarm {alarm}:")
        report = RolloutReport(state="updating")
        try:
            final = self.follow(self.original, target, report, timeout, traffic=True)
        except KeyboardInterrupt:
            self.out(INTERRUPTED.format(endpoint=self.endpoint))
            raise
        outcome = rollout_of(final, original=self.original, target=target)
        report.state = outcome.state
        took = f"{report.phases[-1][0]:.0f} s" if report.phases else "moments"
        self.out(f"traffic during the rollout: {report.sent} requests, {report.errors} failed")
        if outcome.state == SUCCEEDED:
            report.cause = f"succeeded after {took}: the endpoint served {target}"
            self.out(report.cause)
            self.restore()
        elif outcome.state == ROLLED_BACK:
            fired = self.alarm_fired(alarm, started_at)
            report.cause = (f"rolled back after {took}: alarm {alarm} went to ALARM at {fired:%H:%M:%S} UTC" if fired
                            else f"the update failed after {took} and SageMaker kept {self.original}: "
                                 f"{outcome.reason or 'no FailureReason given'}")
            self.out(report.cause + f"; the endpoint serves version 1 ({self.original}) again")
        elif outcome.state == FAILED:
            raise LabError(f"endpoint {self.endpoint} ended {outcome.phase}: {outcome.reason or 'no reason given'}; "
                           "destroy and redeploy the lab (`labs destroy inference`, then `labs deploy inference`)")
        return report

    def alarm_fired(self, alarm: str, since: datetime) -> datetime | None:
        """When the alarm went to ALARM after ``since``, from its history; None if it did not."""
        history = self.cloudwatch.describe_alarm_history(**build.alarm_history_request(alarm, since, self.now()))
        for item in history.get("AlarmHistoryItems", []):
            data = json.loads(item.get("HistoryData") or "{}")
            if data.get("newState", {}).get("stateValue") == "ALARM":
                return item["Timestamp"]
        return None

    def restore(self) -> RolloutReport:
        """The endpoint back on version 1, all at once; nothing to do when it is there."""
        endpoint = self.describe()
        if endpoint["EndpointStatus"] == "InService" and endpoint.get("EndpointConfigName") == self.original:
            self.out(f"endpoint {self.endpoint} serves version 1 ({self.original}): nothing to restore")
            return RolloutReport(state=SUCCEEDED)
        if endpoint["EndpointStatus"] != "InService":
            raise LabError(f"endpoint {self.endpoint} is {endpoint['EndpointStatus']}: it cannot be updated until it "
                           "is InService; rerun `labs practice inference rollout --restore` then")
        self.update(build.restore_request(self.endpoint, self.original))
        self.out(f"back to version 1 ({self.original}), all at once:")
        report = RolloutReport(state="updating")
        current = endpoint.get("EndpointConfigName", "")
        final = self.follow(current, self.original, report, SETTLE_SECONDS, traffic=False)
        report.state = rollout_of(final, original=current, target=self.original).state
        return report
