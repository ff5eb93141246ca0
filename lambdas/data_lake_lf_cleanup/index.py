"""Custom resource: remove a lab's own Lake Formation admins when the lab is deleted.

Lake Formation data lake settings are account-wide and outlive the stack. A role
the stack deleted but left in the admin list makes every later
PutDataLakeSettings fail with "Invalid principal". On Delete this handler removes
the principals named in ``ResourceProperties.Principals`` from the admin list and
keeps every other admin and setting. Create and Update do nothing.

Delete never fails the stack deletion: a problem is logged and reported as SUCCESS
with the reason, so a lab can always be torn down.
"""

from __future__ import annotations

import logging
from typing import Any

import boto3

try:
    from cfn_response import send_response  # copied beside this file in the Lambda asset
except ImportError:  # imported as a package (tests)
    from lambdas.shared.cfn_response import send_response

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)


def remove_admins(client: Any, principals: list[str]) -> list[str]:
    """Removes ``principals`` from the data lake admins; returns those actually removed."""
    settings = client.get_data_lake_settings()["DataLakeSettings"]
    admins = settings.get("DataLakeAdmins", [])
    kept = [a for a in admins if a.get("DataLakePrincipalIdentifier") not in principals]
    removed = [a["DataLakePrincipalIdentifier"] for a in admins if a not in kept]
    if removed:
        settings["DataLakeAdmins"] = kept
        client.put_data_lake_settings(DataLakeSettings=settings)
    return removed


def handler(event: dict, context: Any, client: Any = None) -> None:
    request_type = event.get("RequestType")
    principals = list(event.get("ResourceProperties", {}).get("Principals", []))
    LOGGER.info("%s for principals %s", request_type, principals)
    if request_type != "Delete":
        send_response(event, "SUCCESS", f"{request_type}: nothing to do")
        return
    try:
        removed = remove_admins(client or boto3.client("lakeformation"), principals)
        reason = f"removed {len(removed)} admin(s): {', '.join(removed) or 'none present'}"
    except Exception as error:  # noqa: BLE001 - deletion must never be blocked
        reason = f"could not remove admins {principals}: {error}"
        LOGGER.error(reason)
    LOGGER.info(reason)
    send_response(event, "SUCCESS", reason)
