"""SageMaker hosting pieces: the images map, an XGBoost model from a shipped artifact, the
endpoint's execution role, an endpoint with its stack-owned log group, and variant auto scaling.

An endpoint config is immutable: every change replaces it, so neither it nor the models carry
a fixed name (CloudFormation creates the new one before deleting the old). The endpoint's
name is fixed per stack (``<prefix>-<first 8 hex digits of the stack id>``), so the stack can
create the log group SageMaker writes to, with retention and the lab key, before the endpoint
exists: destroy removes it, and a production group retained after destroy never collides with
the next deployment's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Aws, CfnMapping, Fn, Stack
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as assets
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from catalog.sagemaker_images import (
    IMAGE_ACCOUNTS,
    MODEL_MONITOR_REPOSITORY,
    XGBOOST_REPOSITORY,
    XGBOOST_VERSION,
)
from cdk_constructs.core.access import allow_key_use
from cdk_constructs.core.roles import LabRole
from cdk_constructs.core.settings import LabSettings

ECR_PULL = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
LOG_WRITE = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]


class SageMakerImages(Construct):
    """The region -> image account map as a CloudFormation mapping (``catalog.sagemaker_images``).

    Attributes:
        mapping: the ``CfnMapping``.
        xgboost_uri / monitor_uri: the image URIs in the deploying region.
        xgboost_repository_arn / monitor_repository_arn: their ECR repositories, for pull grants.
    """

    def __init__(self, scope: Construct, id_: str) -> None:
        super().__init__(scope, id_)
        self.mapping = CfnMapping(self, "Accounts", mapping={
            region: {"xgboost": accounts.xgboost, "monitor": accounts.model_monitor}
            for region, accounts in IMAGE_ACCOUNTS.items()
        })
        xgboost, monitor = (self.mapping.find_in_map(Aws.REGION, name) for name in ("xgboost", "monitor"))
        registry = f".dkr.ecr.{Aws.REGION}.{Aws.URL_SUFFIX}/"
        self.xgboost_uri = f"{xgboost}{registry}{XGBOOST_REPOSITORY}:{XGBOOST_VERSION}"
        self.monitor_uri = f"{monitor}{registry}{MODEL_MONITOR_REPOSITORY}"
        self.xgboost_repository_arn = f"arn:{Aws.PARTITION}:ecr:{Aws.REGION}:{xgboost}:repository/{XGBOOST_REPOSITORY}"
        self.monitor_repository_arn = (f"arn:{Aws.PARTITION}:ecr:{Aws.REGION}:{monitor}:repository/"
                                       f"{MODEL_MONITOR_REPOSITORY}")


def allow_image_pull(role: LabRole, repository_arn: str) -> None:
    """Pull one ECR repository (the login call has no resource type)."""
    role.add_to_principal_policy(iam.PolicyStatement(sid="PullImage", actions=ECR_PULL, resources=[repository_arn]))
    role.add_to_principal_policy(iam.PolicyStatement(sid="RegistryLogin", actions=["ecr:GetAuthorizationToken"],
                                                     resources=["*"]))


def allow_service_logs(role: LabRole, log_group_name: str, *, sid: str) -> None:
    """Write streams into one service-named log group."""
    arn = f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:{log_group_name}"
    role.add_to_principal_policy(iam.PolicyStatement(sid=sid, actions=["logs:CreateLogGroup", *LOG_WRITE],
                                                     resources=[f"{arn}:*", f"{arn}:log-stream:*"]))


def service_log_findings(log_group_name: str) -> list[str]:
    """The AwsSolutions-IAM5 findings ``allow_service_logs`` raises: the group's streams, named by SageMaker."""
    arn = f"arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:{log_group_name}"
    return [f"Resource::{arn}:*", f"Resource::{arn}:log-stream:*"]


def allow_metrics(role: LabRole, namespaces: Sequence[str]) -> None:
    role.add_to_principal_policy(iam.PolicyStatement(
        sid="PutMetricsInSageMakerNamespaces", actions=["cloudwatch:PutMetricData"], resources=["*"],
        conditions={"StringLike": {"cloudwatch:namespace": list(namespaces)}}))


def sagemaker_principal() -> iam.ServicePrincipal:
    return iam.ServicePrincipal("sagemaker.amazonaws.com",
                                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}})


class EndpointExecutionRole(LabRole):
    """The role SageMaker assumes to host the models, limited to: reading the model artifacts,
    pulling the XGBoost image, writing captured requests under one prefix with the lab key,
    its endpoint's log streams and metrics in the SageMaker namespaces."""

    def __init__(self, scope: Construct, id_: str, *, artifacts: Sequence[assets.Asset], images: SageMakerImages,
                 key: kms.IKey, log_group: logs.ILogGroup, metric_namespaces: Sequence[str],
                 description: str = "SageMaker hosting of the endpoint lab's models") -> None:
        super().__init__(scope, id_, assumed_by=sagemaker_principal(), description=description)
        self.add_to_principal_policy(iam.PolicyStatement(
            sid="ReadModelArtifacts", actions=["s3:GetObject"],
            resources=[artifact.bucket.arn_for_objects(artifact.s3_object_key) for artifact in artifacts]))
        allow_image_pull(self, images.xgboost_repository_arn)
        self.add_to_principal_policy(iam.PolicyStatement(  # the group's ARN ends in :*, its streams
            sid="EndpointLogs", actions=LOG_WRITE, resources=[log_group.log_group_arn]))
        allow_metrics(self, metric_namespaces)
        allow_key_use(self, key)

    def allow_log_group(self, log_group: logs.ILogGroup, *, sid: str) -> None:
        """Streams of one more endpoint's stack-owned log group (the group's ARN ends in :*)."""
        self.add_to_principal_policy(iam.PolicyStatement(sid=sid, actions=LOG_WRITE,
                                                         resources=[log_group.log_group_arn]))

    def allow_capture(self, bucket: s3.IBucket, prefix: str) -> None:
        self.add_to_principal_policy(iam.PolicyStatement(sid="WriteCapturedData", actions=["s3:PutObject"],
                                                         resources=[bucket.arn_for_objects(f"{prefix}/*")]))


class XGBoostModel(Construct):
    """A SageMaker model serving one shipped ``model.tar.gz`` with the built-in XGBoost container.

    Attributes:
        artifact: the tarball as a CDK file asset (uploaded to the bootstrap bucket at deploy).
        model: the ``AWS::SageMaker::Model`` (no fixed name).
    """

    def __init__(self, scope: Construct, id_: str, *, artifact: assets.Asset, image_uri: str,
                 role: EndpointExecutionRole, network_isolation: bool) -> None:
        super().__init__(scope, id_)
        self.artifact = artifact
        self.model = sagemaker.CfnModel(
            self, "Model", execution_role_arn=role.role_arn, enable_network_isolation=network_isolation,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=image_uri, model_data_url=artifact.s3_object_url, mode="SingleModel"),
        )
        self.model.node.add_dependency(role)  # the policy exists before SageMaker tries it


def model_artifact(scope: Construct, id_: str, path: Path) -> assets.Asset:
    return assets.Asset(scope, id_, path=str(path))


@dataclass(frozen=True)
class VariantSpec:
    """One production variant: a model and either instances with a weight or a serverless config."""

    name: str
    model: XGBoostModel
    weight: float = 1.0
    instance_type: str | None = None
    instance_count: int = 1
    serverless_memory_mb: int | None = None
    serverless_max_concurrency: int | None = None
    serverless_provisioned_concurrency: int = 0  # 0: none (nothing bills while idle)

    def property(self) -> sagemaker.CfnEndpointConfig.ProductionVariantProperty:
        if self.serverless_memory_mb:
            return sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                variant_name=self.name, model_name=self.model.model.attr_model_name,
                serverless_config=sagemaker.CfnEndpointConfig.ServerlessConfigProperty(
                    memory_size_in_mb=self.serverless_memory_mb, max_concurrency=self.serverless_max_concurrency,
                    provisioned_concurrency=self.serverless_provisioned_concurrency or None))
        return sagemaker.CfnEndpointConfig.ProductionVariantProperty(
            variant_name=self.name, model_name=self.model.model.attr_model_name, instance_type=self.instance_type,
            initial_instance_count=self.instance_count, initial_variant_weight=self.weight)


@dataclass(frozen=True)
class CaptureSpec:
    """Data capture of requests and responses to ``s3://<bucket>/<prefix>`` under ``key``."""

    bucket: s3.IBucket
    prefix: str
    key: kms.IKey
    sampling_percent: int = 100
    csv_content_types: tuple[str, ...] = ("text/csv",)

    @property
    def destination(self) -> str:
        return f"s3://{self.bucket.bucket_name}/{self.prefix}"  # no trailing slash


def endpoint_name(prefix: str) -> str:
    """``<prefix>-<first group of the stack id's UUID>``: fixed for the stack, new for each stack."""
    stack_uuid = Fn.select(2, Fn.split("/", Aws.STACK_ID))
    return Fn.join("-", [prefix, Fn.select(0, Fn.split("-", stack_uuid))])


def endpoint_log_group(scope: Construct, id_: str, *, settings: LabSettings, name: str,
                       key: kms.IKey) -> logs.LogGroup:
    """The group SageMaker writes an endpoint's logs to, created by the stack before the endpoint."""
    return logs.LogGroup(scope, id_, log_group_name=name, retention=settings.log_retention, encryption_key=key,
                         removal_policy=settings.removal_policy)


def endpoint_config(scope: Construct, id_: str, *, variants: Sequence[VariantSpec], volume_key: kms.IKey | None = None,
                    capture: CaptureSpec | None = None, shadow_variants: Sequence[VariantSpec] = (),
                    async_config: sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty | None = None,
                    ) -> sagemaker.CfnEndpointConfig:
    """An endpoint config without a fixed name (it is immutable: every change replaces it). A blue/green
    update (``UpdateEndpoint``) moves an endpoint between configs whose variants keep their names."""
    return sagemaker.CfnEndpointConfig(
        scope, id_, production_variants=[variant.property() for variant in variants],
        kms_key_id=volume_key.key_arn if volume_key else None,
        data_capture_config=LabEndpoint.capture_property(capture) if capture else None,
        shadow_production_variants=[variant.property() for variant in shadow_variants] or None,
        async_inference_config=async_config,
    )


class LabEndpoint(Construct):
    """An endpoint and its config.

    Defaults: no config name; ``RetainAllVariantProperties`` when ``retain_variant_properties``
    (auto scaling and runtime weight changes survive stack updates); the volume key only when given;
    no asynchronous inference unless ``async_config``.

    Attributes:
        name: the endpoint's name (a token).
        log_group: ``/aws/sagemaker/Endpoints/<name>`` (``endpoint_log_group``); the endpoint depends on it.
        config: the ``AWS::SageMaker::EndpointConfig``.
        endpoint: the ``AWS::SageMaker::Endpoint``.
    """

    def __init__(self, scope: Construct, id_: str, *, name: str, log_group: logs.LogGroup,
                 variants: Sequence[VariantSpec], volume_key: kms.IKey | None = None,
                 capture: CaptureSpec | None = None, retain_variant_properties: bool = False,
                 async_config: sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty | None = None) -> None:
        super().__init__(scope, id_)
        self.name, self.log_group = name, log_group
        self.config = endpoint_config(self, "Config", variants=variants, volume_key=volume_key, capture=capture,
                                      async_config=async_config)
        self.endpoint = sagemaker.CfnEndpoint(
            self, "Endpoint", endpoint_name=self.name, endpoint_config_name=self.config.attr_endpoint_config_name,
            retain_all_variant_properties=retain_variant_properties or None,
        )
        self.endpoint.node.add_dependency(log_group)

    @staticmethod
    def capture_property(capture: CaptureSpec) -> sagemaker.CfnEndpointConfig.DataCaptureConfigProperty:
        return sagemaker.CfnEndpointConfig.DataCaptureConfigProperty(
            enable_capture=True, initial_sampling_percentage=capture.sampling_percent,
            destination_s3_uri=capture.destination, kms_key_id=capture.key.key_arn,
            capture_options=[sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode=mode)
                             for mode in ("Input", "Output")],
            capture_content_type_header=sagemaker.CfnEndpointConfig.CaptureContentTypeHeaderProperty(
                csv_content_types=list(capture.csv_content_types)),
        )


class VariantAutoScaling(Construct):
    """Target tracking on ``SageMakerVariantInvocationsPerInstance`` for one variant.

    The scalable target names the endpoint by its ``EndpointName`` attribute and depends on
    it. No ``RoleARN``: Application Auto Scaling uses its service-linked role for SageMaker,
    which it creates on the first registration in an account (the deploying role needs
    ``iam:CreateServiceLinkedRole`` once; CDK's default CloudFormation execution role has it).

    Attributes:
        resource_id: ``endpoint/<name>/variant/<variant>``.
        target: the ``AWS::ApplicationAutoScaling::ScalableTarget``.
        policy: the ``AWS::ApplicationAutoScaling::ScalingPolicy``.
    """

    def __init__(self, scope: Construct, id_: str, *, endpoint: LabEndpoint, variant: str, min_capacity: int,
                 max_capacity: int, target_invocations: float, scale_in_cooldown: int, scale_out_cooldown: int,
                 scalable_dimension: str) -> None:
        super().__init__(scope, id_)
        self.resource_id = Fn.join("/", ["endpoint", endpoint.endpoint.attr_endpoint_name, "variant", variant])
        self.target = appscaling.CfnScalableTarget(
            self, "Target", service_namespace="sagemaker", resource_id=self.resource_id,
            scalable_dimension=scalable_dimension, min_capacity=min_capacity, max_capacity=max_capacity)
        self.target.node.add_dependency(endpoint.endpoint)
        self.policy = appscaling.CfnScalingPolicy(
            self, "Policy", policy_name=f"{Stack.of(self).stack_name}-{variant}-invocations",
            policy_type="TargetTrackingScaling", scaling_target_id=self.target.ref,
            target_tracking_scaling_policy_configuration=(
                appscaling.CfnScalingPolicy.TargetTrackingScalingPolicyConfigurationProperty(
                    target_value=target_invocations, scale_in_cooldown=scale_in_cooldown,
                    scale_out_cooldown=scale_out_cooldown,
                    predefined_metric_specification=appscaling.CfnScalingPolicy.PredefinedMetricSpecificationProperty(
                        predefined_metric_type="SageMakerVariantInvocationsPerInstance"))),
        )
