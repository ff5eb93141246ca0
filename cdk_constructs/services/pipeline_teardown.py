"""The teardown custom resource of a SageMaker pipeline lab (ml-pipeline, mlops): on stack deletion it
clears what would block the deletion or keep billing (``lambdas/shared/pipeline_teardown.py``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import CustomResource, Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct, IConstruct

from cdk_constructs.core.functions import LabFunction
from cdk_constructs.core.settings import LabSettings
from cdk_constructs.services.sagemaker_pipeline import ML_PIPELINE, PipelineNames, sagemaker_arn
from cdk_constructs.services.sagemaker_roles import log_group_arn
from lambdas.shared.lab_names import ENDPOINT_LOG_GROUP_PREFIX

SHARED = ["cfn_response", "lab_names", "pipeline_teardown", "polling"]


class PipelineTeardown(Construct):
    """On stack deletion, before the pipeline, the group and the roles go: stops running executions,
    deletes the group's model packages, and deletes each endpoint with its configs, models and log
    group. Create and Update do nothing; Delete never fails the stack deletion.

    Defaults: the ml-pipeline lab's handler and names; ``properties`` adds what a lab's own handler reads
    (grant what it does on ``function.role``). One endpoint is passed as ``EndpointName``, several as
    ``EndpointNames``.

    Attributes:
        function: the custom-resource LabFunction (15 minutes: stopping a job takes a few).
        resource: the custom resource.
    """

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings, key: kms.IKey,
                 depends_on: list[IConstruct], endpoints: Sequence[str], handler_dir: str,
                 names: PipelineNames = ML_PIPELINE, resource_type: str = "Custom::PipelineTeardown",
                 description: str = "Clears the ml-pipeline lab's executions, model packages and endpoint before "
                                    "deletion",
                 properties: Mapping[str, object] | None = None) -> None:
        super().__init__(scope, id_)
        self.function = LabFunction(
            self, "Function", settings=settings, handler_dir=handler_dir, shared_modules=SHARED, log_key=key,
            timeout=Duration.minutes(15), description=description)
        role = self.function.role
        versions = [f"{endpoint}-v*" for endpoint in endpoints]
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="ListWhatToClear",
            actions=["sagemaker:ListPipelineExecutions", "sagemaker:ListModelPackages", "sagemaker:ListEndpointConfigs",
                     "sagemaker:ListModels"], resources=["*"]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="StopExecutions", actions=["sagemaker:StopPipelineExecution"],
            resources=[sagemaker_arn(f"pipeline/{names.pipeline}/execution/*")]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="DeletePackages", actions=["sagemaker:DeleteModelPackage"],
            resources=[sagemaker_arn(f"model-package/{names.group}/*")]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="DeleteTheEndpoint",
            actions=["sagemaker:DescribeEndpoint", "sagemaker:DeleteEndpoint", "sagemaker:DeleteEndpointConfig",
                     "sagemaker:DeleteModel"],
            resources=[*(sagemaker_arn(f"endpoint/{endpoint}") for endpoint in endpoints),
                       *(sagemaker_arn(f"endpoint-config/{name}") for name in versions),
                       *(sagemaker_arn(f"model/{name}") for name in versions)]))
        groups = [log_group_arn(ENDPOINT_LOG_GROUP_PREFIX + endpoint) for endpoint in endpoints]
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="DeleteTheEndpointLogGroup", actions=["logs:DeleteLogGroup"],
            resources=[arn for group in groups for arn in (group, f"{group}:*")]))
        endpoint_property = ({"EndpointName": endpoints[0]} if len(endpoints) == 1
                             else {"EndpointNames": list(endpoints)})
        self.resource = CustomResource(
            self, "Resource", service_token=self.function.function.function_arn, resource_type=resource_type,
            properties={"PipelineName": names.pipeline, "ModelPackageGroupName": names.group, **endpoint_property,
                        **(properties or {})})
        self.resource.node.add_dependency(role.policy)
        # Created after these, so deleted before them.
        for construct in depends_on:
            self.resource.node.add_dependency(construct)
