"""One module per lab; each stack only composes constructs from cdk_constructs/."""

from __future__ import annotations

from dataclasses import dataclass

from collections.abc import Callable

from cdk_constructs.pricing import LabCost, clickstream_cost, data_lake_cost, feature_store_cost, fsx_training_cost
from stacks.clickstream import ClickstreamStack
from stacks.data_lake import DataLakeStack
from stacks.feature_store import FeatureStoreStack
from stacks.fsx_training import FsxTrainingStack


@dataclass(frozen=True)
class LabDefinition:
    """What the library knows about a lab before it is synthesized.

    Attributes:
        name: the lab's name on the command line.
        stack_name: the CloudFormation stack name.
        stack_class: the stack that deploys it.
        demonstrates: one line on what it shows.
        exam_domain: the exam domain from the study notes.
        cost: idle cost per hour and cost per practice run, from pricing/prices.toml.
    """

    name: str
    stack_name: str
    stack_class: type
    demonstrates: str
    exam_domain: str
    cost: Callable[[], LabCost]


LABS: dict[str, LabDefinition] = {
    lab.name: lab
    for lab in (
        LabDefinition(
            name="data-lake",
            stack_name="mlref-data-lake",
            stack_class=DataLakeStack,
            demonstrates="Lake Formation governed data lake on S3: zones, KMS, lifecycle tiers, Glue crawler, Athena",
            exam_domain="Data Engineering",
            cost=data_lake_cost,
        ),
        LabDefinition(
            name="clickstream",
            stack_name="mlref-clickstream",
            stack_class=ClickstreamStack,
            demonstrates="Kinesis clickstream into Redshift Serverless: Firehose with a Lambda transform, or streaming ingestion",
            exam_domain="Data Engineering",
            cost=clickstream_cost,
        ),
        LabDefinition(
            name="fsx-training",
            stack_name="mlref-fsx-training",
            stack_class=FsxTrainingStack,
            demonstrates="SageMaker training from FSx for Lustre linked to S3 (or EFS), isolated VPC, P3 GPUs on spot",
            exam_domain="Modeling",
            cost=fsx_training_cost,
        ),
        LabDefinition(
            name="feature-store",
            stack_name="mlref-feature-store",
            stack_class=FeatureStoreStack,
            demonstrates="SageMaker Feature Store: shared feature groups, online store reads, point-in-time training sets offline",
            exam_domain="Data Engineering",
            cost=feature_store_cost,
        ),
    )
}
