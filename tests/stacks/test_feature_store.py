"""The feature-store lab's template: KMS on both stores, a stack-owned offline catalog,
names that survive replacement, least-privilege roles, nothing retained in sandbox."""

from __future__ import annotations

import dataclasses

import pytest

from catalog.feature_store import (
    CLICK_ACTIVITY,
    CUSTOMER_PROFILE,
    DATABASE_NAME,
    OFFLINE_COLUMNS,
    Feature,
    FeatureGroupSpec,
)
from tests.conftest import resources_of


@pytest.fixture(scope="module")
def store(sandbox):
    return sandbox.templates["feature-store"]


def groups(template):
    return resources_of(template, "AWS::SageMaker::FeatureGroup")


def key_arn(template):
    (key,) = resources_of(template, "AWS::KMS::Key")
    return {"Fn::GetAtt": [key, "Arn"]}


def test_two_shared_groups_each_with_online_and_offline_store_under_the_lab_key(store):
    found = groups(store)
    assert len(found) == 2
    for group in found.values():
        props = group["Properties"]
        assert props["OnlineStoreConfig"]["EnableOnlineStore"] is True
        assert props["OnlineStoreConfig"]["SecurityConfig"]["KmsKeyId"] == key_arn(store)
        assert props["OfflineStoreConfig"]["S3StorageConfig"]["KmsKeyId"] == key_arn(store)
        assert props["ThroughputConfig"] == {"ThroughputMode": "OnDemand"}


def test_the_offline_bucket_is_encrypted_with_the_same_key(store):
    group = next(iter(groups(store).values()))
    bucket_ref = group["Properties"]["OfflineStoreConfig"]["S3StorageConfig"]["S3Uri"]["Fn::Join"][1][1]["Ref"]
    bucket_encryption = store["Resources"][bucket_ref]["Properties"]["BucketEncryption"]
    encryption = bucket_encryption["ServerSideEncryptionConfiguration"][0]
    assert encryption["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms",
                                                           "KMSMasterKeyID": key_arn(store)}


def test_the_stack_owns_the_offline_catalog_and_feature_store_creates_none(store):
    (database,) = resources_of(store, "AWS::Glue::Database").values()
    assert database["Properties"]["DatabaseInput"]["Name"] == DATABASE_NAME
    assert DATABASE_NAME.startswith("mlref_")  # the janitor's Glue scope
    tables = {t["Properties"]["TableInput"]["Name"]: t for t in resources_of(store, "AWS::Glue::Table").values()}
    for group in groups(store).values():
        offline = group["Properties"]["OfflineStoreConfig"]
        assert offline["DisableGlueTableCreation"] is True and offline["TableFormat"] == "Glue"
        catalog = offline["DataCatalogConfig"]
        assert catalog["Catalog"] == "AwsDataCatalog" and catalog["Database"] == DATABASE_NAME
        table = tables[catalog["TableName"]]
        assert table["Properties"]["DatabaseName"] == DATABASE_NAME
        location = table["Properties"]["TableInput"]["StorageDescriptor"]["Location"]["Fn::Join"][1]
        uri = offline["S3StorageConfig"]["S3Uri"]["Fn::Join"][1]
        assert location[:-1] == uri[:-1] and location[-1] == uri[-1] + "/"
        assert set(group.get("DependsOn", [])) & set(resources_of(store, "AWS::Glue::Table"))


def test_table_columns_are_the_features_plus_the_offline_store_columns(store):
    specs = {spec.table_name: spec for spec in (CUSTOMER_PROFILE, CLICK_ACTIVITY)}
    glue_types = {"String": "string", "Integral": "bigint", "Fractional": "double"}
    for table in resources_of(store, "AWS::Glue::Table").values():
        spec = specs[table["Properties"]["TableInput"]["Name"]]
        columns = [(c["Name"], c["Type"]) for c in table["Properties"]["TableInput"]["StorageDescriptor"]["Columns"]]
        assert columns == [(f.name, glue_types[f.type]) for f in spec.features] + list(OFFLINE_COLUMNS)


def test_feature_definitions_have_identifier_and_event_time_of_valid_types(store):
    for group in groups(store).values():
        props = group["Properties"]
        types = {d["FeatureName"]: d["FeatureType"] for d in props["FeatureDefinitions"]}
        assert set(types.values()) <= {"String", "Integral", "Fractional"}
        assert types[props["RecordIdentifierFeatureName"]] in {"String", "Integral"}
        assert types[props["EventTimeFeatureName"]] in {"String", "Fractional"}
        assert len(types) == len(props["FeatureDefinitions"]) <= 2500


@pytest.mark.parametrize("change, problem", [
    ({"features": (Feature("customer_id", "String"), Feature("event_time", "String"), Feature("age", "Float"))},
     "not one of"),
    ({"record_identifier": "nope"}, "record identifier"),
    ({"event_time": "age"}, "event time"),
    ({"features": (*CUSTOMER_PROFILE.features, Feature("is_deleted", "String"))}, "reserved"),
    ({"features": (*CUSTOMER_PROFILE.features, Feature("Age", "Integral"))}, "lower-case"),
    ({"features": (*CUSTOMER_PROFILE.features, CUSTOMER_PROFILE.features[2])}, "duplicate"),
])
def test_invalid_definitions_are_refused_before_synthesis(change, problem):
    with pytest.raises(ValueError, match=problem):
        dataclasses.replace(CUSTOMER_PROFILE, **change)


def test_changing_a_definition_changes_the_names_so_replacement_does_not_collide():
    same = FeatureGroupSpec(**{f.name: getattr(CUSTOMER_PROFILE, f.name) for f in dataclasses.fields(CUSTOMER_PROFILE)})
    assert same.group_name == CUSTOMER_PROFILE.group_name  # deterministic: no churn without a change
    widened = dataclasses.replace(CUSTOMER_PROFILE,
                                  features=(*CUSTOMER_PROFILE.features, Feature("churned", "Integral")))
    retyped = dataclasses.replace(CUSTOMER_PROFILE, features=tuple(
        Feature(f.name, "Fractional") if f.name == "age" else f for f in CUSTOMER_PROFILE.features))
    described = dataclasses.replace(CUSTOMER_PROFILE, description="updated in place")
    names = {CUSTOMER_PROFILE.group_name, widened.group_name, retyped.group_name}
    assert len(names) == 3 and len({CUSTOMER_PROFILE.table_name, widened.table_name, retyped.table_name}) == 3
    assert described.group_name == CUSTOMER_PROFILE.group_name
    assert all(len(name) <= 64 for name in names)


def statements(template, role_description_start):
    roles = {k: r for k, r in resources_of(template, "AWS::IAM::Role").items()
             if r["Properties"].get("Description", "").startswith(role_description_start)}
    (role,) = roles
    found = []
    for policy in resources_of(template, "AWS::IAM::ManagedPolicy").values():
        if {"Ref": role} in policy["Properties"].get("Roles", []):
            found += policy["Properties"]["PolicyDocument"]["Statement"]
    return found


def actions(found):
    return {a for s in found for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}


def test_ingestion_writes_records_only_and_the_consumer_only_reads(store):
    group_arns = next(s["Resource"] for s in statements(store, "Writes records") if s.get("Sid") == "WriteRecords")
    assert len(group_arns) == 2
    ingestion = actions(statements(store, "Writes records"))
    consumer = actions(statements(store, "Reads the online store"))
    assert {"sagemaker:PutRecord"} <= ingestion
    assert not ingestion & {"sagemaker:GetRecord", "athena:StartQueryExecution"}
    assert {"sagemaker:GetRecord", "sagemaker:BatchGetRecord", "athena:StartQueryExecution"} <= consumer
    assert not consumer & {"sagemaker:PutRecord", "sagemaker:DeleteRecord"}
    assert not any(a.endswith("*") for a in ingestion | consumer)
    writes = [s for s in statements(store, "Reads the online store") if "s3:PutObject" in s["Action"]]
    assert all("athena/" in str(s["Resource"]) for s in writes)


def test_the_offline_store_role_is_assumed_by_sagemaker_of_this_account_only(store):
    (role,) = [r for r in resources_of(store, "AWS::IAM::Role").values()
               if r["Properties"].get("Description", "").startswith("SageMaker Feature Store")]
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert list(statement["Condition"]) == ["StringEquals"]
    assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] in ({"Ref": "AWS::AccountId"}, "123456789012")
    writes = [s for s in statements(store, "SageMaker Feature Store") if "s3:PutObject" in s["Action"]]
    assert writes and all("offline-store/" in str(s["Resource"]) for s in writes)


def test_athena_enforces_encrypted_results_and_a_scan_limit(store):
    (workgroup,) = resources_of(store, "AWS::Athena::WorkGroup").values()
    config = workgroup["Properties"]["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True and config["BytesScannedCutoffPerQuery"] == 1024**3
    assert config["ResultConfiguration"]["EncryptionConfiguration"]["EncryptionOption"] == "SSE_KMS"


def test_nothing_is_retained_in_sandbox(store):
    for name, resource in store["Resources"].items():
        assert resource.get("DeletionPolicy", "Delete") == "Delete", name
        assert resource.get("UpdateReplacePolicy", "Delete") == "Delete", name


def test_production_retains_the_stores(production):
    template = production.templates["feature-store"]
    retained = {r["Type"] for r in template["Resources"].values() if r.get("DeletionPolicy") == "Retain"}
    assert {"AWS::S3::Bucket", "AWS::KMS::Key"} <= retained


def test_outputs_name_everything_the_practice_step_needs(store):
    from labs.practice.feature_store.command import REQUIRED_OUTPUTS

    assert set(REQUIRED_OUTPUTS) <= set(store["Outputs"])
