"""The Lake Formation admin cleanup custom resource, against moto's Lake Formation."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from lambdas.data_lake_lf_cleanup import index
from tests.lambdas.conftest import custom_resource_event

ENGINEER = "arn:aws:iam::123456789012:role/mlref-data-lake-DataEngineerRole"
EXEC_ROLE = "arn:aws:iam::123456789012:role/cdk-hnb659fds-cfn-exec-role-123456789012-us-east-1"
OTHER = "arn:aws:iam::123456789012:role/someone-elses-admin"


def event(request_type, principals=(ENGINEER,)):
    return custom_resource_event(request_type, "mlref-data-lake", "LakeFormationAdminsCleanup",
                                 {"Principals": list(principals)})


@pytest.fixture
def lakeformation():
    with mock_aws():
        client = boto3.client("lakeformation", region_name="us-east-1")
        client.put_data_lake_settings(DataLakeSettings={
            "DataLakeAdmins": [{"DataLakePrincipalIdentifier": p} for p in (OTHER, EXEC_ROLE, ENGINEER)],
            "TrustedResourceOwners": ["210987654321"],
        })
        yield client


def admins(client):
    settings = client.get_data_lake_settings()["DataLakeSettings"]
    return [a["DataLakePrincipalIdentifier"] for a in settings["DataLakeAdmins"]]


def test_delete_removes_only_the_labs_admins_and_keeps_other_settings(lakeformation, sent):
    index.handler(event("Delete"), None, client=lakeformation)
    assert admins(lakeformation) == [OTHER, EXEC_ROLE]
    assert lakeformation.get_data_lake_settings()["DataLakeSettings"]["TrustedResourceOwners"] == ["210987654321"]
    assert sent[0]["Status"] == "SUCCESS" and sent[0]["method"] == "PUT"
    assert "removed 1 admin(s)" in sent[0]["Reason"]


def test_delete_twice_is_harmless(lakeformation, sent):
    index.handler(event("Delete"), None, client=lakeformation)
    index.handler(event("Delete"), None, client=lakeformation)
    assert admins(lakeformation) == [OTHER, EXEC_ROLE]
    assert [r["Status"] for r in sent] == ["SUCCESS", "SUCCESS"]
    assert "none present" in sent[1]["Reason"]


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_create_and_update_change_nothing(lakeformation, sent, request_type):
    index.handler(event(request_type), None, client=lakeformation)
    assert admins(lakeformation) == [OTHER, EXEC_ROLE, ENGINEER]
    assert sent[0]["Status"] == "SUCCESS"
    assert sent[0]["PhysicalResourceId"] == "LakeFormationAdminsCleanup-guid"


def test_a_failing_api_never_blocks_stack_deletion(sent):
    class Broken:
        def get_data_lake_settings(self):
            raise RuntimeError("AccessDeniedException: not allowed")

    index.handler(event("Delete"), None, client=Broken())
    assert sent[0]["Status"] == "SUCCESS"
    assert "could not remove admins" in sent[0]["Reason"] and "AccessDenied" in sent[0]["Reason"]
