"""What the sandbox and production profiles do to a whole stack."""

from __future__ import annotations

import jsii
from aws_cdk import (
    Annotations,
    Aspects,
    CfnResource,
    IAspect,
    RemovalPolicies,
    RemovalPolicy,
    Stack,
    Tags,
)
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import IConstruct

from cdk_constructs.core.expiry import LabExpiry
from cdk_constructs.core.settings import LabSettings

# Stateful resource types kept on stack deletion in production.
STATEFUL_TYPES = [
    "AWS::S3::Bucket",
    "AWS::KMS::Key",
    "AWS::Logs::LogGroup",
    "AWS::Kinesis::Stream",
    "AWS::FSx::FileSystem",
    "AWS::Redshift::Cluster",
    "AWS::RedshiftServerless::Namespace",
    "AWS::SecretsManager::Secret",
]


@jsii.implements(IAspect)
class StackOwnedLambdaLogGroups:
    """Gives every Lambda function without a log group one owned by the stack.

    Functions built by `cdk_constructs.core.functions.LabFunction` already have one. This
    covers the functions aws-cdk-lib creates for custom-resource providers (for
    example S3 auto-delete-objects), which would otherwise log into a group the
    Lambda service creates at run time and ``cdk destroy`` leaves behind. The
    function references the group, so CloudFormation deletes the group only after
    the function and every custom resource that invokes it.
    """

    def __init__(self, *, settings: LabSettings, log_key: kms.IKey | None = None) -> None:
        self._settings = settings
        self._log_key = log_key

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, lambda_.CfnFunction):
            if node.logging_config is None:
                node.logging_config = lambda_.CfnFunction.LoggingConfigProperty(
                    log_group=self._log_group_for(node).log_group_name
                )
        elif isinstance(node, CfnResource) and node.cfn_resource_type == "AWS::Lambda::Function":
            # Custom-resource providers are plain CfnResources without LoggingConfig.
            node.add_property_override(
                "LoggingConfig.LogGroup", self._log_group_for(node).log_group_name
            )

    def _log_group_for(self, node: CfnResource) -> logs.LogGroup:
        existing = node.node.scope.node.try_find_child(f"{node.node.id}LogGroup")
        if isinstance(existing, logs.LogGroup):  # synthesized before: aspects run again
            return existing
        return logs.LogGroup(
            node.node.scope,
            f"{node.node.id}LogGroup",
            retention=self._settings.log_retention,
            removal_policy=self._settings.removal_policy,
            encryption_key=self._log_key,
        )


def apply_profile(stack: Stack, settings: LabSettings, *, log_key: kms.IKey | None = None) -> None:
    """Tags the stack and applies the profile's removal policies and log groups.

    ``log_key`` encrypts the log groups added for functions that have none.

    Sandbox: every resource is DESTROY (no Retain or Snapshot anywhere), so
    ``cdk destroy`` removes everything. Production: stateful resources are RETAIN.
    """
    for key, value in settings.tags.items():
        Tags.of(stack).add(key, value)  # every taggable resource
        # The stack itself (the cloud assembly's stack tags): `labs status` and the expiry read them.
        stack.tags.set_tag(key, value)
    Aspects.of(stack).add(StackOwnedLambdaLogGroups(settings=settings, log_key=log_key))
    if settings.is_sandbox:
        RemovalPolicies.of(stack).destroy()
    else:
        RemovalPolicies.of(stack).apply(
            RemovalPolicy.RETAIN, apply_to_resource_types=STATEFUL_TYPES
        )


def apply_lab_profile(stack: Stack, settings: LabSettings, *, log_key: kms.IKey | None = None) -> None:
    """``apply_profile``, and in sandbox the lab's expiry (or a warning when it has none), unless something
    else expires the stack (``settings.expires_itself`` false: a StackSet member)."""
    apply_profile(stack, settings, log_key=log_key)
    if settings.is_sandbox and settings.expires_itself:
        if settings.expires_at:
            LabExpiry(stack, "Expiry", settings=settings, log_key=log_key)
        else:
            Annotations.of(stack).add_warning_v2(
                "mlref:no-expiry", f"{stack.stack_name}: ttl_hours=0, so this sandbox lab never expires: "
                "destroy it yourself when you are done",
            )
