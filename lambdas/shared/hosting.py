"""SageMaker hosting steps that Lambda handlers share (the ml-pipeline approval function, the mlops
deploy action): read a resource that may not exist, and make a model or an endpoint config for one
model package version unless it exists. Idempotent, so a retried event or action changes nothing.

No imports beyond botocore's exception (in every Lambda Python runtime), so it is staged beside a
handler by ``LabFunction(shared_modules=["hosting"])`` and imported as a package by the tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError


def not_found(error: ClientError) -> bool:
    """SageMaker's Describe* answers a missing resource with a ValidationException "Could not find"."""
    return "Could not find" in error.response["Error"].get("Message", "")


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def describe(sagemaker: Any, operation: str, **request: str) -> dict | None:
    """The Describe answer, or None when the resource does not exist."""
    try:
        return getattr(sagemaker, operation)(**request)
    except ClientError as error:
        if not_found(error):
            return None
        raise


def ensure_model(sagemaker: Any, name: str, package_arn: str, role_arn: str, tags: Mapping[str, str]) -> bool:
    """A model ``name`` serving the model package ``package_arn`` as ``role_arn``; True when made now."""
    if describe(sagemaker, "describe_model", ModelName=name) is not None:
        return False
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=role_arn,
                           PrimaryContainer={"ModelPackageName": package_arn}, Tags=tag_list(tags))
    return True


def ensure_config(sagemaker: Any, name: str, variant: Mapping[str, Any], tags: Mapping[str, str],
                  kms_key: str | None = None) -> bool:
    """An endpoint config ``name`` with one production variant serving the model ``name``; True when made now.
    ``variant`` is the ProductionVariant without its ModelName."""
    if describe(sagemaker, "describe_endpoint_config", EndpointConfigName=name) is not None:
        return False
    request: dict[str, Any] = {"EndpointConfigName": name, "ProductionVariants": [{**variant, "ModelName": name}],
                               "Tags": tag_list(tags)}
    if kms_key:
        request["KmsKeyId"] = kms_key
    sagemaker.create_endpoint_config(**request)
    return True


def serverless_variant(name: str, memory_mb: int, max_concurrency: int) -> dict[str, Any]:
    return {"VariantName": name, "ServerlessConfig": {"MemorySizeInMB": memory_mb, "MaxConcurrency": max_concurrency}}


def instance_variant(name: str, instance_type: str, count: int) -> dict[str, Any]:
    return {"VariantName": name, "InstanceType": instance_type, "InitialInstanceCount": count,
            "InitialVariantWeight": 1.0}
