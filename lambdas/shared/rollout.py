"""Safe rollouts of a SageMaker real-time endpoint: the blue/green ``DeploymentConfig`` of an
``UpdateEndpoint`` request, and what a ``DescribeEndpoint`` answer says of the rollout under way.

Pure (no boto3, no imports outside the standard library), so a Lambda handler (staged beside it by
``LabFunction``), a practice step and a test all use the same code. Shared by the labs that roll out
a new model version with automatic rollback (inference, mlops).

Facts from the SageMaker API reference (UpdateEndpoint, DeploymentConfig, BlueGreenUpdatePolicy,
TrafficRoutingConfig, DescribeEndpoint) and the developer guide's "Deployment guardrails" pages:
- traffic shifts ALL_AT_ONCE, CANARY (one canary step, at most 50% of the new fleet) or LINEAR
  (steps of 10-50%); each step bakes ``WaitIntervalInSeconds`` (0-3600) before the next;
- the old fleet is kept ``TerminationWaitInSeconds`` (0-3600) after the shift;
- ``MaximumExecutionTimeoutInSeconds`` (600-28800) bounds the whole deployment and must exceed the waits;
- an alarm of ``AutoRollbackConfiguration`` in ALARM during the deployment rolls traffic back to the old
  fleet, after which the endpoint is ``InService`` on its previous config, with or without a
  ``FailureReason``: a rollout is judged by the config the endpoint ends on, not by a status.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

STRATEGIES = ("all-at-once", "canary", "linear")
MIN_EXECUTION_SECONDS, MAX_EXECUTION_SECONDS = 600, 28800
MAX_WAIT_SECONDS = 3600
LINEAR_STEPS = (10, 50)  # percent of the new fleet per step, inclusive
MAX_CANARY_PERCENT = 50
# Time for the new fleet to be created and pass its health checks, on top of the baking.
PROVISIONING_SECONDS = 1500

# What a rollout can end in.
UPDATING, SUCCEEDED, ROLLED_BACK, FAILED = "updating", "succeeded", "rolled back", "failed"
_BROKEN_STATES = {"Failed", "UpdateRollbackFailed"}


def traffic_steps(strategy: str, step_percent: int) -> int:
    """How many times traffic shifts (and bakes) under ``strategy``."""
    if strategy == "all-at-once":
        return 1
    if strategy == "canary":
        return 2  # the canary, then the rest
    return -(-100 // step_percent)  # linear: ceil(100 / step)


def deployment_config(strategy: str, *, alarms: Sequence[str], bake_seconds: int = 300, step_percent: int = 50,
                      termination_wait_seconds: int = 60) -> dict:
    """``UpdateEndpoint``'s ``DeploymentConfig`` for a blue/green rollout that rolls back when any of
    ``alarms`` fires. ``step_percent`` is the canary's size or the linear step, in percent of the new
    fleet. A ValueError names a value out of the API's ranges."""
    if strategy not in STRATEGIES:
        raise ValueError(f"rollout strategy {strategy!r} is not one of {', '.join(STRATEGIES)}")
    if not 0 <= bake_seconds <= MAX_WAIT_SECONDS or not 0 <= termination_wait_seconds <= MAX_WAIT_SECONDS:
        raise ValueError(f"bake and termination waits are 0 to {MAX_WAIT_SECONDS} seconds")
    routing: dict = {"Type": strategy.upper().replace("-", "_"), "WaitIntervalInSeconds": bake_seconds}
    if strategy == "canary":
        if not 1 <= step_percent <= MAX_CANARY_PERCENT:
            raise ValueError(f"a canary is 1 to {MAX_CANARY_PERCENT}% of the new fleet, not {step_percent}%")
        routing["CanarySize"] = {"Type": "CAPACITY_PERCENT", "Value": step_percent}
    elif strategy == "linear":
        if not LINEAR_STEPS[0] <= step_percent <= LINEAR_STEPS[1]:
            raise ValueError(f"a linear step is {LINEAR_STEPS[0]} to {LINEAR_STEPS[1]}% of the new fleet, "
                             f"not {step_percent}%")
        routing["LinearStepSize"] = {"Type": "CAPACITY_PERCENT", "Value": step_percent}
    waits = bake_seconds * traffic_steps(strategy, step_percent) + termination_wait_seconds + PROVISIONING_SECONDS
    policy = {
        "TrafficRoutingConfiguration": routing,
        "TerminationWaitInSeconds": termination_wait_seconds,
        "MaximumExecutionTimeoutInSeconds": min(MAX_EXECUTION_SECONDS, max(MIN_EXECUTION_SECONDS, waits)),
    }
    config: dict = {"BlueGreenUpdatePolicy": policy}
    if alarms:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": name} for name in alarms]}
    return config


@dataclass(frozen=True)
class Rollout:
    """What one ``DescribeEndpoint`` answer says of a rollout from ``original`` to ``target`` config.

    ``state`` is UPDATING, SUCCEEDED, ROLLED_BACK or FAILED; ``phase`` is a short description of what
    the endpoint is doing now (printed when it changes); ``reason`` is the endpoint's FailureReason.
    """

    state: str
    phase: str
    reason: str = ""

    @property
    def done(self) -> bool:
        return self.state != UPDATING


def _variant_phase(pending: dict) -> str:
    parts = []
    for variant in pending.get("ProductionVariants", []):
        statuses = [status.get("Status", "") for status in variant.get("VariantStatus", [])]
        weight = variant.get("CurrentWeight")
        shown = ", ".join(statuses) or "waiting"
        parts.append(f"{variant.get('VariantName', '?')} {shown}" + (f" (weight {weight:g})" if weight is not None
                                                                    else ""))
    return "; ".join(parts)


def rollout_of(endpoint: dict, *, original: str, target: str) -> Rollout:
    """Classifies a DescribeEndpoint answer of an endpoint rolling out from config ``original`` to
    ``target``. It depends only on the status, the current config and the pending summary, never on the
    order in which SageMaker reports its intermediate states."""
    status = endpoint.get("EndpointStatus", "")
    current = endpoint.get("EndpointConfigName", "")
    reason = endpoint.get("FailureReason", "") or ""
    pending = endpoint.get("PendingDeploymentSummary")
    if status in _BROKEN_STATES:
        return Rollout(FAILED, status, reason)
    if status == "InService" and pending is None:
        if current == target:
            return Rollout(SUCCEEDED, f"InService on {target}")
        if current == original:
            return Rollout(ROLLED_BACK, f"InService on {original}", reason)
        return Rollout(FAILED, f"InService on {current}, neither {original} nor {target}", reason)
    phase = status if pending is None else f"{status}: {_variant_phase(pending)}"
    return Rollout(UPDATING, phase, reason)
