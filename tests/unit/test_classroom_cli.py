"""``labs classroom`` offline: moto stands in for the organization and for what CloudFormation's
StackSet resource creates (CreateStackSet, CreateStackInstances); botocore's Stubber, which checks
each request against the service model, plays the operations that fail or collide."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from labs.classroom import command as classroom
from labs.classroom import stacksets
from labs.classroom import teardown as classroom_teardown
from labs.classroom.stacksets import Caller, Clock
from labs.cli import common
from labs.cli import main as cli
from labs.engine.errors import LabError
from lambdas.lab_sweep.record import CLEAN, LEFTOVERS, TeardownRecord

ACCOUNTS = ["111111111111", "222222222222"]
STACK_SET = "mlref-feature-store"
TEMPLATE = json.dumps({"Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}})
LATER = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeCdk:
    """The CDK CLI: synth returns a folder; deploy runs what the test says CloudFormation would do."""

    def __init__(self, on_deploy=None, codes=None):
        self.calls, self.on_deploy, self.codes = [], on_deploy or (lambda stack: None), codes or {}

    def synth(self, context, outdir, on_line=print, on_failure=None):
        self.calls.append(("synth", dict(context)))
        return Path(outdir)

    def deploy(self, stack, assembly, on_line):
        self.calls.append(("deploy", stack))
        self.on_deploy(stack)
        return self.codes.get(stack, 0)


def stack_set_with_instances(session, name=STACK_SET, accounts=ACCOUNTS):
    """What the classroom stack's StackSet resource creates, through the StackSets API (moto)."""
    cfn = session.client("cloudformation")
    cfn.create_stack_set(StackSetName=name, TemplateBody=TEMPLATE,
                         Tags=[{"Key": "expires-at", "Value": "2026-01-15T13:30:00Z"}])
    cfn.create_stack_instances(StackSetName=name, Accounts=list(accounts), Regions=["us-east-1"])


def fake_reader(records):
    return lambda member, lab: records.get(member)


def record(state=CLEAN, at=None, leftovers=()):
    """A janitor's teardown record of feature-store, checked ``at`` (default: an hour from now)."""
    return TeardownRecord(lab="feature-store", state=state, checked_at=at or LATER, leftovers=tuple(leftovers))


@pytest.fixture
def fast(monkeypatch):
    monkeypatch.setattr(stacksets, "POLL_SECONDS", 0)
    monkeypatch.setattr(classroom_teardown, "RECORD_WAIT_SECONDS", 0)
    return Clock(now=lambda: 0.0, sleep=lambda _s: None, poll_seconds=0)


def run(monkeypatch, capsys, argv, cdk=None):
    monkeypatch.setattr(common, "cdk_of", lambda args, session=None: cdk or FakeCdk())
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- deploy -------------------------------------------------------------------------------------

def test_deploy_checks_prices_synthesizes_and_deploys_every_admin_stack(aws, monkeypatch, capsys):
    def cloudformation(stack):
        if stack == "mlref-classroom-feature-store":
            stack_set_with_instances(aws)
        elif stack == "mlref-classroom-feature-store-janitor":
            stack_set_with_instances(aws, name="mlref-janitor-feature-store")

    cdk = FakeCdk(cloudformation)
    code, out, err = run(monkeypatch, capsys, ["classroom", "deploy", "feature-store", "--accounts", ",".join(ACCOUNTS),
                                               "--region", "us-east-1", "--yes"], cdk)
    assert (code, err) == (0, "")
    assert [c[1] for c in cdk.calls if c[0] == "deploy"] == [
        "mlref-classroom-assets-us-east-1", "mlref-classroom-feature-store-janitor", "mlref-classroom-feature-store"]
    context = cdk.calls[0][1]
    assert context["classroom"] == "feature-store" and context["classroom_accounts"] == ",".join(ACCOUNTS)
    assert context["classroom_permissions"] == "self-managed"
    assert "class: 2 account(s) x 1 region(s) = 2 copies" in out and "cost for the class: ~$" in out
    assert "execution role: AWSCloudFormationStackSetExecutionRole assumable in 2 of 2" in out
    assert "  111111111111 us-east-1      SUCCEEDED" in out


def stubbed_session(stubs):
    """A session whose CloudFormation client answers from ``stubs`` (checked against the model)."""
    client = boto3.client("cloudformation", region_name="us-east-1")
    stubber = Stubber(client)
    for method, response, params in stubs:
        if isinstance(response, str):
            stubber.add_client_error(method, service_error_code=response, expected_params=params)
        else:
            stubber.add_response(method, response, params)
    stubber.activate()

    class Session:
        region_name = "us-east-1"

        def client(self, name):
            assert name == "cloudformation"
            return client

    return Session(), stubber


def summary(account, detailed, reason=""):
    item = {"StackSetId": f"{STACK_SET}:1", "Region": "us-east-1", "Account": account, "Status": "CURRENT",
            "StackInstanceStatus": {"DetailedStatus": detailed}, "DriftStatus": "NOT_CHECKED"}
    if detailed == "FAILED":
        item.update(Status="OUTDATED", StatusReason=reason)
    return item


def plan_for(accounts=ACCOUNTS):
    from catalog.classroom import parse

    options = parse({"classroom": "feature-store", "classroom_accounts": ",".join(accounts)}, "us-east-1")
    return classroom.Plan(options=options, context={"classroom": "feature-store"}, accounts=tuple(accounts),
                          ttl_hours=4)


def listing(name, *items):
    return ("list_stack_instances", {"Summaries": list(items)}, {"StackSetName": name})


def test_one_account_failing_within_tolerance_is_listed_and_exits_1(tmp_path):
    reason = "ResourceLogicalId:OfflineStoreBucket, ResourceStatusReason:Access Denied"
    session, stubber = stubbed_session([
        listing("mlref-janitor-feature-store",
                summary("111111111111", "SUCCEEDED"), summary("222222222222", "SUCCEEDED")),
        listing(STACK_SET, summary("111111111111", "SUCCEEDED"), summary("222222222222", "FAILED", reason)),
    ])
    lines = []
    code = classroom.deploy(session, plan_for(), cdk=FakeCdk(), out=lines.append, yes=True, watch=False)
    assert code == 1
    assert f"  222222222222 us-east-1      FAILED: {reason}" in lines
    assert any("1 of 2 account(s) failed, within the tolerance: 222222222222/us-east-1" in line for line in lines)
    stubber.assert_no_pending_responses()


def test_failures_beyond_tolerance_stop_the_operation_with_every_failed_account():
    session, _stubber = stubbed_session([
        listing("mlref-janitor-feature-store",
                summary("111111111111", "SUCCEEDED"), summary("222222222222", "SUCCEEDED")),
        listing(STACK_SET, summary("111111111111", "FAILED", "quota"), summary("222222222222", "FAILED", "denied")),
    ])
    cdk = FakeCdk(codes={"mlref-classroom-feature-store": 1})
    with pytest.raises(LabError) as raised:
        classroom.deploy(session, plan_for(), cdk=cdk, out=lambda _l: None, yes=True, watch=False)
    message = str(raised.value)
    assert "2 of 2 account(s) failed, beyond the 10% tolerance" in message
    assert "111111111111/us-east-1: quota; 222222222222/us-east-1: denied" in message


@pytest.mark.parametrize("argv,message", [
    (["classroom", "deploy", "data-lake", "--accounts", "111111111111"], "the data-lake lab cannot run as a StackSet"),
    (["classroom", "deploy", "feature-store", "--accounts", "11111"], "'11111' is not a 12-digit account id"),
    (["classroom", "deploy", "feature-store", "--accounts", "111111111111", "--regions", "ap-east-1"],
     "region ap-east-1 is not enabled in the admin account"),
])
def test_bad_input_is_one_line(aws, monkeypatch, capsys, argv, message):
    code, _out, err = run(monkeypatch, capsys, [*argv, "--region", "us-east-1", "--yes"])
    assert code == 1 and message in err and err.count("\n") == 1


def test_unknown_account_unknown_ou_and_the_management_account_are_refused(aws, monkeypatch, capsys):
    aws.client("organizations").create_organization(FeatureSet="ALL")
    cases = [
        (["--accounts", "999999999999"], "account 999999999999 is not in organization"),
        (["--accounts", "123456789012", "--permissions", "service-managed"],
         "account 123456789012 is the organization's management account"),
        (["--ous", "ou-ab12-cd34ef56"], "OU ou-ab12-cd34ef56 is not in this organization"),
    ]
    monkeypatch.setattr("labs.classroom.checks.check_trusted_access", lambda session, call_as: None)
    for targets, message in cases:
        code, _, err = run(monkeypatch, capsys, ["classroom", "deploy", "feature-store", *targets, "--region",
                                                 "us-east-1", "--yes"])
        assert code == 1 and message in err, err


# -- status -------------------------------------------------------------------------------------

def classroom_stack(session, outputs=None):
    session.client("cloudformation").create_stack(StackName="mlref-classroom-feature-store", TemplateBody=TEMPLATE)


def test_status_shows_a_row_per_account_and_region_with_expiry_and_janitor_record(aws, monkeypatch, capsys):
    classroom_stack(aws)
    stack_set_with_instances(aws)
    monkeypatch.setattr(stacksets, "default_record_reader",
                        lambda: lambda member, lab: record(at="2026-01-15T13:40:00Z"))
    code, out, _ = run(monkeypatch, capsys, ["classroom", "status", "--region", "us-east-1"])
    assert code == 0
    assert "feature-store: CREATE_COMPLETE, 2 instance(s), expires 2026-01-15T13:30:00Z" in out
    for account in ACCOUNTS:
        assert f"{account} us-east-1      CURRENT    SUCCEEDED  NOT_CHECKED clean at 2026-01-15T13:40:00Z" in out


# -- destroy ------------------------------------------------------------------------------------

def test_destroy_deletes_every_instance_then_the_stack_and_lists_accounts_with_leftovers(aws, fast):
    classroom_stack(aws)
    stack_set_with_instances(aws)
    records = {"111111111111": record(),
               "222222222222": record(LEFTOVERS, leftovers=["bucket mlref-feature-store-offline"])}
    lines = []
    code = classroom.destroy(aws, "feature-store", sessions=lambda account, region: account,
                             reader=fake_reader(records), out=lines.append, yes=True, clock=fast)
    assert code == 1
    cfn = aws.client("cloudformation")
    assert cfn.list_stack_instances(StackSetName=STACK_SET)["Summaries"] == []
    assert "mlref-classroom-feature-store: deleted" in lines
    assert "  111111111111/us-east-1: janitor clean at " + LATER in lines
    assert lines[-2:] == ["feature-store: 1 account/region(s) with leftovers:",
                          f"  222222222222/us-east-1: janitor 1 left at {LATER}: bucket mlref-feature-store-offline"]


def test_destroy_is_clean_when_every_janitor_says_so_and_an_old_record_does_not_count(aws, fast):
    classroom_stack(aws)
    stack_set_with_instances(aws)
    records = {"111111111111": record(), "222222222222": record(at="2020-01-01T00:00:00Z")}
    lines = []
    code = classroom.destroy(aws, "feature-store", sessions=lambda account, region: account,
                             reader=fake_reader(records), out=lines.append, yes=True, clock=fast)
    assert code == 1 and lines[-1].startswith("  222222222222/us-east-1: no janitor record since the deletion")
    records["222222222222"] = record()
    stack_set_with_instances(aws, name="mlref-feature-store-2")  # nothing left of the first: a clean run
    assert classroom.destroy(aws, "feature-store", sessions=lambda a, r: a, reader=fake_reader(records),
                             out=lines.append, yes=True, clock=fast) == 0


def test_operation_in_progress_is_waited_for_then_the_delete_is_sent_again(fast):
    request = {"StackSetName": STACK_SET, "Regions": ["us-east-1"], "RetainStacks": False, "Accounts": ACCOUNTS,
               "OperationPreferences": stacksets.DELETE_PREFERENCES}
    operation = {"OperationId": "op-1", "Action": "UPDATE"}
    session, stubber = stubbed_session([
        ("delete_stack_instances", "OperationInProgressException", request),
        ("list_stack_set_operations", {"Summaries": [{**operation, "Status": "RUNNING"}]}, {"StackSetName": STACK_SET}),
        ("describe_stack_set_operation", {"StackSetOperation": {**operation, "Status": "SUCCEEDED"}},
         {"StackSetName": STACK_SET, "OperationId": "op-1"}),
        ("delete_stack_instances", {"OperationId": "op-2"}, request),
        ("describe_stack_set_operation", {"StackSetOperation": {"OperationId": "op-2", "Status": "RUNNING"}},
         {"StackSetName": STACK_SET, "OperationId": "op-2"}),
        ("describe_stack_set_operation", {"StackSetOperation": {"OperationId": "op-2", "Status": "SUCCEEDED"}},
         {"StackSetName": STACK_SET, "OperationId": "op-2"}),
    ])
    done = stacksets.delete_instances(session.client("cloudformation"), STACK_SET, accounts=ACCOUNTS, ous=(),
                                      regions=["us-east-1"], caller=Caller(), clock=fast)
    assert done["OperationId"] == "op-2" and done["Status"] == "SUCCEEDED"
    stubber.assert_no_pending_responses()


def test_a_stack_set_that_is_not_empty_is_one_line_listing_what_is_left():
    session, _stubber = stubbed_session([
        ("delete_stack_set", "StackSetNotEmptyException", {"StackSetName": STACK_SET}),
        listing(STACK_SET, {**summary("222222222222", "FAILED", "DELETE_FAILED"), "Status": "INOPERABLE"}),
    ])
    with pytest.raises(LabError, match=r"still has instances: 222222222222/us-east-1 \(FAILED\)"):
        stacksets.delete_stack_set(session.client("cloudformation"), STACK_SET, Caller())


def test_an_operation_that_never_ends_is_bounded_by_the_clock():
    ticks = iter(range(0, 100000, 3600))
    clock = Clock(now=lambda: float(next(ticks)), sleep=lambda _s: None, poll_seconds=0, timeout_seconds=7200)
    running = {"StackSetOperation": {"OperationId": "op-1", "Status": "RUNNING"}}
    session, _ = stubbed_session([("describe_stack_set_operation", running, None)] * 3)
    with pytest.raises(LabError, match=r"still RUNNING after 2\.0 h"):
        stacksets.wait_for_operation(session.client("cloudformation"), STACK_SET, "op-1", Caller(), clock)


# -- issue 24 --------------------------------------------------------------------------------------

def test_destroy_does_not_take_a_janitor_record_older_than_the_teardown(aws, fast):
    """The record's own time (checked_at) is read: a month-old clean record is no proof of this teardown."""
    classroom_stack(aws)
    stack_set_with_instances(aws)
    month_old = (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    records = {account: record(at=month_old) for account in ACCOUNTS}
    lines = []
    assert classroom.destroy(aws, "feature-store", sessions=lambda account, region: account,
                             reader=fake_reader(records), out=lines.append, yes=True, clock=fast) == 1
    assert lines[-2:] == [f"  {account}/us-east-1: no janitor record since the deletion (is the janitor deployed "
                          "there?)" for account in ACCOUNTS]


def test_plan_refuses_a_class_that_cannot_deploy(aws, monkeypatch, capsys):
    from catalog.classroom import LARGEST_SELF_MANAGED_CLASS

    accounts = ",".join(f"{n:012d}" for n in range(100000000000, 100000000001 + LARGEST_SELF_MANAGED_CLASS))
    cdk = FakeCdk()
    code, out, err = run(monkeypatch, capsys, ["classroom", "deploy", "feature-store", "--accounts", accounts,
                                               "--region", "us-east-1", "--yes"], cdk)
    assert code == 1 and cdk.calls == [] and "cost for the class" not in out
    assert err.startswith(f"error: {LARGEST_SELF_MANAGED_CLASS + 1} accounts exceed the largest self-managed class")
    assert err.count("\n") == 1


def test_a_janitor_that_refused_its_sweep_is_named_with_its_reason(aws, fast):
    """A student who also deployed the lab keeps the janitor from sweeping: said as the janitor said it."""
    classroom_stack(aws)
    stack_set_with_instances(aws)
    refused = ("stack mlref-feature-store still exists (CREATE_COMPLETE) in 222222222222 us-east-1: nothing deleted; "
               "delete the stack first (`labs destroy feature-store`)")
    records = {"111111111111": record(), "222222222222": TeardownRecord(
        lab="feature-store", state="stack-exists", checked_at=LATER, error=refused)}
    lines = []
    assert classroom.destroy(aws, "feature-store", sessions=lambda account, region: account,
                             reader=fake_reader(records), out=lines.append, yes=True, clock=fast) == 1
    assert lines[-1] == f"  222222222222/us-east-1: janitor stack-exists at {LATER}: {refused}"
