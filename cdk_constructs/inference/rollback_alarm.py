"""The alarm that rolls a blue/green rollout back: any invocation error of the endpoint's variant.

During a deployment both fleets publish under ``EndpointName`` and ``VariantName`` (the new config
keeps the variant's name), so the alarm sees the new fleet's errors as soon as it takes traffic
(SageMaker developer guide, "Auto-Rollback Configuration and Monitoring"). SageMaker reads its
state (``cloudwatch:DescribeAlarms``); it has no action of its own.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, Fn
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

NAMESPACE = "AWS/SageMaker"
ERROR_METRICS = ("Invocation4XXErrors", "Invocation5XXErrors")


def rollback_alarm_name(suffix: str) -> str:
    """``<stack name>-<suffix>``: fixed for the stack, so a role may name its ARN without depending on it."""
    return Fn.join("-", [Aws.STACK_NAME, suffix])


def rollback_alarm_arn(name: str) -> str:
    return f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:{name}"


class RollbackAlarm(Construct):
    """``FILL(4XX, 0) + FILL(5XX, 0) >= 1`` in one minute on one variant; a quiet minute is OK.

    Attributes:
        alarm: the ``AWS::CloudWatch::Alarm`` named ``name``.
    """

    def __init__(self, scope: Construct, id_: str, *, name: str, endpoint_name: str, variant: str) -> None:
        super().__init__(scope, id_)
        dimensions = {"EndpointName": endpoint_name, "VariantName": variant}
        metrics = {f"e{index}": cloudwatch.Metric(namespace=NAMESPACE, metric_name=metric, statistic="Sum",
                                                  period=Duration.minutes(1), dimensions_map=dimensions)
                   for index, metric in enumerate(ERROR_METRICS)}
        expression = cloudwatch.MathExpression(expression=" + ".join(f"FILL({m}, 0)" for m in metrics),
                                               using_metrics=metrics, period=Duration.minutes(1),
                                               label="invocation errors")
        self.alarm = cloudwatch.Alarm(
            self, "Alarm", alarm_name=name, metric=expression, threshold=1, evaluation_periods=1,
            datapoints_to_alarm=1, comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description="any invocation error of the real-time variant: a rollout under way rolls back")
