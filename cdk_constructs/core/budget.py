"""A cost guard: an AWS Budgets budget for one lab, filtered by its tag."""

from __future__ import annotations

import math

from aws_cdk import aws_budgets as budgets
from constructs import Construct

from catalog.prices import HOURS_PER_MONTH, LabCost
from cdk_constructs.core.settings import LabSettings


def expected_cost(settings: LabSettings, cost: LabCost) -> float:
    """USD a lab is expected to cost: its life (the sandbox TTL, else a month) idle, plus one practice run, for
    each copy of it in the account (a classroom's regions)."""
    hours = settings.ttl_hours if settings.is_sandbox and settings.ttl_hours else HOURS_PER_MONTH
    return max(0.01, math.ceil(cost.expected(hours) * settings.copies_per_account * 100) / 100)


class LabBudget(Construct):
    """A monthly cost budget over resources tagged ``lab=<lab>``, with e-mail alerts.

    The limit is twice the expected cost; alerts fire when actual spend passes the
    expected cost (50 %) and twice it (100 %). AWS Budgets filters by tag only once
    ``lab`` is activated as a cost allocation tag in the Billing console.

    Attributes:
        budget: the ``AWS::Budgets::Budget``.
        expected_usd: the expected cost the alerts are based on.
    """

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings, cost: LabCost, email: str) -> None:
        super().__init__(scope, id_)
        self.expected_usd = expected_cost(settings, cost)
        subscriber = budgets.CfnBudget.SubscriberProperty(address=email, subscription_type="EMAIL")
        self.budget = budgets.CfnBudget(
            self,
            "Budget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=round(2 * self.expected_usd, 2), unit="USD"),
                cost_filters={"TagKeyValue": [f"user:lab${settings.lab}"]},
            ),
            notifications_with_subscribers=[
                budgets.CfnBudget.NotificationWithSubscribersProperty(
                    notification=budgets.CfnBudget.NotificationProperty(
                        notification_type="ACTUAL", comparison_operator="GREATER_THAN",
                        threshold=threshold, threshold_type="PERCENTAGE",
                    ),
                    subscribers=[subscriber],
                )
                for threshold in (50, 100)
            ],
        )


def lab_budget(scope: Construct, settings: LabSettings, cost: LabCost) -> LabBudget | None:
    """The lab's ``CostGuard`` budget when ``settings.alert_email`` is set; None (no budget) otherwise."""
    if not settings.alert_email:
        return None
    return LabBudget(scope, "CostGuard", settings=settings, cost=cost, email=settings.alert_email)
