"""An Athena workgroup that enforces encrypted results and a scan limit."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_constructs.core.settings import LabSettings

ONE_GIB = 1024**3


class GovernedWorkgroup(Construct):
    """An Athena engine v3 workgroup whose settings clients cannot override.

    Defaults: results in ``results_bucket`` under ``athena/`` encrypted with SSE-KMS
    and the lab key; a per-query bytes-scanned cutoff (default 1 GiB, about $0.005
    at $5/TB) so a runaway query stops; CloudWatch metrics on; in sandbox, deleted
    with its saved queries and history.

    Attributes:
        workgroup: the ``AWS::Athena::WorkGroup``.
        workgroup_name: its name.
        results_prefix: the S3 URI results are written to.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        settings: LabSettings,
        results_bucket: s3.IBucket,
        key: kms.IKey,
        bytes_scanned_cutoff: int = ONE_GIB,
    ) -> None:
        super().__init__(scope, id_)
        self.workgroup_name = f"{Stack.of(self).stack_name}-{id_}"[:128]
        self.results_prefix = f"s3://{results_bucket.bucket_name}/athena/"
        self.workgroup = athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=self.workgroup_name,
            description="Lab queries: enforced encrypted results and a per-query scan limit",
            state="ENABLED",
            recursive_delete_option=settings.is_sandbox,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=bytes_scanned_cutoff,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="Athena engine version 3"
                ),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=self.results_prefix,
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_KMS", kms_key=key.key_arn
                    ),
                ),
            ),
        )
