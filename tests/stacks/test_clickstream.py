"""The clickstream lab's template: network exposure, secrets, ordering, both delivery variants."""

from __future__ import annotations

import json

import pytest

from tests.conftest import resources_of

FIREHOSE_CIDR_US_EAST_1 = "52.70.63.192/27"


@pytest.fixture(scope="module")
def firehose(sandbox):
    return sandbox.templates["clickstream"]


@pytest.fixture(scope="module")
def streaming(variants):
    return variants["sandbox-streaming"].templates["clickstream"]


def one(template, resource_type):
    (resource,) = resources_of(template, resource_type).values()
    return resource


def ingress_rules(template):
    rules = []
    for group in resources_of(template, "AWS::EC2::SecurityGroup").values():
        rules += group["Properties"].get("SecurityGroupIngress", [])
    rules += [r["Properties"] for r in resources_of(template, "AWS::EC2::SecurityGroupIngress").values()]
    return rules


def test_the_only_ingress_is_redshift_from_the_regional_firehose_cidr(firehose):
    (rule,) = ingress_rules(firehose)
    assert (rule["CidrIp"], rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == (
        FIREHOSE_CIDR_US_EAST_1, "tcp", 5439, 5439)
    workgroup = one(firehose, "AWS::RedshiftServerless::Workgroup")["Properties"]
    assert workgroup["PubliclyAccessible"] is True and workgroup["Port"] == 5439
    assert resources_of(firehose, "AWS::EC2::NatGateway") == {}
    for subnet in resources_of(firehose, "AWS::EC2::Subnet").values():
        assert subnet["Properties"]["MapPublicIpOnLaunch"] is False


def test_redshift_requires_tls_logs_user_activity_and_uses_the_lab_key(firehose):
    workgroup = one(firehose, "AWS::RedshiftServerless::Workgroup")["Properties"]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in workgroup["ConfigParameters"]}
    assert parameters == {"require_ssl": "true", "enable_user_activity_logging": "true"}
    assert workgroup["BaseCapacity"] == 4 and len(workgroup["SubnetIds"]) == 3
    namespace = one(firehose, "AWS::RedshiftServerless::Namespace")["Properties"]
    assert sorted(namespace["LogExports"]) == ["connectionlog", "useractivitylog", "userlog"]
    (key_id,) = resources_of(firehose, "AWS::KMS::Key")
    assert namespace["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    retained = {r["Properties"]["LogGroupName"]: r["Properties"]["RetentionInDays"]
                for r in resources_of(firehose, "Custom::LogRetention").values()}
    assert retained == {f"/aws/redshift/serverless/{t}": 7 for t in ("connectionlog", "userlog", "useractivitylog")}


def test_no_credential_is_in_the_template(firehose):
    namespace = one(firehose, "AWS::RedshiftServerless::Namespace")["Properties"]
    for prop in ("AdminUsername", "AdminUserPassword"):
        rendered = json.dumps(namespace[prop])
        assert rendered.startswith('{"Fn::Join"') and "{{resolve:secretsmanager:" in rendered, prop
    secret = one(firehose, "AWS::SecretsManager::Secret")["Properties"]
    assert "SecretString" not in secret and secret["GenerateSecretString"]["GenerateStringKey"] == "password"
    assert secret["KmsKeyId"]
    delivery = one(firehose, "AWS::KinesisFirehose::DeliveryStream")["Properties"]["RedshiftDestinationConfiguration"]
    assert "Password" not in delivery and "Username" not in delivery
    assert delivery["SecretsManagerConfiguration"]["Enabled"] is True


def depends_on(template, logical_id) -> set[str]:
    """Every resource ``logical_id`` waits for, directly or through other DependsOn entries."""
    seen, todo = set(), [logical_id]
    while todo:
        for dependency in template["Resources"][todo.pop()].get("DependsOn", []):
            if dependency not in seen:
                seen.add(dependency)
                todo.append(dependency)
    return seen


def test_the_table_exists_before_firehose_delivers(firehose):
    (delivery_id,) = resources_of(firehose, "AWS::KinesisFirehose::DeliveryStream")
    (sql_id,) = resources_of(firehose, "Custom::RedshiftSql")
    assert sql_id in depends_on(firehose, delivery_id)
    statements = firehose["Resources"][sql_id]["Properties"]["Statements"]
    assert statements[0] == "CREATE SCHEMA IF NOT EXISTS clickstream"
    assert statements[1].startswith("CREATE TABLE IF NOT EXISTS clickstream.events (")
    delivery = one(firehose, "AWS::KinesisFirehose::DeliveryStream")["Properties"]
    copy = delivery["RedshiftDestinationConfiguration"]["CopyCommand"]
    assert copy["DataTableName"] == "clickstream.events"
    for column in copy["DataTableColumns"].split(","):
        assert f"  {column} " in statements[1], column


def test_firehose_transforms_keeps_failures_logs_and_buffers_small(firehose):
    stream = one(firehose, "AWS::KinesisFirehose::DeliveryStream")["Properties"]
    assert stream["DeliveryStreamType"] == "KinesisStreamAsSource"
    redshift = stream["RedshiftDestinationConfiguration"]
    (processor,) = redshift["ProcessingConfiguration"]["Processors"]
    parameters = {p["ParameterName"]: p["ParameterValue"] for p in processor["Parameters"]}
    functions = resources_of(firehose, "AWS::Lambda::Function")
    transform_id = next(k for k, f in functions.items()
                        if "normalizes click events" in f["Properties"].get("Description", ""))
    assert parameters["LambdaArn"] == {"Fn::GetAtt": [transform_id, "Arn"]}
    staging = redshift["S3Configuration"]
    assert staging["ErrorOutputPrefix"].startswith("errors/!{firehose:error-output-type}/")
    assert staging["BufferingHints"] == {"IntervalInSeconds": 60, "SizeInMBs": 1}
    assert staging["EncryptionConfiguration"]["KMSEncryptionConfig"]["AWSKMSKeyARN"]
    assert redshift["S3BackupMode"] == "Enabled" and redshift["S3BackupConfiguration"]["Prefix"] == "backup/"
    log_group = redshift["CloudWatchLoggingOptions"]["LogGroupName"]["Ref"]
    assert firehose["Resources"][log_group]["Type"] == "AWS::Logs::LogGroup"
    assert firehose["Resources"][log_group]["Properties"]["RetentionInDays"] == 7


def test_the_stream_is_one_encrypted_shard_in_sandbox_and_on_demand_on_request(firehose, streaming):
    stream = one(firehose, "AWS::Kinesis::Stream")["Properties"]
    assert stream["ShardCount"] == 1 and stream["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert stream["StreamEncryption"]["EncryptionType"] == "KMS"
    on_demand = one(streaming, "AWS::Kinesis::Stream")["Properties"]
    assert on_demand["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"} and "ShardCount" not in on_demand


def test_streaming_ingestion_has_no_firehose_and_no_public_endpoint(streaming):
    assert resources_of(streaming, "AWS::KinesisFirehose::DeliveryStream") == {}
    assert resources_of(streaming, "AWS::EC2::InternetGateway") == {}
    assert ingress_rules(streaming) == []
    workgroup = one(streaming, "AWS::RedshiftServerless::Workgroup")["Properties"]
    assert workgroup["PubliclyAccessible"] is False
    namespace = one(streaming, "AWS::RedshiftServerless::Namespace")["Properties"]
    (role_id,) = [k for k in resources_of(streaming, "AWS::IAM::Role") if k.startswith("StreamingIngestion")]
    assert namespace["DefaultIamRoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}


def test_streaming_ingestion_reads_the_stream_through_an_auto_refreshing_view(streaming):
    (sql_id,) = resources_of(streaming, "Custom::RedshiftSql")
    statements = streaming["Resources"][sql_id]["Properties"]["Statements"]
    rendered = json.dumps(statements)
    (stream_id,) = resources_of(streaming, "AWS::Kinesis::Stream")
    (role_id,) = [k for k in resources_of(streaming, "AWS::IAM::Role") if k.startswith("StreamingIngestion")]
    assert f'"Ref": "{stream_id}"' in rendered and f'"{role_id}", "Arn"' in rendered
    assert "FROM KINESIS IAM_ROLE" in rendered and "AUTO REFRESH YES" in rendered
    assert "CREATE OR REPLACE VIEW clickstream.events AS" in rendered
    policy = next(p for k, p in resources_of(streaming, "AWS::IAM::ManagedPolicy").items()
                  if k.startswith("StreamingIngestion"))
    actions = {a for s in policy["Properties"]["PolicyDocument"]["Statement"] for a in
               (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert {"kinesis:GetRecords", "kinesis:GetShardIterator", "kms:Decrypt"} <= actions
    assert not any(a.endswith("*") or a.startswith(("kinesis:Put", "kinesis:Delete")) for a in actions)


def test_outputs_give_the_practice_step_what_it_needs(firehose, streaming):
    from labs.practice.clickstream.command import REQUIRED_OUTPUTS

    for template, extra in ((firehose, {"DeliveryStreamName"}), (streaming, set())):
        assert set(REQUIRED_OUTPUTS) | extra <= set(template["Outputs"])
    assert firehose["Outputs"]["DeliveryMethod"]["Value"] == "firehose"
    assert streaming["Outputs"]["DeliveryMethod"]["Value"] == "streaming"
