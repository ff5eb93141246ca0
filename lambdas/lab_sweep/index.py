"""Janitor Lambda: sweep a lab after CloudFormation reports its stack deleted.

Triggered by an EventBridge rule on "CloudFormation Stack Status Change" events
for mlref-* stacks reaching DELETE_COMPLETE or DELETE_FAILED. The lab name is the
stack name without its ``mlref-`` prefix; for a classroom's copy (``StackSet-mlref-<lab>-<UUID>``)
it is what lies between.
"""

from __future__ import annotations

import json
import logging
import re

import boto3

try:
    from sweep import sweep  # in the Lambda asset, sweep.py sits beside this file
except ImportError:  # imported as a package (tests, the labs command)
    from lambdas.lab_sweep.sweep import sweep

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)
STACK_PREFIX = "mlref-"


# A classroom member stack: StackSet-mlref-<lab>-<the instance's UUID>.
STACKSET_MEMBER = re.compile(r"^StackSet-mlref-(?P<lab>.+)-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$")


def lab_of(event: dict) -> str | None:
    stack_id = event.get("detail", {}).get("stack-id", "")
    name = stack_id.split(":stack/", 1)[-1].split("/", 1)[0] if ":stack/" in stack_id else ""
    member = STACKSET_MEMBER.match(name)
    if member:
        lab = member["lab"]
        return None if lab.startswith("janitor") else lab
    return name.removeprefix(STACK_PREFIX) if name.startswith(STACK_PREFIX) else None


def handler(event: dict, context: object, session: object = None, **options: object) -> dict:
    lab = lab_of(event)
    status = event.get("detail", {}).get("status-details", {}).get("status")
    if lab is None or lab == "janitor":
        LOGGER.info("not a lab stack: %s", event.get("detail", {}).get("stack-id"))
        return {"lab": None}
    LOGGER.info("sweeping lab %s after %s", lab, status)
    report = sweep(session or boto3.Session(), lab, log=LOGGER.info, **options)
    summary = {"lab": lab, "status": status, "clean": report.clean, "lines": report.lines()}
    LOGGER.info(json.dumps(summary))
    return summary
