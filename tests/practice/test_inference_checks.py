"""`labs deploy inference`'s preflight: each quota the lab needs, by name, against Service Quotas (Stubber)."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from catalog.inference import InferenceOptions
from labs.engine.errors import LabError
from labs.practice.inference.checks import SERVERLESS_CONCURRENCY_QUOTA, check_quotas, needed


def quotas_client(values):
    client = boto3.client("service-quotas", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    stub.add_response("list_service_quotas", {"Quotas": [
        {"QuotaName": name, "Value": value, "QuotaCode": f"L-{n:08X}", "ServiceCode": "sagemaker"}
        for n, (name, value) in enumerate(values.items())]}, {"ServiceCode": "sagemaker"})
    stub.activate()
    return client, stub


def test_the_preflight_names_each_quota_and_what_the_practice_needs_beyond_deploying():
    client, stub = quotas_client({"ml.m5.large for endpoint usage": 2, "ml.m5.large for transform job usage": 0,
                                  SERVERLESS_CONCURRENCY_QUOTA: 1000})
    lines = []
    check_quotas(client, InferenceOptions(), "us-east-1", lines.append)
    stub.assert_no_pending_responses()
    assert lines == [
        'quota: "ml.m5.large for endpoint usage" = 2 (the practice needs 4: a rollout runs the old and the new fleet)',
        'quota: "ml.m5.large for transform job usage" = 0 (the practice needs 1: the table\'s batch row)',
        f'quota: "{SERVERLESS_CONCURRENCY_QUOTA}" = 1000',
    ]


def test_too_few_endpoint_instances_stop_the_deploy_in_one_line():
    client, _ = quotas_client({"ml.m5.large for endpoint usage": 1, "ml.m5.large for transform job usage": 1,
                               SERVERLESS_CONCURRENCY_QUOTA: 1000})
    with pytest.raises(LabError, match=r'"ml\.m5\.large for endpoint usage" is 1 in us-east-1 and the lab needs 2'):
        check_quotas(client, InferenceOptions(), "us-east-1", lambda _: None)


def test_more_real_time_instances_need_more_quota():
    assert needed(InferenceOptions(realtime_instances=2))["ml.m5.large for endpoint usage"][:2] == (3, 5)
