#!/usr/bin/env python3
"""The mlref-labs CDK app. The only place that reads context and environment.

Context (``cdk synth -c key=value``): the keys every lab shares (profile, labs, ttl_hours,
owner, alert_email), each lab's own, declared in its catalog entry (``catalog/``), and the
classroom's (``-c classroom=<lab>``: StackSets, catalog/classroom.py); docs/configuration.md
lists them. An unknown key or a bad value stops synth with one line.
Environment: CDK_DEFAULT_ACCOUNT and CDK_DEFAULT_REGION (set by the CDK CLI from your
AWS profile); the region defaults to us-east-1.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime

from catalog.toolchain import QUIET_TOOLCHAIN

# Node 20 is past end-of-life for jsii; silence its banner before jsii starts (so the imports come after).
for _name, _value in QUIET_TOOLCHAIN.items():
    os.environ.setdefault(_name, _value)

from aws_cdk import App, Environment, Stack, Validations  # noqa: E402 - after the banner is silenced
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks  # noqa: E402 - after the banner is silenced

from catalog import JANITOR_STACK_NAME, LABS  # noqa: E402 - after the banner is silenced
from catalog.config import AppConfig, ConfigError, is_app_key, read_config  # noqa: E402 - after the banner is silenced
from cdk_constructs.core.settings import LabSettings, Profile, utc_now  # noqa: E402 - after the banner is silenced
from labs.engine.deployed import METADATA_KEY  # noqa: E402 - after the banner is silenced
from stacks.janitor import JanitorStack  # noqa: E402 - after the banner is silenced

__all__ = ["AppConfig", "ConfigError", "build", "new_app", "read_config"]


def build(app: App, config: AppConfig, *, synth_time: datetime) -> dict[str, Stack]:
    """Adds the configured labs and the account janitor, or with ``-c classroom=<lab>`` only the
    classroom's admin-account stacks (stacks/classroom.py), and the profile's cdk-nag packs to ``app``."""
    packs = [AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True)]
    if config.profile is Profile.PRODUCTION:
        packs.append(NIST80053R5Checks(app, write_suppressions_to_cloud_formation=True))
    Validations.of(app).add_plugins(*packs)
    if config.classroom is not None:  # the admin account gets the classroom, never a lab of its own
        from stacks.classroom import build_classroom

        return build_classroom(app, config, config.classroom, synth_time=synth_time)
    env = Environment(account=config.account, region=config.region)
    stacks: dict[str, Stack] = {}
    for name in config.labs:
        settings = LabSettings(lab=name, profile=config.profile, owner=config.owner, ttl_hours=config.ttl_hours,
                               synth_time=synth_time, alert_email=config.alert_email)
        contract = LABS[name]
        stack = contract.stack_class()(app, contract.stack_name, settings=settings, env=env,
                                       options=config.options_of(name))
        # What the template was built from, so `labs inspect` and `labs status` price this variant.
        stack.template_options.metadata = {METADATA_KEY: {"lab": name, "context": dict(config.contexts[name])}}
        stacks[name] = stack
    # The account-level janitor: deploy once per account and region; it never expires.
    janitor = LabSettings(lab="janitor", profile=config.profile, owner=config.owner, ttl_hours=0,
                          synth_time=synth_time, alert_email=config.alert_email)
    stacks["janitor"] = JanitorStack(app, JANITOR_STACK_NAME, settings=janitor, env=env)
    return stacks


def new_app(**props) -> App:
    """The CDK App as the labs use it.

    aws-cdk-lib's built-in CloudFormation schema validation is off: it took 1.7 of
    the 2 seconds of synthesis, and cfn-lint, which the test suite runs on every
    template in both profiles with zero errors and warnings allowed, checks the
    same schemas and more. cdk-nag runs at every synth.
    """
    return App(builtin_cloud_formation_validation=False, **props)


def main() -> int:
    if "CDK_OUTDIR" not in os.environ:  # the CDK CLI sets it, with cdk.json's context and feature flags
        print("error: run the app through the CDK CLI, which passes cdk.json's context and feature flags: "
              "`labs synth LAB`, `make synth` or `npx cdk synth`", file=sys.stderr)
        return 2
    app = new_app()
    context = {key: value for key, value in app.node.get_all_context().items()
               if is_app_key(key) and value is not None}
    try:
        config = read_config(context, os.environ)
        if not config.alert_email:
            print("note: no cost budget (add -c alert_email=you@example.com for a per-lab AWS Budgets alert)",
                  file=sys.stderr)
        build(app, config, synth_time=utc_now())
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C during synth: the CDK CLI reports it; no traceback here
        print("interrupted", file=sys.stderr)
        sys.exit(130)
