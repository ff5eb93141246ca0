"""Before ``labs deploy endpoint``: the account's quotas for the endpoint's instances and the
monitor's jobs, and Application Auto Scaling's service-linked role.

New accounts often have a SageMaker quota of 0 (or 2) for an instance type's endpoint usage;
the real-time variant needs 3 instances to deploy and 5 to scale out fully. The service-linked
role ``AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint`` is created by Application
Auto Scaling on the first scalable target of an account, with the deploying role's
``iam:CreateServiceLinkedRole``: said here, so a restricted deployment role is no surprise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError

from catalog.endpoint import (
    INSTANCES_A,
    INSTANCES_B,
    MAX_CAPACITY,
    MONITOR_INSTANCE_TYPE,
    EndpointOptions,
)
from labs.engine.errors import LabError

SERVICE_LINKED_ROLE = "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
SLR_SERVICE = "sagemaker.application-autoscaling.amazonaws.com"


def endpoint_quota_name(instance_type: str) -> str:
    return f"{instance_type} for endpoint usage"


def processing_quota_name(instance_type: str) -> str:
    return f"{instance_type} for processing job usage"


def sagemaker_quotas(client: Any, names: Iterable[str]) -> dict[str, float]:
    """The applied value of each named SageMaker quota, else its AWS default (absent: not offered)."""
    wanted, found = set(names), {}
    for operation in ("list_service_quotas", "list_aws_default_service_quotas"):
        for page in client.get_paginator(operation).paginate(ServiceCode="sagemaker"):
            found.update({q["QuotaName"]: q["Value"] for q in page["Quotas"]
                          if q["QuotaName"] in wanted and q["QuotaName"] not in found})
        if wanted <= set(found):
            break
    return found


def check_quotas(client: Any, options: EndpointOptions, region: str, out: Callable[[str], None]) -> None:
    needed = {endpoint_quota_name(options.instance_type): (INSTANCES_A + INSTANCES_B, MAX_CAPACITY + INSTANCES_B)}
    if options.monitored:
        needed[processing_quota_name(MONITOR_INSTANCE_TYPE)] = (1, 1)  # the baseline job, then the execution
    quotas = sagemaker_quotas(client, needed)
    for name, (minimum, comfortable) in needed.items():
        if name not in quotas:
            raise LabError(f"SageMaker has no quota \"{name}\" in {region}: the type is not offered there; deploy "
                           "with -c endpoint_instance_type=ml.m5.large or in another region")
        value = quotas[name]
        if value < minimum:
            raise LabError(f"Service Quotas \"{name}\" is {value:g} in {region} and the lab needs {minimum}: request "
                           "an increase (Service Quotas > Amazon SageMaker) or deploy with another "
                           "-c endpoint_instance_type")
        note = "" if value >= comfortable else f" (auto scaling stops at {value:g} instances in all)"
        out(f"quota: \"{name}\" = {value:g}{note}")


def check_service_linked_role(iam: Any, out: Callable[[str], None]) -> None:
    try:
        iam.get_role(RoleName=SERVICE_LINKED_ROLE)
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchEntity":
            out(f"note: cannot read IAM role {SERVICE_LINKED_ROLE} ({error.response['Error']['Code']}); going on")
            return
        out(f"note: {SERVICE_LINKED_ROLE} does not exist yet: Application Auto Scaling creates it during this deploy "
            "(CDK's default deployment role may; a restricted one needs iam:CreateServiceLinkedRole, or run once: "
            f"aws iam create-service-linked-role --aws-service-name {SLR_SERVICE})")
        return
    out(f"Application Auto Scaling's role for SageMaker: {SERVICE_LINKED_ROLE} exists")


def check_endpoint_account(session: Any, options: EndpointOptions, out: Callable[[str], None]) -> None:
    """``labs deploy endpoint``'s preflight; a LabError stops the deploy."""
    if not options.realtime:
        out("serverless: no instance quota to check (the default concurrency quotas suffice for this lab)")
        return
    region = session.region_name
    try:
        check_quotas(session.client("service-quotas"), options, region, out)
    except (ClientError, EndpointConnectionError) as error:
        code = error.response["Error"]["Code"] if isinstance(error, ClientError) else "unreachable"
        out(f"warning: cannot read SageMaker quotas ({code}); if the endpoint fails with ResourceLimitExceeded, "
            f"request \"{endpoint_quota_name(options.instance_type)}\" of at least {INSTANCES_A + INSTANCES_B}")
    check_service_linked_role(session.client("iam"), out)
