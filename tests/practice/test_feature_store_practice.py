"""The feature-store practice step: PutRecord/GetRecord requests against botocore's models,
ingestion retries, the synthetic data against the feature definitions, the point-in-time
SQL executed (DuckDB standing in for Athena), and a whole run with stubbed clients."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import boto3
import duckdb
import pytest
from botocore.stub import Stubber

from catalog.feature_store import CLICK_ACTIVITY, CUSTOMER_PROFILE, OFFLINE_COLUMNS
from labs.cli import main as cli
from labs.engine.errors import LabError
from labs.practice.common.steps import announced_steps
from labs.practice.feature_store import command as fs

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
OUTPUTS = {"DatabaseName": "mlref_feature_store", "WorkgroupName": "mlref-feature-store-OfflineQueries",
           "IngestionRoleArn": "arn:aws:iam::123456789012:role/ingest",
           "ConsumerRoleArn": "arn:aws:iam::123456789012:role/read",
           "CustomerProfileGroupName": CUSTOMER_PROFILE.group_name,
           "CustomerProfileTableName": CUSTOMER_PROFILE.table_name,
           "ClickActivityGroupName": CLICK_ACTIVITY.group_name, "ClickActivityTableName": CLICK_ACTIVITY.table_name}


def runtime():
    return boto3.Session(region_name="us-east-1", aws_access_key_id="x",
                         aws_secret_access_key="x").client("sagemaker-featurestore-runtime")


@pytest.fixture(scope="module")
def data():
    return fs.synthetic_customers(20, seed=3, now=NOW, run_id="t")


def test_records_match_the_feature_definitions(data):
    parse = {"String": str, "Integral": int, "Fractional": float}
    for spec, records in ((CUSTOMER_PROFILE, data.profiles), (CLICK_ACTIVITY, data.activity)):
        for record in records:
            assert list(record) == [f.name for f in spec.features]
            for feature in spec.features:
                parse[feature.type](str(record[feature.name]))
            datetime.fromisoformat(record[spec.event_time].replace("Z", "+00:00"))
    assert len(data.activity) == 2 * len(data.profiles) == 2 * len(data.labels)


def test_every_put_and_get_request_is_valid_for_the_runtime_api(data):
    client = runtime()
    requests = fs.FeatureStorePractice(None, customers=20).requests(data, OUTPUTS)
    with Stubber(client) as stub:
        for request in requests:
            stub.add_response("put_record", {}, request)
            client.put_record(**request)
        get = fs.get_record_request(OUTPUTS["CustomerProfileGroupName"], data.profiles[0]["customer_id"])
        stub.add_response("get_record", {"Record": [{"FeatureName": "age", "ValueAsString": "40"}]}, get)
        client.get_record(**get)
        stub.assert_no_pending_responses()


def patient_runtime():
    from labs.engine.session import patient

    return boto3.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x").client(
        "sagemaker-featurestore-runtime", config=patient())


THROTTLED = (400, {"__type": "ThrottlingException", "message": "Rate exceeded"})


def test_throttled_records_are_retried_by_botocore_and_counted(data):
    from tests.http_fakes import answer_with

    client = patient_runtime()
    requests = [fs.put_record_request(OUTPUTS["CustomerProfileGroupName"], p) for p in data.profiles[:3]]
    sent = answer_with(client, [(200, {}), THROTTLED, (503, {"__type": "ServiceUnavailable"}), (200, {}), (200, {})])
    report = fs.Ingestor(client, concurrency=1).ingest(requests)
    assert len(sent) == 5 and (report.written, report.retried, report.failed) == (3, 2, [])


def test_a_record_throttled_on_every_attempt_is_reported(data):
    from botocore.config import Config

    from tests.http_fakes import answer_with

    request = fs.put_record_request(OUTPUTS["ClickActivityGroupName"], data.activity[0])
    client = boto3.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x").client(
        "sagemaker-featurestore-runtime", config=Config(retries={"mode": "standard", "total_max_attempts": 3}))
    answer_with(client, [THROTTLED] * 3)
    report = fs.Ingestor(client, concurrency=1).ingest([request])
    assert report.written == 0 and report.retried == 2
    assert report.failed == [(f"{OUTPUTS['ClickActivityGroupName']}/c-t-00000", "ThrottlingException")]


def test_an_error_retrying_cannot_fix_is_raised(data):
    client = runtime()
    request = fs.put_record_request(OUTPUTS["CustomerProfileGroupName"], data.profiles[0])
    with Stubber(client) as stub:
        stub.add_client_error("put_record", "ValidationError", "bad feature", expected_params=request)
        with pytest.raises(Exception, match="ValidationError"):
            fs.Ingestor(client, concurrency=1).ingest([request])


def test_concurrent_ingestion_writes_every_record_once(data):
    class Recorder:
        def __init__(self):
            self.seen = []

        def put_record(self, **request):
            self.seen.append(json.dumps(request, sort_keys=True))

    recorder = Recorder()
    requests = fs.FeatureStorePractice(None).requests(data, OUTPUTS)
    report = fs.Ingestor(recorder, concurrency=8).ingest(requests)
    assert report.written == len(requests) == len(set(recorder.seen)) == 60


# -- the point-in-time training set, executed ------------------------------------------------

def offline_tables(data, *, deleted=(), extra_future=True):
    """DuckDB with the two offline tables (Feature Store's columns) and the macro Athena has."""
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    con.execute("CREATE SCHEMA mlref_feature_store")
    con.execute("CREATE MACRO from_iso8601_timestamp(s) AS CAST(s AS TIMESTAMPTZ)")
    glue = {"String": "VARCHAR", "Integral": "BIGINT", "Fractional": "DOUBLE"}
    offline = {"timestamp": "TIMESTAMP", "boolean": "BOOLEAN"}
    for spec, records in ((CUSTOMER_PROFILE, data.profiles), (CLICK_ACTIVITY, data.activity)):
        columns = ([f"{f.name} {glue[f.type]}" for f in spec.features]
                   + [f"{n} {offline[t]}" for n, t in OFFLINE_COLUMNS])
        table = f"mlref_feature_store.{spec.table_name}"
        con.execute(f"CREATE TABLE {table} ({', '.join(columns)})")
        marks = ", ".join("?" for _ in spec.features)
        for record in records:
            is_deleted = (spec is CLICK_ACTIVITY and (record["customer_id"], record["event_time"]) in deleted)
            con.execute(f"INSERT INTO {table} VALUES ({marks}, now(), now(), ?)", [*record.values(), is_deleted])
    return con


def run_sql(con, sql):
    result = con.execute(sql)
    columns = [d[0] for d in result.description]
    return columns, [["" if v is None else (v.isoformat() if isinstance(v, datetime) else str(v)) for v in row]
                     for row in result.fetchall()]


def test_the_training_set_uses_the_snapshot_before_each_label_never_a_later_one(data):
    columns, rows = run_sql(offline_tables(data), fs.point_in_time_sql(OUTPUTS, data.labels))
    assert len(rows) == len(data.labels)
    older = {a["customer_id"]: a for a in data.activity if a["event_time"] == "2026-11-01T12:00:00Z"}
    for row in rows:
        record = dict(zip(columns, row, strict=False))
        assert record["activity_time"] == "2026-11-01T12:00:00Z"
        assert int(record["sessions_7d"]) == older[record["customer_id"]]["sessions_7d"]
    assert fs.leakage(columns, rows) == 0


def test_a_naive_latest_join_would_leak_and_the_check_sees_it(data):
    naive = fs.point_in_time_sql(OUTPUTS, data.labels).replace(
        "WHERE from_iso8601_timestamp(f.event_time) <= l.label_time AND NOT f.is_deleted", "WHERE true")
    columns, rows = run_sql(offline_tables(data), naive)
    assert fs.leakage(columns, rows) == len(rows) > 0


def test_deleted_records_are_left_out(data):
    customer = data.labels[0][0]
    con = offline_tables(data, deleted={(customer, "2026-11-01T12:00:00Z")})
    columns, rows = run_sql(con, fs.point_in_time_sql(OUTPUTS, data.labels))
    first = dict(zip(columns, next(r for r in rows if r[0] == customer), strict=False))
    assert first["activity_time"] == "" and first["age"] != ""


def test_the_queries_fit_athena_request_limits(data):
    athena = boto3.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x").client("athena")
    big = fs.synthetic_customers(fs.MAX_CUSTOMERS, seed=1, now=NOW)
    for sql in (fs.point_in_time_sql(OUTPUTS, big.labels), fs.count_sql(OUTPUTS, "ClickActivityTableName", "c-t-")):
        with Stubber(athena) as stub:
            request = {"QueryString": sql, "WorkGroup": OUTPUTS["WorkgroupName"]}
            stub.add_response("start_query_execution", {"QueryExecutionId": "q"}, request)
            athena.start_query_execution(**request)
        assert len(sql) <= 262144


# -- the command line and a whole run --------------------------------------------------------

def test_dry_run_prints_valid_requests_without_aws(capsys):
    from labs.practice.common.dry_run import printed_requests
    from tests.http_fakes import validate_request

    assert cli.main(["practice", "feature-store", "--dry-run", "--customers", "2"]) == 0
    printed = capsys.readouterr().out
    assert "one of 6 records" in printed and "row_number() OVER" in printed
    requests = printed_requests(printed.splitlines())
    query = ["StartQueryExecution", "GetQueryExecution", "GetQueryResults", "StopQueryExecution"]
    assert [operation for _, operation, _ in requests] == ["DescribeStacks", "ListStacks", "AssumeRole", "AssumeRole",
                                                           "PutRecord", "PutRecord", "GetRecord", *query, *query]
    for service, operation, params in requests:
        validate_request(service, operation, params)


def test_bad_customer_counts_are_refused_in_one_line(capsys):
    assert cli.main(["practice", "feature-store", "--dry-run", "--customers", "0"]) == 1
    assert capsys.readouterr().err.strip().count("\n") == 0


def test_options_of_other_labs_are_refused(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["practice", "feature-store", "--dry-run", "--events", "5"])
    assert exited.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: unrecognized arguments: --events 5") and "\n" not in error


class RoleSession:
    def __init__(self, clients):
        self.clients = clients

    def client(self, name, **_config):
        return self.clients[name]


def test_a_whole_run_ingests_reads_back_and_builds_the_training_set(monkeypatch, data):
    monkeypatch.setattr(fs, "stack_outputs", lambda *_: OUTPUTS)
    ingest_runtime, read_runtime = runtime(), runtime()
    athena = boto3.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x").client("athena")
    practice = fs.FeatureStorePractice(None, customers=4, offline=True, seed=9, sleep=lambda _: None, reads=2,
                                       out=(lines := []).append, concurrency=1, now=NOW)
    run_data = fs.synthetic_customers(4, seed=9, run_id=f"{random.Random(9).getrandbits(24):06x}", now=NOW)
    prefix = run_data.profiles[0]["customer_id"][:-5]
    sessions = {OUTPUTS["IngestionRoleArn"]: RoleSession({"sagemaker-featurestore-runtime": ingest_runtime}),
                OUTPUTS["ConsumerRoleArn"]: RoleSession({"sagemaker-featurestore-runtime": read_runtime,
                                                         "athena": athena})}
    practice.role_session = lambda _session, arn, _purpose: sessions[arn]
    con = offline_tables(run_data)

    def answer(stub, query_id, sql):
        columns, rows = run_sql(con, sql)
        stub.add_response("start_query_execution", {"QueryExecutionId": query_id},
                          {"QueryString": sql, "WorkGroup": OUTPUTS["WorkgroupName"]})
        stub.add_response("get_query_execution", {"QueryExecution": {"Status": {"State": "SUCCEEDED"}}},
                          {"QueryExecutionId": query_id})
        stub.add_response("get_query_results", {"ResultSet": {
            "ResultSetMetadata": {"ColumnInfo": [{"Name": c, "Type": "varchar"} for c in columns]},
            "Rows": [{"Data": [{"VarCharValue": c} for c in columns]}]
                    + [{"Data": [{"VarCharValue": v} for v in row]} for row in rows]}}, {"QueryExecutionId": query_id})

    with Stubber(ingest_runtime) as put, Stubber(read_runtime) as get, Stubber(athena) as query:
        for _ in range(12):
            put.add_response("put_record", {})
        for profile in run_data.profiles[:2]:
            get.add_response("get_record", {"Record": [{"FeatureName": k, "ValueAsString": str(v)}
                                                       for k, v in profile.items()]},
                             fs.get_record_request(OUTPUTS["CustomerProfileGroupName"], profile["customer_id"]))
        answer(query, "q1", fs.count_sql(OUTPUTS, "CustomerProfileTableName", prefix))
        answer(query, "q2", fs.count_sql(OUTPUTS, "ClickActivityTableName", prefix))
        answer(query, "q3", fs.point_in_time_sql(OUTPUTS, run_data.labels))
        report = practice.run()
        for stub in (put, get, query):
            stub.assert_no_pending_responses()
    assert report.ingest.written == 12 and len(report.latencies) == 2
    assert len(report.training_rows) == 4 and report.leaked_rows == 0
    assert any(line.startswith("online store read latency over 2 GetRecord calls") for line in lines)
    assert [step for step, _ in announced_steps(lines)] == [e.step for e in fs.contract.CONTRACT.exercises]
    assert lines[-1].endswith("rows using features from after their label: 0")


def test_a_run_without_the_stack_deployed_is_one_line(monkeypatch):
    def missing(*_):
        raise LabError("stack mlref-feature-store is not deployed in us-east-1: deploy it first")

    monkeypatch.setattr(fs, "stack_outputs", missing)
    with pytest.raises(LabError, match="not deployed"):
        fs.FeatureStorePractice(None, customers=2).run()
