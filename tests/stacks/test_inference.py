"""The inference lab's template: each serving way, the async config and its scale-to-zero policies,
the rollout, broken and shadow configs, the rollback alarm, least-privilege hosting; and its contract."""

from __future__ import annotations

import json

import pytest

from catalog import inference as contract
from catalog.base import ConfigError
from catalog.inference import InferenceOptions, parse
from tests.conftest import resources_of


@pytest.fixture(scope="module", params=["sandbox", "production"])
def template(request, synthesized):
    return synthesized[request.param].templates["inference"]


@pytest.fixture(scope="module")
def sandbox_template(sandbox):
    return sandbox.templates["inference"]


def by_id(template, prefix, resource_type):
    (found,) = [v for k, v in resources_of(template, resource_type).items() if k.startswith(prefix)]
    return found["Properties"]


def config_of(template, endpoint_prefix):
    endpoint = by_id(template, endpoint_prefix, "AWS::SageMaker::Endpoint")
    config_id = endpoint["EndpointConfigName"]["Fn::GetAtt"][0]
    return endpoint, template["Resources"][config_id]["Properties"]


def model_of(template, variant):
    return template["Resources"][variant["ModelName"]["Fn::GetAtt"][0]]["Properties"]


def test_real_time_serves_model_a_on_one_instance_under_the_lab_key(template):
    endpoint, config = config_of(template, "RealtimeEndpoint")
    (variant,) = config["ProductionVariants"]
    assert (variant["VariantName"], variant["InitialInstanceCount"], variant["InstanceType"]) == (
        contract.VARIANT, 1, contract.DEFAULT_INSTANCE_TYPE)
    assert config["KmsKeyId"]["Fn::GetAtt"][0].startswith("InferenceKey")
    assert "DeploymentConfig" not in endpoint  # rollouts go through UpdateEndpoint, not stack updates
    assert model_of(template, variant)["EnableNetworkIsolation"] is True


def test_serverless_has_memory_and_concurrency_and_no_provisioned_concurrency_by_default(template):
    _, config = config_of(template, "ServerlessEndpoint")
    (variant,) = config["ProductionVariants"]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
    assert "KmsKeyId" not in config and "InstanceType" not in variant
    assert model_of(template, variant)["EnableNetworkIsolation"] is False  # serverless refuses isolation


def test_the_provisioned_variant_keeps_one_serverless_instance_warm(variants):
    _, config = config_of(variants["sandbox-provisioned"].templates["inference"], "ServerlessEndpoint")
    assert config["ProductionVariants"][0]["ServerlessConfig"]["ProvisionedConcurrency"] == 1


def test_async_writes_results_and_failures_to_the_bucket_and_notifies_both_topics(template):
    endpoint, config = config_of(template, "AsyncEndpoint")
    output = config["AsyncInferenceConfig"]["OutputConfig"]
    bucket = {"Ref": next(k for k in resources_of(template, "AWS::S3::Bucket") if k.startswith("InferenceData"))}
    assert output["S3OutputPath"] == {"Fn::Join": ["", ["s3://", bucket, f"/{contract.ASYNC_OUTPUT}"]]}
    assert output["S3FailurePath"] == {"Fn::Join": ["", ["s3://", bucket, f"/{contract.ASYNC_FAILURES}"]]}
    notify = output["NotificationConfig"]
    assert notify["SuccessTopic"]["Ref"].startswith("AsyncSuccessTopic")
    assert notify["ErrorTopic"]["Ref"].startswith("AsyncErrorTopic")
    assert output["KmsKeyId"]["Fn::GetAtt"][0].startswith("InferenceKey")
    assert config["AsyncInferenceConfig"]["ClientConfig"] == {"MaxConcurrentInvocationsPerInstance": 4}
    assert config["ProductionVariants"][0]["InitialInstanceCount"] == 1  # an async config needs one to start
    assert endpoint["RetainAllVariantProperties"] is True  # a stack update keeps the scaled count


def test_both_topics_deliver_to_the_queue_and_only_they_may(template):
    subscriptions = resources_of(template, "AWS::SNS::Subscription").values()
    assert sorted(s["Properties"]["TopicArn"]["Ref"][:12] for s in subscriptions) == ["AsyncErrorTo", "AsyncSuccess"]
    assert all(s["Properties"]["Protocol"] == "sqs" for s in subscriptions)
    (policy,) = resources_of(template, "AWS::SQS::QueuePolicy").values()
    sends = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Action"] == "sqs:SendMessage"]
    assert len(sends) == 2 and all(s["Principal"] == {"Service": "sns.amazonaws.com"} and
                                   "aws:SourceArn" in s["Condition"]["ArnEquals"] for s in sends)
    for topic in resources_of(template, "AWS::SNS::Topic").values():
        assert topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0].startswith("InferenceKey")


def test_async_scales_to_zero_on_its_backlog_and_back_up_when_requests_wait(template):
    target = by_id(template, "AsyncScalingTarget", "AWS::ApplicationAutoScaling::ScalableTarget")
    assert (target["MinCapacity"], target["MaxCapacity"], target["ScalableDimension"]) == (
        0, 1, contract.SCALABLE_DIMENSION)
    backlog = by_id(template, "AsyncScalingBacklog", "AWS::ApplicationAutoScaling::ScalingPolicy")
    tracking = backlog["TargetTrackingScalingPolicyConfiguration"]
    metric = tracking["CustomizedMetricSpecification"]
    assert (metric["MetricName"], metric["Namespace"], metric["Statistic"]) == (
        "ApproximateBacklogSizePerInstance", "AWS/SageMaker", "Average")
    assert metric["Dimensions"][0]["Name"] == "EndpointName" and tracking["TargetValue"] == 5.0
    step = by_id(template, "AsyncScalingFromZeroPolicy", "AWS::ApplicationAutoScaling::ScalingPolicy")
    assert step["PolicyType"] == "StepScaling"
    assert step["StepScalingPolicyConfiguration"]["StepAdjustments"] == [
        {"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}]
    alarm = by_id(template, "AsyncScalingFromZeroAlarm", "AWS::CloudWatch::Alarm")
    assert alarm["MetricName"] == "HasBacklogWithoutCapacity" and alarm["Threshold"] == 1
    assert alarm["AlarmActions"] == [{"Ref": next(k for k in template["Resources"]
                                                  if k.startswith("AsyncScalingFromZeroPolicy"))}]


def test_the_rollout_configs_keep_the_variant_name_and_give_canaries_two_instances(template):
    for config_id, model in (("RolloutConfig", "ModelB"), ("BrokenConfig", "ModelBroken")):
        (variant,) = template["Resources"][config_id]["Properties"]["ProductionVariants"]
        assert (variant["VariantName"], variant["InitialInstanceCount"]) == (contract.VARIANT, 2)
        assert variant["ModelName"]["Fn::GetAtt"][0].startswith(model)
        assert "EndpointConfigName" not in template["Resources"][config_id]["Properties"]


def test_the_shadow_config_has_one_production_and_one_shadow_variant(template):
    config = template["Resources"]["ShadowConfig"]["Properties"]
    (production,), (shadow,) = config["ProductionVariants"], config["ShadowProductionVariants"]
    assert (production["VariantName"], shadow["VariantName"]) == (contract.VARIANT, contract.SHADOW_VARIANT)
    assert production["ModelName"]["Fn::GetAtt"][0].startswith("ModelA")
    assert shadow["ModelName"]["Fn::GetAtt"][0].startswith("ModelB")


def test_the_rollback_alarm_sums_the_variants_errors_and_is_quiet_without_traffic(template):
    alarm = by_id(template, "RollbackAlarm", "AWS::CloudWatch::Alarm")
    assert alarm["AlarmName"] == {"Fn::Join": ["-", [{"Ref": "AWS::StackName"}, "realtime-errors"]]}
    assert (alarm["Threshold"], alarm["EvaluationPeriods"], alarm["TreatMissingData"]) == (1, 1, "notBreaching")
    expression, *metrics = alarm["Metrics"]
    assert expression["Expression"] == "FILL(e0, 0) + FILL(e1, 0)"
    assert sorted(m["MetricStat"]["Metric"]["MetricName"] for m in metrics) == ["Invocation4XXErrors",
                                                                               "Invocation5XXErrors"]
    for metric in metrics:
        dimensions = {d["Name"]: d["Value"] for d in metric["MetricStat"]["Metric"]["Dimensions"]}
        assert dimensions["VariantName"] == contract.VARIANT
        assert dimensions["EndpointName"]["Fn::GetAtt"][0].startswith("RealtimeEndpoint")


def statements(template):
    policy = by_id(template, "HostingRolePolicy", "AWS::IAM::ManagedPolicy")
    return {s.get("Sid"): s for s in policy["PolicyDocument"]["Statement"]}


def test_the_hosting_role_reads_requests_writes_results_and_reads_only_its_alarm(template):
    found = statements(template)
    reads = json.dumps(found["ReadAsyncRequests"]["Resource"])
    assert f"/{contract.ASYNC_INPUT}/*" in reads and "output" not in reads
    assert found["NotifyAsyncResults"]["Action"] == "sns:Publish"
    assert len(found["NotifyAsyncResults"]["Resource"]) == 2
    assert found["ListTransformInput"]["Condition"] == {"StringLike": {"s3:prefix": [f"{contract.TRANSFORM_INPUT}/*"]}}
    assert "realtime-errors" in json.dumps(found["ReadRollbackAlarm"]["Resource"])
    assert "TransformJobs" in json.dumps(found["TransformJobLogs"]["Resource"])


def test_every_endpoint_logs_to_a_group_the_stack_owns_before_it_exists(template):
    groups = resources_of(template, "AWS::Logs::LogGroup")
    for prefix in ("RealtimeEndpoint", "ServerlessEndpoint", "AsyncEndpoint"):
        (endpoint,) = [v for k, v in resources_of(template, "AWS::SageMaker::Endpoint").items() if k.startswith(prefix)]
        assert any(dep in groups for dep in endpoint.get("DependsOn", [])), prefix


def test_the_contract_and_the_stack_agree_on_the_idle_cost_in_sandbox():
    cost = contract.cost(InferenceOptions())
    assert cost.idle_per_hour <= 0.15  # async and serverless at zero: one real-time instance, the key, alarms
    assert dict(cost.alternatives).keys() == {"rollout", "shadow"} and cost.per_practice_run < 0.2


@pytest.mark.parametrize(("context", "message"), [
    ({"inference_instance_type": "ml.t2.medium"}, "is not allowed; use one of"),
    ({"inference_instance_type": "ml.c5.large"}, "runs batch transform"),
    ({"inference_serverless_memory_mb": "1500"}, "a multiple of 1024"),
    ({"inference_serverless_max_concurrency": "0"}, "from 1 to 200"),
    ({"inference_serverless_provisioned": "9"}, "from 0 to 5"),
    ({"inference_realtime_instances": "two"}, "from 1 to 4"),
])
def test_bad_context_values_are_one_line_with_the_fix(context, message):
    with pytest.raises(ConfigError, match=message):
        parse(context, "us-east-1")


def test_every_allowed_type_hosts_and_runs_batch_transform_in_botocores_model():
    import boto3

    model = boto3.client("sagemaker", region_name="us-east-1").meta.service_model
    hosting = model.shape_for("ProductionVariantInstanceType").enum
    transform = model.shape_for("TransformInstanceType").enum
    assert set(contract.INSTANCE_TYPES) <= set(hosting) & set(transform)
