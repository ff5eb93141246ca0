"""``labs prices``: the table, and its refresh from the Price List API, with every request checked
against the real ``pricing`` model by Stubber (no network, no account)."""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from datetime import date
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber
from botocore.validate import validate_parameters

from catalog.prices import PRICE_TABLE, prices
from labs.engine import atomic_write as files
from labs.engine.errors import LabError
from labs.pricing.command import QUERIES, PriceChange, first_paid_tier, format_number, price_lines, refresh

TODAY = date(2027, 1, 2)
REAL_TEXT = PRICE_TABLE.read_text(encoding="utf-8")
REAL = tomllib.loads(REAL_TEXT)


@pytest.fixture
def table(tmp_path) -> Path:
    """A copy of the real price table; the real one is never written."""
    path = tmp_path / "prices.toml"
    shutil.copyfile(PRICE_TABLE, path)
    return path


@pytest.fixture
def client():
    return boto3.Session(region_name="us-east-1").client("pricing", region_name="us-east-1")


def product(usd: str | None = None, *, unit: str = "Hrs", tiers: list[tuple[str, str, str]] | None = None,
            sku: str = "SKU1") -> str:
    """One PriceList item in the aws_v1 format, as the API returns it: a JSON string."""
    tiers = tiers or [("0", "Inf", usd)]
    dimensions = {
        f"{sku}.JRTCKXETXF.{index}": {
            "rateCode": f"{sku}.JRTCKXETXF.{index}", "description": "a price", "unit": unit,
            "beginRange": begin, "endRange": end, "pricePerUnit": {"USD": price}, "appliesTo": [],
        }
        for index, (begin, end, price) in enumerate(tiers)
    }
    return json.dumps({
        "product": {"sku": sku, "productFamily": "Something", "attributes": {"regionCode": "us-east-1"}},
        "serviceCode": "AmazonSomething",
        "terms": {"OnDemand": {f"{sku}.JRTCKXETXF": {
            "sku": sku, "offerTermCode": "JRTCKXETXF", "effectiveDate": "2026-12-01T00:00:00Z",
            "termAttributes": {}, "priceDimensions": dimensions}}},
        "version": "20261201000000", "publicationDate": "2026-12-01T00:00:00Z",
    })


def same_price(key: str) -> list[str]:
    """A product at the table's current price, in the query's unit."""
    return [product(f"{REAL[key]['usd'] / QUERIES[key].scale:.12f}", unit=QUERIES[key].unit or "Hrs")]


def stub_all(stub: Stubber, answers: dict[str, list[list[str]]] | None = None) -> None:
    """One GetProducts exchange per entry, in table order; ``answers`` gives pages per key,
    every other entry answers its current price."""
    answers = answers or {}
    for key in REAL:
        pages = answers.get(key, [same_price(key)])
        for index, page in enumerate(pages):
            expected = QUERIES[key].request()
            response = {"FormatVersion": "aws_v1", "PriceList": page}
            if index:
                expected["NextToken"] = f"{key}-{index}"
            if index < len(pages) - 1:
                response["NextToken"] = f"{key}-{index + 1}"
            stub.add_response("get_products", response, expected)


def with_dates(text: str) -> str:
    """``text`` with every ``checked`` date set to TODAY."""
    return re.sub(r'checked = "\d{4}-\d{2}-\d{2}"', f'checked = "{TODAY.isoformat()}"', text)


def run(client, table: Path, answers=None, lines=None):
    with Stubber(client) as stub:
        stub_all(stub, answers)
        report = refresh(None, table, today=TODAY, out=(lines if lines is not None else []).append, client=client)
        stub.assert_no_pending_responses()
    return report


def test_a_changed_price_is_written_with_today_and_everything_else_kept(client, table):
    lines: list[str] = []
    report = run(client, table, {"kms_key_month": [[product("1.10", unit="Keys")]]}, lines)
    assert report.changed == (PriceChange("kms_key_month", 1.0, 1.1),)
    assert len(report.unchanged) == len(REAL) - 1 and report.unmatched == () and report.written
    assert "kms_key_month: $1.00 -> $1.10" in lines
    total = len(REAL)
    assert lines[-1].startswith(f"{total} of {total} prices refreshed (1 changed, {total - 1} unchanged), "
                                "0 left as they were; wrote")
    text = table.read_text()
    # only that value and the checked dates changed: header, comments, order, number style kept
    assert REAL_TEXT.count("[kms_key_month]\nusd = 1.00\n") == 1
    assert text == with_dates(REAL_TEXT).replace("[kms_key_month]\nusd = 1.00\n", "[kms_key_month]\nusd = 1.10\n")
    written = tomllib.loads(text)
    assert list(written) == list(REAL)
    for key, entry in REAL.items():
        assert list(written[key]) == list(entry)  # field order too
        usd = 1.1 if key == "kms_key_month" else entry["usd"]
        assert written[key] == {**entry, "checked": "2027-01-02", "usd": usd}


def test_an_unchanged_table_differs_only_in_its_checked_dates(client, table):
    report = run(client, table)
    assert report.changed == () and report.unchanged == tuple(REAL) and report.written
    assert table.read_text() == with_dates(REAL_TEXT)


def test_a_key_without_a_product_is_left_untouched_and_reported(client, table):
    lines: list[str] = []
    report = run(client, table, {"fsx_lustre_scratch2_gb_month": [[]]}, lines)
    (unmatched,) = report.unmatched
    assert unmatched.key == "fsx_lustre_scratch2_gb_month"
    assert unmatched.reason.startswith("no product matched (AmazonFSx fileSystemType=Lustre, usagetype=USE1-Storage)")
    assert any(line.startswith("fsx_lustre_scratch2_gb_month: left at $0.14: no product matched") for line in lines)
    written = tomllib.loads(table.read_text())
    assert written["fsx_lustre_scratch2_gb_month"] == REAL["fsx_lustre_scratch2_gb_month"]
    assert written["kms_key_month"]["checked"] == "2027-01-02"


def test_different_prices_are_ambiguous_but_equal_duplicates_are_not(client, table):
    report = run(client, table, {
        "sagemaker_ml_p3_2xlarge_hour": [[product("3.825", sku="A"), product("1.1475", sku="B")]],
        "firehose_gb": [[product("0.031", unit="GB", sku="PUT"), product("0.031", unit="GB", sku="BATCH")]],
    })
    (unmatched,) = report.unmatched
    assert unmatched.key == "sagemaker_ml_p3_2xlarge_hour"
    assert unmatched.reason.startswith("ambiguous: 2 products with different prices ($1.1475, $3.825)")
    assert PriceChange("firehose_gb", 0.029, 0.031) in report.changed
    assert tomllib.loads(table.read_text())["sagemaker_ml_p3_2xlarge_hour"]["checked"] == "2026-11-21"


def test_pages_are_followed(client, table):
    pages = [[], [product("0.0500", unit="Hrs", sku="OTHER")], [product("0.0150000000", unit="ShardHour")]]
    report = run(client, table, {"kinesis_shard_hour": [[], [product("0.016", unit="ShardHour")]],
                                 "kinesis_on_demand_stream_hour": pages})
    assert PriceChange("kinesis_shard_hour", 0.015, 0.016) in report.changed
    (unmatched,) = report.unmatched  # two products on two pages, at different prices
    assert unmatched.key == "kinesis_on_demand_stream_hour" and unmatched.reason.startswith("ambiguous: 2 products")


def test_tiered_prices_take_the_first_tier(client, table):
    tiers = [("512000", "Inf", "0.0210000000"), ("0", "51200", "0.0240000000"), ("51200", "512000", "0.0220000000")]
    report = run(client, table, {"s3_standard_gb_month": [[product(tiers=tiers, unit="GB-Mo")]]})
    assert PriceChange("s3_standard_gb_month", 0.023, 0.024) in report.changed
    assert "[s3_standard_gb_month]\nusd = 0.024\n" in table.read_text()


def test_first_paid_tier_passes_over_free_tiers_and_other_units():
    item = json.loads(product(tiers=[("0", "10", "0.0000000000"), ("10", "Inf", "0.0000012500")], unit="Requests"))
    assert str(first_paid_tier(item)) == "0.0000012500"
    assert first_paid_tier(item, "Hrs") is None
    assert first_paid_tier(item, "requests") is not None  # units compare without case
    assert first_paid_tier({"terms": {}}) is None


def test_a_unit_mismatch_and_a_tenfold_jump_are_held_back(client, table):
    report = run(client, table, {
        "athena_tb_scanned": [[product("0.005", unit="GB")]],  # per GB, not per TB
        "sagemaker_feature_store_write_million": [[product("1.25")]],  # already per million: x1e6 is absurd
    })
    reasons = {u.key: u.reason for u in report.unmatched}
    assert reasons["athena_tb_scanned"].startswith("1 product(s) matched but none has an on-demand price in Terabytes")
    assert "more than 10x away: check the query's unit and scale" in reasons["sagemaker_feature_store_write_million"]
    written = tomllib.loads(table.read_text())
    assert written["athena_tb_scanned"] == REAL["athena_tb_scanned"]
    assert written["sagemaker_feature_store_write_million"] == REAL["sagemaker_feature_store_write_million"]


def test_per_request_prices_are_scaled_to_the_tables_unit(client, table):
    per_unit = product("0.0000003000", unit="ReadRequestUnits")
    report = run(client, table, {"sagemaker_feature_store_read_million": [[per_unit]]})
    assert PriceChange("sagemaker_feature_store_read_million", 0.25, 0.3) in report.changed


def test_when_nothing_matches_nothing_is_written(client, table):
    before = table.stat().st_mtime_ns
    report = run(client, table, {key: [[]] for key in REAL})
    assert not report.written and len(report.unmatched) == len(REAL)
    assert table.read_text() == REAL_TEXT and table.stat().st_mtime_ns == before


def test_the_cache_of_prices_is_cleared_after_writing(client, table):
    assert prices(table)["kms_key_month"].usd == 1.0
    run(client, table, {"kms_key_month": [[product("1.10")]]})
    assert prices(table)["kms_key_month"].usd == 1.1


def test_access_denied_is_one_line_naming_the_permission_and_writes_nothing(client, table):
    with Stubber(client) as stub:
        for key in list(REAL)[:2]:
            stub.add_response("get_products", {"PriceList": same_price(key)}, QUERIES[key].request())
        stub.add_client_error("get_products", "AccessDeniedException", "User is not authorized", 400,
                              expected_params=QUERIES[list(REAL)[2]].request())
        with pytest.raises(LabError) as raised:
            refresh(None, table, today=TODAY, out=lambda line: None, client=client)
    message = str(raised.value)
    assert "\n" not in message and "your identity needs pricing:GetProducts" in message
    assert table.read_text() == REAL_TEXT


def test_an_expired_token_is_the_credential_error(client, table):
    with Stubber(client) as stub:
        stub.add_client_error("get_products", "ExpiredTokenException", "The security token included in the request "
                              "is expired", 400, expected_params=QUERIES["kms_key_month"].request())
        with pytest.raises(LabError, match=r"^your AWS session token has expired: refresh your credentials "
                                           r"\(e.g. `aws sso login`\) and retry$"):
            refresh(None, table, today=TODAY, client=client)
    assert table.read_text() == REAL_TEXT


def never_send(request, **kwargs):
    raise AssertionError(f"a request was about to leave the machine: {request.url}")


def test_no_credentials_is_the_credential_error(no_credentials, table):
    session = boto3.Session(region_name="eu-west-1")
    assert session.get_credentials() is None
    pricing = session.client("pricing", region_name="us-east-1")
    pricing.meta.events.register("before-send", never_send)
    with pytest.raises(LabError, match=r"^no AWS credentials found: run `aws configure`"):
        refresh(session, table, today=TODAY, client=pricing)
    assert table.read_text() == REAL_TEXT


def test_an_unreachable_endpoint_is_one_line(table):
    pricing = boto3.Session(region_name="us-east-1").client(
        "pricing", region_name="us-east-1", config=Config(retries={"total_max_attempts": 1}))

    def unreachable(request, **kwargs):
        raise EndpointConnectionError(endpoint_url=request.url)

    pricing.meta.events.register("before-send", unreachable)
    with pytest.raises(LabError) as raised:
        refresh(None, table, today=TODAY, client=pricing)
    assert str(raised.value) == ("cannot reach the AWS Price List API (https://api.pricing.us-east-1.amazonaws.com): "
                                 "check your network or proxy, then retry; nothing was written")
    assert table.read_text() == REAL_TEXT


def test_a_failed_write_leaves_the_table_and_no_temporary_file(client, table, monkeypatch):
    def fail(source, destination):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", fail)
    with pytest.raises(OSError):
        run(client, table, {"kms_key_month": [[product("1.10")]]})
    assert table.read_text() == REAL_TEXT and sorted(p.name for p in table.parent.iterdir()) == ["prices.toml"]


def test_the_sessions_pricing_client_is_asked_for_in_us_east_1(client, table):
    asked = []

    class Session:
        region_name = "eu-west-1"

        def client(self, name, region_name=None):
            asked.append((name, region_name))
            return client

    with Stubber(client) as stub:
        stub_all(stub)
        refresh(Session(), table, today=TODAY, out=lambda line: None)
    assert asked == [("pricing", "us-east-1")]


COMMENTED = """# The header.

# before the first table
[kms_key_month]   # the table's own comment
usd = 1.00  # per key
unit = 'customer-managed key per month'
source = "https://aws.amazon.com/kms/pricing/"
checked = "2026-11-21"  # when
note = "a note"

# between tables

[athena_tb_scanned]
checked = "2026-11-21"
usd   =   5.00
unit = "TB scanned"
source = "https://aws.amazon.com/athena/pricing/"

[glue_crawler_dpu_hour]
usd = 0.44
unit = "DPU-hour"
source = "https://aws.amazon.com/glue/pricing/"
checked = "2026-11-21"
# the end
"""


def test_a_changed_price_rewrites_only_that_value_and_the_checked_dates_keeping_comments_and_order(client, tmp_path):
    table = tmp_path / "prices.toml"
    table.write_text(COMMENTED)
    answers = {"kms_key_month": [product("1.05", unit="Keys")], "athena_tb_scanned": same_price("athena_tb_scanned"),
               "glue_crawler_dpu_hour": []}
    with Stubber(client) as stub:
        for key, page in answers.items():
            stub.add_response("get_products", {"PriceList": page}, QUERIES[key].request())
        report = refresh(None, table, today=TODAY, out=lambda line: None, client=client)
    assert report.changed == (PriceChange("kms_key_month", 1.0, 1.05),)
    assert report.unchanged == ("athena_tb_scanned",) and [u.key for u in report.unmatched] == ["glue_crawler_dpu_hour"]
    expected = (COMMENTED.replace("usd = 1.00  # per key", "usd = 1.05  # per key")
                .replace('checked = "2026-11-21"  # when', 'checked = "2027-01-02"  # when')
                .replace('[athena_tb_scanned]\nchecked = "2026-11-21"', '[athena_tb_scanned]\nchecked = "2027-01-02"'))
    assert table.read_text() == expected  # the unmatched glue entry, comments, spacing and quoting as they were


def test_the_real_table_is_written_back_unchanged_when_nothing_is_edited():
    import tomlkit

    assert tomlkit.dumps(tomlkit.parse(REAL_TEXT)) == REAL_TEXT


def test_prices_are_written_in_the_tables_number_style():
    assert format_number(1.0) == "1.00" and format_number(0.4) == "0.40" and format_number(3.825) == "3.825"
    assert format_number(0.0000012) == "1.2e-06" and format_number(12) == "12"
    for value in (1.1, 0.0000012, 3.825, 0.00000125):
        assert tomllib.loads(f"usd = {format_number(value)}")["usd"] == value


def test_every_entry_has_a_query_and_every_query_is_a_valid_request():
    assert list(QUERIES) == list(REAL)
    shape = boto3.Session(region_name="us-east-1").client("pricing").meta.service_model.operation_model(
        "GetProducts").input_shape
    for query in QUERIES.values():
        validate_parameters(query.request(), shape)
        assert query.request()["Filters"][0] == {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"}


def test_price_lines_show_every_key_with_price_date_unit_source_and_note():
    lines = price_lines()
    text = "\n".join(lines)
    assert lines[0] == f"{len(REAL)} prices in pricing/prices.toml: us-east-1 on-demand list prices"
    for key, entry in REAL.items():
        (row,) = [line for line in lines if line.startswith(key + " ")]
        assert f"${format_number(entry['usd'])}" in row and entry["checked"] in row and entry["unit"] in row
        assert f"source: {entry['source']}" in text
    assert "note: unverified here (no internet)" in text
    assert "labs prices --refresh" in lines[-1]
