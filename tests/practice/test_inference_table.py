"""The inference table and its closing recommendation from fixed rows: what each column shows, and a
pick per traffic shape that follows the numbers (rows where the answer flips)."""

from __future__ import annotations

import pytest

from labs.practice.inference.table import Row, recommend, table

HOST = 0.115


def rows(*, serverless_per_1000=0.004, realtime_throughput=50.0, batch_per_1000=0.002, async_per_1000=0.2):
    return [
        Row("realtime", 100, 100, 42.0, "warm", 20.0, 35.0, 2.0, 4.0, realtime_throughput,
            HOST / (realtime_throughput * 3600) * 1000, HOST),
        Row("serverless", 100, 100, 2300.0, "over 1 s: a cold start", 60.0, 110.0, 2.2, 30.0, 20.0,
            serverless_per_1000, 0.0),
        Row("async", 100, 100, 420_000.0, "from 0 instances", 2100.0, 3400.0, 2.5, None, 3.0, async_per_1000, 0.0),
        Row("batch", 100, 100, 380_000.0, "whole file", None, None, None, None, 1.9, batch_per_1000, 0.0),
    ]


def recommendation(found, **kwargs):
    return recommend(found, host_hour=HOST, max_concurrency=5, provisioned_hour=0.144, **kwargs)


def test_the_table_aligns_every_way_and_says_what_each_figure_is():
    lines = table(rows())
    assert lines[0].split("  ")[0] == "way" and len(lines) == 1 + 4 + 2
    realtime, serverless, asynchronous, batch = lines[1:5]
    assert realtime.startswith("real-time") and "42.0 ms (warm)" in realtime and "20.0 ms / 35.0 ms" in realtime
    assert "2.3 s" not in serverless and "2,300 ms (over 1 s: a cold start)" in serverless
    assert "420.0 s (from 0 instances)" in asynchronous and "2.5 ms / n/a" in asynchronous
    assert batch.split()[1:4] == ["380.0", "s", "(whole"] and "—" in batch
    assert "$0.1150" in realtime and "computed from pricing/prices.toml" in lines[5]
    assert len({line.index("$") for line in lines[1:5] if "$" in line}) == 1  # one column for the money


def test_a_way_that_lost_records_says_how_many_answered():
    partial = Row("batch", 100, 40, 1.0, "whole file", throughput=1.0, per_1000=0.1, idle_per_hour=0.0)
    assert table([partial])[1].startswith("batch (40/100)")


def test_the_default_numbers_pick_real_time_serverless_and_batch():
    lines = recommendation(rows())
    assert lines[-1] == ("pick, from this run's numbers: steady -> real-time, bursty -> serverless, "
                         "nightly file -> batch")
    assert lines[0].startswith("steady 10 requests/s, a client waiting: real-time ~$2.76/day (1 instance(s))")
    assert ("  its first request after idle took 2,300 ms; provisioned concurrency 1 keeps one warm for at most "
            "$0.14/hour") in lines
    assert any(line.startswith("break-even: serverless costs less than one always-on real-time instance below "
                               "~28,750 requests/hour") for line in lines)


def test_cheap_serverless_wins_steady_traffic_and_slow_real_time_needs_more_instances():
    lines = recommendation(rows(serverless_per_1000=0.0001, realtime_throughput=4.0))
    steady = lines[0]
    assert "real-time ~$8.28/day (3 instance(s))" in steady and steady.endswith("-> serverless")


def test_serverless_that_would_throttle_is_not_offered_for_steady_traffic():
    slow = [r if r.way != "serverless" else Row("serverless", 100, 100, 900.0, "warm", 800.0, 900.0, None, None, 5.0,
                                               0.00001, 0.0) for r in rows()]
    steady = recommendation(slow)[0]  # 10 requests/s x 0.8 s = 8 in flight > max concurrency 5
    assert "serverless" not in steady and steady.endswith("-> real-time")


def test_async_wins_the_nightly_file_when_batch_start_up_costs_more():
    assert recommendation(rows(batch_per_1000=0.5, async_per_1000=0.001))[-1].endswith("nightly file -> async")
    nightly = recommendation(rows(batch_per_1000=0.5))[3]  # a small run's batch start-up makes serverless cheaper
    assert nightly.endswith("-> serverless") and "an upper bound: this run's start-up" in nightly


def test_with_only_batch_measured_interactive_shapes_ask_for_more_ways():
    lines = recommendation([rows()[3]])
    assert lines[0] == "steady 10 requests/s, a client waiting: no measured way fits (add ways with --ways)"
    assert lines[-1] == "pick, from this run's numbers: nightly file -> batch"


@pytest.mark.parametrize("way", ["realtime", "serverless", "async", "batch"])
def test_a_way_with_no_answer_is_left_out_of_the_pick(way):
    found = [r if r.way != way else Row(way, 100, 0) for r in rows()]
    assert f"-> {'real-time' if way == 'realtime' else way}" not in recommendation(found)[-1] or way == "realtime"
