"""The inference lab: one model served four ways, rollouts that roll back, a shadow variant.

Maps to the study notes (ML Implementation and Operations) and MLA-C01 3.1 (choose real-time,
serverless, asynchronous or batch by performance, cost and latency), 3.2 (scaling policies: the
async endpoint scales to zero), 3.3 (blue/green canary and linear rollouts with rollback) and 2.3
(a shadow variant against production). The endpoint lab's model A is served by a real-time endpoint
(one instance), a serverless endpoint and an asynchronous endpoint; batch transform jobs (started by
the practice) run the same model. The real-time endpoint's other versions are endpoint configs the
stack makes and the practice switches to with ``UpdateEndpoint``: model B on two instances (the
rollout), a broken model (the rollback) and model A with model B as its shadow.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from catalog import inference as contract
from catalog.inference import InferenceOptions
from cdk_constructs.core.acknowledge import acknowledge, acknowledge_iam5, acknowledge_lab_buckets_nist, objects_finding
from cdk_constructs.core.budget import LabBudget
from cdk_constructs.core.encryption import LabKey
from cdk_constructs.core.outputs import emit_outputs
from cdk_constructs.core.profile import apply_lab_profile
from cdk_constructs.core.settings import LabSettings
from cdk_constructs.core.storage import LabBucket, access_log_bucket, empty_logs_last
from cdk_constructs.inference.hosting import allow_alarm_reads, allow_async, allow_transform
from cdk_constructs.inference.notifications import AsyncNotifications
from cdk_constructs.inference.rollback_alarm import RollbackAlarm, rollback_alarm_arn, rollback_alarm_name
from cdk_constructs.inference.scale_to_zero import ScaleToZero
from cdk_constructs.services.sagemaker_hosting import (
    EndpointExecutionRole,
    LabEndpoint,
    SageMakerImages,
    VariantSpec,
    XGBoostModel,
    allow_service_logs,
    endpoint_config,
    endpoint_log_group,
    endpoint_name,
    model_artifact,
    service_log_findings,
)
from jobs.endpoint.model import MODEL_A, MODEL_B
from jobs.inference.broken_model import MODEL_BROKEN

# The endpoints' names: mlref-inference-<way>-<8 hex digits of the stack id>.
WAYS = {"Realtime": "rt", "Serverless": "sl", "Async": "async"}


class InferenceStack(Stack):
    """Three endpoints and four more configs on the shipped XGBoost models, the data bucket, the async
    notifications and scaling, and the rollback alarm."""

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings,
                 options: InferenceOptions | None = None, **kwargs) -> None:
        super().__init__(scope, id_, description="mlref-labs inference: one model served four ways, safe rollouts, "
                                                 "a shadow variant", **kwargs)
        options = options or InferenceOptions()
        self.settings, self.options = settings, options
        self.key = LabKey(self, "InferenceKey", settings=settings,
                          description="mlref inference: requests and results, volumes, logs, topics").key
        apply_lab_profile(self, settings, log_key=self.key)
        self.images = SageMakerImages(self, "Images")
        self.access_logs = access_log_bucket(self, settings)
        self.data = LabBucket(self, "InferenceData", settings=settings, encryption_key=self.key,
                              access_logs_bucket=self.access_logs.bucket)
        empty_logs_last(self.access_logs, self.data)
        self.names = {way: endpoint_name(f"mlref-inference-{short}") for way, short in WAYS.items()}
        self.log_groups = {way: endpoint_log_group(self, f"{way}Logs", settings=settings, key=self.key,
                                                   name=f"{contract.ENDPOINT_LOG_GROUP_PREFIX}{name}")
                           for way, name in self.names.items()}
        self.notifications = AsyncNotifications(self, "Async", key=self.key)
        self.alarm_name = rollback_alarm_name("realtime-errors")
        self.role = self._hosting_role()
        self._models()
        self._endpoints()
        self.scaling = ScaleToZero(
            self, "AsyncScaling", endpoint=self.async_endpoint, variant=contract.VARIANT,
            max_capacity=options.async_max_instances, backlog_target=contract.ASYNC_BACKLOG_TARGET,
            scale_in_cooldown=contract.ASYNC_SCALE_IN_COOLDOWN, scale_out_cooldown=contract.ASYNC_SCALE_OUT_COOLDOWN,
            scalable_dimension=contract.SCALABLE_DIMENSION)
        self.rollback = RollbackAlarm(self, "Rollback", name=self.alarm_name, variant=contract.VARIANT,
                                      endpoint_name=self.realtime.endpoint.attr_endpoint_name)
        self.budget = (
            LabBudget(self, "CostGuard", settings=settings, email=settings.alert_email, cost=contract.cost(options))
            if settings.alert_email else None
        )
        self._outputs()
        self._acknowledge_findings()

    def _hosting_role(self) -> EndpointExecutionRole:
        self.artifacts = {name: model_artifact(self, f"{name}Artifact", path)
                          for name, path in (("ModelA", MODEL_A), ("ModelB", MODEL_B), ("ModelBroken", MODEL_BROKEN))}
        role = EndpointExecutionRole(self, "HostingRole", artifacts=list(self.artifacts.values()), images=self.images,
                                     key=self.key, log_group=self.log_groups["Realtime"],
                                     metric_namespaces=contract.METRICS_NAMESPACES,
                                     description="SageMaker hosting and batch transform of the inference lab's models")
        role.allow_log_group(self.log_groups["Serverless"], sid="ServerlessEndpointLogs")
        role.allow_log_group(self.log_groups["Async"], sid="AsyncEndpointLogs")
        allow_service_logs(role, contract.TRANSFORM_LOG_GROUP, sid="TransformJobLogs")
        allow_async(role, self.data.bucket, requests=contract.ASYNC_INPUT,
                    results=[contract.ASYNC_OUTPUT, contract.ASYNC_FAILURES],
                    topics=[self.notifications.success_topic, self.notifications.error_topic])
        allow_transform(role, self.data.bucket, source=contract.TRANSFORM_INPUT, destination=contract.TRANSFORM_OUTPUT)
        allow_alarm_reads(role, rollback_alarm_arn(self.alarm_name))
        return role

    def _models(self) -> None:
        """Models A, B and broken in network isolation (the built-in container needs no network: SageMaker
        fetches artifacts and moves data); model A once more without it for serverless (which refuses
        isolation) and async (whose S3 payloads under isolation are not confirmed here)."""
        def model(id_: str, artifact: str, isolated: bool) -> XGBoostModel:
            return XGBoostModel(self, id_, artifact=self.artifacts[artifact], image_uri=self.images.xgboost_uri,
                                role=self.role, network_isolation=isolated)

        self.model_a, self.model_b, self.model_broken = (model(name, name, True)
                                                         for name in ("ModelA", "ModelB", "ModelBroken"))
        self.model_open = model("ModelAOpen", "ModelA", False)

    def _instances(self, model: XGBoostModel, count: int, name: str = contract.VARIANT) -> VariantSpec:
        return VariantSpec(name, model, instance_type=self.options.instance_type, instance_count=count)

    def _config(self, id_: str, model: XGBoostModel, count: int,
                shadow: XGBoostModel | None = None) -> sagemaker.CfnEndpointConfig:
        return endpoint_config(self, id_, variants=[self._instances(model, count)], volume_key=self.key,
                               shadow_variants=[self._instances(shadow, 1, contract.SHADOW_VARIANT)] if shadow else ())

    def _endpoints(self) -> None:
        options = self.options
        self.realtime = LabEndpoint(
            self, "Realtime", name=self.names["Realtime"], log_group=self.log_groups["Realtime"],
            variants=[self._instances(self.model_a, options.realtime_instances)], volume_key=self.key)
        self.rollout_config = self._config("RolloutConfig", self.model_b, contract.ROLLOUT_INSTANCES)
        self.broken_config = self._config("BrokenConfig", self.model_broken, contract.ROLLOUT_INSTANCES)
        self.shadow_config = self._config("ShadowConfig", self.model_a, 1, shadow=self.model_b)
        self.serverless = LabEndpoint(
            self, "Serverless", name=self.names["Serverless"], log_group=self.log_groups["Serverless"],
            variants=[VariantSpec(contract.VARIANT, self.model_open, serverless_memory_mb=options.serverless_memory_mb,
                                  serverless_max_concurrency=options.serverless_max_concurrency,
                                  serverless_provisioned_concurrency=options.serverless_provisioned)])
        self.async_endpoint = LabEndpoint(
            self, "AsyncEndpoint", name=self.names["Async"], log_group=self.log_groups["Async"],
            variants=[self._instances(self.model_open, 1)], volume_key=self.key, retain_variant_properties=True,
            async_config=sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty(
                output_config=sagemaker.CfnEndpointConfig.AsyncInferenceOutputConfigProperty(
                    s3_output_path=self._uri(contract.ASYNC_OUTPUT), s3_failure_path=self._uri(contract.ASYNC_FAILURES),
                    kms_key_id=self.key.key_arn, notification_config=self.notifications.config()),
                client_config=sagemaker.CfnEndpointConfig.AsyncInferenceClientConfigProperty(
                    max_concurrent_invocations_per_instance=contract.ASYNC_CONCURRENT_PER_INSTANCE)))

    def _uri(self, prefix: str) -> str:
        return f"s3://{self.data.bucket.bucket_name}/{prefix}"

    def _outputs(self) -> None:
        options = self.options
        values = {
            contract.REALTIME_ENDPOINT: self.realtime.endpoint.attr_endpoint_name,
            contract.SERVERLESS_ENDPOINT: self.serverless.endpoint.attr_endpoint_name,
            contract.ASYNC_ENDPOINT: self.async_endpoint.endpoint.attr_endpoint_name,
            contract.VARIANT_NAME: contract.VARIANT, contract.SHADOW_VARIANT_NAME: contract.SHADOW_VARIANT,
            contract.REALTIME_CONFIG: self.realtime.config.attr_endpoint_config_name,
            contract.ROLLOUT_CONFIG: self.rollout_config.attr_endpoint_config_name,
            contract.BROKEN_CONFIG: self.broken_config.attr_endpoint_config_name,
            contract.SHADOW_CONFIG: self.shadow_config.attr_endpoint_config_name,
            contract.ROLLBACK_ALARM: self.rollback.alarm.alarm_name,
            contract.TRANSFORM_MODEL: self.model_a.model.attr_model_name,
            contract.DATA_BUCKET: self.data.bucket.bucket_name,
            contract.ASYNC_QUEUE: self.notifications.queue.queue_url,
            contract.ASYNC_SCALABLE: self.scaling.resource_id,
            contract.KEY: self.key.key_arn,
            contract.INSTANCE_TYPE_OUTPUT: options.instance_type,
            contract.REALTIME_INSTANCES: str(options.realtime_instances),
            contract.SERVERLESS_MEMORY: str(options.serverless_memory_mb),
            contract.SERVERLESS_CONCURRENCY: str(options.serverless_max_concurrency),
            contract.SERVERLESS_PROVISIONED: str(options.serverless_provisioned),
        }
        emit_outputs(self, contract.CONTRACT, options, values)

    # -- the one place for this stack's acknowledgments ---------------------------------

    def _acknowledge_findings(self) -> None:
        policy, bucket = self.role.policy, self.data.bucket
        acknowledge_iam5(policy, ["Resource::*"],
                         "ecr:GetAuthorizationToken has no resource type; image pulls are limited to the XGBoost "
                         "repository and metrics to the SageMaker endpoint and transform namespaces by condition")
        acknowledge_iam5(policy, [objects_finding(bucket, f"{contract.ASYNC_INPUT}/"),
                                  objects_finding(bucket, f"{contract.TRANSFORM_INPUT}/")],
                         "SageMaker reads the request objects the practice names per run (async/input/<run>/<n>.csv) "
                         "and every file under a batch job's input prefix; nothing else in the bucket")
        acknowledge_iam5(policy, [objects_finding(bucket, f"{p}/") for p in (contract.ASYNC_OUTPUT,
                                                                              contract.ASYNC_FAILURES,
                                                                              contract.TRANSFORM_OUTPUT)],
                         "SageMaker names each async result or failure object itself and writes one <file>.out per "
                         "input file of a batch job, only under these output prefixes")
        acknowledge_iam5(policy, service_log_findings(contract.TRANSFORM_LOG_GROUP),
                         "SageMaker names one log stream per transform job and instance in its service-named group")
        acknowledge(self.notifications.queue, "AwsSolutions-SQS3",
                    "the queue holds only SNS envelopes of async notifications, which the practice reads and deletes "
                    "within minutes; one left unread expires after a day, and a dead-letter queue would only keep "
                    "copies of envelopes nobody reads")
        if self.settings.is_sandbox:
            return
        acknowledge_lab_buckets_nist([bucket], self.access_logs.bucket)
        acknowledge(self.rollback.alarm, "NIST.800.53.R5-CloudWatchAlarmAction",
                    "SageMaker deployment guardrails read this alarm's state during a rollout "
                    "(AutoRollbackConfiguration) and roll back themselves; an action would add nothing but a message "
                    "on every rollback")
        acknowledge(self.serverless.config, "NIST.800.53.R5-SageMakerEndpointConfigurationKMSKeyConfigured",
                    "serverless endpoints have no attached EBS volume for KmsKeyId to encrypt, and SageMaker refuses "
                    "the key for them")
