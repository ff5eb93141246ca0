"""Before ``labs deploy mlops``: what the account already has that changes the lab's cost or stops it.

- Trails: CloudTrail bills nothing for the first copy of a region's management events, and $2.00 per
  100,000 for every further copy (pricing/prices.toml). An account with an organization or other trail
  already recording them makes the lab's trail a paid copy: said, with an estimate.
- The production fleet: blue/green provisions a second fleet while it bakes, so the account needs
  twice the instance count of "ml.t2.medium for endpoint usage" (new accounts often have less).
- GitHub: the connection must be AVAILABLE (its handshake completed in the console), or the Source
  action fails on every run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError

from catalog import mlops as lab
from catalog.mlops import MlopsOptions
from catalog.prices import price, usd
from labs.engine.errors import LabError
from labs.practice.endpoint.checks import endpoint_quota_name, sagemaker_quotas

EVENTS_PER_HOUR = 1000  # write management events of a busy sandbox account: an assumption, said so


def code(error: Exception) -> str:
    return error.response["Error"]["Code"] if isinstance(error, ClientError) else "unreachable"


def check_trails(cloudtrail: Any, out: Callable[[str], None]) -> None:
    listed = cloudtrail.describe_trails(includeShadowTrails=True)["trailList"]
    trails = [t for t in listed if t.get("Name") != lab.TRAIL]
    if not trails:
        out("CloudTrail: no other trail here, so the lab's trail is the free first copy of management events")
        return
    hourly = price("cloudtrail_paid_management_events_100k") * EVENTS_PER_HOUR / 100_000
    names = ", ".join(t.get("Name", "?") for t in trails[:3])
    out(f"note: {len(trails)} trail(s) already record this region ({names}): the lab's trail is a paid copy, "
        f"about {usd(hourly)}/hour at {EVENTS_PER_HOUR} write events an hour (an estimate)")


def check_fleet_quota(quotas: Any, options: MlopsOptions, region: str, out: Callable[[str], None]) -> None:
    name = endpoint_quota_name(lab.PRODUCTION_INSTANCE_TYPE)
    needed = 2 * options.instance_count  # blue and green while a rollout bakes
    value = sagemaker_quotas(quotas, [name]).get(name)
    if value is None:
        raise LabError(f"SageMaker has no quota \"{name}\" in {region}: deploy with -c mlops_production=serverless")
    if value < needed:
        raise LabError(f"Service Quotas \"{name}\" is {value:g} in {region} and a blue/green rollout of "
                       f"{options.instance_count} instances needs {needed}: request an increase or deploy with "
                       "-c mlops_production=serverless")
    out(f"quota: \"{name}\" = {value:g} (a rollout needs {needed})")


def check_connection(connections: Any, arn: str, out: Callable[[str], None]) -> None:
    status = connections.get_connection(ConnectionArn=arn)["Connection"].get("ConnectionStatus")
    if status != "AVAILABLE":
        raise LabError(f"connection {arn} is {status}: complete its handshake in the console (Developer Tools > "
                       "Settings > Connections > Update pending connection), then deploy again")
    out(f"GitHub: connection {arn.rsplit('/', 1)[-1]} is AVAILABLE")


def preflight(session: Any, options: MlopsOptions, out: Callable[[str], None]) -> None:
    """``labs deploy mlops``'s preflight; a LabError stops the deploy, anything unreadable is a note."""
    region = session.region_name
    try:
        check_trails(session.client("cloudtrail"), out)
    except (ClientError, EndpointConnectionError) as error:
        out(f"note: cannot list trails ({code(error)}): if another trail records management events here, the "
            "lab's trail bills them as a second copy")
    if not options.serverless_production:
        try:
            check_fleet_quota(session.client("service-quotas"), options, region, out)
        except (ClientError, EndpointConnectionError) as error:
            out(f"warning: cannot read SageMaker quotas ({code(error)}); a rollout needs "
                f"{2 * options.instance_count} of \"{endpoint_quota_name(lab.PRODUCTION_INSTANCE_TYPE)}\"")
    if options.github:
        try:
            check_connection(session.client("codeconnections"), options.connection_arn, out)
        except (ClientError, EndpointConnectionError) as error:
            raise LabError(f"cannot read connection {options.connection_arn} ({code(error)}): check the ARN and "
                           "its region") from None
