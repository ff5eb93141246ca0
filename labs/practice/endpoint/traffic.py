"""Requests to the endpoint lab's endpoint and what their answers say.

Each request is one customer as one CSV line (no header, no label). The runtime client
retries throttled and unavailable answers itself (botocore's standard mode, 5 attempts);
what still fails is counted, not fatal, so one slow moment does not end the practice.
"""

from __future__ import annotations

import math
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from jobs.endpoint.model import Row, csv_line
from labs.engine.errors import LabError

RUNTIME_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 5}, connect_timeout=10, read_timeout=70)
COUNTED_ERRORS = {"ModelError", "ThrottlingException", "ServiceUnavailable", "InternalFailure",
                  "ModelNotReadyException", "InternalDependencyException"}


def invoke_request(endpoint: str, row: Row, *, target_variant: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {"EndpointName": endpoint, "Body": csv_line(row).encode(), "ContentType": "text/csv",
                               "Accept": "text/csv"}
    if target_variant:
        request["TargetVariant"] = target_variant
    return request


def weights_request(endpoint: str, weights: Mapping[str, float]) -> dict[str, Any]:
    return {"EndpointName": endpoint, "DesiredWeightsAndCapacities": [
        {"VariantName": variant, "DesiredWeight": weight} for variant, weight in weights.items()]}


def parse_predictions(body: bytes | str) -> list[float]:
    """The container answers one probability per row, comma- or newline-separated."""
    text = body.decode() if isinstance(body, bytes) else body
    return [float(value) for value in re.split(r"[,\s]+", text.strip()) if value]


@dataclass(frozen=True)
class Invocation:
    variant: str | None
    latency_ms: float
    predictions: tuple[float, ...] = ()
    error: str | None = None


def invoke(runtime: Any, request: dict[str, Any], clock: Callable[[], float] = time.perf_counter) -> Invocation:
    started = clock()
    try:
        response = runtime.invoke_endpoint(**request)
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code not in COUNTED_ERRORS:
            message = error.response["Error"].get("Message", "")
            raise LabError(f"InvokeEndpoint on {request['EndpointName']} failed: {code}: {message}") from error
        return Invocation(variant=None, latency_ms=(clock() - started) * 1000, error=code)
    body = response["Body"].read()
    return Invocation(variant=response.get("InvokedProductionVariant"), latency_ms=(clock() - started) * 1000,
                      predictions=tuple(parse_predictions(body)))


def send(runtime: Any, endpoint: str, rows: Iterable[Row], clock: Callable[[], float] = time.perf_counter,
         stop: Callable[[], bool] = lambda: False) -> list[Invocation]:
    results = []
    for row in rows:
        if stop():
            break
        results.append(invoke(runtime, invoke_request(endpoint, row), clock))
    return results


def percentile(values: Iterable[float], share: float) -> float:
    """Nearest-rank percentile (``share`` 0.95 for p95)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def split(invocations: Iterable[Invocation]) -> Counter[str]:
    return Counter(i.variant for i in invocations if i.variant)


def summary(title: str, invocations: list[Invocation], *, shown: int = 5) -> list[str]:
    """Predictions, client-side latency (median, p95) and the count per invoked variant."""
    answered = [i for i in invocations if i.error is None]
    lines = [f"{title}: {len(answered)} of {len(invocations)} requests answered"]
    if answered:
        latencies = [i.latency_ms for i in answered]
        lines.append(f"  latency (client side, includes the network): median {statistics.median(latencies):.1f} ms, "
                     f"p95 {percentile(latencies, 0.95):.1f} ms")
        sample = ", ".join(f"{p:.3f} ({i.variant})" for i in answered[:shown] for p in i.predictions[:1])
        lines.append(f"  churn probability, first {min(shown, len(answered))}: {sample}")
        counts = split(answered)
        total = sum(counts.values())
        lines.append("  invoked variant: " + ", ".join(f"{variant} {count} ({count / total:.0%})"
                                                       for variant, count in sorted(counts.items())))
    errors = Counter(i.error for i in invocations if i.error)
    if errors:
        lines.append("  not answered after retries: " + ", ".join(f"{code} {n}" for code, n in sorted(errors.items())))
    return lines


def variant_states(sagemaker: Any, endpoint: str) -> tuple[str, dict[str, dict[str, Any]]]:
    """The endpoint's status and each variant's weights and instance counts."""
    description = sagemaker.describe_endpoint(EndpointName=endpoint)
    return description["EndpointStatus"], {v["VariantName"]: v for v in description.get("ProductionVariants", [])}


def weights_line(variants: Mapping[str, Mapping[str, Any]]) -> str:
    return ", ".join(f"{name} weight {v.get('CurrentWeight', 0):g} ({v.get('CurrentInstanceCount', '?')} instances)"
                     for name, v in sorted(variants.items()))
