"""``labs prices``: show the price table, and refresh it from the AWS Price List API.

``pricing/prices.toml`` is the one price table (see ``catalog.prices``). ``price_lines``
shows it; ``refresh`` asks the Price List Query API (``pricing:GetProducts``) for each entry's
us-east-1 on-demand list price, with the queries of ``labs.pricing.queries``, and writes back
``usd`` and ``checked`` through tomlkit: only those values change, the comments, the key
order and the formatting of everything else stay as they were.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, NoCredentialsError, NoRegionError
from botocore.exceptions import ConnectionError as BotoConnectionError

from catalog.prices import PRICE_TABLE, prices
from labs.engine.atomic_write import write_atomically
from labs.engine.deployed import credential_problem
from labs.engine.errors import LabError
from labs.pricing.queries import QUERIES, PriceQuery, unconfirmed_keys

if TYPE_CHECKING:
    import boto3

__all__ = [
    "QUERIES",
    "PriceChange",
    "PriceQuery",
    "RefreshReport",
    "Unmatched",
    "first_paid_tier",
    "format_number",
    "price_lines",
    "refresh",
    "unconfirmed_keys",
]

# The Price List Query API has endpoints in us-east-1, eu-central-1 and ap-south-1 only; each answers
# for every region. The prices asked for are us-east-1's whatever the session's region is.
PRICING_ENDPOINT_REGION = "us-east-1"
# A refreshed price this many times above or below the table's is held back as a likely unit mismatch.
SUSPECT_FACTOR = 10


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
    edits: dict[str, dict[str, Any]] = {}  # key -> the fields to write
    for key, result in found.items():
        old = float(table[key]["usd"])
        reason = result.reason or _suspect(old, result.usd)
        if reason or result.usd is None:
            unmatched.append(Unmatched(key, reason))
            out(f"{key}: left at ${format_number(old)}: {reason}")
            continue
        edits[key] = {"checked": checked}
        if result.usd != old:
            edits[key]["usd"] = result.usd
            changed.append(PriceChange(key, old, result.usd))
            out(f"{key}: ${format_number(old)} -> ${format_number(result.usd)}")
        else:
            unchanged.append(key)

    written = bool(edits)
    if written:
        expected = {key: {**entry, **edits.get(key, {})} for key, entry in table.items()}
        _write(path, _rewritten(path, text, edits), expected)
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
        return _Found(reason="no Price List query is defined for it in labs/pricing/queries.py")
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
                "and scale in labs/pricing/queries.py")
    return ""


# ----------------------------------------------------------------------------- the TOML file


def format_number(value: float) -> str:
    """A price as written in the table: two decimals when exact (1.00, 0.40), else the shortest form."""
    if isinstance(value, int):
        return str(value)
    two = f"{value:.2f}"
    return two if float(two) == value else repr(float(value))  # repr: the shortest exact form, valid TOML


def _rewritten(path: Path, text: str, edits: Mapping[str, Mapping[str, Any]]) -> str:
    """``text`` with the ``edits`` (key -> field -> value) made and nothing else touched.

    tomlkit keeps the comments (a replaced value keeps its inline comment), blank lines, key
    order and quoting; a price is written in the table's number style (``format_number``).
    """
    import tomlkit  # only a refresh needs it; `labs prices` starts without it

    try:
        document = tomlkit.parse(text)
    except tomlkit.exceptions.TOMLKitError as error:
        raise LabError(f"{path} cannot be rewritten keeping its layout ({error}); it was left as it was") from error
    for key, fields in edits.items():
        for name, value in fields.items():
            document[key][name] = tomlkit.value(format_number(value)) if isinstance(value, float) else value
    return tomlkit.dumps(document)


def _write(path: Path, text: str, expected: Mapping[str, Mapping[str, Any]]) -> None:
    """Write ``text`` to ``path`` atomically, after checking it reads back as ``expected``."""
    if tomllib.loads(text) != expected:
        raise LabError(f"the rewritten price table would not read back as intended; {path} was left as it was")
    write_atomically(path, lambda file: file.write(text.encode("utf-8")))
