"""The price table, each lab's expected cost, and the per-lab budget."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from catalog import LABS, data_lake, feature_store
from catalog.clickstream import ClickstreamOptions, Delivery
from catalog.clickstream import cost as clickstream_cost
from catalog.fsx_training import FsxTrainingOptions, TrainingSource
from catalog.fsx_training import cost as fsx_cost
from catalog.prices import HOURS_PER_MONTH, price, prices
from cdk_constructs.core.budget import expected_cost
from tests.conftest import resources_of


def test_every_price_has_a_source_and_a_date():
    table = prices()
    assert table
    for key, entry in table.items():
        assert entry.usd > 0, key
        assert re.match(r"^https://aws\.amazon\.com/[a-z0-9-]+(/[a-z0-9-]+)?/pricing/", entry.source), key
        checked = dt.date.fromisoformat(entry.checked)
        assert dt.date(2025, 1, 1) <= checked <= dt.date.today() + dt.timedelta(days=1), key
        assert entry.unit, key


def test_every_lab_declares_costs_from_the_table():
    for name, lab in LABS.items():
        cost = lab.cost(lab.default_options())
        assert cost.idle_per_hour > 0 and cost.per_practice_run > 0, name


def test_data_lake_cost_is_derived_from_the_table():
    cost = data_lake.cost(data_lake.DataLakeOptions())
    assert cost.idle_per_hour == pytest.approx(price("kms_key_month") / HOURS_PER_MONTH)
    crawl_minimum = price("glue_crawler_dpu_hour") * 2 / 6
    assert cost.per_practice_run == pytest.approx(crawl_minimum + 3 * price("athena_tb_scanned") * 10 / 1024**2)


P3 = "sagemaker_ml_p3_2xlarge_hour"
G5 = "sagemaker_ml_g5_xlarge_hour"


def minutes(passes: int) -> float:
    """Minutes of one job: a 5-minute overhead plus its passes over 4 GiB at 100 MB/s."""
    return 5 + passes * 4 * 1024 / 100 / 60


@pytest.mark.parametrize("source,instance_type,price_key", [
    (TrainingSource.FSX, "ml.p3.2xlarge", P3), (TrainingSource.FSX, "ml.g5.xlarge", G5),
    (TrainingSource.EFS, "ml.p3.2xlarge", P3), (TrainingSource.EFS, "ml.g5.xlarge", G5),
])
def test_fsx_training_cost_follows_source_instance_type_and_spot(source, instance_type, price_key):
    cost = fsx_cost(FsxTrainingOptions(source=source, instance_type=instance_type))
    # the default practice: File (download + read), FastFile, then FSx twice or EFS once; the set is written
    # first by an on-demand ml.m5.large job (generate + upload; on EFS also the copy into EFS, whose Elastic
    # Throughput bills the 4 GiB written, and the 4 GiB the EFS row reads)
    efs = source is TrainingSource.EFS
    passes = [2, 1, 1] if efs else [2, 1, 1, 1]
    gigabytes = 4 * 1024**3 / 1e9
    not_by_type = price("sagemaker_ml_m5_large_hour") / 60 * minutes(3 if efs else 2)
    not_by_type += (price("efs_elastic_write_gb") + price("efs_elastic_read_gb")) * gigabytes if efs else 0.0
    on_demand = sum(price(price_key) / 60 * minutes(p) for p in passes)
    assert cost.per_practice_run == pytest.approx(on_demand * 0.3 + not_by_type)
    assert dict(cost.alternatives)["--on-demand"] == pytest.approx(on_demand + not_by_type)
    scratch = price("fsx_lustre_scratch2_gb_month") * 1200 / HOURS_PER_MONTH
    stored = price("efs_standard_gb_month") * gigabytes / HOURS_PER_MONTH  # the practice's set, kept in EFS
    key = price("kms_key_month") / HOURS_PER_MONTH
    assert cost.idle_per_hour == pytest.approx(key + (stored if efs else scratch))


def test_an_instance_type_without_a_price_has_an_unknown_run_cost_and_says_why():
    cost = fsx_cost(FsxTrainingOptions(instance_type="ml.trn1.2xlarge"))
    assert cost.per_practice_run is None and cost.alternatives == ()
    assert "no price for ml.trn1.2xlarge" in cost.run_text


@pytest.mark.parametrize("delivery,on_demand", [(d, o) for d in Delivery for o in (False, True)])
def test_clickstream_cost_follows_delivery_and_stream_mode(delivery, on_demand):
    cost = clickstream_cost(ClickstreamOptions(delivery=delivery, on_demand=on_demand))
    stream = price("kinesis_on_demand_stream_hour" if on_demand else "kinesis_shard_hour")
    fixed = (price("kms_key_month") + price("secrets_manager_secret_month")) / HOURS_PER_MONTH
    addresses = 3 * price("public_ipv4_hour") if delivery is Delivery.FIREHOSE else 0.0
    assert cost.idle_per_hour == pytest.approx(stream + fixed + addresses)
    compute = 4 * price("redshift_serverless_rpu_hour") * 10 / 60
    firehose = price("firehose_gb") * 1000 * 5 / 1024**2 if delivery is Delivery.FIREHOSE else 0.0
    assert cost.per_practice_run == pytest.approx(compute + firehose)


def test_feature_store_run_cost_counts_the_reads_the_practice_makes():
    import inspect

    from labs.practice.feature_store.command import FeatureStorePractice

    reads = inspect.signature(FeatureStorePractice).parameters["reads"].default
    assert reads == feature_store.PRACTICE_READS
    cost = feature_store.cost(feature_store.FeatureStoreOptions())
    writes = price("sagemaker_feature_store_write_million") * 200 * 3 / 1e6
    expected = writes + price("sagemaker_feature_store_read_million") * reads / 1e6 \
        + 3 * price("athena_tb_scanned") * 10 / 1024**2
    assert cost.per_practice_run == pytest.approx(expected)


def test_budget_filters_by_the_lab_tag_and_alerts_at_expected_and_twice(sandbox):
    stack, template = sandbox.stacks["data-lake"], sandbox.templates["data-lake"]
    budgets = resources_of(template, "AWS::Budgets::Budget")
    assert len(budgets) == 1
    props = next(iter(budgets.values()))["Properties"]
    expected = stack.budget.expected_usd
    assert expected == expected_cost(stack.settings, data_lake.cost(data_lake.DataLakeOptions()))
    assert props["Budget"]["CostFilters"] == {"TagKeyValue": ["user:lab$data-lake"]}
    assert props["Budget"]["BudgetLimit"] == {"Amount": round(2 * expected, 2), "Unit": "USD"}
    thresholds = sorted(n["Notification"]["Threshold"] for n in props["NotificationsWithSubscribers"])
    assert thresholds == [50, 100]  # percent of the 2x limit: the expected cost, then twice it
    for notification in props["NotificationsWithSubscribers"]:
        assert notification["Subscribers"] == [{"Address": "ml-team@example.com", "SubscriptionType": "EMAIL"}]


def test_no_budget_without_an_alert_address(production):
    assert resources_of(production.templates["data-lake"], "AWS::Budgets::Budget") == {}
    assert production.stacks["data-lake"].budget is None
