"""The endpoint lab's deploy preflight: instance and processing quotas, the service-linked role."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from catalog import endpoint as contract
from catalog.endpoint import EndpointOptions, EndpointType
from labs.engine.errors import LabError
from labs.practice.endpoint.checks import SERVICE_LINKED_ROLE, check_endpoint_account, check_quotas


def client(service):
    return boto3.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x").client(service)


def quota(name, value):
    return {"ServiceCode": "sagemaker", "QuotaName": name, "QuotaCode": "L-1", "Value": value}


@pytest.mark.parametrize("endpoint_value, processing_value, outcome", [
    (5, 2, ['quota: "ml.c5.large for endpoint usage" = 5', 'quota: "ml.m5.large for processing job usage" = 2']),
    (3, 1, ['quota: "ml.c5.large for endpoint usage" = 3 (auto scaling stops at 3 instances in all)',
            'quota: "ml.m5.large for processing job usage" = 1']),
    (2, 2, 'Service Quotas "ml.c5.large for endpoint usage" is 2 in us-east-1 and the lab needs 3'),
])
def test_quotas_below_what_the_lab_needs_stop_the_deploy(endpoint_value, processing_value, outcome):
    quotas, lines = client("service-quotas"), []
    with Stubber(quotas) as stub:
        stub.add_response("list_service_quotas", {"Quotas": [quota("ml.c5.large for endpoint usage", endpoint_value)]},
                          {"ServiceCode": "sagemaker"})
        stub.add_response("list_aws_default_service_quotas", {"Quotas": [
            quota("ml.m5.large for processing job usage", processing_value),
            quota("ml.c5.large for endpoint usage", 0)]}, {"ServiceCode": "sagemaker"})
        if isinstance(outcome, str):
            with pytest.raises(LabError, match=outcome):
                check_quotas(quotas, EndpointOptions(), "us-east-1", lines.append)
        else:
            check_quotas(quotas, EndpointOptions(), "us-east-1", lines.append)
            assert lines == outcome


def test_a_type_without_any_quota_is_not_offered_there():
    quotas = client("service-quotas")
    with Stubber(quotas) as stub:
        stub.add_response("list_service_quotas", {"Quotas": []})
        stub.add_response("list_aws_default_service_quotas", {"Quotas": []})
        with pytest.raises(LabError, match=r'no quota "ml\.c5\.large for endpoint usage" in eu-west-1'):
            check_quotas(quotas, EndpointOptions(monitor=False), "eu-west-1", print)


def test_the_missing_service_linked_role_is_explained_and_serverless_checks_nothing():
    iam, quotas = client("iam"), client("service-quotas")

    class Session:
        region_name = "us-east-1"

        def client(self, name):
            return {"iam": iam, "service-quotas": quotas}[name]

    lines = []
    with Stubber(iam) as roles, Stubber(quotas) as stub:
        stub.add_client_error("list_service_quotas", "AccessDeniedException", "no")
        roles.add_client_error("get_role", "NoSuchEntity", "none", expected_params={"RoleName": SERVICE_LINKED_ROLE})
        check_endpoint_account(Session(), EndpointOptions(), lines.append)
    assert lines[0].startswith("warning: cannot read SageMaker quotas (AccessDeniedException)")
    assert "aws iam create-service-linked-role --aws-service-name sagemaker.application-autoscaling" in lines[1]
    lines.clear()
    check_endpoint_account(None, EndpointOptions(endpoint_type=EndpointType.SERVERLESS), lines.append)
    assert lines[0].startswith("serverless: no instance quota")
    assert contract.CONTRACT.preflight is not None
