"""SageMaker training quotas for the fsx-training lab: checked before deploying and before training."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labs.contracts.fsx_training import ALTERNATIVES
from labs.errors import LabError, explain
from labs.practice.fsx_training import quota_name, training_quotas


def check_training_quota(session: Any, instance_type: str, region: str, out: Callable[[str], None]) -> None:
    """Stops when neither spot nor on-demand training on the instance type is allowed."""
    from botocore.exceptions import BotoCoreError, ClientError

    spot, on_demand = quota_name(instance_type, spot=True), quota_name(instance_type, spot=False)
    try:
        found = training_quotas(session.client("service-quotas"), instance_type)
    except (ClientError, BotoCoreError) as error:
        code = error.response["Error"]["Code"] if isinstance(error, ClientError) else explain(error)
        out(f"warning: cannot read SageMaker quotas ({code}); the practice step checks again before training")
        return
    advice = f"deploy with -c training_instance_type={ALTERNATIVES[0]} (or {ALTERNATIVES[1]})"
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
