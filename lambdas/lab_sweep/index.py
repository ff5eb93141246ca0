"""Janitor Lambda: sweep a lab after CloudFormation reports its stack deleted.

Triggered by an EventBridge rule on "CloudFormation Stack Status Change" events for mlref-*
stacks of this account and region reaching DELETE_COMPLETE or DELETE_FAILED. The lab name is
the stack name without its ``mlref-`` prefix; for a classroom's copy of a lab
(``StackSet-mlref-<lab>-<UUID>``) it is what lies between (``lab_names.lab_of_stack``).

DELETE_COMPLETE: sweep, wait and verify twice (``teardown``). DELETE_FAILED: the stack still
exists, so nothing is swept; the failure is recorded. Either way the result goes to the lab's
SSM parameter (``record``), and anything but "clean" is e-mailed when ALERT_TOPIC_ARN is set.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable

import boto3
from botocore.exceptions import BotoCoreError, ClientError

try:  # in the Lambda asset the modules sit side by side
    from lab_names import lab_of_stack
    from ownership import stack_name_of
    from record import ALERT_TOPIC_ENV, write_record
    from teardown import failed_delete_record, publish_alert, record_tags, teardown
except ImportError:  # imported as a package (tests, the labs command)
    from lambdas.lab_sweep.ownership import stack_name_of
    from lambdas.lab_sweep.record import ALERT_TOPIC_ENV, write_record
    from lambdas.lab_sweep.teardown import failed_delete_record, publish_alert, record_tags, teardown
    from lambdas.shared.lab_names import lab_of_stack

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)


def lab_of(event: dict) -> str | None:
    """The lab of the stack the event names (``lab_names.lab_of_stack``), None for any other stack."""
    return lab_of_stack(stack_name_of(event.get("detail", {}).get("stack-id", "")))


def handler(event: dict, context: object, session: object = None, *, topic_arn: str | None = None,
            sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
            **options: object) -> dict:
    detail = event.get("detail", {})
    lab, stack_id = lab_of(event), detail.get("stack-id", "")
    status = detail.get("status-details", {}).get("status")
    session = session or boto3.Session()
    if lab is None or stack_id.split(":")[3:4] != [session.region_name]:
        LOGGER.info("not a lab stack of this region: %s", stack_id)
        return {"lab": None}
    topic_arn = os.environ.get(ALERT_TOPIC_ENV, "") if topic_arn is None else topic_arn
    if status == "DELETE_FAILED":
        LOGGER.info("%s failed to delete: nothing is swept while it exists", stack_id)
        record, reports = failed_delete_record(lab, stack_id), []
    else:
        LOGGER.info("sweeping lab %s after %s", lab, status)
        record, reports = teardown(session, lab, stack_id=stack_id, log=LOGGER.info, sleep=sleep, clock=clock,
                                   **options)
    summary = {"lab": lab, "status": status, "state": record.state, "clean": record.clean,
               "rounds": record.rounds, "leftovers": list(record.leftovers), "error": record.error,
               "lines": [line for report in reports for line in report.lines()]}
    try:
        summary["record"] = write_record(session, record, record_tags(session, lab, stack_id))
    except (ClientError, BotoCoreError, ValueError) as error:
        LOGGER.error("could not write the teardown record of %s: %s", lab, error)
        summary["record"] = None
    summary["alerted"] = False
    if topic_arn and not record.clean:
        try:
            publish_alert(session, topic_arn, record)
            summary["alerted"] = True
        except (ClientError, BotoCoreError) as error:
            LOGGER.error("could not publish the alert for %s: %s", lab, error)
    LOGGER.info(json.dumps(summary))
    return summary
