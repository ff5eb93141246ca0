"""The price table, each lab's expected cost, and the per-lab budget."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from cdk_constructs.budget import expected_cost
from cdk_constructs.pricing import HOURS_PER_MONTH, data_lake_cost, fsx_training_cost, price, prices
from stacks import LABS
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
        cost = lab.cost()
        assert cost.idle_per_hour > 0 and cost.per_practice_run > 0, name


def test_data_lake_cost_is_derived_from_the_table():
    cost = data_lake_cost()
    assert cost.idle_per_hour == pytest.approx(price("kms_key_month") / HOURS_PER_MONTH)
    crawl_minimum = price("glue_crawler_dpu_hour") * 2 / 6
    assert cost.per_practice_run == pytest.approx(crawl_minimum + 3 * price("athena_tb_scanned") * 10 / 1024**2)


def test_fsx_training_run_cost_is_instance_hours_on_spot_or_on_demand():
    p3 = price("sagemaker_ml_p3_2xlarge_hour")
    on_demand = fsx_training_cost(spot=False).per_practice_run
    assert on_demand == pytest.approx(p3 * 2 * 10 / 60)
    assert fsx_training_cost().per_practice_run == pytest.approx(on_demand * 0.3)
    g5 = fsx_training_cost(instance_hour_key="sagemaker_ml_g5_xlarge_hour", spot=False).per_practice_run
    assert g5 == pytest.approx(price("sagemaker_ml_g5_xlarge_hour") / 3)
    assert fsx_training_cost(efs=True).idle_per_hour < 0.01 < fsx_training_cost().idle_per_hour


def test_budget_filters_by_the_lab_tag_and_alerts_at_expected_and_twice(sandbox):
    stack, template = sandbox.stacks["data-lake"], sandbox.templates["data-lake"]
    budgets = resources_of(template, "AWS::Budgets::Budget")
    assert len(budgets) == 1
    props = next(iter(budgets.values()))["Properties"]
    expected = stack.budget.expected_usd
    assert expected == expected_cost(stack.settings, data_lake_cost())
    assert props["Budget"]["CostFilters"] == {"TagKeyValue": ["user:lab$data-lake"]}
    assert props["Budget"]["BudgetLimit"] == {"Amount": round(2 * expected, 2), "Unit": "USD"}
    thresholds = sorted(n["Notification"]["Threshold"] for n in props["NotificationsWithSubscribers"])
    assert thresholds == [50, 100]  # percent of the 2x limit: the expected cost, then twice it
    for notification in props["NotificationsWithSubscribers"]:
        assert notification["Subscribers"] == [{"Address": "ml-team@example.com", "SubscriptionType": "EMAIL"}]


def test_no_budget_without_an_alert_address(production):
    assert resources_of(production.templates["data-lake"], "AWS::Budgets::Budget") == {}
    assert production.stacks["data-lake"].budget is None
