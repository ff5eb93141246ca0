#!/usr/bin/env python3
"""The mlref-labs CDK app. The only place that reads context and environment.

Context (``cdk synth -c key=value``):
    profile    sandbox (default) or production
    labs       comma-separated lab names, or "all" (default)
    ttl_hours  sandbox expiry in hours, 0 to 168 (default 4; 0 = never expires)
    owner      who owns the deployed lab, for the ``owner`` tag (default: $USER)
    alert_email  where a per-lab AWS Budgets alert goes (optional; no budget without it)
    clickstream_delivery     firehose (default) or streaming (Redshift streaming ingestion)
    clickstream_stream_mode  provisioned (default, one shard) or on_demand
    clickstream_azs          three Availability Zones for the Redshift subnets (optional)
    training_source          fsx (default, FSx for Lustre) or efs, for fsx-training
    training_instance_type   the practice jobs' instance type (default ml.p3.2xlarge)
    training_az              the zone of the training subnet and file system (optional)
Environment: CDK_DEFAULT_ACCOUNT and CDK_DEFAULT_REGION (set by the CDK CLI from
your AWS profile); the region defaults to us-east-1.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

# Node 20 is past end-of-life for jsii; silence its banner before jsii starts.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

from aws_cdk import App, Environment, Stack, Validations  # noqa: E402
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks  # noqa: E402

from cdk_constructs.settings import LabSettings, Profile, utc_now  # noqa: E402
from stacks import LABS  # noqa: E402
from stacks.clickstream import ClickstreamOptions, Delivery, firehose_cidr  # noqa: E402
from stacks.fsx_training import DEFAULT_INSTANCE_TYPE, FsxTrainingOptions, TrainingSource  # noqa: E402
from stacks.janitor import STACK_NAME as JANITOR_STACK_NAME, JanitorStack  # noqa: E402

DEFAULT_REGION = "us-east-1"
DEFAULT_TTL_HOURS = 4
MAX_TTL_HOURS = 168
OWNER_PATTERN = re.compile(r"^[\w .:/=+\-@]{1,128}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ConfigError(ValueError):
    """A context value that cannot be used; the message says how to fix it."""


@dataclass(frozen=True)
class AppConfig:
    profile: Profile
    labs: tuple[str, ...]
    ttl_hours: int
    owner: str
    account: str | None
    region: str
    alert_email: str | None = None
    clickstream: ClickstreamOptions = ClickstreamOptions()
    fsx_training: FsxTrainingOptions = FsxTrainingOptions()

    def options_for(self, lab: str) -> dict[str, object]:
        """Keyword arguments for the lab's stack beyond its settings."""
        options = {"clickstream": self.clickstream, "fsx-training": self.fsx_training}
        return {"options": options[lab]} if lab in options else {}


def _choice(context: Mapping[str, object], key: str, allowed: list[str], default: str) -> str:
    value = str(context.get(key) or default).strip().lower()
    if value not in allowed:
        raise ConfigError(f"{key}={value!r} is not allowed; use one of: {', '.join(allowed)} (e.g. -c {key}={default})")
    return value


def read_clickstream(context: Mapping[str, object], region: str) -> ClickstreamOptions:
    delivery = Delivery(_choice(context, "clickstream_delivery", [d.value for d in Delivery], Delivery.FIREHOSE.value))
    mode = _choice(context, "clickstream_stream_mode", ["provisioned", "on_demand"], "provisioned")
    zones_value = context.get("clickstream_azs") or ""
    zones = tuple(z.strip() for z in (zones_value if isinstance(zones_value, list) else str(zones_value).split(","))
                  if str(z).strip())
    if zones and (len(zones) != 3 or len(set(zones)) != 3 or not all(z.startswith(region) for z in zones)):
        raise ConfigError(
            f"clickstream_azs={','.join(zones)!r}: give three different zones of {region} "
            f"(e.g. -c clickstream_azs={region}a,{region}b,{region}c)"
        )
    if delivery is Delivery.FIREHOSE:
        try:
            firehose_cidr(region)
        except ValueError:
            raise ConfigError(
                f"region {region} has no published Firehose CIDR to allow into Redshift; "
                "use -c clickstream_delivery=streaming or another region"
            ) from None
    return ClickstreamOptions(delivery=delivery, on_demand=mode == "on_demand", availability_zones=zones)


INSTANCE_TYPE_PATTERN = re.compile(r"^ml\.[a-z0-9]+\.[0-9]*x?large$")


def read_fsx_training(context: Mapping[str, object], region: str) -> FsxTrainingOptions:
    source = TrainingSource(_choice(context, "training_source", [s.value for s in TrainingSource],
                                    TrainingSource.FSX.value))
    instance_type = str(context.get("training_instance_type") or DEFAULT_INSTANCE_TYPE).strip()
    if not INSTANCE_TYPE_PATTERN.match(instance_type):
        raise ConfigError(f"training_instance_type={instance_type!r} is not a SageMaker instance type "
                          "(e.g. -c training_instance_type=ml.g5.xlarge)")
    zone = str(context.get("training_az") or "").strip() or None
    if zone and not re.fullmatch(rf"{re.escape(region)}[a-z]", zone):
        raise ConfigError(f"training_az={zone!r} is not a zone of {region} (e.g. -c training_az={region}a)")
    return FsxTrainingOptions(source=source, instance_type=instance_type, availability_zone=zone)


def read_config(context: Mapping[str, object], environ: Mapping[str, str]) -> AppConfig:
    """Validates context and environment; raises ConfigError with a one-line fix."""
    profile_value = str(context.get("profile") or Profile.SANDBOX.value)
    allowed_profiles = [p.value for p in Profile]
    if profile_value not in allowed_profiles:
        raise ConfigError(
            f"profile={profile_value!r} is not a profile; use one of: {', '.join(allowed_profiles)} "
            f"(e.g. -c profile=sandbox)"
        )

    labs_value = context.get("labs") or "all"
    names = labs_value if isinstance(labs_value, list) else str(labs_value).split(",")
    names = [str(n).strip() for n in names if str(n).strip()]
    if names == ["all"] or not names:
        names = list(LABS)
    unknown = [n for n in names if n not in LABS]
    if unknown:
        raise ConfigError(
            f"labs={','.join(unknown)!r}: unknown lab; choose from: {', '.join(LABS)} or all (e.g. -c labs=data-lake)"
        )

    ttl_value = context.get("ttl_hours", DEFAULT_TTL_HOURS)
    try:
        ttl_hours = int(str(ttl_value).strip())
    except ValueError:
        ttl_hours = -1
    if not 0 <= ttl_hours <= MAX_TTL_HOURS or str(ttl_value).strip().lower() in {"true", "false"}:
        raise ConfigError(
            f"ttl_hours={ttl_value!r} is not allowed; use a whole number of hours from 0 (never expires) "
            f"to {MAX_TTL_HOURS} (e.g. -c ttl_hours=4)"
        )

    owner = str(context.get("owner") or environ.get("USER") or "unknown")
    if not OWNER_PATTERN.match(owner):
        raise ConfigError(
            f"owner={owner!r} cannot be a tag value; use 1-128 letters, digits, spaces or _ . : / = + - @ "
            f"(e.g. -c owner=alice)"
        )

    alert_email = str(context.get("alert_email") or "").strip() or None
    if alert_email and not EMAIL_PATTERN.match(alert_email):
        raise ConfigError(
            f"alert_email={alert_email!r} is not an e-mail address; use one like -c alert_email=you@example.com"
        )

    region = environ.get("CDK_DEFAULT_REGION") or DEFAULT_REGION
    return AppConfig(
        alert_email=alert_email,
        clickstream=read_clickstream(context, region) if "clickstream" in names else ClickstreamOptions(),
        fsx_training=read_fsx_training(context, region) if "fsx-training" in names else FsxTrainingOptions(),
        profile=Profile(profile_value),
        labs=tuple(dict.fromkeys(names)),
        ttl_hours=ttl_hours,
        owner=owner,
        account=environ.get("CDK_DEFAULT_ACCOUNT") or None,
        region=region,
    )


def build(app: App, config: AppConfig, *, synth_time: datetime) -> dict[str, Stack]:
    """Adds the configured labs and the profile's cdk-nag packs to ``app``."""
    packs = [AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True)]
    if config.profile is Profile.PRODUCTION:
        packs.append(NIST80053R5Checks(app, write_suppressions_to_cloud_formation=True))
    Validations.of(app).add_plugins(*packs)
    stacks: dict[str, Stack] = {}
    for name in config.labs:
        lab = LABS[name]
        settings = LabSettings(
            lab=name, profile=config.profile, owner=config.owner,
            ttl_hours=config.ttl_hours, synth_time=synth_time, alert_email=config.alert_email,
        )
        stacks[name] = lab.stack_class(
            app, lab.stack_name, settings=settings,
            env=Environment(account=config.account, region=config.region),
            **config.options_for(name),
        )
    # The account-level janitor: deploy once per account and region; it never expires.
    janitor = LabSettings(lab="janitor", profile=config.profile, owner=config.owner,
                          ttl_hours=0, synth_time=synth_time)
    stacks["janitor"] = JanitorStack(
        app, JANITOR_STACK_NAME, settings=janitor,
        env=Environment(account=config.account, region=config.region),
    )
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
    app = new_app()
    keys = ("profile", "labs", "ttl_hours", "owner", "alert_email",
            "clickstream_delivery", "clickstream_stream_mode", "clickstream_azs",
            "training_source", "training_instance_type", "training_az")
    context = {key: app.node.try_get_context(key) for key in keys}
    context = {key: value for key, value in context.items() if value is not None}
    try:
        config = read_config(context, os.environ)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not config.alert_email:
        print("note: no cost budget (add -c alert_email=you@example.com for a per-lab AWS Budgets alert)",
              file=sys.stderr)
    build(app, config, synth_time=utc_now())
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
