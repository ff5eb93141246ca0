"""``labs prices``: show the price table, and refresh it from the AWS Price List API.

``pricing/prices.toml`` is the one price table (see ``labs.contracts.prices``). ``price_lines``
shows it; ``refresh`` asks the Price List Query API (``pricing:GetProducts``) for each entry's
us-east-1 on-demand list price and writes back ``usd`` and ``checked``, keeping the header
comment, the key order and every other field.

The queries live here, in ``QUERIES``, not in the TOML: ``labs.contracts.prices`` builds its
``Price`` from every field of an entry, so lookup fields there would break every reader of the
table, and they are not a price's description but how to find it.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, NoCredentialsError, NoRegionError
from botocore.exceptions import ConnectionError as BotoConnectionError

from labs.contracts.prices import PRICE_TABLE, prices
from labs.aws import credential_problem
from labs.errors import LabError

if TYPE_CHECKING:
    import boto3

# The Price List Query API has endpoints in us-east-1, eu-central-1 and ap-south-1 only; each answers
# for every region. The prices asked for are us-east-1's whatever the session's region is.
PRICING_ENDPOINT_REGION = "us-east-1"
REGION_CODE = "us-east-1"
# A refreshed price this many times above or below the table's is held back as a likely unit mismatch.
SUSPECT_FACTOR = 10
PAGE_SIZE = 100


@dataclass(frozen=True)
class PriceQuery:
    """How to find one table entry in the Price List API.

    Attributes:
        service: the Price List service code (``AmazonS3``, ``awskms``, ...).
        filters: (field, value) pairs sent as TERM_MATCH filters, besides ``regionCode``.
        unit: the price dimension's unit to accept ("GB-Mo", "Hrs"); None accepts any.
        scale: what the per-unit price is multiplied by to give the table's unit (1e6 for
            a per-request price kept per million requests).
        confirmed: whether the filter values were seen matching real us-east-1 Price List data;
            an unconfirmed query that matches nothing is reported, never fatal.
        evidence: where the values come from, in a few words.
    """

    service: str
    filters: tuple[tuple[str, str], ...]
    unit: str | None = None
    scale: int = 1
    confirmed: bool = False
    evidence: str = ""

    def request(self) -> dict[str, Any]:
        """The GetProducts parameters (without NextToken)."""
        filters = [("regionCode", REGION_CODE), *self.filters]
        return {
            "ServiceCode": self.service,
            "Filters": [{"Type": "TERM_MATCH", "Field": field, "Value": value} for field, value in filters],
            "FormatVersion": "aws_v1",
            "MaxResults": PAGE_SIZE,
        }


# One query per entry of pricing/prices.toml. us-east-1 usage types carry no region prefix for the
# older services (S3, Kinesis Data Streams), "USE1-" for most others, and "us-east-1-" for KMS.
QUERIES: dict[str, PriceQuery] = {
    "kms_key_month": PriceQuery(
        "awskms", (("productFamily", "Encryption Key"), ("usagetype", "us-east-1-KMS-Keys")),
        confirmed=True, evidence="usage type matched in a us-east-1 offer file by public code; family as Infracost"),
    "glue_crawler_dpu_hour": PriceQuery(
        "AWSGlue", (("usagetype", "USE1-Crawler-DPU-Hour"),),
        confirmed=True, evidence="usage type matched in a us-east-1 offer file by public code"),
    "athena_tb_scanned": PriceQuery(
        "AmazonAthena", (("usagetype", "USE1-DataScannedInTB"),), unit="Terabytes",
        confirmed=True, evidence="usage type matched in a us-east-1 offer file; unit from public code"),
    "s3_standard_gb_month": PriceQuery(
        "AmazonS3", (("usagetype", "TimedStorage-ByteHrs"), ("volumeType", "Standard")), unit="GB-Mo",
        confirmed=True, evidence="usage type and volumeType matched in a us-east-1 offer file; tiered: first tier"),
    "kinesis_shard_hour": PriceQuery(
        "AmazonKinesis", (("usagetype", "Storage-ShardHour"), ("operation", "shardHourStorage")),
        confirmed=True, evidence="usage type matched in a us-east-1 offer file; operation as Infracost"),
    # Unconfirmed: the unprefixed us-east-1 usage type and the operation are from public code and
    # test fixtures, not from a run against Price List data.
    "kinesis_on_demand_stream_hour": PriceQuery(
        "AmazonKinesis", (("usagetype", "OnDemand-StreamHour"), ("operation", "OnDemandStreamHr")),
        evidence="Infracost's filter (prefix-tolerant) and public fixtures"),
    # Unconfirmed: "<prefix>-BilledBytes" was checked against the API for us-east-2 (USE2-) only.
    # Two products (PutRecord, PutRecordBatch) share the tiered rate; equal prices are not ambiguous.
    "firehose_gb": PriceQuery(
        "AmazonKinesisFirehose", (("usagetype", "USE1-BilledBytes"),), unit="GB",
        evidence="published Price List filter notes for us-east-2; tiered: first tier"),
    "redshift_serverless_rpu_hour": PriceQuery(
        "AmazonRedshift", (("usagetype", "USE1-Redshift:ServerlessUsage"),), unit="RPU-Hr",
        confirmed=True, evidence="usage type matched in a us-east-1 offer file; the -CR- reservations differ"),
    "secrets_manager_secret_month": PriceQuery(
        "AWSSecretsManager", (("productFamily", "Secret"), ("usagetype", "USE1-AWSSecretsManager-Secrets")),
        confirmed=True, evidence="usage type matched in a us-east-1 offer file; family as Infracost"),
    "public_ipv4_hour": PriceQuery(
        "AmazonVPC", (("usagetype", "USE1-PublicIPv4:InUseAddress"),),
        confirmed=True, evidence="usage type matched in the us-east-1 AmazonVPC offer file by public code"),
    # Unconfirmed: SCRATCH_2 storage was seen as "USW2-Storage" (us-west-2, CreateFileSystem:Lustre);
    # the USE1- prefix is inferred.
    "fsx_lustre_scratch2_gb_month": PriceQuery(
        "AmazonFSx", (("fileSystemType", "Lustre"), ("usagetype", "USE1-Storage")), unit="GB-Mo",
        evidence="a us-west-2 Price List check in public notes; prefix inferred"),
    "sagemaker_ml_p3_2xlarge_hour": PriceQuery(
        "AmazonSageMaker", (("usagetype", "USE1-Train:ml.p3.2xlarge"),), unit="Hrs",
        confirmed=True, evidence="USE1-Train:<type> queried with get-products in public notes"),
    "sagemaker_ml_g5_xlarge_hour": PriceQuery(
        "AmazonSageMaker", (("usagetype", "USE1-Train:ml.g5.xlarge"),), unit="Hrs",
        confirmed=True, evidence="USE1-Train:<type> queried with get-products in public notes"),
    "sagemaker_ml_m5_large_hour": PriceQuery(
        "AmazonSageMaker", (("usagetype", "USE1-Train:ml.m5.large"),), unit="Hrs",
        evidence="the same USE1-Train:<type> usage type as the GPU entries, not seen for this type here"),
    # Unconfirmed: the FeatureStore usage types are from Cost Explorer usage-type groups; the USE1-
    # prefix and a per-request-unit price (hence scale) are inferred.
    "sagemaker_feature_store_write_million": PriceQuery(
        "AmazonSageMaker", (("usagetype", "USE1-FeatureStore:WriteRequestUnits"),), scale=1_000_000,
        evidence="usage type from Cost Explorer groups; prefix and unit inferred"),
    "sagemaker_feature_store_read_million": PriceQuery(
        "AmazonSageMaker", (("usagetype", "USE1-FeatureStore:ReadRequestUnits"),), scale=1_000_000,
        evidence="usage type from Cost Explorer groups; prefix and unit inferred"),
    # Unconfirmed (batch-etl): usage types from public Price List notes and Cost Explorer groups, not seen here.
    "glue_etl_dpu_hour": PriceQuery(
        "AWSGlue", (("usagetype", "USE1-ETL-DPU-Hour"),),
        evidence="the crawler's USE1- pattern with the ETL job usage type"),
    "emr_serverless_arm_vcpu_hour": PriceQuery(
        "ElasticMapReduce", (("usagetype", "USE1-EMR-SERVERLESS-ARM-vCPUHours"),),
        evidence="EMR Serverless usage type as Cost Explorer names it; service code inferred"),
    "emr_serverless_arm_gb_hour": PriceQuery(
        "ElasticMapReduce", (("usagetype", "USE1-EMR-SERVERLESS-ARM-MemoryGBHours"),),
        evidence="EMR Serverless usage type as Cost Explorer names it; service code inferred"),
    "step_functions_transition_thousand": PriceQuery(
        "AmazonStates", (("usagetype", "USE1-StateTransition"),), scale=1000,
        evidence="Step Functions usage type from public code; a per-transition price, hence the scale"),
}


# ----------------------------------------------------------------------------- showing the table


def price_lines(path: Path = PRICE_TABLE) -> list[str]:
    """``labs prices``: every entry with its price, unit, date checked, source and note."""
    table = prices(path)
    width = max(len(key) for key in table)
    lines = [f"{len(table)} prices in {_shown(path)}: us-east-1 on-demand list prices"]
    for key, entry in table.items():
        lines.append(f"{key:<{width}}  ${format_number(entry.usd):<8} checked {entry.checked}  {entry.unit}")
        lines.append(f"{'':<{width}}  source: {entry.source}")
        if entry.note:
            lines.append(f"{'':<{width}}  note: {entry.note}")
    lines.append("`labs prices --refresh` updates them from the AWS Price List API (pricing:GetProducts)")
    return lines


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PRICE_TABLE.parent.parent))
    except ValueError:
        return str(path)


# ----------------------------------------------------------------------------- refreshing


@dataclass(frozen=True)
class PriceChange:
    """A price the Price List API gave differently from the table."""

    key: str
    old: float
    new: float


@dataclass(frozen=True)
class Unmatched:
    """An entry left as it was, and why."""

    key: str
    reason: str


@dataclass(frozen=True)
class RefreshReport:
    """What ``refresh`` did.

    Attributes:
        path: the price table.
        checked: the date written to every refreshed entry (ISO).
        changed: entries whose price changed.
        unchanged: entries whose price was confirmed as it was (their ``checked`` moved on).
        unmatched: entries left untouched: no product, several prices, or a suspect value.
        written: whether the table was written (False when nothing matched).
    """

    path: Path
    checked: str
    changed: tuple[PriceChange, ...]
    unchanged: tuple[str, ...]
    unmatched: tuple[Unmatched, ...]
    written: bool

    @property
    def refreshed(self) -> tuple[str, ...]:
        """Every entry whose price and date were updated from the API."""
        return tuple(change.key for change in self.changed) + self.unchanged


@dataclass(frozen=True)
class _Found:
    """One entry's outcome: a price, or why there is none."""

    usd: float | None = None
    reason: str = ""


def refresh(session: boto3.Session | None, path: Path = PRICE_TABLE, *, today: date | None = None,
            out: Callable[[str], None] = print, client: Any | None = None) -> RefreshReport:
    """Update ``usd`` and ``checked`` of every entry of ``path`` from the AWS Price List API.

    Each entry's ``QUERIES`` spec is sent to ``GetProducts`` (all pages); the first paid tier of
    the on-demand price is taken. Entries with no match, several different prices, or a price
    more than ``SUSPECT_FACTOR`` times away from the table's are left as they are and reported.
    The file is written once, atomically, after every query succeeded; a failing query raises
    a one-line ``LabError`` and leaves the file untouched.

    Args:
        session: a boto3 session; only its credentials are used (the endpoint is us-east-1).
        path: the price table.
        today: the date to record (default: today).
        out: where progress lines go.
        client: a ``pricing`` client to use instead of the session's (tests).
    """
    if client is None and session is None:
        raise ValueError("refresh needs a boto3 session or a pricing client")
    checked = (today or date.today()).isoformat()
    text, table = _read(path)
    pricing = client if client is not None else session.client("pricing", region_name=PRICING_ENDPOINT_REGION)

    found = {key: _lookup(pricing, key) for key in table}  # every call before anything is written

    changed: list[PriceChange] = []
    unchanged: list[str] = []
    unmatched: list[Unmatched] = []
    updated = {key: dict(entry) for key, entry in table.items()}
    for key, result in found.items():
        old = float(table[key]["usd"])
        reason = result.reason or _suspect(old, result.usd)
        if reason or result.usd is None:
            unmatched.append(Unmatched(key, reason))
            out(f"{key}: left at ${format_number(old)}: {reason}")
            continue
        updated[key]["usd"] = result.usd
        updated[key]["checked"] = checked
        if result.usd != old:
            changed.append(PriceChange(key, old, result.usd))
            out(f"{key}: ${format_number(old)} -> ${format_number(result.usd)}")
        else:
            unchanged.append(key)

    written = bool(changed or unchanged)
    if written:
        _write(path, render(header_of(text), updated), updated)
        prices.cache_clear()
    out(f"{len(changed) + len(unchanged)} of {len(table)} prices refreshed ({len(changed)} changed, "
        f"{len(unchanged)} unchanged), {len(unmatched)} left as they were"
        + (f"; wrote {_shown(path)} (checked {checked})" if written else "; nothing written"))
    return RefreshReport(path=path, checked=checked, changed=tuple(changed), unchanged=tuple(unchanged),
                         unmatched=tuple(unmatched), written=written)


def _read(path: Path) -> tuple[str, dict[str, dict[str, Any]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise LabError(f"cannot read the price table {path}: {error.strerror}") from error
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise LabError(f"{path} is not valid TOML ({error}): fix it, then retry") from error
    return text, table


def _lookup(client: Any, key: str) -> _Found:
    """The on-demand price for ``key``, or why there is none; LabError when the API call fails."""
    query = QUERIES.get(key)
    if query is None:
        return _Found(reason="no Price List query is defined for it in labs/prices.py")
    items = _products(client, query)
    per_product: list[Decimal] = []
    unreadable = 0
    for item in items:
        try:
            usd = first_paid_tier(json.loads(item) if isinstance(item, str) else item, query.unit)
        except (ValueError, KeyError, TypeError, AttributeError, InvalidOperation):
            unreadable += 1
            continue
        if usd is not None:
            per_product.append(usd * query.scale)
    described = f"{query.service} {', '.join(f'{f}={v}' for f, v in query.filters)}"
    if not per_product:
        if not items:
            return _Found(reason=f"no product matched ({described})")
        unit = f" in {query.unit}" if query.unit else ""
        extra = f", {unreadable} unreadable" if unreadable else ""
        return _Found(reason=f"{len(items)} product(s) matched but none has an on-demand price{unit}{extra} "
                             f"({described})")
    distinct = sorted(set(per_product))
    if len(distinct) > 1:
        listed = ", ".join(f"${format_number(float(p))}" for p in distinct)
        return _Found(reason=f"ambiguous: {len(per_product)} products with different prices ({listed}) ({described})")
    return _Found(usd=float(distinct[0]))


def _products(client: Any, query: PriceQuery) -> list[Any]:
    """Every PriceList item for ``query``, following NextToken; API failures as one-line LabErrors."""
    try:
        items: list[Any] = []
        for page in client.get_paginator("get_products").paginate(**query.request()):
            items.extend(page.get("PriceList", []))
        return items
    except (NoCredentialsError, NoRegionError, ClientError) as error:
        if problem := credential_problem(error):
            raise problem from error
        assert isinstance(error, ClientError)
        code = error.response["Error"]["Code"]
        if code in {"AccessDeniedException", "AccessDenied"}:
            raise LabError("the Price List API refused the request: your identity needs pricing:GetProducts "
                           "(for example the AWSPriceListServiceFullAccess managed policy); nothing was written"
                           ) from error
        message = error.response["Error"].get("Message", "")
        raise LabError(f"the Price List API failed for {query.service}: {code}: {message}; nothing was written, "
                       "retry later") from error
    except (BotoConnectionError, HTTPClientError) as error:
        raise LabError(f"cannot reach the AWS Price List API ({_endpoint(client)}): check your network or proxy, "
                       "then retry; nothing was written") from error
    except BotoCoreError as error:
        raise LabError(f"the Price List API call failed: {error}; nothing was written") from error


def _endpoint(client: Any) -> str:
    return getattr(getattr(client, "meta", None), "endpoint_url", None) or "api.pricing.us-east-1.amazonaws.com"


def first_paid_tier(product: Mapping[str, Any], unit: str | None = None) -> Decimal | None:
    """The USD price of the first paid tier of ``product``'s on-demand terms (aws_v1 format).

    Dimensions are ordered by ``beginRange``; free tiers (a price of 0) are passed over. With
    ``unit``, only dimensions in that unit count. None when there is no such dimension.
    """
    dimensions = [
        dimension
        for term in product.get("terms", {}).get("OnDemand", {}).values()
        for dimension in term.get("priceDimensions", {}).values()
        if unit is None or str(dimension.get("unit", "")).lower() == unit.lower()
    ]
    dimensions.sort(key=lambda d: Decimal(str(d.get("beginRange", "0"))))
    for dimension in dimensions:
        usd = Decimal(str(dimension["pricePerUnit"]["USD"]))
        if usd > 0:
            return usd
    return None


def _suspect(old: float, new: float | None) -> str:
    if new is None or old <= 0:
        return ""
    if new > old * SUSPECT_FACTOR or new * SUSPECT_FACTOR < old:
        return (f"the API gave ${format_number(new)}, more than {SUSPECT_FACTOR}x away: check the query's unit "
                "and scale in labs/prices.py")
    return ""


# ----------------------------------------------------------------------------- the TOML file

_TABLE_LINE = re.compile(r"^[ \t]*\[", re.MULTILINE)
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def header_of(text: str) -> str:
    """Everything before the first table: the comment block and the blank line after it."""
    match = _TABLE_LINE.search(text)
    return text[: match.start()] if match else text


def render(header: str, table: Mapping[str, Mapping[str, Any]]) -> str:
    """The price table as TOML: ``header`` verbatim, then one ``[key]`` table per entry in order.

    Only a flat table of strings and numbers is written (what prices.toml holds); anything
    else is a TypeError rather than a silently changed file.
    """
    blocks = []
    for key, entry in table.items():
        if not isinstance(entry, Mapping):
            raise TypeError(f"{key} is not a table")
        lines = [f"[{toml_key(key)}]"]
        lines += [f"{toml_key(field)} = {toml_value(value)}" for field, value in entry.items()]
        blocks.append("\n".join(lines) + "\n")
    return header + "\n".join(blocks)


def toml_key(key: str) -> str:
    """A bare key when TOML allows one, else a quoted one."""
    return key if _BARE_KEY.match(key) else toml_string(key)


def toml_value(value: Any) -> str:
    """A string, integer or float as TOML."""
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"the price table holds strings and numbers only, not {type(value).__name__}")
    return format_number(value)


def format_number(value: float) -> str:
    """A price as written in the table: two decimals when exact (1.00, 0.40), else the shortest form."""
    if isinstance(value, int):
        return str(value)
    two = f"{value:.2f}"
    return two if float(two) == value else repr(float(value))  # repr: the shortest exact form, valid TOML


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def toml_string(value: str) -> str:
    """A TOML basic string."""
    out = []
    for char in value:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _write(path: Path, text: str, expected: Mapping[str, Mapping[str, Any]]) -> None:
    """Write ``text`` to ``path`` atomically, after checking it reads back as ``expected``."""
    if tomllib.loads(text) != expected:
        raise LabError(f"the rewritten price table would not read back as intended; {path} was left as it was")
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, path.stat().st_mode & 0o777)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def unconfirmed_keys() -> list[str]:
    """The entries whose query is a best guess (see ``PriceQuery.confirmed``)."""
    return [key for key, query in QUERIES.items() if not query.confirmed]
