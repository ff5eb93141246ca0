"""The endpoint lab: SageMaker real-time inference that stays up, scales and is watched.

Maps to the study notes (ML Implementation and Operations) and MLA-C01 D3/D4: a real-time
endpoint whose main variant runs two instances (AWS spreads them across Availability
Zones), a second model at a lower weight for A/B testing, target-tracking auto scaling,
data capture to an encrypted bucket and a Model Monitor data-quality schedule. The
serverless variant (``-c endpoint_type=serverless``) has one variant and no idle instances,
and none of scaling, capture or monitoring, which serverless endpoints do not support.
"""

from __future__ import annotations

from aws_cdk import Stack
from constructs import Construct

from catalog import endpoint as contract
from catalog.endpoint import EndpointOptions
from cdk_constructs.core.acknowledge import acknowledge, acknowledge_iam5, acknowledge_lab_buckets_nist, objects_finding
from cdk_constructs.core.budget import LabBudget
from cdk_constructs.core.encryption import LabKey
from cdk_constructs.core.outputs import emit_outputs
from cdk_constructs.core.profile import apply_lab_profile
from cdk_constructs.core.settings import LabSettings
from cdk_constructs.core.storage import LabBucket, access_log_bucket, empty_logs_last
from cdk_constructs.endpoint.monitor import DataQualityMonitor, MonitorRole
from cdk_constructs.services.sagemaker_hosting import (
    CaptureSpec,
    EndpointExecutionRole,
    LabEndpoint,
    SageMakerImages,
    VariantAutoScaling,
    VariantSpec,
    XGBoostModel,
    endpoint_log_group,
    endpoint_name,
    model_artifact,
    service_log_findings,
)
from jobs.endpoint.model import MODEL_A, MODEL_B
from lambdas.shared.lab_names import ENDPOINT_LOG_GROUP_PREFIX, PROCESSING_LOG_GROUP

STATISTICS, CONSTRAINTS = "statistics.json", "constraints.json"
DEFAULT_OPTIONS = EndpointOptions()


class EndpointStack(Stack):
    """Two XGBoost models behind one endpoint (or one serverless variant), with their roles,
    the capture bucket, auto scaling and Model Monitor."""

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings,
                 options: EndpointOptions = DEFAULT_OPTIONS, **kwargs) -> None:
        super().__init__(scope, id_, description=f"mlref-labs endpoint: SageMaker {options.endpoint_type.value} "
                                                 "inference", **kwargs)
        self.settings, self.options = settings, options
        self.key = LabKey(self, "EndpointKey", settings=settings,
                          description="mlref endpoint: captured data, monitoring reports, volumes, logs").key
        apply_lab_profile(self, settings, log_key=self.key)
        self.images = SageMakerImages(self, "Images")
        name = endpoint_name("mlref-endpoint" if options.realtime else "mlref-serverless")
        self.log_group = endpoint_log_group(self, "EndpointLogs", settings=settings,
                                            name=f"{ENDPOINT_LOG_GROUP_PREFIX}{name}", key=self.key)

        artifacts = [model_artifact(self, "ModelAArtifact", MODEL_A)]
        if options.realtime:
            artifacts.append(model_artifact(self, "ModelBArtifact", MODEL_B))
        self.role = EndpointExecutionRole(self, "HostingRole", artifacts=artifacts, images=self.images, key=self.key,
                                          log_group=self.log_group,
                                          metric_namespaces=contract.METRICS_NAMESPACES)
        # Network isolation in both profiles: the built-in container needs no network (SageMaker
        # fetches the artifact and writes captured data itself); serverless does not support it.
        ids = ("ModelA", "ModelB") if options.realtime else ("ServerlessModel",)
        self.models = [XGBoostModel(self, model_id, artifact=artifact, image_uri=self.images.xgboost_uri,
                                    role=self.role, network_isolation=options.realtime)
                       for model_id, artifact in zip(ids, artifacts, strict=True)]

        self.data = self.access_logs = None
        capture = None
        if options.realtime:
            self.access_logs = access_log_bucket(self, settings)
            self.data = LabBucket(self, "InferenceData", settings=settings, encryption_key=self.key,
                                  access_logs_bucket=self.access_logs.bucket)
            empty_logs_last(self.access_logs, self.data)
            capture = CaptureSpec(bucket=self.data.bucket, prefix=contract.CAPTURE_PREFIX, key=self.key,
                                  sampling_percent=contract.CAPTURE_SAMPLING_PERCENT)
            self.role.allow_capture(self.data.bucket, contract.CAPTURE_PREFIX)

        self.endpoint = LabEndpoint(
            self, "Endpoint", name=name, log_group=self.log_group, variants=self._variants(),
            volume_key=self.key if options.volume_key_allowed else None, capture=capture,
            retain_variant_properties=options.realtime,
        )
        self.scaling = (
            VariantAutoScaling(self, "VariantAScaling", endpoint=self.endpoint, variant=contract.VARIANT_A,
                               min_capacity=contract.MIN_CAPACITY, max_capacity=contract.MAX_CAPACITY,
                               target_invocations=contract.TARGET_INVOCATIONS_PER_INSTANCE,
                               scale_in_cooldown=contract.SCALE_IN_COOLDOWN,
                               scale_out_cooldown=contract.SCALE_OUT_COOLDOWN,
                               scalable_dimension=contract.SCALABLE_DIMENSION)
            if options.realtime else None
        )
        self.monitor_role = self.monitor = None
        if options.monitored:
            self._monitor()
        self.budget = (
            LabBudget(self, "CostGuard", settings=settings, email=settings.alert_email, cost=contract.cost(options))
            if settings.alert_email else None
        )
        self._outputs()
        self._acknowledge_findings()

    def _variants(self) -> list[VariantSpec]:
        options = self.options
        if not options.realtime:
            return [VariantSpec(contract.VARIANT_A, self.models[0],
                                serverless_memory_mb=contract.SERVERLESS_MEMORY_MB,
                                serverless_max_concurrency=contract.SERVERLESS_MAX_CONCURRENCY)]
        counts = {contract.VARIANT_A: contract.INSTANCES_A, contract.VARIANT_B: contract.INSTANCES_B}
        return [VariantSpec(name, model, weight=contract.WEIGHTS[name], instance_type=options.instance_type,
                            instance_count=counts[name])
                for name, model in zip((contract.VARIANT_A, contract.VARIANT_B), self.models, strict=True)]

    def _uri(self, path: str) -> str:
        return f"s3://{self.data.bucket.bucket_name}/{path}"

    def _monitor(self) -> None:
        self.monitor_role = MonitorRole(
            self, "MonitorRole", bucket=self.data.bucket, key=self.key, images=self.images,
            read_prefixes=[contract.CAPTURE_PREFIX, contract.BASELINE_PREFIX],
            write_prefixes=[contract.MONITORING_PREFIX, contract.BASELINE_RESULTS],
            log_group_name=PROCESSING_LOG_GROUP, metric_namespaces=contract.METRICS_NAMESPACES)
        self.monitor = DataQualityMonitor(
            self, "DataQuality", endpoint=self.endpoint, role=self.monitor_role, images=self.images, key=self.key,
            statistics_uri=self._uri(f"{contract.BASELINE_RESULTS}/{STATISTICS}"),
            constraints_uri=self._uri(f"{contract.BASELINE_RESULTS}/{CONSTRAINTS}"),
            output_uri=self._uri(contract.MONITORING_PREFIX), instance_type=contract.MONITOR_INSTANCE_TYPE,
            volume_gb=contract.MONITOR_VOLUME_GB, max_runtime_seconds=contract.MONITOR_MAX_RUNTIME_SECONDS,
            schedule_name=contract.SCHEDULE_NAME, schedule_expression=contract.HOURLY)

    def _outputs(self) -> None:
        values = {
            contract.ENDPOINT: self.endpoint.endpoint.attr_endpoint_name,
            contract.ENDPOINT_TYPE: self.options.endpoint_type.value,
            contract.VARIANTS: ",".join(self.options.variants),
            contract.LOG_GROUP: self.log_group.log_group_name,
            contract.KEY: self.key.key_arn,
        }
        if self.options.realtime:
            values.update({contract.SCALABLE_RESOURCE: self.scaling.resource_id,
                           contract.DATA_BUCKET: self.data.bucket.bucket_name,
                           contract.CAPTURE_URI: self._uri(contract.CAPTURE_PREFIX)})
        if self.options.monitored:
            values.update({contract.BASELINE_URI: self._uri(contract.BASELINE_PREFIX),
                           contract.MONITORING_URI: self._uri(contract.MONITORING_PREFIX),
                           contract.MONITOR_ROLE: self.monitor_role.role_arn,
                           contract.JOB_DEFINITION: self.monitor.job_definition_name,
                           contract.SCHEDULE: contract.SCHEDULE_NAME})
        emit_outputs(self, contract.CONTRACT, self.options, values)

    # -- the one place for this stack's acknowledgments ---------------------------------

    def _acknowledge_findings(self) -> None:
        acknowledge_iam5(self.role.policy, ["Resource::*"],
                         "ecr:GetAuthorizationToken has no resource type; image pulls are limited to the XGBoost "
                         "repository and metrics to the SageMaker endpoint namespaces by condition")
        if self.options.realtime:
            acknowledge_iam5(self.role.policy, [objects_finding(self.data.bucket, f"{contract.CAPTURE_PREFIX}/")],
                             "data capture writes one object per batch of requests with generated names under "
                             "capture/<endpoint>/<variant>/<hour>/ of the lab's own bucket")
        if self.options.monitored:
            self._acknowledge_monitor()
        if self.settings.is_sandbox:
            return
        if self.data is not None:
            acknowledge_lab_buckets_nist([self.data.bucket], self.access_logs.bucket)
        if not self.options.volume_key_allowed:
            acknowledge(self.endpoint.config, "NIST.800.53.R5-SageMakerEndpointConfigurationKMSKeyConfigured",
                        "serverless endpoints (and instance types with local NVMe storage) have no attached EBS "
                        "volume for KmsKeyId to encrypt, and SageMaker refuses the key for them")

    def _acknowledge_monitor(self) -> None:
        policy, bucket = self.monitor_role.policy, self.data.bucket
        acknowledge_iam5(policy, ["Resource::*"],
                         "ecr:GetAuthorizationToken has no resource type; pulls are limited to the analyzer "
                         "repository and metrics to the SageMaker namespaces by condition")
        acknowledge_iam5(policy, [objects_finding(bucket, f"{p}/") for p in (contract.CAPTURE_PREFIX,
                                                                              contract.BASELINE_PREFIX)],
                         "monitoring executions read every captured file of the analysed hours and the baseline "
                         "job reads the whole baseline dataset; names are generated by data capture")
        acknowledge_iam5(policy, [objects_finding(bucket, f"{p}/") for p in (contract.MONITORING_PREFIX,
                                                                              contract.BASELINE_RESULTS)],
                         "each monitoring execution writes its reports under a folder named by schedule and time, "
                         "the baseline job writes statistics.json and constraints.json")
        acknowledge_iam5(policy, service_log_findings(PROCESSING_LOG_GROUP),
                         "SageMaker names one log stream per processing job and instance in its service-named group")
