"""Auto scaling of an asynchronous endpoint down to zero instances and back up from zero.

SageMaker developer guide, "Autoscale an asynchronous endpoint": target tracking on the backlog
per instance (``ApproximateBacklogSizePerInstance``, dimension ``EndpointName``) scales in to
``MinCapacity`` 0; without a second policy the endpoint leaves zero only once the backlog exceeds
the target, so a step-scaling policy adds one instance when an alarm on
``HasBacklogWithoutCapacity`` (1 while requests wait and no instance runs) fires.
"""

from __future__ import annotations

from aws_cdk import Duration, Fn, Stack
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from cdk_constructs.services.sagemaker_hosting import LabEndpoint

NAMESPACE = "AWS/SageMaker"
BACKLOG_METRIC, WITHOUT_CAPACITY_METRIC = "ApproximateBacklogSizePerInstance", "HasBacklogWithoutCapacity"


class ScaleToZero(Construct):
    """The scalable target (``MinCapacity`` 0) of one async variant, its two policies and the alarm.

    No ``RoleARN``: Application Auto Scaling uses its service-linked role for SageMaker (see
    ``VariantAutoScaling``). The endpoint is created with one instance (an async config needs at
    least one) and target tracking takes it to zero after a quiet spell.

    Attributes:
        resource_id: ``endpoint/<name>/variant/<variant>``.
        target: the ``AWS::ApplicationAutoScaling::ScalableTarget``.
        backlog_policy: target tracking on the backlog per instance.
        from_zero_policy: the step policy that adds one instance.
        from_zero_alarm: the alarm on ``HasBacklogWithoutCapacity`` whose action is that policy.
    """

    def __init__(self, scope: Construct, id_: str, *, endpoint: LabEndpoint, variant: str, max_capacity: int,
                 backlog_target: float, scale_in_cooldown: int, scale_out_cooldown: int,
                 scalable_dimension: str) -> None:
        super().__init__(scope, id_)
        name = endpoint.endpoint.attr_endpoint_name
        self.resource_id = Fn.join("/", ["endpoint", name, "variant", variant])
        self.target = appscaling.CfnScalableTarget(
            self, "Target", service_namespace="sagemaker", resource_id=self.resource_id,
            scalable_dimension=scalable_dimension, min_capacity=0, max_capacity=max_capacity)
        self.target.node.add_dependency(endpoint.endpoint)
        prefix = f"{Stack.of(self).stack_name}-{variant}"
        self.backlog_policy = appscaling.CfnScalingPolicy(
            self, "BacklogPolicy", policy_name=f"{prefix}-backlog", policy_type="TargetTrackingScaling",
            scaling_target_id=self.target.ref,
            target_tracking_scaling_policy_configuration=(
                appscaling.CfnScalingPolicy.TargetTrackingScalingPolicyConfigurationProperty(
                    target_value=backlog_target, scale_in_cooldown=scale_in_cooldown,
                    scale_out_cooldown=scale_out_cooldown,
                    customized_metric_specification=appscaling.CfnScalingPolicy.CustomizedMetricSpecificationProperty(
                        metric_name=BACKLOG_METRIC, namespace=NAMESPACE, statistic="Average",
                        dimensions=[appscaling.CfnScalingPolicy.MetricDimensionProperty(name="EndpointName",
                                                                                       value=name)]))))
        self.from_zero_policy = appscaling.CfnScalingPolicy(
            self, "FromZeroPolicy", policy_name=f"{prefix}-from-zero", policy_type="StepScaling",
            scaling_target_id=self.target.ref,
            step_scaling_policy_configuration=appscaling.CfnScalingPolicy.StepScalingPolicyConfigurationProperty(
                adjustment_type="ChangeInCapacity", metric_aggregation_type="Average", cooldown=scale_in_cooldown,
                step_adjustments=[appscaling.CfnScalingPolicy.StepAdjustmentProperty(
                    metric_interval_lower_bound=0, scaling_adjustment=1)]))
        self.from_zero_alarm = cloudwatch.CfnAlarm(
            self, "FromZeroAlarm", alarm_description="requests wait and no instance runs: add one",
            namespace=NAMESPACE, metric_name=WITHOUT_CAPACITY_METRIC, statistic="Average",
            dimensions=[cloudwatch.CfnAlarm.DimensionProperty(name="EndpointName", value=name)],
            period=Duration.minutes(1).to_seconds(), evaluation_periods=2, datapoints_to_alarm=2, threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold", treat_missing_data="notBreaching",
            alarm_actions=[self.from_zero_policy.ref])
