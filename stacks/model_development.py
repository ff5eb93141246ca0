"""The model-development lab: choose a modeling approach by measurement, tune XGBoost, measure bias and
explain the model, and diagnose a run that overfits.

Maps to the study notes (Modeling) and MLA-C01 D2 (2.1-2.3) with D1's pre-training bias (1.3). The stack
holds only what bills nothing idle: one key, the lab bucket (generated data, job outputs, lineage) and the
roles SageMaker assumes. Every job, the tuned model and Clarify's shadow endpoint are started by the
practice and tagged for the janitor; a deploy starts no billing.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_s3 as s3
from constructs import Construct

from catalog import model_development as contract
from catalog.model_development import ModelDevelopmentOptions
from cdk_constructs.core.acknowledge import acknowledge_iam5, acknowledge_lab_buckets_nist, objects_finding
from cdk_constructs.core.budget import LabBudget
from cdk_constructs.core.encryption import LabKey
from cdk_constructs.core.outputs import emit_outputs
from cdk_constructs.core.profile import apply_lab_profile
from cdk_constructs.core.settings import LabSettings
from cdk_constructs.core.storage import LabBucket, access_log_bucket, empty_logs_last
from cdk_constructs.model_development.roles import ModelDevelopmentRoles
from cdk_constructs.services.sagemaker_roles import acknowledge_job_role, sagemaker_finding

DEFAULTS = ModelDevelopmentOptions()
RUNS_EXPIRE_DAYS = 7  # job outputs and lineage are a run's evidence for a week; the data is regenerated


class ModelDevelopmentStack(Stack):
    """The lab key and bucket, and the roles of its training, processing and (Clarify) hosting."""

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings,
                 options: ModelDevelopmentOptions = DEFAULTS, **kwargs) -> None:
        super().__init__(scope, id_, description="mlref-labs model-development: approach, tuning, bias and "
                                                 "diagnosis (jobs run only when practised)", **kwargs)
        self.settings, self.options = settings, options
        self.key = LabKey(self, "LabKey", settings=settings,
                          description="mlref model-development: data, job outputs and volumes").key
        apply_lab_profile(self, settings, log_key=self.key)

        self.access_logs = access_log_bucket(self, settings)
        self.lab = LabBucket(
            self, "Lab", settings=settings, encryption_key=self.key, access_logs_bucket=self.access_logs.bucket,
            lifecycle_rules=[
                s3.LifecycleRule(id=f"{name}Expire", prefix=prefix, expiration=Duration.days(RUNS_EXPIRE_DAYS))
                for name, prefix in (("Runs", contract.RUNS_PREFIX), ("Lineage", contract.LINEAGE_PREFIX),
                                     ("Data", contract.DATA_PREFIX))
            ] + [s3.LifecycleRule(id="NoncurrentExpire", noncurrent_version_expiration=Duration.days(7))])
        empty_logs_last(self.access_logs, self.lab)

        self.roles = ModelDevelopmentRoles(self, "Jobs", bucket=self.lab.bucket, key=self.key, clarify=options.clarify)
        self.budget = (
            LabBudget(self, "CostGuard", settings=settings, email=settings.alert_email, cost=contract.cost(options))
            if settings.alert_email else None
        )
        outputs = {
            contract.BUCKET: self.lab.bucket.bucket_name,
            contract.KEY: self.key.key_arn,
            contract.TRAINING_ROLE: self.roles.training.role_arn,
            contract.PROCESSING_ROLE: self.roles.processing.role_arn,
            contract.CLARIFY: "on" if options.clarify else "off",
        }
        if self.roles.model is not None:
            outputs[contract.MODEL_ROLE] = self.roles.model.role_arn
        emit_outputs(self, contract.CONTRACT, options, outputs)
        self._acknowledge_findings()

    # -- the one place for this stack's acknowledgments ---------------------------------

    def _acknowledge_findings(self) -> None:
        roles = [role for role in (self.roles.training, self.roles.processing, self.roles.model) if role is not None]
        bucket = self.lab.bucket
        for role in roles:
            acknowledge_job_role(role)
        acknowledge_iam5(self.roles.training.policy, [objects_finding(bucket, contract.DATA_PREFIX)],
                         "training reads the generated sets under data/<set>-<seed>/, named by the practice's seed "
                         "at run time; read only")
        acknowledge_iam5(self.roles.processing.policy, [objects_finding(bucket, contract.DATA_PREFIX)],
                         "the bias job reads the generated test split under data/tabular-<seed>/; read only")
        for role in roles:
            acknowledge_iam5(role.policy, [objects_finding(bucket, contract.RUNS_PREFIX)],
                             "each practice run writes under runs/<run id>/<step>/, an id known only at run time, "
                             "and SageMaker names the files inside (one folder per job)")
        if self.roles.model is not None:
            shadow = contract.SHADOW_ENDPOINT_PREFIX
            acknowledge_iam5(self.roles.processing.policy,
                             [sagemaker_finding(f"{kind}/{shadow}*") for kind in ("endpoint", "endpoint-config")],
                             "Clarify names its shadow endpoint and config from the analysis config's "
                             f"endpoint_name_prefix ({shadow}) plus a suffix of its own; only those names")
            acknowledge_iam5(self.roles.processing.policy, [sagemaker_finding(f"model/{contract.JOB_PREFIX}*")],
                             "Clarify describes the model it hosts: the practice names it mlref-md-tuned-<run id>; "
                             "only the lab's models")
        if not self.settings.is_sandbox:
            acknowledge_lab_buckets_nist([bucket], self.access_logs.bucket)
