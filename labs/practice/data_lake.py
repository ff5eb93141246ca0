"""Practice on the data-lake lab.

1. Upload the sample orders (date-partitioned CSV that ships in this repo) to the
   raw zone under ``sales/dt=YYYY-MM-DD/``.
2. Start the raw-zone crawler and wait until it has catalogued ``sales``.
3. As the data engineer (a Lake Formation admin), curate raw into the curated zone
   with an Athena CTAS: typed Parquet, partitioned by ``dt``.
4. As the read-only analyst, query the curated table through Athena; then show
   that the same analyst is refused the raw zone (no Lake Formation grant there).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

from labs.aws import assume_role, stack_outputs
from labs.errors import LabError
from labs.practice.athena import athena_query

STACK_NAME = "mlref-data-lake"
SAMPLE_DIR = Path(__file__).resolve().parent / "data" / "sales"
TABLE = "sales"
REQUIRED_OUTPUTS = (
    "RawBucketName", "SamplePrefix", "CuratedBucketName", "CuratedPrefix", "RawDatabaseName",
    "CuratedDatabaseName", "CrawlerName", "WorkgroupName", "DataEngineerRoleArn", "AnalystRoleArn",
)


@dataclass
class Waiting:
    """How long to wait for the crawler and for queries."""

    poll_seconds: float = 10.0
    crawler_timeout_seconds: float = 900.0
    query_timeout_seconds: float = 300.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


@dataclass
class PracticeReport:
    uploaded: list[str] = field(default_factory=list)
    curated: str = ""
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    raw_denied_for_analyst: bool = False


def sample_files() -> list[tuple[str, Path]]:
    """(key below the sample prefix, file) for every sample object, in order."""
    return sorted((str(path.relative_to(SAMPLE_DIR)), path) for path in SAMPLE_DIR.rglob("*.csv"))


def ctas_statement(outputs: dict[str, str]) -> str:
    location = f"s3://{outputs['CuratedBucketName']}/{outputs['CuratedPrefix']}"
    return (
        f'CREATE TABLE "{outputs["CuratedDatabaseName"]}"."{TABLE}" '
        f"WITH (format = 'PARQUET', write_compression = 'SNAPPY', external_location = '{location}', "
        f"partitioned_by = ARRAY['dt']) AS "
        f"SELECT CAST(order_id AS bigint) AS order_id, CAST(customer_id AS varchar) AS customer_id, "
        f"CAST(product AS varchar) AS product, CAST(quantity AS integer) AS quantity, "
        f"CAST(unit_price AS double) AS unit_price, dt "
        f'FROM "{outputs["RawDatabaseName"]}"."{TABLE}"'
    )


def revenue_query(outputs: dict[str, str]) -> str:
    return (
        "SELECT dt, count(*) AS orders, round(sum(quantity * unit_price), 2) AS revenue "
        f'FROM "{outputs["CuratedDatabaseName"]}"."{TABLE}" GROUP BY dt ORDER BY dt'
    )


class DataLakePractice:
    def __init__(
        self, session: boto3.Session, *, waiting: Waiting | None = None, say: Callable[[str], None] = print,
        outputs: dict[str, str] | None = None,
        session_for_role: Callable[[str, str], boto3.Session] | None = None,
    ) -> None:
        self.session = session
        self.session_for_role = session_for_role or (lambda arn, purpose: assume_role(session, arn, purpose))
        self.waiting = waiting or Waiting()
        self.say = say
        self.outputs = outputs or stack_outputs(session, STACK_NAME, REQUIRED_OUTPUTS)

    # 1 ------------------------------------------------------------------------------
    def upload_sample(self) -> list[str]:
        s3 = self.session.client("s3")
        keys = []
        for relative, path in sample_files():
            key = f"{self.outputs['SamplePrefix']}{relative}"
            s3.upload_file(str(path), self.outputs["RawBucketName"], key)
            keys.append(key)
        self.say(f"uploaded {len(keys)} objects to s3://{self.outputs['RawBucketName']}/{self.outputs['SamplePrefix']}")
        return keys

    # 2 ------------------------------------------------------------------------------
    def crawl(self) -> None:
        glue = self.session.client("glue")
        name = self.outputs["CrawlerName"]
        try:
            glue.start_crawler(Name=name)
            self.say(f"started crawler {name} (10-minute minimum charge per run)")
        except ClientError as error:
            if error.response["Error"]["Code"] != "CrawlerRunningException":
                raise
            self.say(f"crawler {name} is already running; waiting for it")
        deadline = self.waiting.clock() + self.waiting.crawler_timeout_seconds
        self.waiting.sleep(self.waiting.poll_seconds)
        while True:
            crawler = glue.get_crawler(Name=name)["Crawler"]
            if crawler["State"] == "READY":
                status = crawler.get("LastCrawl", {}).get("Status")
                if status != "SUCCEEDED":
                    message = crawler.get("LastCrawl", {}).get("ErrorMessage", "no message")
                    raise LabError(f"crawler {name} finished with {status}: {message}")
                break
            if self.waiting.clock() > deadline:
                raise LabError(f"crawler {name} still {crawler['State']} after "
                               f"{self.waiting.crawler_timeout_seconds:.0f}s: check it in the Glue console")
            self.waiting.sleep(self.waiting.poll_seconds)
        glue.get_table(DatabaseName=self.outputs["RawDatabaseName"], Name=TABLE)
        self.say(f"crawler catalogued {self.outputs['RawDatabaseName']}.{TABLE}")

    # 3 ------------------------------------------------------------------------------
    def curate(self) -> str:
        engineer = self.session_for_role(self.outputs["DataEngineerRoleArn"], "engineer")
        try:
            engineer.client("glue").get_table(DatabaseName=self.outputs["CuratedDatabaseName"], Name=TABLE)
            self.say(f"{self.outputs['CuratedDatabaseName']}.{TABLE} exists already; keeping it")
            return "kept"
        except ClientError as error:
            if error.response["Error"]["Code"] != "EntityNotFoundException":
                raise
        self.query(engineer, ctas_statement(self.outputs))
        self.say(f"curated {self.outputs['CuratedDatabaseName']}.{TABLE} as Parquet partitioned by dt")
        return "created"

    # 4 ------------------------------------------------------------------------------
    def analyse(self) -> tuple[list[str], list[list[str]], bool]:
        analyst = self.session_for_role(self.outputs["AnalystRoleArn"], "analyst")
        columns, rows = self.query(analyst, revenue_query(self.outputs))
        try:
            self.query(analyst, f'SELECT count(*) FROM "{self.outputs["RawDatabaseName"]}"."{TABLE}"')
            denied = False
        except LabError:
            denied = True
        return columns, rows, denied

    def query(self, session: boto3.Session, sql: str) -> tuple[list[str], list[list[str]]]:
        return athena_query(session.client("athena"), sql, self.outputs["WorkgroupName"], clock=self.waiting.clock,
                            sleep=self.waiting.sleep, timeout_seconds=self.waiting.query_timeout_seconds,
                            poll_seconds=min(self.waiting.poll_seconds, 2.0))

    def run(self) -> PracticeReport:
        report = PracticeReport()
        report.uploaded = self.upload_sample()
        self.crawl()
        report.curated = self.curate()
        report.columns, report.rows, report.raw_denied_for_analyst = self.analyse()
        self.say("analyst query on the curated zone:")
        self.say("  " + " | ".join(report.columns))
        for row in report.rows:
            self.say("  " + " | ".join(row))
        self.say(
            "analyst query on the raw zone: "
            + ("denied, as it should be: the analyst has no grant on the raw zone" if report.raw_denied_for_analyst
               else "ALLOWED: check the Lake Formation grants on the raw database")
        )
        return report
