"""The endpoint lab's template: HA variant A, A/B weights, auto scaling on the endpoint's own
name, encrypted capture, a monitor that waits for the endpoint, the serverless variant without
any of those, least-privilege roles, nothing retained in sandbox; and its contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from catalog import endpoint as contract
from catalog.base import ConfigError
from catalog.endpoint import EndpointOptions, EndpointType, parse
from catalog.sagemaker_images import IMAGE_ACCOUNTS
from jobs.endpoint.model import MODEL_A, MODEL_B
from lambdas.shared.lab_names import ENDPOINT_LOG_GROUP_PREFIX
from tests.conftest import resources_of


@pytest.fixture(scope="module")
def realtime(sandbox):
    return sandbox.templates["endpoint"]


@pytest.fixture(scope="module", params=["sandbox", "production"])
def serverless(request, variants):
    return variants[f"{request.param}-serverless"].templates["endpoint"]


def one(template, resource_type):
    (found,) = resources_of(template, resource_type).items()
    return found


def variants_of(template):
    return one(template, "AWS::SageMaker::EndpointConfig")[1]["Properties"]["ProductionVariants"]


def key_arn(template):
    return {"Fn::GetAtt": [one(template, "AWS::KMS::Key")[0], "Arn"]}


def test_variant_a_runs_two_instances_or_more_and_b_takes_less_traffic(realtime):
    by_name = {v["VariantName"]: v for v in variants_of(realtime)}
    assert set(by_name) == {contract.VARIANT_A, contract.VARIANT_B}
    a, b = by_name[contract.VARIANT_A], by_name[contract.VARIANT_B]
    assert a["InitialInstanceCount"] >= 2
    assert b["InitialVariantWeight"] < a["InitialVariantWeight"]
    assert a["InstanceType"] == b["InstanceType"] == contract.DEFAULT_INSTANCE_TYPE
    assert a["ModelName"] != b["ModelName"]


def test_the_two_models_serve_the_two_shipped_artifacts_with_xgboost_1_7(sandbox, realtime):
    stack = sandbox.stacks["endpoint"]
    staged = {Path(m.artifact.asset_path).name: (sandbox.outdir / m.artifact.asset_path).read_bytes()
              for m in stack.models}
    assert sorted(staged.values()) == sorted([MODEL_A.read_bytes(), MODEL_B.read_bytes()])
    models = resources_of(realtime, "AWS::SageMaker::Model")
    urls = [json.dumps(m["Properties"]["PrimaryContainer"]["ModelDataUrl"]) for m in models.values()]
    assert len(set(urls)) == 2
    for model in models.values():
        image = json.dumps(model["Properties"]["PrimaryContainer"]["Image"])
        assert image.endswith('"/sagemaker-xgboost:1.7-1"]]}') and "FindInMap" in image
        assert "ModelName" not in model["Properties"]  # replaced on change: no fixed name


def test_no_fixed_config_name_and_variant_properties_survive_updates(realtime):
    config = one(realtime, "AWS::SageMaker::EndpointConfig")[1]["Properties"]
    assert "EndpointConfigName" not in config
    endpoint = one(realtime, "AWS::SageMaker::Endpoint")[1]["Properties"]
    assert endpoint["RetainAllVariantProperties"] is True
    assert endpoint["EndpointConfigName"] == {"Fn::GetAtt": [one(realtime, "AWS::SageMaker::EndpointConfig")[0],
                                                             "EndpointConfigName"]}


def test_the_scalable_target_and_policy_point_at_the_endpoints_own_name(realtime):
    endpoint_id = one(realtime, "AWS::SageMaker::Endpoint")[0]
    target_id, target = one(realtime, "AWS::ApplicationAutoScaling::ScalableTarget")
    props = target["Properties"]
    assert props["ResourceId"] == {"Fn::Join": ["/", ["endpoint", {"Fn::GetAtt": [endpoint_id, "EndpointName"]},
                                                      f"variant/{contract.VARIANT_A}"]]}
    assert (props["ServiceNamespace"], props["ScalableDimension"]) == ("sagemaker", contract.SCALABLE_DIMENSION)
    assert props["MinCapacity"] == 2 and 2 < props["MaxCapacity"] <= 4
    assert "RoleARN" not in props  # the service-linked role
    assert endpoint_id in target["DependsOn"]
    policy = one(realtime, "AWS::ApplicationAutoScaling::ScalingPolicy")[1]["Properties"]
    assert policy["ScalingTargetId"] == {"Ref": target_id}
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"
    assert tracking["ScaleOutCooldown"] < tracking["ScaleInCooldown"] <= 600


def test_capture_of_input_and_output_is_encrypted_in_an_encrypted_bucket(realtime):
    config = one(realtime, "AWS::SageMaker::EndpointConfig")[1]["Properties"]
    capture = config["DataCaptureConfig"]
    assert capture["EnableCapture"] is True and capture["KmsKeyId"] == key_arn(realtime)
    assert {o["CaptureMode"] for o in capture["CaptureOptions"]} == {"Input", "Output"}
    assert capture["CaptureContentTypeHeader"]["CsvContentTypes"] == ["text/csv"]
    parts = capture["DestinationS3Uri"]["Fn::Join"][1]
    assert parts[-1] == f"/{contract.CAPTURE_PREFIX}" and not parts[-1].endswith("/")
    bucket = realtime["Resources"][parts[1]["Ref"]]["Properties"]
    default = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert default == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn(realtime)}
    assert config["KmsKeyId"] == key_arn(realtime)  # the instances' volumes (c5 has no NVMe storage)


def test_the_monitor_waits_for_the_endpoint_and_runs_hourly_on_its_capture(realtime):
    endpoint_id = one(realtime, "AWS::SageMaker::Endpoint")[0]
    job_id, job = one(realtime, "AWS::SageMaker::DataQualityJobDefinition")
    schedule = one(realtime, "AWS::SageMaker::MonitoringSchedule")[1]
    assert endpoint_id in schedule["DependsOn"] and endpoint_id in job["DependsOn"]
    config = schedule["Properties"]["MonitoringScheduleConfig"]
    assert config["ScheduleConfig"]["ScheduleExpression"] == contract.HOURLY
    assert config["MonitoringJobDefinitionName"] == {
        "Fn::Select": [1, {"Fn::Split": ["/", {"Fn::GetAtt": [job_id, "JobDefinitionArn"]}]}]}
    props = job["Properties"]
    assert "JobDefinitionName" not in props
    endpoint_name = props["DataQualityJobInput"]["EndpointInput"]["EndpointName"]
    assert endpoint_name == {"Fn::GetAtt": [endpoint_id, "EndpointName"]}
    baseline = json.dumps(props["DataQualityBaselineConfig"])
    assert f"/{contract.BASELINE_RESULTS}/statistics.json" in baseline and "constraints.json" in baseline
    assert props["DataQualityJobOutputConfig"]["KmsKeyId"] == key_arn(realtime)
    assert props["JobResources"]["ClusterConfig"]["VolumeKmsKeyId"] == key_arn(realtime)
    image = json.dumps(props["DataQualityAppSpecification"]["ImageUri"])
    assert "sagemaker-model-monitor-analyzer" in image and "FindInMap" in image


def test_the_stack_owns_the_endpoints_log_group_and_creates_it_first(realtime):
    _endpoint_id, endpoint = one(realtime, "AWS::SageMaker::Endpoint")
    groups = {k: g for k, g in resources_of(realtime, "AWS::Logs::LogGroup").items()
              if ENDPOINT_LOG_GROUP_PREFIX in json.dumps(g["Properties"].get("LogGroupName"))}
    ((group_id, group),) = groups.items()
    name = group["Properties"]["LogGroupName"]
    assert name == {"Fn::Join": ["", [ENDPOINT_LOG_GROUP_PREFIX, endpoint["Properties"]["EndpointName"]]]}
    assert "AWS::StackId" in json.dumps(name)  # new for every stack: a retained group never collides
    assert group_id in endpoint["DependsOn"]
    assert group["Properties"]["KmsKeyId"] == key_arn(realtime) and group["Properties"]["RetentionInDays"] == 7


def test_models_are_network_isolated_and_nothing_is_in_a_vpc(realtime, production):
    for template in (realtime, production.templates["endpoint"]):
        for model in resources_of(template, "AWS::SageMaker::Model").values():
            assert model["Properties"]["EnableNetworkIsolation"] is True
            assert "VpcConfig" not in model["Properties"]
        assert not any(r["Type"].startswith("AWS::EC2::") for r in template["Resources"].values())


def policy_statements(template, description_start):
    (role,) = [k for k, r in resources_of(template, "AWS::IAM::Role").items()
               if r["Properties"].get("Description", "").startswith(description_start)]
    return [s for p in resources_of(template, "AWS::IAM::ManagedPolicy").values()
            if {"Ref": role} in p["Properties"].get("Roles", [])
            for s in p["Properties"]["PolicyDocument"]["Statement"]]


def actions(statement):
    return [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]


def test_the_hosting_role_reads_two_objects_and_only_writes_capture(realtime):
    found = {s.get("Sid"): s for s in policy_statements(realtime, "SageMaker hosting")}
    artifacts = found["ReadModelArtifacts"]
    assert actions(artifacts) == ["s3:GetObject"] and len(artifacts["Resource"]) == 2
    assert all(".gz" in json.dumps(r) for r in artifacts["Resource"])
    assert actions(found["WriteCapturedData"]) == ["s3:PutObject"]
    assert json.dumps(found["WriteCapturedData"]["Resource"]).endswith(f'"/{contract.CAPTURE_PREFIX}/*"]]}}')
    assert "sagemaker-xgboost" in json.dumps(found["PullImage"]["Resource"])
    everything = [a for s in found.values() for a in actions(s)]
    assert not any(a.endswith("*") for a in everything) and "s3:DeleteObject" not in everything


def test_the_monitor_role_writes_only_reports_and_baseline_results(realtime):
    found = {s.get("Sid"): s for s in policy_statements(realtime, "SageMaker Model Monitor")}
    writes = json.dumps(found["WriteReportsAndBaselineResults"]["Resource"])
    assert f"/{contract.MONITORING_PREFIX}/*" in writes and f"/{contract.BASELINE_RESULTS}/*" in writes
    assert f"/{contract.CAPTURE_PREFIX}/" not in writes
    assert "sagemaker-model-monitor-analyzer" in json.dumps(found["PullImage"]["Resource"])


def test_serverless_has_one_variant_no_capture_no_scaling_no_monitor_no_vpc(serverless):
    (variant,) = variants_of(serverless)
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": contract.SERVERLESS_MEMORY_MB,
                                           "MaxConcurrency": contract.SERVERLESS_MAX_CONCURRENCY}
    assert "InstanceType" not in variant and "InitialInstanceCount" not in variant
    config = one(serverless, "AWS::SageMaker::EndpointConfig")[1]["Properties"]
    assert "DataCaptureConfig" not in config and "VpcConfig" not in config
    types = {r["Type"] for r in serverless["Resources"].values()}
    assert not types & {"AWS::ApplicationAutoScaling::ScalableTarget", "AWS::ApplicationAutoScaling::ScalingPolicy",
                        "AWS::SageMaker::MonitoringSchedule", "AWS::SageMaker::DataQualityJobDefinition"}
    assert not any(t.startswith("AWS::EC2::") for t in types)
    (model,) = resources_of(serverless, "AWS::SageMaker::Model").values()
    assert model["Properties"]["EnableNetworkIsolation"] is False  # serverless does not support it
    assert "VpcConfig" not in model["Properties"]


def test_nothing_is_retained_in_sandbox(realtime, variants):
    for template in (realtime, variants["sandbox-serverless"].templates["endpoint"]):
        for name, resource in template["Resources"].items():
            assert resource.get("DeletionPolicy", "Delete") == "Delete", name
            assert resource.get("UpdateReplacePolicy", "Delete") == "Delete", name


def test_outputs_are_the_contracts_for_each_variant(realtime, variants):
    assert set(realtime["Outputs"]) == set(contract.CONTRACT.outputs_for(EndpointOptions()))
    serverless_outputs = set(variants["sandbox-serverless"].templates["endpoint"]["Outputs"])
    assert serverless_outputs == {contract.ENDPOINT, contract.ENDPOINT_TYPE, contract.VARIANTS, contract.LOG_GROUP,
                                  contract.KEY}


def test_the_image_map_is_the_sagemaker_sdks():
    import sagemaker  # only its data files are read

    config = Path(sagemaker.__file__).parent / "core" / "image_uri_config"
    xgboost = json.loads((config / "xgboost.json").read_text())["inference"]["versions"]["1.7-1"]["registries"]
    monitor = json.loads((config / "model-monitor.json").read_text())["versions"][""]["registries"]
    assert len(IMAGE_ACCOUNTS) >= 20
    for region, accounts in IMAGE_ACCOUNTS.items():
        assert (accounts.xgboost, accounts.model_monitor) == (xgboost[region], monitor[region]), region


@pytest.mark.parametrize("context, problem", [
    ({"endpoint_instance_type": "ml.t2.medium"}, "burstable"),
    ({"endpoint_instance_type": "c5.large"}, "not a SageMaker instance type"),
    ({"endpoint_type": "async"}, "not allowed"),
    ({"endpoint_monitor": "maybe"}, "not allowed"),
])
def test_bad_context_is_refused_in_one_line(context, problem):
    with pytest.raises(ConfigError, match=problem) as error:
        parse(context, "us-east-1")
    assert "\n" not in str(error.value)


def test_a_region_without_the_images_is_refused():
    with pytest.raises(ConfigError, match="us-gov-west-1 has no SageMaker"):
        parse({}, "us-gov-west-1")


def test_context_picks_the_variant_and_local_storage_types_lose_the_volume_key():
    assert parse({"endpoint_type": "serverless"}, "eu-west-1").endpoint_type is EndpointType.SERVERLESS
    assert not parse({"endpoint_monitor": "off"}, "us-east-1").monitored
    assert EndpointOptions(instance_type="ml.c5.large").volume_key_allowed
    assert not EndpointOptions(instance_type="ml.c5d.large").volume_key_allowed
    assert not EndpointOptions(instance_type="ml.g5.xlarge").volume_key_allowed
    assert not EndpointOptions(endpoint_type=EndpointType.SERVERLESS).volume_key_allowed


def test_costs_come_from_the_price_table():
    from catalog.prices import price

    realtime = contract.cost(EndpointOptions())
    instances = 3 * price("sagemaker_hosting_ml_c5_large_hour")
    assert realtime.idle_per_hour == pytest.approx(instances + price("kms_key_month") / 730)
    assert realtime.per_practice_run == pytest.approx(2 * 10 / 60 * price("sagemaker_processing_ml_m5_large_hour"))
    assert realtime.alternatives and realtime.alternatives[0][1] > realtime.per_practice_run
    serverless = contract.cost(EndpointOptions(endpoint_type=EndpointType.SERVERLESS))
    assert serverless.idle_per_hour < 0.002 and serverless.per_practice_run < 0.01
    unknown = contract.cost(EndpointOptions(instance_type="ml.r7i.large"))
    assert unknown.per_practice_run is None and "no hosting price" in unknown.run_note




def test_without_the_monitor_capture_stays_and_the_monitor_and_its_outputs_go(tmp_path_factory):
    from cdk_nag import AwsSolutionsChecks

    from tests.conftest import synthesize

    synth = synthesize("sandbox", tmp_path_factory.mktemp("cdk-endpoint-no-monitor"), labs="endpoint",
                       endpoint_monitor="off")
    template = synth.templates["endpoint"]
    types = {r["Type"] for r in template["Resources"].values()}
    assert "AWS::SageMaker::MonitoringSchedule" not in types and "AWS::SageMaker::DataQualityJobDefinition" not in types
    assert "DataCaptureConfig" in one(template, "AWS::SageMaker::EndpointConfig")[1]["Properties"]
    assert "AWS::ApplicationAutoScaling::ScalableTarget" in types
    assert set(template["Outputs"]) == set(contract.CONTRACT.outputs_for(EndpointOptions(monitor=False)))
    assert AwsSolutionsChecks().validate_scope(synth.app).violations == []
