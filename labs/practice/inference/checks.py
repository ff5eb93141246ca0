"""Before ``labs deploy inference``: the quotas the lab needs, named, and Application Auto Scaling's role.

New accounts often have 0 (or 2) for an instance type's endpoint and transform job usage. The lab
deploys two instances (real-time and async, which then scales to zero); a canary or linear rollout
adds a two-instance fleet beside the old one; the shadow step runs two; the table's batch row one
transform instance. Serverless endpoints count against the account's total serverless concurrency.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError

from catalog import inference as contract
from catalog.inference import InferenceOptions
from labs.engine.errors import LabError
from labs.practice.endpoint.checks import check_service_linked_role, endpoint_quota_name, sagemaker_quotas

SERVERLESS_CONCURRENCY_QUOTA = "Maximum total concurrency that can be allocated across all serverless endpoints"


def transform_quota_name(instance_type: str) -> str:
    return f"{instance_type} for transform job usage"


def needed(options: InferenceOptions) -> dict[str, tuple[int, int, str]]:
    """Quota name -> (needed to deploy, needed to practise every step, what the second is for)."""
    deployed = options.realtime_instances + 1  # and the async instance until it scales in
    rollout = options.realtime_instances + contract.ROLLOUT_INSTANCES + 1
    return {
        endpoint_quota_name(options.instance_type): (deployed, rollout, "a rollout runs the old and the new fleet"),
        transform_quota_name(options.instance_type): (0, 1, "the table's batch row"),
        SERVERLESS_CONCURRENCY_QUOTA: (options.serverless_max_concurrency, options.serverless_max_concurrency, ""),
    }


def check_quotas(client: Any, options: InferenceOptions, region: str, out: Callable[[str], None]) -> None:
    wanted = needed(options)
    quotas = sagemaker_quotas(client, wanted)
    for name, (deploy, practise, why) in wanted.items():
        if name not in quotas:
            out(f"note: no SageMaker quota named \"{name}\" in {region}; if a step fails with ResourceLimitExceeded, "
                "look it up in Service Quotas")
            continue
        value = quotas[name]
        if value < deploy:
            raise LabError(f"Service Quotas \"{name}\" is {value:g} in {region} and the lab needs {deploy}: request an "
                           "increase (Service Quotas > Amazon SageMaker) or deploy with another "
                           "-c inference_instance_type")
        short = f" (the practice needs {practise}: {why})" if value < practise else ""
        out(f"quota: \"{name}\" = {value:g}{short}")


def check_inference_account(session: Any, options: InferenceOptions, out: Callable[[str], None]) -> None:
    """``labs deploy inference``'s preflight; a LabError stops the deploy."""
    region = session.region_name
    try:
        check_quotas(session.client("service-quotas"), options, region, out)
    except (ClientError, EndpointConnectionError) as error:
        code = error.response["Error"]["Code"] if isinstance(error, ClientError) else "unreachable"
        endpoint_quota = endpoint_quota_name(options.instance_type)
        out(f"warning: cannot read SageMaker quotas ({code}); the lab needs \"{endpoint_quota}\" of at least"
            f" {options.realtime_instances + 1} and \"{transform_quota_name(options.instance_type)}\" "
            "of 1")
    check_service_linked_role(session.client("iam"), out)
