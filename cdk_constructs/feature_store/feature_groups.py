"""SageMaker Feature Store pieces: feature group definitions, a feature group whose offline
store's Glue table belongs to the stack, and the store's roles.

Feature Store leaves its offline data and the Glue table it creates behind when a feature
group is deleted. Here automatic table creation is off and the stack owns the table
(``DataCatalogConfig`` names it), so ``cdk destroy`` removes the table with the group;
the offline data sits in the lab's bucket, which is emptied on delete in sandbox.

A feature group cannot change its features in place: CloudFormation replaces it, creating
the new one before deleting the old. Its name therefore carries a hash of everything that
forces replacement; a fixed name would collide with the group being replaced.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from catalog.feature_store import FEATURE_TYPES, OFFLINE_COLUMNS, OFFLINE_PREFIX, FeatureGroupSpec
from cdk_constructs.core.access import allow_key_use, allow_objects
from cdk_constructs.core.roles import LabRole
from cdk_constructs.core.settings import LabSettings


class OfflineStoreTable(Construct):
    """The Glue table over one feature group's offline data (Parquet, Glue table format).

    Feature Store writes under
    ``<S3Uri>/<account>/sagemaker/<region>/offline-store/<group name>-<creation time>/data/``;
    the creation time is known only after deployment, so the table's location is the
    group's own ``S3Uri`` and Athena reads the files in its sub-folders.
    """

    def __init__(self, scope: Construct, id_: str, *, spec: FeatureGroupSpec, database_name: str,
                 database: glue.CfnDatabase, location: str) -> None:
        super().__init__(scope, id_)
        columns = [glue.CfnTable.ColumnProperty(name=f.name, type=FEATURE_TYPES[f.type]) for f in spec.features]
        columns += [glue.CfnTable.ColumnProperty(name=name, type=type_) for name, type_ in OFFLINE_COLUMNS]
        self.table_name = spec.table_name
        self.table = glue.CfnTable(
            self, "Table", catalog_id=Stack.of(self).account, database_name=database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name=spec.table_name, description=f"Offline store of {spec.group_name}: {spec.description}"[:2048],
                table_type="EXTERNAL_TABLE",
                parameters={"classification": "parquet", "EXTERNAL": "TRUE"},
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    columns=columns, location=location,
                    input_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library="org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"),
                ),
            ),
        )
        self.table.node.add_dependency(database)


class OfflineStoreRole(LabRole):
    """The role Feature Store assumes to write a group's offline store: objects under the
    offline prefix of one bucket, the bucket's ACL (Feature Store checks it), the key."""

    def __init__(self, scope: Construct, id_: str, *, bucket: s3.IBucket, key: kms.IKey) -> None:
        super().__init__(
            scope, id_, description="SageMaker Feature Store: writes the lab's offline store",
            assumed_by=iam.ServicePrincipal(
                "sagemaker.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(scope).account}},
            ),
        )
        allow_objects(self, bucket, prefix=f"{OFFLINE_PREFIX}/", write=True)
        self.add_to_principal_policy(iam.PolicyStatement(
            sid="OfflineStoreObjectAcl", actions=["s3:PutObjectAcl"],
            resources=[bucket.arn_for_objects(f"{OFFLINE_PREFIX}/*")]))
        self.add_to_principal_policy(iam.PolicyStatement(
            sid="OfflineStoreBucketAcl", actions=["s3:GetBucketAcl"], resources=[bucket.bucket_arn]))
        allow_key_use(self, key)


class LabFeatureGroup(Construct):
    """A feature group with an online store (KMS) and an offline store in the lab's bucket
    (KMS) whose Glue table the stack owns.

    Attributes:
        spec: its definition.
        feature_group: the ``AWS::SageMaker::FeatureGroup``.
        feature_group_name: its name (carries the definition's fingerprint).
        feature_group_arn: its ARN.
        table: the stack-owned offline-store table.
        offline_uri: the S3 URI the offline store writes under.
    """

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings, spec: FeatureGroupSpec,
                 bucket: s3.IBucket, key: kms.IKey, role: OfflineStoreRole, database_name: str,
                 database: glue.CfnDatabase) -> None:
        super().__init__(scope, id_)
        self.spec = spec
        self.feature_group_name = spec.group_name
        self.offline_uri = f"s3://{bucket.bucket_name}/{OFFLINE_PREFIX}/{spec.group_name}"
        self.table = OfflineStoreTable(self, "OfflineTable", spec=spec, database_name=database_name,
                                       database=database, location=f"{self.offline_uri}/")
        online: dict = {"EnableOnlineStore": True, "SecurityConfig": {"KmsKeyId": key.key_arn},
                        "StorageType": "Standard"}
        if spec.online_ttl_days:
            online["TtlDuration"] = {"Unit": "Days", "Value": spec.online_ttl_days}
        self.feature_group = sagemaker.CfnFeatureGroup(
            self, "FeatureGroup", feature_group_name=spec.group_name, description=spec.description,
            record_identifier_feature_name=spec.record_identifier, event_time_feature_name=spec.event_time,
            feature_definitions=[sagemaker.CfnFeatureGroup.FeatureDefinitionProperty(
                feature_name=f.name, feature_type=f.type) for f in spec.features],
            online_store_config=online,
            offline_store_config={
                "S3StorageConfig": {"S3Uri": self.offline_uri, "KmsKeyId": key.key_arn},
                "DisableGlueTableCreation": True,
                "DataCatalogConfig": {"Catalog": "AwsDataCatalog", "Database": database_name,
                                      "TableName": spec.table_name},
                "TableFormat": "Glue",
            },
            role_arn=role.role_arn,
            throughput_config=sagemaker.CfnFeatureGroup.ThroughputConfigProperty(throughput_mode="OnDemand"),
        )
        # The role's policy must exist before Feature Store tests it at creation.
        self.feature_group.node.add_dependency(role)
        self.feature_group.node.add_dependency(self.table.table)
        self.feature_group_arn = Stack.of(self).format_arn(
            service="sagemaker", resource="feature-group", resource_name=spec.group_name.lower())
