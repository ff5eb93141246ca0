"""Practice on the data-lake lab.

1. ``upload sample``: upload the sample orders (date-partitioned CSV that ships in this repo)
   to the raw zone under ``sales/dt=YYYY-MM-DD/``.
2. ``crawl raw zone``: start the raw-zone crawler and wait until it has catalogued ``sales``.
3. ``curate to parquet``: as the data engineer (a Lake Formation admin), curate raw into the
   curated zone with an Athena CTAS: typed Parquet, partitioned by ``dt``.
4. ``query as analyst``: as the read-only analyst, query the curated table through Athena;
   then show that the same analyst is refused the raw zone (no Lake Formation grant there).

Each step is announced with the MLA-C01 task statements it exercises (``step_line``).

``--dry-run`` prints every request (uploads, crawler, Athena queries) without calling AWS.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from catalog import data_lake as contract
from labs.engine.deployed import assume_role, stack_outputs
from labs.engine.errors import LabError
from labs.practice.common.athena import athena_query, show_query
from labs.practice.common.dry_run import example_role_arn, show_assume_role, show_request, show_stack_outputs
from labs.practice.common.polling import Poll
from labs.practice.common.steps import step_line

SAMPLE_DIR = Path(__file__).resolve().parent / "data" / "sales"
TABLE = "sales"
REQUIRED_OUTPUTS = (
    contract.RAW_BUCKET, contract.SAMPLE_PREFIX_OUTPUT, contract.CURATED_BUCKET, contract.CURATED_PREFIX_OUTPUT,
    contract.RAW_DATABASE, contract.CURATED_DATABASE, contract.CRAWLER, contract.WORKGROUP, contract.ENGINEER_ROLE,
    contract.ANALYST_ROLE,
)
PLACEHOLDERS = {output: f"<{output}>" for output in REQUIRED_OUTPUTS} | {
    contract.SAMPLE_PREFIX_OUTPUT: contract.SAMPLE_PREFIX, contract.CURATED_PREFIX_OUTPUT: contract.CURATED_PREFIX,
    contract.RAW_DATABASE: "mlref_data_lake_raw", contract.CURATED_DATABASE: "mlref_data_lake_curated",
    contract.ENGINEER_ROLE: example_role_arn(contract.ENGINEER_ROLE),
    contract.ANALYST_ROLE: example_role_arn(contract.ANALYST_ROLE),
}


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
    location = f"s3://{outputs[contract.CURATED_BUCKET]}/{outputs[contract.CURATED_PREFIX_OUTPUT]}"
    return (
        f'CREATE TABLE "{outputs[contract.CURATED_DATABASE]}"."{TABLE}" '
        f"WITH (format = 'PARQUET', write_compression = 'SNAPPY', external_location = '{location}', "
        f"partitioned_by = ARRAY['dt']) AS "
        f"SELECT CAST(order_id AS bigint) AS order_id, CAST(customer_id AS varchar) AS customer_id, "
        f"CAST(product AS varchar) AS product, CAST(quantity AS integer) AS quantity, "
        f"CAST(unit_price AS double) AS unit_price, dt "
        f'FROM "{outputs[contract.RAW_DATABASE]}"."{TABLE}"'
    )


def revenue_query(outputs: dict[str, str]) -> str:
    return (
        "SELECT dt, count(*) AS orders, round(sum(quantity * unit_price), 2) AS revenue "
        f'FROM "{outputs[contract.CURATED_DATABASE]}"."{TABLE}" GROUP BY dt ORDER BY dt'
    )


def raw_query(outputs: dict[str, str]) -> str:
    return f'SELECT count(*) FROM "{outputs[contract.RAW_DATABASE]}"."{TABLE}"'


class DataLakePractice:
    def __init__(
        self, session: Any, *, dry_run: bool = False, waiting: Waiting | None = None,
        out: Callable[[str], None] = print, outputs: dict[str, str] | None = None,
        session_for_role: Callable[[str, str], Any] | None = None,
    ) -> None:
        self.session, self.dry_run, self.out = session, dry_run, out
        self.session_for_role = session_for_role or (lambda arn, purpose: assume_role(session, arn, purpose))
        self.waiting = waiting or Waiting()
        self._outputs = outputs

    @property
    def outputs(self) -> dict[str, str]:
        if self._outputs is None:
            self._outputs = stack_outputs(self.session, contract.CONTRACT.stack_name, REQUIRED_OUTPUTS)
        return self._outputs

    def step(self, name: str) -> None:
        self.out(step_line(contract.CONTRACT, name))

    # 1 ------------------------------------------------------------------------------
    def upload_sample(self) -> list[str]:
        self.step(contract.STEP_UPLOAD)
        s3 = self.session.client("s3")
        keys = []
        for relative, path in sample_files():
            key = f"{self.outputs[contract.SAMPLE_PREFIX_OUTPUT]}{relative}"
            s3.upload_file(str(path), self.outputs[contract.RAW_BUCKET], key)
            keys.append(key)
        self.out(f"uploaded {len(keys)} objects to s3://{self.outputs[contract.RAW_BUCKET]}/"
                 f"{self.outputs[contract.SAMPLE_PREFIX_OUTPUT]}")
        return keys

    # 2 ------------------------------------------------------------------------------
    def crawl(self) -> None:
        from botocore.exceptions import ClientError

        self.step(contract.STEP_CRAWL)
        glue = self.session.client("glue")
        name = self.outputs[contract.CRAWLER]
        try:
            glue.start_crawler(Name=name)
            self.out(f"started crawler {name} (10-minute minimum charge per run)")
        except ClientError as error:
            if error.response["Error"]["Code"] != "CrawlerRunningException":
                raise
            self.out(f"crawler {name} is already running; waiting for it")
        self.waiting.sleep(self.waiting.poll_seconds)
        wait = Poll(f"crawler {name}", self.waiting.crawler_timeout_seconds, self.waiting.poll_seconds,
                    fix="check it in the Glue console", clock=self.waiting.clock, sleep=self.waiting.sleep)
        crawler = wait.until(lambda: glue.get_crawler(Name=name)["Crawler"], lambda c: c["State"] == "READY")
        status = crawler.get("LastCrawl", {}).get("Status")
        if status != "SUCCEEDED":
            message = crawler.get("LastCrawl", {}).get("ErrorMessage", "no message")
            raise LabError(f"crawler {name} finished with {status}: {message}")
        glue.get_table(DatabaseName=self.outputs[contract.RAW_DATABASE], Name=TABLE)
        self.out(f"crawler catalogued {self.outputs[contract.RAW_DATABASE]}.{TABLE}")

    # 3 ------------------------------------------------------------------------------
    def curate(self) -> str:
        from botocore.exceptions import ClientError

        self.step(contract.STEP_CURATE)
        engineer = self.session_for_role(self.outputs[contract.ENGINEER_ROLE], "engineer")
        try:
            engineer.client("glue").get_table(DatabaseName=self.outputs[contract.CURATED_DATABASE], Name=TABLE)
            self.out(f"{self.outputs[contract.CURATED_DATABASE]}.{TABLE} exists already; keeping it")
            return "kept"
        except ClientError as error:
            if error.response["Error"]["Code"] != "EntityNotFoundException":
                raise
        self.query(engineer, ctas_statement(self.outputs))
        self.out(f"curated {self.outputs[contract.CURATED_DATABASE]}.{TABLE} as Parquet partitioned by dt")
        return "created"

    # 4 ------------------------------------------------------------------------------
    def analyse(self) -> tuple[list[str], list[list[str]], bool]:
        self.step(contract.STEP_QUERY)
        analyst = self.session_for_role(self.outputs[contract.ANALYST_ROLE], "analyst")
        columns, rows = self.query(analyst, revenue_query(self.outputs))
        try:
            self.query(analyst, raw_query(self.outputs))
            denied = False
        except LabError:
            denied = True
        return columns, rows, denied

    def query(self, session: Any, sql: str) -> tuple[list[str], list[list[str]]]:
        return athena_query(session.client("athena"), sql, self.outputs[contract.WORKGROUP],
                            clock=self.waiting.clock, sleep=self.waiting.sleep,
                            timeout_seconds=self.waiting.query_timeout_seconds,
                            poll_seconds=min(self.waiting.poll_seconds, 2.0))

    @staticmethod
    def dry_run_outputs(_region: str) -> dict[str, str]:
        """The stack outputs as the dry run writes them (``labs permissions`` puts the template's in)."""
        return dict(PLACEHOLDERS)

    def print_dry_run(self) -> None:
        outputs = PLACEHOLDERS
        show_stack_outputs(self.out, contract.CONTRACT.stack_name)
        self.step(contract.STEP_UPLOAD)
        for relative, _path in sample_files():
            show_request(self.out, "s3", "PutObject", {"Bucket": outputs[contract.RAW_BUCKET],
                                                       "Key": f"{outputs[contract.SAMPLE_PREFIX_OUTPUT]}{relative}"},
                         "the sample orders (body: the CSV file)")
        self.step(contract.STEP_CRAWL)
        show_request(self.out, "glue", "StartCrawler", {"Name": outputs[contract.CRAWLER]})
        show_request(self.out, "glue", "GetCrawler", {"Name": outputs[contract.CRAWLER]}, "until READY")
        show_request(self.out, "glue", "GetTable", {"DatabaseName": outputs[contract.RAW_DATABASE], "Name": TABLE},
                     "the crawler's table")
        self.step(contract.STEP_CURATE)
        show_assume_role(self.out, outputs[contract.ENGINEER_ROLE], "engineer")
        show_request(self.out, "glue", "GetTable", {"DatabaseName": outputs[contract.CURATED_DATABASE], "Name": TABLE},
                     "data engineer: is the curated table there already?", as_role=contract.ENGINEER_ROLE)
        show_query(self.out, ctas_statement(outputs), outputs[contract.WORKGROUP],
                   "data engineer: curate raw into Parquet", as_role=contract.ENGINEER_ROLE)
        self.step(contract.STEP_QUERY)
        show_assume_role(self.out, outputs[contract.ANALYST_ROLE], "analyst")
        show_query(self.out, revenue_query(outputs), outputs[contract.WORKGROUP],
                   "analyst: revenue per day from the curated zone", as_role=contract.ANALYST_ROLE)
        show_query(self.out, raw_query(outputs), outputs[contract.WORKGROUP],
                   "analyst: the raw zone, which the analyst has no grant on", as_role=contract.ANALYST_ROLE,
                   refused=True)
        self.out("# placeholders <...> are the mlref-data-lake stack's outputs; `as <Output>`: sent with the "
                 "credentials of the lab role that output names")

    def run(self) -> PracticeReport | None:
        if self.dry_run:
            self.print_dry_run()
            return None
        report = PracticeReport()
        report.uploaded = self.upload_sample()
        self.crawl()
        report.curated = self.curate()
        report.columns, report.rows, report.raw_denied_for_analyst = self.analyse()
        self.out("analyst query on the curated zone:")
        self.out("  " + " | ".join(report.columns))
        for row in report.rows:
            self.out("  " + " | ".join(row))
        self.out(
            "analyst query on the raw zone: "
            + ("denied, as it should be: the analyst has no grant on the raw zone" if report.raw_denied_for_analyst
               else "ALLOWED: check the Lake Formation grants on the raw database")
        )
        return report
