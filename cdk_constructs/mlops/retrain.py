"""Retraining for the mlops lab: a drift alarm and/or a schedule start the CodePipeline again, through a
small function that says why (``lambdas/mlops_retrain``).

SageMaker Model Monitor sends EventBridge no event for a violation (its events are the schedule's and
the processing jobs' state changes), and its metrics need a monitoring schedule on a captured endpoint:
the lab's drift alarm watches ``mlref/mlops FeatureDrift``, a metric your own drift check publishes
(from Model Monitor's ``feature_baseline_drift_*`` metrics where it is available, or any statistic you
compute). ``labs practice mlops --retrain`` sets the alarm to ALARM itself, as AWS suggests for testing.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from catalog import mlops as lab
from catalog.mlops import MlopsOptions
from cdk_constructs.core.access import allow_key_use
from cdk_constructs.core.functions import LabFunction
from cdk_constructs.core.settings import LabSettings
from cdk_constructs.mlops.actions import code_pipeline_arn

DRIFT_THRESHOLD = 0.3  # a drift score in [0, 1]


def drift_pattern(alarm_arn: str) -> events.EventPattern:
    """The drift alarm going into ALARM; every other state and alarm is left out."""
    return events.EventPattern(source=["aws.cloudwatch"], detail_type=["CloudWatch Alarm State Change"],
                               resources=[alarm_arn], detail={"state": {"value": ["ALARM"]}})


class Retraining(Construct):
    """What starts a retraining run: the drift alarm's ALARM (``options.drift``), a schedule
    (``options.scheduled``), or both; each rule invokes the function, which may only start the lab's
    CodePipeline. EventBridge retries a failed delivery for two hours.

    Attributes:
        function: the retrain LabFunction.
        drift_alarm: the alarm on the drift metric (None without drift).
        rules: the EventBridge rules, by name (``drift``, ``schedule``).
    """

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings, options: MlopsOptions,
                 key: kms.IKey) -> None:
        super().__init__(scope, id_)
        self.function = LabFunction(
            self, "Start", settings=settings, handler_dir="mlops_retrain", log_key=key,
            description="Starts a retraining run of the mlops CodePipeline with the reason it started",
            environment={"CODE_PIPELINE": lab.CODE_PIPELINE, "RUN_REASON_VARIABLE": lab.RUN_REASON_VARIABLE})
        self.function.function.node.default_child.kms_key_arn = key.key_arn  # the environment under the lab key
        allow_key_use(self.function.role, key, encrypt=False)
        self.function.role.add_to_principal_policy(iam.PolicyStatement(
            sid="StartTheLabPipeline", actions=["codepipeline:StartPipelineExecution"],
            resources=[code_pipeline_arn()]))
        target = targets.LambdaFunction(self.function.function, retry_attempts=2, max_event_age=Duration.hours(2))
        self.rules: dict[str, events.Rule] = {}
        self.drift_alarm = None
        if options.drift:
            self.drift_alarm = cloudwatch.Alarm(
                self, "DriftAlarm", alarm_name=lab.DRIFT_ALARM,
                alarm_description="A drift check reports the production data far from the training data: retrain",
                metric=cloudwatch.Metric(namespace=lab.DRIFT_NAMESPACE, metric_name=lab.DRIFT_METRIC,
                                         statistic="Maximum", period=Duration.minutes(5),
                                         dimensions_map={"EndpointName": lab.PRODUCTION_ENDPOINT}),
                threshold=DRIFT_THRESHOLD, evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING)
            self.rules["drift"] = events.Rule(
                self, "OnDrift", event_pattern=drift_pattern(self.drift_alarm.alarm_arn), targets=[target],
                description=f"{lab.DRIFT_ALARM} went into ALARM: start a retraining run")
        if options.scheduled:
            self.rules["schedule"] = events.Rule(
                self, "OnSchedule", schedule=events.Schedule.expression(options.retrain_schedule), targets=[target],
                description=f"Retrain the mlops model on {options.retrain_schedule}")
