"""Auto scaling of the endpoint lab's variant A: its policy, its metric, and a bounded load.

Target tracking on ``SageMakerVariantInvocationsPerInstance`` (CloudWatch's
``InvocationsPerInstance``, summed per minute) adds instances after about three minutes above
the target and removes them after about fifteen below it. The load here is capped in rate,
in time and in the number of requests, whatever the flags say.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from catalog.endpoint import (
    LOAD_REQUESTS_PER_SECOND,
    MAX_LOAD_MINUTES,
    SCALABLE_DIMENSION,
    TARGET_INVOCATIONS_PER_INSTANCE,
)
from jobs.endpoint.model import Row
from labs.practice.endpoint.traffic import invoke, invoke_request

NAMESPACE = "AWS/SageMaker"
MAX_LOAD_SECONDS = MAX_LOAD_MINUTES * 60
MAX_LOAD_REQUESTS = LOAD_REQUESTS_PER_SECOND * MAX_LOAD_SECONDS


def scaling_requests(resource_id: str) -> dict[str, dict[str, Any]]:
    """The Application Auto Scaling reads, by operation."""
    target = {"ServiceNamespace": "sagemaker", "ResourceIds": [resource_id], "ScalableDimension": SCALABLE_DIMENSION}
    policies = {"ServiceNamespace": "sagemaker", "ResourceId": resource_id, "ScalableDimension": SCALABLE_DIMENSION}
    return {"describe_scalable_targets": target, "describe_scaling_policies": policies,
            "describe_scaling_activities": dict(policies, MaxResults=10)}


def metric_request(endpoint: str, variant: str, metric: str, stat: str, *, end: datetime,
                   minutes: int) -> dict[str, Any]:
    """GetMetricData for one ``AWS/SageMaker`` metric of one variant, per minute."""
    return {
        "MetricDataQueries": [{
            "Id": "m0", "ReturnData": True,
            "MetricStat": {"Metric": {"Namespace": NAMESPACE, "MetricName": metric, "Dimensions": [
                {"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]},
                "Period": 60, "Stat": stat},
        }],
        "StartTime": end - timedelta(minutes=minutes), "EndTime": end, "ScanBy": "TimestampAscending",
    }


def metric_values(cloudwatch: Any, request: dict[str, Any]) -> list[tuple[datetime, float]]:
    result = cloudwatch.get_metric_data(**request)["MetricDataResults"][0]
    return list(zip(result.get("Timestamps", []), result.get("Values", []), strict=True))


def policy_lines(autoscaling: Any, resource_id: str) -> list[str]:
    """Variant A's scalable target and policy, and how to make it scale."""
    requests = scaling_requests(resource_id)
    targets = autoscaling.describe_scalable_targets(**requests["describe_scalable_targets"])["ScalableTargets"]
    policies = autoscaling.describe_scaling_policies(**requests["describe_scaling_policies"])["ScalingPolicies"]
    if not targets or not policies:
        return [f"no scaling policy registered for {resource_id}: redeploy with `labs deploy endpoint`"]
    target, policy = targets[0], policies[0]
    tracking = policy.get("TargetTrackingScalingPolicyConfiguration", {})
    metric = tracking.get("PredefinedMetricSpecification", {}).get("PredefinedMetricType", "?")
    return [
        f"scaling: {resource_id}: {target['MinCapacity']} to {target['MaxCapacity']} instances, policy "
        f"{policy['PolicyName']} tracks {metric} at {tracking.get('TargetValue', '?'):g} per instance per minute "
        f"(scale-out cooldown {tracking.get('ScaleOutCooldown', '?')} s, "
        f"scale-in {tracking.get('ScaleInCooldown', '?')} s)",
        f"  to see it scale out: `labs practice endpoint --load-minutes 10` sends up to {LOAD_REQUESTS_PER_SECOND} "
        f"requests/s; above {TARGET_INVOCATIONS_PER_INSTANCE:g} per instance per minute for about 3 minutes, "
        "CloudWatch's alarm adds instances; it scales back in after about 15 quiet minutes",
    ]


def activity_line(activity: dict[str, Any]) -> str:
    started = activity.get("StartTime")
    when = started.strftime("%H:%M:%S") if isinstance(started, datetime) else "?"
    return f"  {when} {activity.get('StatusCode', '?')}: {activity.get('Description', '')}"


@dataclass
class LoadReport:
    sent: int = 0
    answered: int = 0
    errors: int = 0
    counts: list[tuple[float, int, int]] = field(default_factory=list)  # (seconds, desired, current)
    activities: list[str] = field(default_factory=list)


class Load:
    """Sends rows to the endpoint from ``workers`` threads for at most ``seconds`` at most ``rate``
    requests per second (both capped), and every ``report_every`` seconds prints variant A's
    desired and current instance counts and new scaling activities."""

    def __init__(self, runtime: Any, sagemaker: Any, autoscaling: Any, *, endpoint: str, variant: str,
                 resource_id: str, rows: Iterator[Row], seconds: float, rate: float = LOAD_REQUESTS_PER_SECOND,
                 workers: int = 4, report_every: float = 30, out: Callable[[str], None] = print,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.runtime, self.sagemaker, self.autoscaling = runtime, sagemaker, autoscaling
        self.endpoint, self.variant, self.resource_id = endpoint, variant, resource_id
        self.seconds = min(seconds, MAX_LOAD_SECONDS)
        self.rate = min(rate, LOAD_REQUESTS_PER_SECOND)
        self.cap = min(MAX_LOAD_REQUESTS, int(self.rate * self.seconds) + 1)
        self.rows, self.workers, self.report_every, self.out, self.clock = rows, workers, report_every, out, clock
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self.report = LoadReport()
        self._seen_activities: set[str] = set()

    def _next_row(self) -> Row | None:
        with self._lock:
            if self.report.sent >= self.cap:
                return None
            self.report.sent += 1
            return next(self.rows)

    def _worker(self, started: float) -> None:
        interval = self.workers / self.rate
        while not self.stop.is_set() and self.clock() - started < self.seconds:
            began = self.clock()
            row = self._next_row()
            if row is None:
                return
            result = invoke(self.runtime, invoke_request(self.endpoint, row))
            with self._lock:
                if result.error:
                    self.report.errors += 1
                else:
                    self.report.answered += 1
            self.stop.wait(max(0.0, interval - (self.clock() - began)))

    def observe(self, elapsed: float) -> None:
        description = self.sagemaker.describe_endpoint(EndpointName=self.endpoint)
        variant = next((v for v in description.get("ProductionVariants", []) if v["VariantName"] == self.variant), {})
        desired, current = variant.get("DesiredInstanceCount", 0), variant.get("CurrentInstanceCount", 0)
        self.report.counts.append((elapsed, desired, current))
        self.out(f"  {elapsed:4.0f} s: {self.report.sent} sent; {self.variant} desired {desired}, current {current} "
                 f"instances ({description['EndpointStatus']})")
        request = scaling_requests(self.resource_id)["describe_scaling_activities"]
        for activity in reversed(self.autoscaling.describe_scaling_activities(**request)["ScalingActivities"]):
            if activity["ActivityId"] not in self._seen_activities:
                self._seen_activities.add(activity["ActivityId"])
                self.report.activities.append(activity_line(activity))
                self.out(activity_line(activity))

    def run(self) -> LoadReport:
        self.out(f"load: up to {self.rate:g} requests/s for {self.seconds / 60:.1f} minutes "
                 f"(at most {self.cap} requests)")
        started = self.clock()
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            futures = [pool.submit(self._worker, started) for _ in range(self.workers)]
            try:
                while not all(f.done() for f in futures):
                    self.stop.wait(self.report_every)
                    self.observe(self.clock() - started)
            finally:
                self.stop.set()
            for future in futures:
                future.result()
        self.observe(self.clock() - started)
        return self.report
