"""The clickstream practice step, offline: the producer's retries with botocore Stubber
(partial failures, throttling), a whole run against moto's Kinesis with the Redshift
Data API stubbed, and the dry run."""

from __future__ import annotations

import json
import random

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from labs.engine.errors import LabError
from labs.practice.clickstream import command as clickstream
from labs.practice.clickstream.command import (
    Backoff,
    ClickstreamPractice,
    Producer,
    batches,
    synthetic_events,
    to_records,
)
from labs.practice.common.dry_run import printed_requests
from labs.practice.common.steps import announced_steps
from lambdas.clickstream_transform.index import normalize
from tests.fakes import FakeClock
from tests.http_fakes import validate_request

STREAM = "mlref-clickstream-ClickStream"
OUTPUTS = {"StreamName": STREAM, "WorkgroupName": "mlref-clickstream", "DatabaseName": "clickstream",
           "AdminSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:admin-AbCdEf",
           "EventsRelation": "clickstream.events", "DeliveryMethod": "firehose"}


def no_wait_backoff(max_attempts=4) -> Backoff:
    return Backoff(max_attempts=max_attempts, sleep=lambda _: None, rng=random.Random(1))


def records(n):
    return to_records(synthetic_events(n, run_id="run-t", seed=3))


@pytest.fixture
def kinesis():
    client = boto3.client("kinesis", region_name="us-east-1")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def test_synthetic_events_are_varied_and_every_one_passes_the_transform():
    events = synthetic_events(1000, run_id="run-1", seed=7)
    assert len(events) == 1000 and len({e["event_id"] for e in events}) == 1000
    assert len({e["user_id"] for e in events}) > 50 and len({e["session_id"] for e in events}) > 150
    assert {e["event_type"] for e in events} == set(clickstream.EVENT_WEIGHTS)
    for event in events:
        assert normalize(event)["run_id"] == "run-1"
    assert synthetic_events(5, run_id="r", seed=7, now=None)[0]["event_id"] == \
        synthetic_events(5, run_id="r", seed=7)[0]["event_id"]


def test_batches_stay_within_500_records_and_5_mib():
    assert [len(call) for call in batches(records(1200))] == [500, 500, 200]
    large = [{"Data": b"x" * (1024 * 1024 - 10), "PartitionKey": "k"} for _ in range(11)]
    calls = batches(large)
    assert [len(call) for call in calls] == [5, 5, 1]
    assert all(sum(len(r["Data"]) + 1 for r in call) <= 5 * 1024 * 1024 for call in calls)


def test_only_the_records_that_failed_are_sent_again(kinesis):
    client, stub = kinesis
    batch = records(3)
    stub.add_response("put_records", {"FailedRecordCount": 2, "Records": [
        {"SequenceNumber": "1", "ShardId": "shardId-000000000000"},
        {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "Rate exceeded"},
        {"ErrorCode": "InternalFailure", "ErrorMessage": "Internal service failure"},
    ]}, {"StreamName": STREAM, "Records": batch})
    stub.add_response("put_records", {"Records": [
        {"SequenceNumber": "2", "ShardId": "shardId-000000000000"},
        {"SequenceNumber": "3", "ShardId": "shardId-000000000000"},
    ]}, {"StreamName": STREAM, "Records": batch[1:]})
    report = Producer(client, STREAM, no_wait_backoff()).send(batch)
    assert (report.sent, report.calls, report.retried_records, report.failed) == (3, 2, 2, [])


def test_a_throttled_call_is_retried_whole_by_botocore_and_counted():
    from labs.engine.session import patient
    from tests.http_fakes import answer_with

    client = boto3.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x").client(
        "kinesis", config=patient())
    throttled = {"__type": "ProvisionedThroughputExceededException", "message": "Rate exceeded for shard"}
    ok = {"FailedRecordCount": 0, "Records": [{"SequenceNumber": "1", "ShardId": "shardId-000000000000"},
                                              {"SequenceNumber": "2", "ShardId": "shardId-000000000000"}]}
    sent = answer_with(client, [(400, throttled), (200, ok)])
    report = Producer(client, STREAM, no_wait_backoff()).send(records(2))
    assert len(sent) == 2  # botocore sent the call twice, the Producer called once
    assert (report.sent, report.calls, report.throttled_calls, report.failed) == (2, 1, 1, [])


def test_a_call_still_throttled_after_botocores_retries_is_reported_not_raised():
    from labs.engine.session import patient
    from tests.http_fakes import answer_with

    client = boto3.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x").client(
        "kinesis", config=patient().merge(botocore_config(retries={"mode": "standard", "total_max_attempts": 2})))
    throttled = {"__type": "ProvisionedThroughputExceededException", "message": "Rate exceeded for shard"}
    sent = answer_with(client, [(400, throttled), (400, throttled)])
    batch = records(2)
    report = Producer(client, STREAM, no_wait_backoff()).send(batch)
    assert len(sent) == 2 and report.sent == 0 and report.failed == batch and report.throttled_calls == 2


def botocore_config(**kwargs):
    from botocore.config import Config

    return Config(**kwargs)


def test_records_still_failing_after_every_attempt_are_reported(kinesis):
    client, stub = kinesis
    batch = records(1)
    for _ in range(3):
        stub.add_response("put_records", {"FailedRecordCount": 1, "Records": [
            {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "Rate exceeded"}]},
            {"StreamName": STREAM, "Records": batch})
    report = Producer(client, STREAM, no_wait_backoff(max_attempts=3)).send(batch)
    assert report.sent == 0 and report.failed == batch


def test_an_error_that_retrying_cannot_fix_is_raised(kinesis):
    client, stub = kinesis
    stub.add_client_error("put_records", "AccessDeniedException", "not authorized")
    with pytest.raises(Exception, match="AccessDeniedException"):
        Producer(client, STREAM, no_wait_backoff()).send(records(1))


def test_dry_run_prints_the_requests_and_calls_nothing():
    lines = []
    result = ClickstreamPractice(None, events=700, dry_run=True, out=lines.append, seed=5).run()
    assert result is None
    requests = printed_requests(lines)
    puts = [params for service, operation, params in requests if operation == "PutRecords"]
    assert [len(p["Records"]) for p in puts] == [500, 200]
    assert json.loads(puts[0]["Records"][0]["Data"])["run_id"] == "run-5"
    statements = [params for service, operation, params in requests if operation == "ExecuteStatement"]
    assert len(statements) == 3 and all(p["Parameters"] == [{"name": "run_id", "value": "run-5"}] for p in statements)
    for service, operation, params in requests:  # each one valid for the real API
        validate_request(service, operation, params)


def test_events_out_of_range_are_refused_in_one_line():
    with pytest.raises(LabError, match=r"--events 0 is out of range; send 1 to 100000"):
        ClickstreamPractice(None, events=0)


class Session:
    """A moto-backed session whose Redshift Data API client is stubbed."""

    def __init__(self, data_api):
        self._session = boto3.Session(region_name="us-east-1")
        self._data_api = data_api
        self.region_name = "us-east-1"

    def client(self, name, **kwargs):
        return self._data_api if name == "redshift-data" else self._session.client(name, **kwargs)


def expect_query(stub, sql, rows, statement_id, *, polls=("STARTED", "FINISHED")):
    stub.add_response("execute_statement", {"Id": statement_id}, {
        "WorkgroupName": OUTPUTS["WorkgroupName"], "Database": "clickstream", "SecretArn": OUTPUTS["AdminSecretArn"],
        "Sql": sql, "Parameters": [{"name": "run_id", "value": "run-11"}]})
    for status in polls:
        stub.add_response("describe_statement", {"Id": statement_id, "Status": status, "HasResultSet": True},
                          {"Id": statement_id})
    stub.add_response("get_statement_result", {"Records": [
        [{"longValue": v} if isinstance(v, int) else {"stringValue": v} for v in row] for row in rows],
        "TotalNumRows": len(rows)}, {"Id": statement_id})


def test_a_whole_run_sends_waits_for_every_event_and_reports(monkeypatch):
    with mock_aws():
        kinesis = boto3.client("kinesis", region_name="us-east-1")
        kinesis.create_stream(StreamName=STREAM, ShardCount=1)
        monkeypatch.setattr(clickstream, "stack_outputs", lambda session, name, required: OUTPUTS)
        data_api = boto3.client("redshift-data", region_name="us-east-1")
        relation = OUTPUTS["EventsRelation"]
        with Stubber(data_api) as stub:
            ids = iter(f"{n:08d}-0000-0000-0000-000000000000" for n in range(10))
            expect_query(stub, clickstream.count_sql(relation), [[0]], next(ids))
            expect_query(stub, clickstream.count_sql(relation), [[12]], next(ids))
            expect_query(stub, clickstream.count_sql(relation), [[30]], next(ids))
            expect_query(stub, clickstream.by_type_sql(relation), [["page_view", 19], ["click", 11]], next(ids))
            expect_query(stub, clickstream.top_pages_sql(relation), [["/", 5], ["/cart", 3]], next(ids))
            clock, lines = FakeClock(), []
            report = ClickstreamPractice(Session(data_api), events=30, seed=11, out=lines.append, poll_seconds=15,
                                         clock=clock, sleep=clock.sleep, backoff=no_wait_backoff()).run()
            stub.assert_no_pending_responses()
        shard = kinesis.describe_stream(StreamName=STREAM)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = kinesis.get_shard_iterator(StreamName=STREAM, ShardId=shard,
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        landed = kinesis.get_records(ShardIterator=iterator, Limit=100)["Records"]
    assert len(landed) == 30 and {json.loads(r["Data"])["run_id"] for r in landed} == {"run-11"}
    assert report.sent.sent == 30 and report.first_visible_seconds == 17 and report.all_visible_seconds == 33
    assert report.by_type == [["page_view", 19], ["click", 11]]
    assert "end-to-end latency: first events queryable after 17 s, all 30 after 33 s" in lines
    assert "top pages: / (5), /cart (3)" in lines
    assert [step for step, _ in announced_steps(lines)] == [e.step for e in clickstream.contract.CONTRACT.exercises]
