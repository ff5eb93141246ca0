"""The data-lake lab's defining properties, read from the synthesized templates."""

from __future__ import annotations

import pytest

from labs.practice.data_lake.command import REQUIRED_OUTPUTS
from tests.conftest import resources_of


def logical_id(stack, construct) -> str:
    target = construct.node.default_child or construct
    return stack.resolve(stack.get_logical_id(target))


@pytest.fixture(scope="module", params=["sandbox", "production"])
def lake(request, synthesized):
    synth = synthesized[request.param]
    return synth.stacks["data-lake"], synth.templates["data-lake"]


def test_key_rotates(lake):
    _, template = lake
    keys = resources_of(template, "AWS::KMS::Key")
    assert len(keys) == 1 and all(k["Properties"]["EnableKeyRotation"] for k in keys.values())


def test_buckets_block_public_access_explicitly_and_require_tls(lake):
    _, template = lake
    buckets = resources_of(template, "AWS::S3::Bucket")
    assert len(buckets) == 5
    for name, bucket in buckets.items():
        assert bucket["Properties"]["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
        }, name
    policies = {p["Properties"]["Bucket"]["Ref"]: p for p in resources_of(template, "AWS::S3::BucketPolicy").values()}
    assert set(policies) == set(buckets)
    for bucket, policy in policies.items():
        denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        conditions = [s["Condition"] for s in denies]
        assert {"Bool": {"aws:SecureTransport": "false"}} in conditions, bucket
        assert {"NumericLessThan": {"s3:TlsVersion": 1.2}} in conditions, bucket


def test_zone_buckets_use_the_lab_key_and_log_to_the_access_log_bucket(lake):
    stack, template = lake
    key_id = logical_id(stack, stack.key)
    logs_id = logical_id(stack, stack.access_logs.bucket)
    for zone in (stack.raw, stack.curated, stack.archive, stack.query_results):
        props = template["Resources"][logical_id(stack, zone.bucket)]["Properties"]
        rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {"Fn::GetAtt": [key_id, "Arn"]}
        assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": logs_id}
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    access_logs = template["Resources"][logs_id]["Properties"]
    assert access_logs["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_lifecycle_demonstrates_every_storage_class_and_expiration(lake):
    stack, template = lake

    def rules(bucket):
        return template["Resources"][logical_id(stack, bucket.bucket)]["Properties"]["LifecycleConfiguration"]["Rules"]

    classes = {
        t["StorageClass"]
        for zone in (stack.raw, stack.curated, stack.archive)
        for r in rules(zone) for t in r.get("Transitions", [])
    }
    assert classes == {"INTELLIGENT_TIERING", "STANDARD_IA", "GLACIER", "DEEP_ARCHIVE"}
    archive = next(r for r in rules(stack.archive) if r.get("Transitions"))
    days = {t["StorageClass"]: t["TransitionInDays"] for t in archive["Transitions"]}
    assert days["DEEP_ARCHIVE"] - days["GLACIER"] >= 90  # Glacier's 90-day minimum before Deep Archive
    scratch = [r for r in rules(stack.raw) if r.get("Prefix") == "scratch/"]
    assert scratch and scratch[0]["ExpirationInDays"] == 7
    for zone in (stack.raw, stack.curated, stack.archive):
        assert any("NoncurrentVersionExpiration" in r for r in rules(zone))


def test_access_log_bucket_is_emptied_after_the_buckets_logging_into_it(sandbox):
    stack, template = sandbox.stacks["data-lake"], sandbox.templates["data-lake"]
    logs_id = logical_id(stack, stack.access_logs.bucket)
    emptier = next(
        r for r in resources_of(template, "Custom::S3AutoDeleteObjects").values()
        if r["Properties"]["BucketName"] == {"Ref": logs_id}
    )
    for zone in (stack.raw, stack.curated, stack.archive, stack.query_results):
        assert logical_id(stack, zone.bucket) in emptier["DependsOn"]


def test_a_database_per_zone_revokes_iam_allowed_principals_for_new_tables(lake):
    _, template = lake
    databases = resources_of(template, "AWS::Glue::Database")
    names = sorted(d["Properties"]["DatabaseInput"]["Name"] for d in databases.values())
    assert names == ["mlref_data_lake_archive", "mlref_data_lake_curated", "mlref_data_lake_raw"]
    for database in databases.values():
        assert database["Properties"]["DatabaseInput"]["CreateTableDefaultPermissions"] == []
    assert resources_of(template, "AWS::LakeFormation::DataLakeSettings")
    settings = next(iter(resources_of(template, "AWS::LakeFormation::DataLakeSettings").values()))
    assert "CreateDatabaseDefaultPermissions" not in settings["Properties"]  # account-wide defaults untouched


def test_crawler_is_on_demand_with_encrypted_stack_owned_logs(lake):
    stack, template = lake
    crawler = template["Resources"][logical_id(stack, stack.crawler.crawler)]["Properties"]
    assert "Schedule" not in crawler
    assert crawler["Role"] == {"Fn::GetAtt": [logical_id(stack, stack.crawler.role.role), "Arn"]}
    config = template["Resources"][logical_id(stack, stack.crawler.security_configuration)]["Properties"]
    assert crawler["CrawlerSecurityConfiguration"] == config["Name"]
    encryption = config["EncryptionConfiguration"]
    assert encryption["CloudWatchEncryption"]["CloudWatchEncryptionMode"] == "SSE-KMS"
    assert encryption["S3Encryptions"][0]["S3EncryptionMode"] == "SSE-KMS"
    group = template["Resources"][logical_id(stack, stack.crawler.log_group)]["Properties"]
    assert group["LogGroupName"] == {
        "Fn::Join": ["", ["/aws-glue/crawlers-role/", {"Ref": logical_id(stack, stack.crawler.role.role)},
                          f"-{config['Name']}"]]
    }
    assert "KmsKeyId" in group and "RetentionInDays" in group


def test_data_lake_settings_append_the_execution_role_and_the_lab_admin(lake):
    stack, template = lake
    settings = template["Resources"][logical_id(stack, stack.admins.settings)]
    assert settings["Properties"]["MutationType"] == "APPEND"
    admins = [a["DataLakePrincipalIdentifier"] for a in settings["Properties"]["Admins"]]
    assert admins[0] == {
        "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/"
                   "cdk-hnb659fds-cfn-exec-role-${AWS::AccountId}-us-east-1"
    }
    assert admins[1] == {"Fn::GetAtt": [logical_id(stack, stack.engineer_role.role), "Arn"]}
    # The cleanup custom resource is created first and deleted last.
    assert logical_id(stack, stack.admins.cleanup) in settings["DependsOn"]
    cleanup = template["Resources"][logical_id(stack, stack.admins.cleanup)]
    assert cleanup["Type"] == "Custom::LakeFormationAdminCleanup"
    assert cleanup["Properties"]["Principals"] == [admins[1]]


def test_locations_are_registered_with_a_dedicated_role(lake):
    stack, template = lake
    registered = resources_of(template, "AWS::LakeFormation::Resource")
    assert len(registered) == 2
    for location in stack.locations.values():
        props = template["Resources"][logical_id(stack, location.resource)]["Properties"]
        assert props["UseServiceLinkedRole"] is False
        role = template["Resources"][logical_id(stack, location.role.role)]
        assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
            "Service": "lakeformation.amazonaws.com"
        }
        assert props["RoleArn"] == {"Fn::GetAtt": [logical_id(stack, location.role.role), "Arn"]}


def test_every_grant_is_ordered_after_what_it_needs(lake):
    stack, template = lake
    settings_id = logical_id(stack, stack.admins.settings)
    grants = resources_of(template, "AWS::LakeFormation::PrincipalPermissions")
    assert len(grants) == len(stack.grants) == 8
    for name, grant in grants.items():
        depends = set(grant["DependsOn"])
        assert settings_id in depends, name
        resource = grant["Properties"]["Resource"]
        if "DataLocation" in resource:
            assert depends & {logical_id(stack, loc.resource) for loc in stack.locations.values()}, name
        if "Database" in resource or "Table" in resource:
            assert depends & {logical_id(stack, db.database) for db in stack.databases.values()}, name
        assert "IAM_ALLOWED_PRINCIPALS" not in str(grant["Properties"]["Principal"])
        assert grant["Properties"]["PermissionsWithGrantOption"] == []


def test_analyst_is_read_only_on_the_curated_database(lake):
    stack, template = lake
    analyst = {"Fn::GetAtt": [logical_id(stack, stack.analyst_role.role), "Arn"]}
    grants = [
        g["Properties"] for g in resources_of(template, "AWS::LakeFormation::PrincipalPermissions").values()
        if g["Properties"]["Principal"]["DataLakePrincipalIdentifier"] == analyst
    ]
    assert len(grants) == 2
    for grant in grants:
        assert set(grant["Permissions"]) <= {"SELECT", "DESCRIBE"}
        target = grant["Resource"].get("Database", {}).get("Name") or grant["Resource"]["Table"]["DatabaseName"]
        assert target == "mlref_data_lake_curated"


def test_athena_workgroup_enforces_encrypted_results_and_a_scan_limit(lake):
    stack, template = lake
    config = template["Resources"][logical_id(stack, stack.workgroup.workgroup)]["Properties"]["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["ResultConfiguration"]["EncryptionConfiguration"]["EncryptionOption"] == "SSE_KMS"
    assert 10 * 1024**2 <= config["BytesScannedCutoffPerQuery"] <= 10 * 1024**3


def test_outputs_cover_what_the_practice_step_needs(lake):
    _, template = lake
    assert set(REQUIRED_OUTPUTS) <= set(template["Outputs"])
