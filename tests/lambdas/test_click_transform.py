"""The Firehose transform: every record comes back, valid ones normalized, the rest marked failed."""

from __future__ import annotations

import base64
import json

import pytest

from lambdas.clickstream_transform import index

GOOD = {
    "event_id": "e-1", "run_id": "run-7", "user_id": "u-42", "session_id": "s-9", "page": "/products/17?ref=mail#top",
    "event_type": "Add-To-Cart", "event_time": "2026-01-15T10:30:00.250+01:00", "device": "Mobile",
    "referrer": "https://example.com/", "ignored": "extra fields are dropped",
}


def record(data, record_id="r1", *, encode=True):
    payload = json.dumps(data).encode() if not isinstance(data, bytes) else data
    return {"recordId": record_id, "approximateArrivalTimestamp": 1768469400000,
            "data": base64.b64encode(payload).decode() if encode else payload.decode()}


def decoded(output):
    return json.loads(base64.b64decode(output["data"]))


def test_a_good_event_is_normalized_to_the_table_columns():
    (out,) = index.handler({"records": [record(GOOD)]})["records"]
    assert out["result"] == "Ok" and out["recordId"] == "r1"
    assert base64.b64decode(out["data"]).endswith(b"\n")  # one JSON object per line for COPY
    assert decoded(out) == {
        "event_id": "e-1", "user_id": "u-42", "session_id": "s-9", "event_type": "add_to_cart",
        "page": "/products/17", "event_time": "2026-01-15 09:30:00.250000", "device": "mobile",
        "referrer": "https://example.com/", "run_id": "run-7",
    }


@pytest.mark.parametrize("value,expected", [
    (1768469400, "2026-01-15 09:30:00.000000"),            # epoch seconds
    (1768469400250, "2026-01-15 09:30:00.250000"),         # epoch milliseconds
    ("2026-01-15T09:30:00Z", "2026-01-15 09:30:00.000000"),
])
def test_event_times_in_several_forms_become_utc(value, expected):
    (out,) = index.handler({"records": [record({**GOOD, "event_time": value})]})["records"]
    assert decoded(out)["event_time"] == expected


@pytest.mark.parametrize("change", [
    {"event_type": "hover"},                      # unknown type
    {"page": "products/17"},                      # not a path
    {"user_id": ""},                              # missing id
    {"session_id": {"nested": 1}},                # not text
    {"event_time": "yesterday"},                  # not a time
    {"event_time": "2026-01-15T09:30:00"},        # no time zone
    {"event_time": True},
    {"event_id": "x" * 65},                       # too long
])
def test_malformed_events_are_returned_unchanged_as_processing_failed(change):
    original = record({**GOOD, **change})
    (out,) = index.handler({"records": [original]})["records"]
    assert out == {"recordId": "r1", "result": "ProcessingFailed", "data": original["data"]}


@pytest.mark.parametrize("raw", [b"not json at all", b"[1, 2, 3]", b"\xff\xfe\x00garbage"])
def test_non_json_payloads_fail_without_being_dropped(raw):
    (out,) = index.handler({"records": [record(raw)]})["records"]
    assert out["result"] == "ProcessingFailed" and base64.b64decode(out["data"]) == raw


def test_data_that_is_not_base64_fails_and_is_kept():
    broken = {"recordId": "r1", "data": "%%% not base64 %%%"}
    (out,) = index.handler({"records": [broken]})["records"]
    assert out == {"recordId": "r1", "result": "ProcessingFailed", "data": "%%% not base64 %%%"}


def test_a_mixed_batch_keeps_every_record_in_order_and_logs_counts(caplog):
    batch = [record(GOOD, "a"), record(b"{", "b"), record({**GOOD, "event_type": "hover"}, "c"),
             record({**GOOD, "event_type": "pageview"}, "d")]
    with caplog.at_level("INFO"):
        out = index.handler({"records": batch})["records"]
    assert [o["recordId"] for o in out] == ["a", "b", "c", "d"]
    assert [o["result"] for o in out] == ["Ok", "ProcessingFailed", "ProcessingFailed", "Ok"]
    assert decoded(out[3])["event_type"] == "page_view"
    summary = json.loads(caplog.records[-1].getMessage())
    assert summary == {"records": 4, "ok": 2, "processing_failed": {"not JSON": 1, "unknown event_type": 1}}
    assert "u-42" not in caplog.text  # counts and reasons only, never the data


def test_an_empty_batch_is_fine():
    assert index.handler({"records": []}) == {"records": []}
