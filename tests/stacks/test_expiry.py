"""Every sandbox stack carries an expiry schedule that can delete only itself."""

from __future__ import annotations

import json

import app as lab_app
from tests.conftest import FIXED_SYNTH_TIME, ROOT, resources_of


def test_every_sandbox_stack_has_a_one_time_schedule_at_its_expiry(sandbox):
    for lab, template in sandbox.templates.items():
        schedules = resources_of(template, "AWS::Scheduler::Schedule")
        if lab == "janitor":
            assert schedules == {}, "the account-level janitor must outlive the labs"
            continue
        assert len(schedules) == 1, lab
        props = next(iter(schedules.values()))["Properties"]
        assert props["ScheduleExpression"] == "at(2026-01-15T13:30:00)"
        assert props["ScheduleExpressionTimezone"] == "UTC"
        assert props["FlexibleTimeWindow"] == {"Mode": "OFF"}
        assert props["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 3


def test_expiry_function_may_delete_only_its_own_stack_with_the_deploy_role(sandbox):
    stack = sandbox.stacks["data-lake"]
    template = sandbox.templates["data-lake"]
    policy = stack.node.find_child("Expiry").function.role.policy
    policy_id = stack.resolve(stack.get_logical_id(policy.node.default_child))
    statements = template["Resources"][policy_id]["Properties"]["PolicyDocument"]["Statement"]
    by_sid = {s.get("Sid"): s for s in statements}
    assert by_sid["DeleteOnlyThisStack"]["Resource"] == {"Ref": "AWS::StackId"}
    assert set(by_sid["DeleteOnlyThisStack"]["Action"]) == {"cloudformation:DeleteStack",
                                                            "cloudformation:DescribeStacks"}
    pass_role = by_sid["PassTheDeployRoleToCloudFormation"]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}
    assert "cfn-exec-role" in json.dumps(pass_role["Resource"])
    function = next(iter(f for f in resources_of(template, "AWS::Lambda::Function").values()
                         if "STACK_ID" in f["Properties"].get("Environment", {}).get("Variables", {})))
    assert function["Properties"]["Environment"]["Variables"]["STACK_ID"] == {"Ref": "AWS::StackId"}


def test_production_has_no_expiry(production):
    for template in production.templates.values():  # a lab's own recurring schedules (batch-etl) are no expiry
        schedules = resources_of(template, "AWS::Scheduler::Schedule").values()
        assert [s for s in schedules if s["Properties"]["ScheduleExpression"].startswith("at(")] == []
        assert not [k for k in resources_of(template, "AWS::Lambda::Function") if k.startswith("Expiry")]


def test_ttl_zero_turns_expiry_off_with_a_warning(tmp_path):
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    context.update({"ttl_hours": 0, "owner": "tester", "labs": "data-lake"})  # one lab is enough
    app = lab_app.new_app(context=context, outdir=str(tmp_path))
    config = lab_app.read_config(context, {})
    stacks = lab_app.build(app, config, synth_time=FIXED_SYNTH_TIME)
    stack = stacks["data-lake"]
    assert stack.node.try_find_child("Expiry") is None
    messages = app.synth().get_stack_by_name(stack.stack_name).messages
    warnings = [str(m.entry.data) for m in messages if "WARNING" in str(m.level)]
    assert any("ttl_hours=0, so this sandbox lab never expires" in w for w in warnings)
