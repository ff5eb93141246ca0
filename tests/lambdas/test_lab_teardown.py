"""The janitor's teardown: two clean verification passes, bounded rounds, the record, the alert."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from lambdas.lab_sweep import index
from lambdas.lab_sweep.record import (
    CLEAN,
    LEFTOVERS,
    NOT_VERIFIED,
    STANDARD_LIMIT,
    UNREADABLE,
    TeardownRecord,
    parameter_name,
    read_record,
    write_record,
)
from lambdas.lab_sweep.sweep import BILLABLE_TYPES, Sweeper
from lambdas.lab_sweep.teardown import record_tags, teardown
from tests.fakes import FakeClock
from tests.lambdas.conftest import REGION
from tests.lambdas.test_lab_sweep import LAB, QUIET

GROUP = "/aws/lambda/mlref-data-lake-practice"
STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/mlref-data-lake/abc"
GROUP_ARN = f"arn:aws:logs:us-east-1:123456789012:log-group:{GROUP}"
NOW = datetime(2026, 1, 15, 14, 0, tzinfo=UTC)


def recreate_group(session, times):
    """A service that writes late logs: the lab's tagged group comes back after the sweep."""
    logs = session.client("logs")

    def hook(sleeps):
        if sleeps <= times:
            logs.create_log_group(logGroupName=GROUP, tags=LAB)
    return hook


def run_teardown(session, clock, **options):
    return teardown(session, "data-lake", stack_id=STACK_ID, sleep=clock.sleep, clock=clock, now=lambda: NOW,
                    kinds=["log_groups"], **QUIET, **options)


def test_a_dirty_first_verification_sweeps_again_then_needs_two_clean_passes(session):
    session.client("logs").create_log_group(logGroupName=GROUP, tags=LAB)
    clock = FakeClock(on_sleep=recreate_group(session, times=1))
    record, reports = run_teardown(session, clock)
    assert record.state == CLEAN and record.rounds == 2 and len(reports) == 2
    assert clock.slept == [30.0, 30.0, 30.0]  # dirty pass, then two clean passes 30 s apart
    assert [str(i) for r in reports for i in r.deleted] == [f"log group {GROUP}"] * 2
    assert record.checked_at == "2026-01-15T14:00:00Z" and record.stack_id == STACK_ID


def test_leftovers_after_every_round_are_recorded_with_their_arns(session):
    session.client("logs").create_log_group(logGroupName=GROUP, tags=LAB)
    clock = FakeClock(on_sleep=recreate_group(session, times=99))
    record, _reports = run_teardown(session, clock, max_rounds=3)
    assert record.state == LEFTOVERS and record.rounds == 3 and not record.clean
    assert record.leftovers == (GROUP_ARN,)
    assert len(clock.slept) == 3  # one dirty pass per round; no round after the third


def test_no_round_starts_after_the_time_budget(session):
    session.client("logs").create_log_group(logGroupName=GROUP, tags=LAB)
    clock = FakeClock(on_sleep=recreate_group(session, times=99))
    record, _ = run_teardown(session, clock, time_budget=45.0)
    assert record.rounds == 2 and record.state == LEFTOVERS  # 30 s in: one more round, 60 s in: none


def test_a_verification_that_cannot_ask_the_service_is_not_verified_not_clean(session):
    logs = session.client("logs")

    def throttled(**_kwargs):
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "DescribeLogGroups")

    clock = FakeClock(on_sleep=lambda _n: setattr(logs, "describe_log_groups", throttled))
    record, _ = run_teardown(session, clock, clients={"logs": logs})
    assert record.state == NOT_VERIFIED and not record.clean
    assert record.error == "could not verify log groups: ThrottlingException"


def test_the_record_round_trips_through_a_tagged_standard_parameter(session):
    record = TeardownRecord(lab="data-lake", state=LEFTOVERS, checked_at="2026-01-15T14:00:00Z", stack_id=STACK_ID,
                            rounds=3, leftovers=(GROUP_ARN,))
    assert write_record(session, record, {"lab": "data-lake", "profile": "sandbox"}) == "/mlref/janitor/data-lake"
    ssm = session.client("ssm")
    (parameter,) = ssm.describe_parameters()["Parameters"]
    assert parameter["Tier"] == "Standard" and parameter["Type"] == "String"
    tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/mlref/janitor/data-lake")["TagList"]
    assert {t["Key"]: t["Value"] for t in tags} == {"lab": "data-lake", "profile": "sandbox"}
    assert read_record(session, "data-lake") == record
    write_record(session, TeardownRecord(lab="data-lake", state=CLEAN), {"lab": "data-lake"})  # overwrites
    assert read_record(session, "data-lake").clean
    assert read_record(session, "clickstream") is None


@pytest.mark.parametrize("value,reason", [
    ("{not json", "not JSON"),
    ('{"lab": "clickstream", "state": "clean"}', "not a teardown record of this lab"),
    ('{"lab": "data-lake", "state": "clean", "leftovers": "arn:aws:s3:::x"}', "leftovers is not a list"),
    ('{"lab": "data-lake", "state": "clean", "rounds": "three"}', "rounds or more is not a number"),
])
def test_a_corrupt_record_reads_as_unreadable_with_the_reason(session, value, reason):
    session.client("ssm").put_parameter(Name=parameter_name("data-lake"), Value=value, Type="String")
    record = read_record(session, "data-lake")
    assert record.state == UNREADABLE and reason in record.error and not record.clean
    assert record.line().startswith("janitor: data-lake unreadable: /mlref/janitor/data-lake is corrupt")


def test_a_record_that_cannot_be_read_never_raises():
    ssm = boto3.client("ssm", region_name=REGION)
    stub = Stubber(ssm)
    stub.add_client_error("get_parameter", "AccessDeniedException", "not authorized",
                          expected_params={"Name": "/mlref/janitor/data-lake"})
    stub.activate()

    class Session:
        def client(self, _name):
            return ssm

    assert read_record(Session(), "data-lake") == TeardownRecord(
        lab="data-lake", state=UNREADABLE, error="cannot read /mlref/janitor/data-lake: AccessDeniedException")


def test_a_long_list_of_leftovers_is_truncated_to_fit_and_counted(session):
    many = tuple(f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/mlref-data-lake-{i:04d}"
                 for i in range(200))
    text = TeardownRecord(lab="data-lake", state=LEFTOVERS, leftovers=many).to_json()
    assert len(text.encode()) <= STANDARD_LIMIT
    data = json.loads(text)
    assert data["more"] == 200 - len(data["leftovers"]) and data["leftovers"] == list(many[:len(data["leftovers"])])
    write_record(session, TeardownRecord(lab="data-lake", state=LEFTOVERS, leftovers=many))
    assert read_record(session, "data-lake").more == data["more"]


def alert_queue(session):
    """An SNS topic whose messages land in an SQS queue the test can read."""
    sns, sqs = session.client("sns"), session.client("sqs")
    topic = sns.create_topic(Name="mlref-janitor-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return topic, lambda: [json.loads(m["Body"]) for m in sqs.receive_message(
        QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])]


def stack_event(status):
    return {"detail": {"stack-id": STACK_ID, "status-details": {"status": status}}}


def test_the_janitor_records_leftovers_and_mails_them(session):
    topic, messages = alert_queue(session)
    session.client("logs").create_log_group(logGroupName=GROUP, tags=LAB)
    clock = FakeClock(on_sleep=recreate_group(session, times=99))
    result = index.handler(stack_event("DELETE_COMPLETE"), None, session=session, topic_arn=topic,
                           sleep=clock.sleep, clock=clock, kinds=["log_groups"], max_rounds=2)
    assert result["state"] == LEFTOVERS and result["alerted"] and result["record"] == "/mlref/janitor/data-lake"
    (message,) = messages()
    assert message["Subject"] == "mlref janitor: lab data-lake is not clean (leftovers)"
    assert f"- {GROUP_ARN}" in message["Message"].splitlines() and STACK_ID in message["Message"]
    assert read_record(session, "data-lake").leftovers == (GROUP_ARN,)


def test_a_clean_teardown_is_recorded_and_mails_nothing(session):
    topic, messages = alert_queue(session)
    session.client("logs").create_log_group(logGroupName=GROUP, tags=LAB)
    result = index.handler(stack_event("DELETE_COMPLETE"), None, session=session, topic_arn=topic,
                           sleep=lambda _s: None, kinds=["log_groups"])
    assert result["clean"] and not result["alerted"] and messages() == []
    record = read_record(session, "data-lake")
    assert record.clean and record.stack_id == STACK_ID and record.line().startswith(
        "janitor: data-lake verified clean twice at ")


def test_a_failed_stack_delete_is_recorded_and_mailed(session):
    topic, messages = alert_queue(session)
    result = index.handler(stack_event("DELETE_FAILED"), None, session=session, topic_arn=topic,
                           sleep=lambda _s: pytest.fail("nothing to wait for"))
    assert result["state"] == "stack-exists" and result["alerted"]
    (message,) = messages()
    assert "DELETE_FAILED" in message["Message"] and read_record(session, "data-lake").state == "stack-exists"


def test_verify_ignores_what_the_tagging_api_still_lists_after_deletion(session):
    tagging, sagemaker = boto3.client("resourcegroupstaggingapi", region_name=REGION), boto3.client(
        "sagemaker", region_name=REGION)
    gone = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/churn"
    finished = "arn:aws:sagemaker:us-east-1:123456789012:training-job/fit"
    tag_stub, sm_stub = Stubber(tagging), Stubber(sagemaker)
    tag_stub.add_response("get_resources", {"ResourceTagMappingList": [
        {"ResourceARN": arn, "Tags": [{"Key": "lab", "Value": "data-lake"}]} for arn in (gone, finished)]})
    sm_stub.add_response("list_endpoints", {"Endpoints": []}, {})
    sm_stub.add_response("list_training_jobs", {"TrainingJobSummaries": []}, {"StatusEquals": "InProgress"})
    sm_stub.add_response("list_training_jobs", {"TrainingJobSummaries": []}, {"StatusEquals": "Stopping"})
    tag_stub.activate()
    sm_stub.activate()
    sweeper = Sweeper(session, "data-lake", kinds=(), clients={"resourcegroupstaggingapi": tagging,
                                                              "sagemaker": sagemaker}, **QUIET)
    assert sweeper.tagged_leftovers() == []
    sm_stub.assert_no_pending_responses()


def test_the_record_carries_the_deleted_stacks_lab_profile_and_owner_tags(session):
    cloudformation = session.client("cloudformation")
    stack_id = cloudformation.create_stack(
        StackName="mlref-data-lake", Tags=[{"Key": k, "Value": v} for k, v in {
            "lab": "data-lake", "profile": "sandbox", "owner": "ana", "expires-at": "2026-01-15T13:30:00Z"}.items()],
        TemplateBody=json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}))["StackId"]
    cloudformation.delete_stack(StackName="mlref-data-lake")
    assert record_tags(session, "data-lake", stack_id) == {"lab": "data-lake", "profile": "sandbox", "owner": "ana"}
    assert record_tags(session, "data-lake", "") == {"lab": "data-lake"}


def test_a_resource_type_the_tagging_api_refuses_is_skipped_not_fatal(session):
    tagging = boto3.client("resourcegroupstaggingapi", region_name=REGION)
    stub = Stubber(tagging)
    stub.add_client_error("get_resources", "InvalidParameterException", "unsupported resource type")
    for resource_type in BILLABLE_TYPES:
        if resource_type == "states:stateMachine":
            stub.add_client_error("get_resources", "InvalidParameterException", "unsupported resource type")
        else:
            glue_job = {"ResourceARN": "arn:aws:glue:us-east-1:123456789012:job/etl"}
            found = [glue_job] if resource_type == "glue:job" else []
            stub.add_response("get_resources", {"ResourceTagMappingList": found}, {
                "TagFilters": [{"Key": "lab", "Values": ["data-lake"]}], "ResourceTypeFilters": [resource_type]})
    stub.activate()
    lines = []
    sweeper = Sweeper(session, "data-lake", kinds=(), clients={"resourcegroupstaggingapi": tagging}, log=lines.append)
    assert sweeper.tagged_leftovers() == ["arn:aws:glue:us-east-1:123456789012:job/etl"]
    assert lines == ["the Tagging API refuses resource type states:stateMachine: not verified through it"]
