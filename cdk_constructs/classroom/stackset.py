"""Making a lab's stack a StackSet member, and the StackSet that puts it into many accounts.

A plain CDK stack fails as a StackSet template: its ``CheckBootstrapVersion`` rule reads an SSM
parameter member accounts do not have, and its Lambda code sits in the admin account's
bootstrap bucket, which no member may read (aws-cdk#26310). ``MemberSynthesizer`` writes the
template without that rule and points every code asset at ``<AssetBucketPrefix>-<region>``:
one ``AssetShelf`` bucket per target region in the admin account, readable by the targets,
into which the shelf copies each asset after the CDK CLI has published it there. The member
template itself becomes a file asset of the admin stack, whose ``TemplateURL`` the StackSet
reads (the admin account's own bootstrap bucket, which CloudFormation reads as the admin).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import PurePosixPath

import jsii
from aws_cdk import (
    Aws,
    CfnParameter,
    CfnTag,
    CustomResource,
    Duration,
    FileAssetLocation,
    FileAssetPackaging,
    FileAssetSource,
    Fn,
    IStableAnyProducer,
    IStringProducer,
    Lazy,
    Stack,
    StackSynthesizer,
    Tags,
)
from aws_cdk import aws_cloudformation as cfn
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from catalog.classroom import (
    CAPABILITIES,
    EXECUTION_ROLE_NAME,
    FAILURE_TOLERANCE_PERCENTAGE,
    MAX_CONCURRENT_PERCENTAGE,
    READERS_SID,
    ClassroomOptions,
    assume_statement,
    shelf_base,
)
from cdk_constructs.core.functions import LabFunction
from cdk_constructs.core.roles import LabRole
from cdk_constructs.core.settings import LabSettings
from cdk_constructs.core.storage import LabBucket

ASSET_BUCKET_PARAMETER = "AssetBucketPrefix"
MEMBER_TAG_PRIORITY = 200  # above Tags.of(stack)'s default 100: a StackSet carries its members' tags


@jsii.implements(IStringProducer)
class _Later:
    """A value known only once another stack has been synthesized (read uncached)."""

    def __init__(self) -> None:
        self.value: str | None = None

    def produce(self, _context: object) -> str | None:
        return self.value


@jsii.implements(IStableAnyProducer)
class _Listed:
    def __init__(self, items: list) -> None:
        self.items = items

    def produce(self) -> list:
        return list(self.items)


def asset_fields(asset: FileAssetSource) -> dict:
    """A FileAssetSource as the keyword arguments jsii's ``add_file_asset`` takes."""
    fields = {"source_hash": asset.source_hash, "file_name": asset.file_name, "packaging": asset.packaging,
              "display_name": asset.display_name, "executable": asset.executable, "deploy_time": asset.deploy_time}
    return {key: value for key, value in fields.items() if value is not None}


def asset_key(asset: FileAssetSource) -> str:
    """The object key of an asset on the shelves: its content hash, ``.zip`` for a directory (zipped
    when published), else the file's own extension."""
    if asset.packaging == FileAssetPackaging.ZIP_DIRECTORY:
        return f"{asset.source_hash}.zip"
    return f"{asset.source_hash}{PurePosixPath(asset.file_name or '').suffix}"


class AssetShelf(Construct):
    """A region's bucket of StackSet member code, readable by the class's target accounts.

    The bucket (``<prefix>-<region>``, SSE-S3 because the readers are other accounts and an AWS
    managed key cannot be shared, public access blocked, TLS only, emptied and deleted with its
    stack) lets the listed ``reader_accounts``, or every account of ``organization``, get objects
    and nothing else. A custom resource (``lambdas/classroom_asset_copy``) copies each asset ``add``-ed here
    from the bootstrap bucket of this region into it.

    Attributes:
        bucket: the LabBucket.
        copier: the copy LabFunction.
        copy: the custom resource (its Objects list grows as assets are added).
    """

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings, bucket_name: str,
                 reader_accounts: Sequence[str] = (), organization: str | None = None,
                 access_logs_bucket: s3.IBucket | None = None) -> None:
        super().__init__(scope, id_)
        if bool(reader_accounts) == bool(organization):
            raise ValueError("an AssetShelf is read by listed accounts or by one organization")
        self.bucket = LabBucket(self, "Code", settings=settings, encryption_key=None,
                                access_logs_bucket=access_logs_bucket)
        self.bucket.bucket.node.default_child.bucket_name = bucket_name
        readers = [iam.AccountPrincipal(account) for account in reader_accounts] or [iam.AnyPrincipal()]
        self.bucket.bucket.add_to_resource_policy(iam.PolicyStatement(
            sid=READERS_SID, actions=["s3:GetObject"], principals=readers,
            resources=[self.bucket.bucket.arn_for_objects("*")],
            conditions={"StringEquals": {"aws:PrincipalOrgID": organization}} if organization else None,
        ))
        self._objects: list[dict] = []
        self._sources: list[str] = []
        self.copier = LabFunction(self, "Copier", settings=settings, handler_dir="classroom_asset_copy",
                                  shared_modules=["cfn_response"], timeout=Duration.minutes(5),
                                  description="Copies StackSet member code into the region's shared asset bucket")
        self.copy = CustomResource(self, "Copy", service_token=self.copier.function.function_arn,
                                   resource_type="Custom::StackSetAssets",
                                   properties={"Bucket": self.bucket.bucket.bucket_name,
                                               "Objects": Lazy.any(_Listed(self._objects))})
        self.copy.node.add_dependency(self.copier.role.policy)

    def add(self, asset: FileAssetSource) -> str:
        """Publishes ``asset`` with this stack and copies it onto the shelf; returns its key there."""
        key = asset_key(asset)
        if key in {item["Key"] for item in self._objects}:
            return key
        location = Stack.of(self).synthesizer.add_file_asset(**asset_fields(asset))
        self._objects.append({"SourceBucket": location.bucket_name, "SourceKey": location.object_key, "Key": key})
        bucket = self.bucket.bucket
        self.copier.role.add_to_principal_policy(iam.PolicyStatement(
            actions=["s3:GetObject"], resources=[f"arn:{Aws.PARTITION}:s3:::{location.bucket_name}/"
                                                 f"{location.object_key}"]))
        self.copier.role.add_to_principal_policy(iam.PolicyStatement(
            actions=["s3:PutObject"], resources=[bucket.arn_for_objects(key)]))
        return key


class MemberSynthesizer(StackSynthesizer):
    """Synthesizes a stack as a StackSet member template (not a deployable stack of the app).

    No bootstrap-version rule; every file asset goes onto each of ``shelves`` and the template
    reads it from ``<AssetBucketPrefix>-<AWS::Region>`` (the prefix a parameter that the StackSet
    sets, so one template serves every region); container images are refused. The template is
    written into the cloud assembly and handed to ``on_template`` (a FileAssetSource), which
    registers it with the admin stack. Build the member stack before the admin stack in the app,
    so it is synthesized first.
    """

    def __init__(self, *, shelves: Sequence[AssetShelf], on_template: Callable[[FileAssetSource], None]) -> None:
        super().__init__()
        self._shelves = list(shelves)
        self._on_template = on_template
        self._prefix: CfnParameter | None = None

    def add_file_asset(self, asset: FileAssetSource) -> FileAssetLocation:  # jsii calls overrides positionally
        if not self._shelves:
            raise ValueError("a StackSet member with code assets needs an asset shelf per target region")
        keys = {shelf.add(asset) for shelf in self._shelves}
        key = keys.pop()
        if self._prefix is None:
            self._prefix = CfnParameter(self._bound_stack, ASSET_BUCKET_PARAMETER, type="String",
                                        description="Prefix of the admin account's per-region code buckets")
        bucket = Fn.join("-", [self._prefix.value_as_string, Aws.REGION])
        return FileAssetLocation(bucket_name=bucket, object_key=key,
                                 http_url=Fn.join("", ["https://", bucket, f".s3.{Aws.URL_SUFFIX}/{key}"]),
                                 s3_object_url=Fn.join("", ["s3://", bucket, f"/{key}"]))

    def add_docker_image_asset(self, _asset: object) -> object:
        raise ValueError("a StackSet member cannot use container image assets: no registry is shared with members")

    @property
    def cloud_formation_execution_role_arn(self) -> str:
        raise ValueError("a StackSet member has no CDK bootstrap deploy role: StackSets deploy with their own "
                         "execution role")

    def synthesize(self, session: object) -> None:
        self._on_template(self._synthesize_template(session))


class TemplateUrl:
    """The HTTPS URL of a member template: ``publish`` (the member's synthesis) registers the
    template as a file asset of the admin stack it was ``bind``-ed to."""

    def __init__(self) -> None:
        self._stack: Stack | None = None
        self._url = _Later()
        self.value: str = Lazy.uncached_string(self._url)

    def bind(self, stack: Stack) -> None:
        self._stack = stack

    def publish(self, template: FileAssetSource) -> None:
        if self._stack is None:
            raise ValueError("a member template was synthesized before its admin stack was built")
        self._url.value = self._stack.synthesizer.add_file_asset(**asset_fields(template)).http_url


def shelf_prefix(base: str) -> str:
    """The asset buckets' common prefix in the admin account: ``<base>-<admin account>``."""
    return f"{base}-{Aws.ACCOUNT_ID}"


def shelf_bucket_name(base: str) -> str:
    return f"{shelf_prefix(base)}-{Aws.REGION}"

class ClassroomStackSet(Construct):
    """A StackSet of one member template into the class's targets.

    Defaults (from ``catalog.classroom``): every account of a region at once
    (``MaxConcurrentPercentage`` 100) with soft failure tolerance, so a tenth of a region's
    accounts may fail without stopping the rest; regions in parallel, in the order given;
    managed execution, so operations queue instead of failing while one runs; IAM capabilities
    (the labs create unnamed roles). Service-managed: OUs as targets, auto-deployment on and
    ``RetainStacksOnAccountRemoval`` false, so an account that leaves the OU loses its copy
    and one that joins gets it. Self-managed: a role of this stack administers the StackSet
    and may assume only ``AWSCloudFormationStackSetExecutionRole`` in the target accounts,
    named in batches of ``ACCOUNTS_PER_ADMIN_POLICY`` per managed policy (the role's own policy,
    then ``AdministrationTargets<n>``); the accounts form one instance group per shelf batch
    (``ClassroomOptions.shelf_batches``), each later group reading its code from its own shelves
    (``AssetBucketPrefix`` overridden). Deleting this resource deletes every instance first, then
    the StackSet.

    Attributes:
        stack_set: the ``AWS::CloudFormation::StackSet``.
        admin_role: the administration LabRole (self-managed), else None.
        admin_policies: the administration role's managed policies beyond its own (large classes).
    """

    def __init__(self, scope: Construct, id_: str, *, options: ClassroomOptions, stack_set_name: str,
                 description: str, template_url: str, parameters: dict[str, str], tags: dict[str, str]) -> None:
        super().__init__(scope, id_)
        self.admin_role: LabRole | None = None
        self.admin_policies: list[iam.ManagedPolicy] = []
        if not options.service_managed:
            self.admin_role = LabRole(
                self, "Administration",
                assumed_by=iam.ServicePrincipal("cloudformation.amazonaws.com",
                                                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}),
                description=f"CloudFormation administers StackSet {stack_set_name} with this role")
            self._allow_targets(options)
        self.stack_set = cfn.CfnStackSet(
            self, "StackSet",
            stack_set_name=stack_set_name, description=description, template_url=template_url,
            permission_model="SERVICE_MANAGED" if options.service_managed else "SELF_MANAGED",
            administration_role_arn=self.admin_role.role_arn if self.admin_role else None,
            execution_role_name=None if options.service_managed else EXECUTION_ROLE_NAME,
            auto_deployment=cfn.CfnStackSet.AutoDeploymentProperty(
                enabled=True, retain_stacks_on_account_removal=False) if options.service_managed else None,
            call_as=options.call_as if options.service_managed else None,
            capabilities=list(CAPABILITIES),
            managed_execution={"Active": True},  # a JSON property in the L1: keys as CloudFormation spells them
            operation_preferences=cfn.CfnStackSet.OperationPreferencesProperty(
                concurrency_mode="SOFT_FAILURE_TOLERANCE",
                max_concurrent_percentage=MAX_CONCURRENT_PERCENTAGE,
                failure_tolerance_percentage=FAILURE_TOLERANCE_PERCENTAGE,
                region_concurrency_type="PARALLEL", region_order=list(options.regions)),
            stack_instances_group=self._instance_groups(options, parameters),
            parameters=[cfn.CfnStackSet.ParameterProperty(parameter_key=key, parameter_value=value)
                        for key, value in parameters.items()],
            tags=[CfnTag(key=key, value=value) for key, value in tags.items()],
        )
        for key, value in tags.items():  # the members' tags, over the admin stack's own
            Tags.of(self.stack_set).add(key, value, priority=MEMBER_TAG_PRIORITY)
        if self.admin_role is not None:
            # Instances are deleted with this role too: it must outlive the StackSet.
            for policy in [self.admin_role.policy, *self.admin_policies]:
                self.stack_set.node.add_dependency(policy)

    def _allow_targets(self, options: ClassroomOptions) -> None:
        """Each batch of accounts' execution roles in one managed policy: the first in the role's own."""
        for index, accounts in enumerate(options.admin_policy_batches):
            statement = iam.PolicyStatement.from_json(assume_statement(accounts, Aws.PARTITION))
            if index == 0:
                self.admin_role.add_to_principal_policy(statement)
                continue
            self.admin_policies.append(iam.ManagedPolicy(
                self, f"AdministrationTargets{index + 1}", statements=[statement], roles=[self.admin_role.role],
                description=f"StackSet administration: execution roles of target batch {index + 1}"))

    @staticmethod
    def _instance_groups(options: ClassroomOptions, parameters: dict[str, str]) -> list:
        if options.service_managed:
            return [cfn.CfnStackSet.StackInstancesProperty(
                deployment_targets=cfn.CfnStackSet.DeploymentTargetsProperty(organizational_unit_ids=list(options.ous)),
                regions=list(options.regions))]
        groups = []
        for index, accounts in enumerate(options.shelf_batches):
            overrides = None
            if index and ASSET_BUCKET_PARAMETER in parameters:
                overrides = [cfn.CfnStackSet.ParameterProperty(parameter_key=ASSET_BUCKET_PARAMETER,
                                                               parameter_value=shelf_prefix(shelf_base(index)))]
            groups.append(cfn.CfnStackSet.StackInstancesProperty(
                deployment_targets=cfn.CfnStackSet.DeploymentTargetsProperty(accounts=list(accounts)),
                regions=list(options.regions), parameter_overrides=overrides))
        return groups
