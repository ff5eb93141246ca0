"""The data-lake practice step, offline: moto for S3, STS and CloudFormation,
botocore Stubber (which checks each request against the service model) for Glue
and Athena, whose crawlers and queries moto cannot run."""

from __future__ import annotations

import datetime as dt

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from labs.engine.deployed import assume_role, stack_outputs
from labs.engine.errors import LabError
from labs.practice.common.steps import announced_steps
from labs.practice.data_lake import command as data_lake
from labs.practice.data_lake.command import REQUIRED_OUTPUTS, DataLakePractice, Waiting

OUTPUTS = {
    "RawBucketName": "raw-bucket", "SamplePrefix": "sales/", "CuratedBucketName": "curated-bucket",
    "CuratedPrefix": "sales/", "RawDatabaseName": "mlref_data_lake_raw",
    "CuratedDatabaseName": "mlref_data_lake_curated", "CrawlerName": "RawCrawler-abc",
    "WorkgroupName": "mlref-data-lake-Analytics",
    "DataEngineerRoleArn": "arn:aws:iam::123456789012:role/engineer",
    "AnalystRoleArn": "arn:aws:iam::123456789012:role/analyst",
}


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def sleep(self, seconds):
        self.now += seconds

    def clock(self):
        return self.now


def fast_waiting(**overrides) -> Waiting:
    clock = FakeClock()
    return Waiting(poll_seconds=5, sleep=clock.sleep, clock=clock.clock, **overrides)


class StubbedSession:
    """A session whose Glue and Athena clients are stubbed; S3 comes from moto."""

    def __init__(self, region="us-east-1"):
        self.region_name = region
        self.clients = {name: boto3.client(name, region_name=region) for name in ("glue", "athena")}
        self.stubs = {name: Stubber(client) for name, client in self.clients.items()}
        for stub in self.stubs.values():
            stub.activate()

    def client(self, name):
        return self.clients[name] if name in self.clients else boto3.client(name, region_name=self.region_name)

    def assert_all_used(self):
        for stub in self.stubs.values():
            stub.assert_no_pending_responses()


def crawler(state, status=None, message=None):
    body = {"Name": OUTPUTS["CrawlerName"], "State": state}
    if status:
        body["LastCrawl"] = {"Status": status, **({"ErrorMessage": message} if message else {})}
    return {"Crawler": body}


def expect_query(stub, sql_fragment, *, states=("SUCCEEDED",), columns=(), rows=(), reason=""):
    execution = "q-" + str(abs(hash(sql_fragment)) % 10_000)
    stub.add_response("start_query_execution", {"QueryExecutionId": execution},
                      {"QueryString": ANY, "WorkGroup": OUTPUTS["WorkgroupName"]})
    for state in states:
        status = {"State": state, **({"StateChangeReason": reason} if reason else {})}
        stub.add_response("get_query_execution", {"QueryExecution": {"QueryExecutionId": execution, "Status": status}},
                          {"QueryExecutionId": execution})
    if states[-1] == "SUCCEEDED":
        header = {"Data": [{"VarCharValue": c} for c in columns]}
        stub.add_response(
            "get_query_results",
            {"ResultSet": {"Rows": [header] + [{"Data": [{"VarCharValue": v} for v in r]} for r in rows],
                           "ResultSetMetadata": {"ColumnInfo": [{"Name": c, "Type": "varchar"} for c in columns]}}},
            {"QueryExecutionId": execution},
        )


@pytest.fixture
def aws():
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=OUTPUTS["RawBucketName"])
        yield


def test_full_practice_uploads_crawls_curates_and_queries_as_each_role(aws):
    admin, engineer, analyst = StubbedSession(), StubbedSession(), StubbedSession()
    glue = admin.stubs["glue"]
    glue.add_response("start_crawler", {}, {"Name": OUTPUTS["CrawlerName"]})
    glue.add_response("get_crawler", crawler("RUNNING"), {"Name": OUTPUTS["CrawlerName"]})
    glue.add_response("get_crawler", crawler("STOPPING", "SUCCEEDED"), {"Name": OUTPUTS["CrawlerName"]})
    glue.add_response("get_crawler", crawler("READY", "SUCCEEDED"), {"Name": OUTPUTS["CrawlerName"]})
    glue.add_response("get_table", {"Table": {"Name": "sales"}},
                      {"DatabaseName": OUTPUTS["RawDatabaseName"], "Name": "sales"})
    engineer.stubs["glue"].add_client_error(
        "get_table", "EntityNotFoundException",
        expected_params={"DatabaseName": OUTPUTS["CuratedDatabaseName"], "Name": "sales"})
    expect_query(engineer.stubs["athena"], "ctas", states=("RUNNING", "SUCCEEDED"))
    expect_query(analyst.stubs["athena"], "revenue", columns=["dt", "orders", "revenue"],
                 rows=[["2026-01-05", "14", "812.4"], ["2026-01-06", "18", "1020.1"]])
    expect_query(analyst.stubs["athena"], "raw", states=("FAILED",),
                 reason="Insufficient Lake Formation permission(s) on sales")
    roles = []

    def as_role(arn, purpose):
        roles.append((purpose, arn))
        return {"engineer": engineer, "analyst": analyst}[purpose]

    said = []
    report = DataLakePractice(admin, outputs=OUTPUTS, waiting=fast_waiting(), out=said.append,
                              session_for_role=as_role).run()

    keys = boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket="raw-bucket")["Contents"]
    assert sorted(k["Key"] for k in keys) == sorted(report.uploaded)
    assert all(k.startswith("sales/dt=2026-01-0") and k.endswith("/orders.csv") for k in report.uploaded)
    assert report.curated == "created"
    assert report.columns == ["dt", "orders", "revenue"]
    assert report.rows == [["2026-01-05", "14", "812.4"], ["2026-01-06", "18", "1020.1"]]
    assert report.raw_denied_for_analyst is True
    assert roles == [("engineer", OUTPUTS["DataEngineerRoleArn"]), ("analyst", OUTPUTS["AnalystRoleArn"])]
    assert any("raw zone: denied, as it should be" in line for line in said)
    assert [step for step, _ in announced_steps(said)] == [e.step for e in data_lake.contract.CONTRACT.exercises]
    for session in (admin, engineer, analyst):
        session.assert_all_used()


def test_a_failed_crawl_stops_with_its_message():
    admin = StubbedSession()
    admin.stubs["glue"].add_client_error("start_crawler", "CrawlerRunningException")
    admin.stubs["glue"].add_response("get_crawler", crawler("READY", "FAILED", "Access denied on s3://raw"))
    practice = DataLakePractice(admin, outputs=OUTPUTS, waiting=fast_waiting(), out=lambda _: None)
    with pytest.raises(LabError, match="finished with FAILED: Access denied on s3://raw"):
        practice.crawl()


def test_a_crawler_that_never_finishes_times_out():
    admin = StubbedSession()
    admin.stubs["glue"].add_response("start_crawler", {})
    for _ in range(4):
        admin.stubs["glue"].add_response("get_crawler", crawler("RUNNING"))
    practice = DataLakePractice(admin, outputs=OUTPUTS, waiting=fast_waiting(crawler_timeout_seconds=12),
                                out=lambda _: None)
    with pytest.raises(LabError, match="crawler RawCrawler-abc has not finished after 12 s: check it in the Glue"):
        practice.crawl()


def test_an_existing_curated_table_is_kept():
    admin, engineer = StubbedSession(), StubbedSession()
    engineer.stubs["glue"].add_response("get_table", {"Table": {"Name": "sales"}})
    practice = DataLakePractice(admin, outputs=OUTPUTS, waiting=fast_waiting(), out=lambda _: None,
                                session_for_role=lambda arn, purpose: engineer)
    assert practice.curate() == "kept"
    engineer.assert_all_used()


def test_ctas_writes_typed_parquet_partitioned_by_date_into_the_curated_zone():
    sql = data_lake.ctas_statement(OUTPUTS)
    assert "external_location = 's3://curated-bucket/sales/'" in sql
    assert "partitioned_by = ARRAY['dt']" in sql and "format = 'PARQUET'" in sql
    select = sql.split(" AS SELECT ", 1)[1]
    assert select.split(" FROM ")[0].strip().endswith(", dt")  # partition column last
    assert '"mlref_data_lake_raw"."sales"' in select


def test_sample_data_ships_date_partitioned():
    files = data_lake.sample_files()
    assert len(files) == 3
    for key, path in files:
        dt.date.fromisoformat(key.split("/")[0].removeprefix("dt="))
        header = path.read_text().splitlines()[0]
        assert header == "order_id,customer_id,product,quantity,unit_price"


def test_stack_outputs_reads_a_deployed_stack_and_explains_a_missing_one():
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {name: {"Value": OUTPUTS[name]} for name in REQUIRED_OUTPUTS},
    }
    import json

    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        with pytest.raises(LabError,
                           match=r"lab data-lake is not deployed in us-east-1: deploy it with `labs deploy data-lake`"):
            stack_outputs(session, "mlref-data-lake", REQUIRED_OUTPUTS)
        session.client("cloudformation").create_stack(StackName="mlref-data-lake", TemplateBody=json.dumps(template))
        assert stack_outputs(session, "mlref-data-lake", REQUIRED_OUTPUTS) == {k: OUTPUTS[k] for k in REQUIRED_OUTPUTS}
        with pytest.raises(LabError, match="lacks outputs Missing"):
            stack_outputs(session, "mlref-data-lake", [*REQUIRED_OUTPUTS, "Missing"])


def test_assume_role_returns_a_session_with_the_role_credentials():
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        analyst = assume_role(session, OUTPUTS["AnalystRoleArn"], "analyst")
        identity = analyst.client("sts").get_caller_identity()
        assert ":assumed-role/analyst/mlref-analyst" in identity["Arn"]


def test_dry_run_prints_every_request_valid_and_sends_nothing():
    from labs.engine.session import offline_session
    from labs.practice.common.dry_run import printed_calls, printed_requests
    from tests.http_fakes import validate_request

    lines: list[str] = []
    session = offline_session("us-east-1")
    assert DataLakePractice(session, dry_run=True, out=lines.append).run() is None
    requests = printed_requests(lines)
    query = ["StartQueryExecution", "GetQueryExecution", "GetQueryResults", "StopQueryExecution"]
    assert [op for _, op, _ in requests] == ["DescribeStacks", "ListStacks", *["PutObject"] * 3, "StartCrawler",
                                             "GetCrawler", "GetTable", "AssumeRole", "GetTable", *query, "AssumeRole",
                                             *query, *query]
    queries = [params["QueryString"] for _, op, params in requests if op == "StartQueryExecution"]
    assert "CREATE TABLE" in queries[0] and '"mlref_data_lake_raw"' in queries[2]
    calls = printed_calls(lines)
    assert {c.role for c in calls if c.service == "athena"} == {"DataEngineerRoleArn", "AnalystRoleArn"}
    assert [c.refused for c in calls if c.operation == "StartQueryExecution"] == [False, False, True]
    for service, operation, params in requests:
        validate_request(service, operation, params)
    assert session.blocked_attempts == []  # nothing was even tried
