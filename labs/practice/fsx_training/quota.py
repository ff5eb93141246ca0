"""SageMaker training quotas (Service Quotas) of an instance type, for fsx-training.

``labs deploy`` calls ``check_training_quota`` (through the contract's preflight): it stops
when neither spot nor on-demand training is allowed. The practice step calls
``check_quota`` for the one quota its jobs need (spot, or on demand with ``--on-demand``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError

from catalog.fsx_training import ALTERNATIVES
from labs.engine.errors import LabError


def quota_name(instance_type: str, *, spot: bool) -> str:
    return f"{instance_type} for {'spot ' if spot else ''}training job usage"


def training_quotas(client: Any, instance_type: str) -> dict[str, float]:
    """The on-demand and spot training quotas of ``instance_type`` (applied values, else defaults)."""
    wanted = {quota_name(instance_type, spot=False), quota_name(instance_type, spot=True)}
    found: dict[str, float] = {}
    for operation in ("list_service_quotas", "list_aws_default_service_quotas"):
        for page in client.get_paginator(operation).paginate(ServiceCode="sagemaker"):
            for quota in page["Quotas"]:
                if quota["QuotaName"] in wanted and quota["QuotaName"] not in found:
                    found[quota["QuotaName"]] = quota["Value"]
        if len(found) == len(wanted):
            break
    return found


def _advice(instance_type: str, flag: str) -> str:
    others = [t for t in ALTERNATIVES if t != instance_type]
    return f"{flag}{others[0]}" + (f" (or {others[1]})" if len(others) > 1 else "")


def check_quota(client: Any, instance_type: str, *, spot: bool, region: str,
                out: Callable[[str], None] = print) -> float | None:
    """Stops (LabError) when the quota the job needs is 0 or absent; returns it (None: unreadable)."""
    needed = quota_name(instance_type, spot=spot)
    advice = _advice(instance_type, "--instance-type ")
    try:
        quotas = training_quotas(client, instance_type)
    except ClientError as error:
        code = error.response["Error"]["Code"]
        out(f"warning: cannot read Service Quotas ({code}); skipping the quota check. If the job fails with "
            f"ResourceLimitExceeded, request \"{needed}\" or rerun with {advice}")
        return None
    if needed not in quotas:
        raise LabError(f"SageMaker has no quota \"{needed}\" in {region}: {instance_type} is not offered for "
                       f"training there; rerun with {advice}")
    value = quotas[needed]
    if value < 1:
        raise LabError(f"Service Quotas \"{needed}\" is 0 in {region}: request an increase (Service Quotas > "
                       f"Amazon SageMaker) or rerun with {advice}")
    other = quota_name(instance_type, spot=not spot)
    out(f"quota: \"{needed}\" = {value:g}" + (f"; \"{other}\" = {quotas[other]:g}" if other in quotas else ""))
    return value


def check_training_quota(session: Any, instance_type: str, region: str, out: Callable[[str], None]) -> None:
    """Before deploying: stops when neither spot nor on-demand training on the instance type is allowed;
    notes when only the spot quota is 0."""
    spot, on_demand = quota_name(instance_type, spot=True), quota_name(instance_type, spot=False)
    try:
        found = training_quotas(session.client("service-quotas"), instance_type)
    except (ClientError, EndpointConnectionError) as error:
        code = error.response["Error"]["Code"] if isinstance(error, ClientError) else "unreachable"
        out(f"warning: cannot read SageMaker quotas ({code}); the practice step checks again before training")
        return
    advice = "deploy with " + _advice(instance_type, "-c training_instance_type=")
    if spot not in found and on_demand not in found:
        raise LabError(f"SageMaker offers no training quota for {instance_type} in {region}: {advice}")
    if found.get(spot, 0) < 1 and found.get(on_demand, 0) < 1:
        raise LabError(f"Service Quotas \"{spot}\" and \"{on_demand}\" are 0 in {region}: request an increase "
                       f"(Service Quotas > Amazon SageMaker) or {advice}")
    if found.get(spot, 0) < 1:
        out(f"quota: \"{spot}\" is 0: practise with `labs practice fsx-training --on-demand` "
            f"(\"{on_demand}\" = {found[on_demand]:g}) or request a spot increase")
    else:
        out(f"quota: \"{spot}\" = {found[spot]:g}")


def preflight(session: Any, options: Any, out: Callable[[str], None]) -> None:
    """``labs deploy fsx-training``'s preflight (named in its catalog entry): the SageMaker training quota
    of the chosen instance type (spot, else on demand)."""
    check_training_quota(session, options.instance_type, session.region_name, out)
