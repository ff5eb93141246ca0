"""The batch-etl lab's template: both engines, the state machine as built from its definition,
triggers that cannot retrigger themselves, encryption and stack-owned logs; the contract's checks."""

from __future__ import annotations

import json
import re

import pytest

from catalog import batch_etl as contract
from catalog.base import ConfigError
from cdk_constructs.batch_etl import workflow as etl_workflow
from jobs.batch_etl import etl_rules
from tests.conftest import resources_of


@pytest.fixture(scope="module")
def glue(sandbox):
    return sandbox.templates["batch-etl"]


@pytest.fixture(scope="module")
def emr(variants):
    return variants["sandbox-emr"].templates["batch-etl"]


def only(template, resource_type):
    (resource,) = resources_of(template, resource_type).values()
    return resource["Properties"]


def key_arn(template):
    (key,) = resources_of(template, "AWS::KMS::Key")
    return {"Fn::GetAtt": [key, "Arn"]}


def statements(template, policy_part: str):
    return [s for name, p in resources_of(template, "AWS::IAM::ManagedPolicy").items() if policy_part in name
            for s in p["Properties"]["PolicyDocument"]["Statement"]]


def test_the_glue_job_is_glue_5_on_two_g1x_workers_with_bookmarks_and_encrypted_logs(glue):
    job = only(glue, "AWS::Glue::Job")
    assert (job["GlueVersion"], job["WorkerType"], job["NumberOfWorkers"]) == ("5.0", "G.1X", 2)
    assert job["DefaultArguments"]["--job-bookmark-option"] == "job-bookmark-enable"
    assert job["ExecutionProperty"] == {"MaxConcurrentRuns": 1} and job["MaxRetries"] == 0
    security = only(glue, "AWS::Glue::SecurityConfiguration")
    assert job["SecurityConfiguration"] == security["Name"]
    encryption = security["EncryptionConfiguration"]
    assert encryption["CloudWatchEncryption"] == {"CloudWatchEncryptionMode": "SSE-KMS", "KmsKeyArn": key_arn(glue)}
    assert encryption["JobBookmarksEncryption"]["JobBookmarksEncryptionMode"] == "CSE-KMS"
    assert encryption["S3Encryptions"][0]["S3EncryptionMode"] == "SSE-KMS"
    for crawler in resources_of(glue, "AWS::Glue::Crawler").values():
        assert crawler["Properties"]["CrawlerSecurityConfiguration"] == security["Name"]


def test_glue_logs_go_to_groups_the_stack_owns_under_the_role_and_configuration_name(glue):
    prefix = only(glue, "AWS::Glue::Job")["DefaultArguments"]["--custom-logGroup-prefix"]["Fn::Join"][1]
    assert prefix[0] == "/aws-glue/jobs-" and prefix[2] == "-mlref-batch-etl-glue"
    names = [g["Properties"].get("LogGroupName") for g in resources_of(glue, "AWS::Logs::LogGroup").values()]
    for kind in ("output", "error"):
        assert {"Fn::Join": ["", [*prefix[:-1], f"{prefix[-1]}/{kind}"]]} in names
        assert f"/aws-glue/data-quality/mlref-batch-etl-curated-customers/{kind}" in names
    assert "/aws/vendedlogs/states/mlref-batch-etl-workflow" in names


@pytest.mark.parametrize("engine", ["glue", "emr"])
def test_the_state_machine_is_the_workflow_definition_with_every_placeholder_filled(glue, emr, engine):
    template, name = (glue, etl_workflow.GLUE) if engine == "glue" else (emr, etl_workflow.EMR)
    machine = only(template, "AWS::StepFunctions::StateMachine")
    tags = {"lab": "batch-etl", "profile": "sandbox", "owner": "tester", "expires-at": "2026-01-15T13:30:00Z"}
    assert machine["Definition"] == json.loads(json.dumps(etl_workflow.definition(name, job_tags=tags)))
    assert set(machine["DefinitionSubstitutions"]) == set(etl_workflow.placeholders(name))
    assert machine["LoggingConfiguration"]["Level"] == "ALL" and machine["TracingConfiguration"] == {"Enabled": True}
    (group,) = [k for k, g in resources_of(template, "AWS::Logs::LogGroup").items()
                if g["Properties"].get("LogGroupName") == "/aws/vendedlogs/states/mlref-batch-etl-workflow"]
    destination = machine["LoggingConfiguration"]["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"]
    assert destination == {"Fn::GetAtt": [group, "Arn"]}


def test_arrivals_under_incoming_start_the_workflow_and_nothing_the_workflow_writes_is_there(glue, emr):
    raw = next(k for k in resources_of(glue, "AWS::S3::Bucket") if k.startswith("RawZone"))
    assert glue["Resources"][raw]["Properties"]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    rule = only(glue, "AWS::Events::Rule")
    assert rule["EventPattern"]["detail-type"] == ["Object Created"]
    assert rule["EventPattern"]["detail"] == {"bucket": {"name": [{"Ref": raw}]},
                                              "object": {"key": [{"prefix": "incoming/"}]}}
    starter = statements(glue, "OnArrival")
    assert [s["Action"] for s in starter] == ["states:StartExecution"]
    for template in (glue, emr):  # no role of the lab may write under incoming/: no execution starts another
        for statement in statements(template, ""):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if "s3:PutObject" in actions:
                assert "incoming" not in json.dumps(statement["Resource"]), statement


def workflow_schedules(template):
    return [s["Properties"] for k, s in resources_of(template, "AWS::Scheduler::Schedule").items()
            if k.startswith("OnSchedule")]


def test_the_schedule_is_off_in_sandbox_daily_in_production_and_as_given(glue, production, emr):
    assert workflow_schedules(glue) == []
    (daily,) = workflow_schedules(production.templates["batch-etl"])
    assert daily["ScheduleExpression"] == contract.DEFAULT_PRODUCTION_SCHEDULE
    assert daily["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert [s["ScheduleExpression"] for s in workflow_schedules(emr)] == ["rate(1 day)"]


def test_the_emr_application_bills_nothing_idle_and_is_stopped_before_deletion(emr):
    application_id, application = next(iter(resources_of(emr, "AWS::EMRServerless::Application").items()))
    props = application["Properties"]
    assert props["ReleaseLabel"].startswith("emr-7.") and props["Type"] == "Spark"
    assert props["AutoStopConfiguration"]["Enabled"] is True and "InitialCapacity" not in props
    assert props["MaximumCapacity"] == {"Cpu": contract.EMR_MAX_CAPACITY[0], "Memory": contract.EMR_MAX_CAPACITY[1]}
    stopper = only(emr, "Custom::EmrServerlessApplicationStopper")
    assert stopper["ApplicationId"] == {"Fn::GetAtt": [application_id, "ApplicationId"]}  # deleted before it
    sync = [s for s in statements(emr, "Workflow") if "events:PutRule" in s["Action"]]
    assert sync
    assert sync[0]["Resource"]["Fn::Join"][1][-1].endswith(":rule/StepFunctionsGetEventsForEMRServerlessJobRule")
    assert resources_of(emr, "AWS::Glue::Job") == {}


def test_the_quality_ruleset_is_the_rules_dqdl(glue):
    assert only(glue, "AWS::Glue::DataQualityRuleset")["Ruleset"] == etl_rules.dqdl()


def test_the_job_library_holds_only_the_shared_modules(sandbox):
    libraries = [p for p in sandbox.outdir.glob("asset.*") if p.is_dir() and (p / "etl_rules.py").exists()]
    assert libraries and {f.name for f in libraries[0].iterdir()} == {"etl_rules.py", "etl_spark.py"}


def test_zone_databases_leave_table_permissions_to_iam(glue):
    for database in resources_of(glue, "AWS::Glue::Database").values():
        assert "CreateTableDefaultPermissions" not in database["Properties"]["DatabaseInput"]
        assert database["Properties"]["DatabaseInput"]["Name"].startswith("mlref_")


@pytest.mark.parametrize("value,message", [
    ("rate(5 minutes)", "more often than a run can finish"), ("rate(1 days)", "rate(1 day) but rate(2 days)"),
    ("rate(2 day)", "rate(1 day) but rate(2 days)"), ("every day", "not an EventBridge Scheduler expression"),
    ("cron(0 3 * *)", "not an EventBridge Scheduler expression"),
])
def test_bad_schedules_are_one_line_errors_with_examples(value, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as error:
        contract.parse({"etl_schedule": value}, "us-east-1")
    assert "\n" not in str(error.value) and "rate(1 day)" in str(error.value)


def test_good_schedules_and_engines_parse():
    assert contract.parse({"etl_schedule": "cron(0 3 * * ? *)"}, "us-east-1").schedule == "cron(0 3 * * ? *)"
    assert contract.parse({"etl_schedule": "off"}, "us-east-1").schedule_for(sandbox=False) is None
    assert contract.parse({}, "us-east-1").schedule_for(sandbox=True) is None
    assert not contract.parse({"etl_engine": "EMR-Serverless"}, "us-east-1").glue
    with pytest.raises(ConfigError, match="etl_engine='spark'"):
        contract.parse({"etl_engine": "spark"}, "us-east-1")
