"""``labs deploy mlops``'s preflight, every request checked by botocore Stubber: another trail makes the
lab's a paid copy (said, not refused), a blue/green rollout needs twice the fleet in quota, and a GitHub
connection must be AVAILABLE."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from catalog import mlops as lab
from catalog.mlops import MlopsOptions
from labs.engine.errors import LabError
from labs.practice.mlops import checks

QUOTA = "ml.t2.medium for endpoint usage"


class Session:
    region_name = "us-east-1"

    def __init__(self) -> None:
        session = boto3.Session(region_name="us-east-1")
        self.clients = {n: session.client(n) for n in ("cloudtrail", "service-quotas", "codeconnections")}
        self.stubs = {n: Stubber(c) for n, c in self.clients.items()}

    def client(self, name: str):
        return self.clients[name]


def trails(stub, *names: str) -> None:
    stub.add_response("describe_trails", {"trailList": [{"Name": n} for n in names]}, {"includeShadowTrails": True})


def quota(stub, value: float) -> None:
    stub.add_response("list_service_quotas", {"Quotas": [{"QuotaName": QUOTA, "Value": value}]},
                      {"ServiceCode": "sagemaker"})


def run(session: Session, options: MlopsOptions) -> list[str]:
    lines: list[str] = []
    for stub in session.stubs.values():
        stub.activate()
    checks.preflight(session, options, lines.append)
    for stub in session.stubs.values():
        stub.assert_no_pending_responses()
    return lines


def test_an_account_with_only_the_labs_trail_is_told_it_is_the_free_copy():
    session = Session()
    trails(session.stubs["cloudtrail"], lab.TRAIL)
    quota(session.stubs["service-quotas"], 4)
    lines = run(session, MlopsOptions())
    assert "the lab's trail is the free first copy of management events" in lines[0]
    assert lines[1] == f"quota: \"{QUOTA}\" = 4 (a rollout needs 4)"


def test_another_trail_makes_the_labs_a_paid_copy_with_an_estimate():
    session = Session()
    trails(session.stubs["cloudtrail"], "org-trail", lab.TRAIL)
    lines = run(session, MlopsOptions(production="serverless"))
    assert lines == ["note: 1 trail(s) already record this region (org-trail): the lab's trail is a paid copy, "
                     "about $0.02/hour at 1000 write events an hour (an estimate)"]


def test_too_small_a_quota_for_blue_green_stops_the_deploy_in_one_line():
    session = Session()
    trails(session.stubs["cloudtrail"])
    quota(session.stubs["service-quotas"], 2)
    with pytest.raises(LabError, match=r"is 2 in us-east-1 and a blue/green rollout of 2 instances needs 4"):
        run(session, MlopsOptions())


def test_a_pending_github_connection_stops_the_deploy():
    arn = "arn:aws:codeconnections:us-east-1:111122223333:connection/0a1b2c3d-4e5f-4a1b-8c2d-3e4f5a6b7c8d"
    session = Session()
    trails(session.stubs["cloudtrail"])
    session.stubs["codeconnections"].add_response("get_connection", {"Connection": {
        "ConnectionArn": arn, "ConnectionStatus": "PENDING"}}, {"ConnectionArn": arn})
    options = MlopsOptions(source="github", connection_arn=arn, repository="you/churn", production="serverless")
    with pytest.raises(LabError, match="is PENDING: complete its handshake in the console"):
        run(session, options)
