"""The classroom: one lab in every student account, through CloudFormation StackSets.

Built by app.py, instead of the labs, when ``-c classroom=<lab>`` is given; every stack here
goes into the admin account (the organization's management account or a delegated
administrator):

- ``mlref-classroom-assets-<region>``, one per target region (and ``...-<region>-<n>`` for each
  further batch of a class too large for one bucket policy): the bucket members read their
  Lambda code from (``AssetShelf``), never expires (nothing in it bills while idle);
- ``mlref-classroom-<lab>-janitor``: the StackSet ``mlref-janitor-<lab>`` of the account
  janitor into the same targets, never expires, so every account sweeps and verifies itself
  after the lab's stack is gone;
- ``mlref-classroom-<lab>``: the StackSet ``mlref-<lab>`` of the lab's sandbox stack, and the
  class's expiry: at ``expires-at`` its schedule deletes this stack, and CloudFormation deletes
  the StackSet's instances, account by account, before the StackSet itself.

The member templates (the lab's and the janitor's stacks built with ``MemberSynthesizer``) are
not deployable stacks of the app: each is a file asset of the admin stack whose StackSet
uses it.
"""

from __future__ import annotations

from datetime import datetime

from aws_cdk import App, CfnOutput, Environment, Stack
from constructs import Construct

from catalog import LABS
from catalog.classroom import ClassroomOptions, assets_stack_name, shelf_base
from catalog.config import AppConfig
from cdk_constructs.classroom.stackset import (
    ASSET_BUCKET_PARAMETER,
    AssetShelf,
    ClassroomStackSet,
    MemberSynthesizer,
    TemplateUrl,
    shelf_bucket_name,
    shelf_prefix,
)
from cdk_constructs.core.profile import apply_lab_profile, apply_profile
from cdk_constructs.core.settings import LabSettings, Profile
from cdk_constructs.core.storage import access_log_bucket, empty_logs_last
from stacks.janitor import JanitorStack


class AssetShelfStack(Stack):
    """One region's code bucket for the StackSet members (``AssetShelf``) and its access logs: for the
    ``batch``-th batch of the class's accounts (``ClassroomOptions.shelf_batches``)."""

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings, options: ClassroomOptions,
                 batch: int = 0, **kwargs) -> None:
        super().__init__(scope, id_, description="mlref-labs classroom: Lambda code the StackSet members read",
                         **kwargs)
        apply_profile(self, settings)
        self.access_logs = access_log_bucket(self, settings)
        self.shelf = AssetShelf(self, "Shelf", settings=settings, bucket_name=shelf_bucket_name(shelf_base(batch)),
                                reader_accounts=options.shelf_batches[batch], organization=options.organization,
                                access_logs_bucket=self.access_logs.bucket)
        empty_logs_last(self.access_logs, self.shelf.bucket)


class ClassroomJanitorStack(Stack):
    """The StackSet of the account janitor into the class's targets; never expires.

    Attributes:
        member: the janitor's member stack (its template is the StackSet's).
        stack_set: the ClassroomStackSet.
    """

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings, options: ClassroomOptions,
                 template_url: TemplateUrl, member: Stack, **kwargs) -> None:
        super().__init__(scope, id_, description=f"mlref-labs classroom {options.lab}: the account janitor in every "
                                                 "target account (StackSet)", **kwargs)
        apply_profile(self, settings)
        self.member = member
        template_url.bind(self)
        self.stack_set = ClassroomStackSet(
            self, "Janitor", options=options, stack_set_name=options.janitor_stack_set_name,
            description="mlref-labs janitor: sweeps what deleted lab stacks leave, in each account and region",
            template_url=template_url.value, parameters={ASSET_BUCKET_PARAMETER: shelf_prefix(shelf_base())},
            tags=settings.tags)
        CfnOutput(self, "StackSetName", value=options.janitor_stack_set_name,
                  description="the janitor's StackSet (labs classroom status shows each account's last sweep)")


class ClassroomStack(Stack):
    """The lab's StackSet into the class's targets, and the class's expiry.

    Attributes:
        member: the lab's member stack (its template is the StackSet's).
        stack_set: the ClassroomStackSet.
    """

    def __init__(self, scope: Construct, id_: str, *, settings: LabSettings, member_settings: LabSettings,
                 options: ClassroomOptions, template_url: TemplateUrl, member: Stack, **kwargs) -> None:
        super().__init__(scope, id_, description=f"mlref-labs classroom {options.lab}: the lab in every target "
                                                 "account (StackSet) and the class's expiry", **kwargs)
        self.settings, self.member = settings, member
        # The expiry deletes this stack; CloudFormation then deletes every instance, then the StackSet.
        apply_lab_profile(self, settings)
        template_url.bind(self)
        self.stack_set = ClassroomStackSet(
            self, "Lab", options=options, stack_set_name=options.stack_set_name,
            description=f"mlref-labs {options.lab} for a class: {LABS[options.lab].demonstrates}"[:1024],
            template_url=template_url.value, parameters={ASSET_BUCKET_PARAMETER: shelf_prefix(shelf_base())},
            tags=member_settings.tags)
        CfnOutput(self, "StackSetName", value=options.stack_set_name, description="the lab's StackSet")
        CfnOutput(self, "PermissionModel", value=options.permissions, description="self-managed or service-managed")
        CfnOutput(self, "CallAs", value=options.call_as, description="how `labs classroom` calls StackSets")
        if options.ous:
            CfnOutput(self, "TargetOUs", value=",".join(options.ous), description="the OUs the lab is deployed to")


def build_classroom(app: App, config: AppConfig, options: ClassroomOptions, *,
                    synth_time: datetime) -> dict[str, Stack]:
    """Adds the classroom's stacks to ``app``, by role: ``assets-<region>``, ``janitor``, ``classroom``.
    The member stacks (templates only, not deployable) are the janitor's and the classroom's ``member``."""
    if config.profile is not Profile.SANDBOX:
        raise ValueError("a classroom is a sandbox: every account's copy expires and is deleted")
    lab = LABS[options.lab]

    def settings(name: str, ttl_hours: int, **extra: object) -> LabSettings:
        return LabSettings(lab=name, profile=Profile.SANDBOX, owner=config.owner, ttl_hours=ttl_hours,
                           synth_time=synth_time, **extra)

    admin = Environment(account=config.account, region=config.region)
    shelves = {(region, batch): AssetShelfStack(app, assets_stack_name(region, batch),
                                                settings=settings("classroom-assets", 0), options=options, batch=batch,
                                                env=Environment(account=config.account, region=region))
               for region in options.regions for batch in range(len(options.shelf_batches))}
    janitor_url, lab_url = TemplateUrl(), TemplateUrl()
    # Members first: the app synthesizes stacks in the order they were added, and each member's
    # template must exist before the admin stack that deploys it is written.
    members = [shelf.shelf for shelf in shelves.values()]
    janitor_member = JanitorStack(app, f"{options.janitor_stack_name}-member", settings=settings("janitor", 0),
                                  synthesizer=MemberSynthesizer(shelves=members, on_template=janitor_url.publish))
    member_settings = settings(lab.name, config.ttl_hours, alert_email=config.alert_email, expires_itself=False,
                               copies_per_account=len(options.regions))
    lab_member = lab.stack_class()(app, f"{options.stack_name}-member", settings=member_settings,
                                   options=config.options_of(lab.name),
                                   synthesizer=MemberSynthesizer(shelves=members, on_template=lab_url.publish))
    janitor = ClassroomJanitorStack(app, options.janitor_stack_name, settings=settings(f"classroom-{lab.name}", 0),
                                    options=options, template_url=janitor_url, member=janitor_member, env=admin)
    classroom = ClassroomStack(app, options.stack_name, settings=settings(f"classroom-{lab.name}", config.ttl_hours),
                               member_settings=member_settings, options=options, template_url=lab_url,
                               member=lab_member, env=admin)
    for shelf in shelves.values():
        janitor.add_stack_dependency(shelf)
    classroom.add_stack_dependency(janitor)  # each account's janitor is there before, and outlives, the lab
    stacks: dict[str, Stack] = {f"assets-{region}" + (f"-{batch + 1}" if batch else ""): shelf
                                for (region, batch), shelf in shelves.items()}
    stacks.update({"janitor": janitor, "classroom": classroom})
    return stacks

