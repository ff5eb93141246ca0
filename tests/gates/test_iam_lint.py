"""The IAM semantics gate (gates/iam_lint.py): every policy statement of every template, both profiles,
every variant and the classrooms' StackSet members, against the service authorization reference."""

from __future__ import annotations

import pytest

from gates import iam_lint
from gates.iam_lint import Ack, Finding
from tests.conftest import CLASSROOMS, ROOT, classroom_templates

ACKS = ROOT / "gates" / "iam-lint-acks.toml"


@pytest.fixture(scope="module")
def findings(variants, classrooms) -> list[Finding]:
    """The gate's findings on the stacks the other gates see, named "<variant>/<lab>", and on each
    classroom's admin stacks and members ("sandbox-<classroom>/<lab>")."""
    templates = [(f"{variant}/{lab}", f"mlref-{lab}", template)
                 for variant, synth in variants.items() for lab, template in synth.templates.items()]
    for name, synth in classrooms.items():
        # a member as the lab (or janitor) stack it is in every student's account, as cfn-guard names it
        members = {"classroom-member": CLASSROOMS[name][1]["classroom"], "janitor-member": "janitor"}
        templates += [(f"sandbox-{name}/{members.get(stack, stack)}", f"mlref-{members.get(stack, stack)}", template)
                      for stack, template in classroom_templates(synth).items()]
    return iam_lint.lint_all(templates)


def test_every_statement_grants_what_it_names_or_is_acknowledged(findings):
    assert iam_lint.problems(findings, iam_lint.load_acks(ACKS)) == []


# The gate's own logic, on small templates.

def role_template(*statements: dict) -> dict:
    return {"Resources": {
        "Bucket": {"Type": "AWS::S3::Bucket"},
        "ReaderRole": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "glue.amazonaws.com"}}]}}},
        "ReaderPolicy": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {
            "Roles": [{"Ref": "ReaderRole"}],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": list(statements)}}},
    }}


BUCKET_ARN = {"Fn::GetAtt": ["Bucket", "Arn"]}


@pytest.mark.parametrize("statement,expected", [
    ({"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"], "Resource": BUCKET_ARN,
      "Condition": {"StringLike": {"s3:prefix": ["sales/*"]}}},
     [("UNKNOWN_CONDITION_FOR_ACTION", "s3:GetBucketLocation s3:prefix")]),
    ({"Effect": "Allow", "Action": "glue:DeleteDatabase",
      "Resource": [{"Fn::Sub": "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:catalog"},
                   {"Fn::Sub": "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:database/mlref_*"}]},
     [("RESOURCE_MISMATCH", "glue:DeleteDatabase")]),
    ({"Effect": "Allow", "Action": ["kinesis:GetRecords", "kinesis:SubscribeToShard"],
      "Resource": {"Fn::Sub": "arn:aws:kinesis:us-east-1:${AWS::AccountId}:stream/clicks"}},
     [("RESOURCE_MISMATCH", "kinesis:SubscribeToShard")]),
    ({"Effect": "Allow", "Action": "s3:GetObjekt", "Resource": {"Fn::Join": ["", [BUCKET_ARN, "/*"]]}},
     [("UNKNOWN_ACTION", "s3:GetObjekt")]),
    # A wildcard fails only where the finding holds for every action it stands for.
    ({"Effect": "Deny", "Action": "s3:*", "Resource": [BUCKET_ARN, {"Fn::Join": ["", [BUCKET_ARN, "/*"]]}],
      "Principal": {"AWS": "*"}, "Condition": {"NumericLessThan": {"s3:TlsVersion": 1.2}}}, []),
    ({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": BUCKET_ARN,
      "Condition": {"StringLike": {"s3:prefix": ["sales/*"]}}}, []),
])
def test_the_gate_finds_statements_that_grant_nothing(statement, expected):
    found = iam_lint.lint(role_template(statement), "sandbox/x", "mlref-x")
    assert [(f.issue, f.subject) for f in found] == expected
    assert all(f.policy == "ReaderPolicy/1" for f in found)


def test_a_trust_policy_is_read_as_the_resource_policy_of_its_role():
    template = role_template({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
    template["Resources"]["ReaderRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Condition"] = {
        "StringEquals": {"sts:ExternalIdd": "x"}}
    (found,) = iam_lint.lint(template, "sandbox/x", "mlref-x")
    assert (found.policy, found.issue) == ("ReaderRole#trust/1", "UNKNOWN_CONDITION_FOR_ACTION")


FINDING = Finding("sandbox/batch-etl", "WorkflowExecutionPolicyD7B47776/TakeTurns", "RESOURCE_MISMATCH",
                  "states:ListExecutions")
GOOD_REASON = "The action takes either resource type; the linter reads the two required types as both at once."


@pytest.mark.parametrize("ack,expected", [
    (Ack("RESOURCE_MISMATCH", "*/batch-etl", "WorkflowExecutionPolicy*", "states:ListExecutions", GOOD_REASON), []),
    (Ack("RESOURCE_MISMATCH", "production/*", "WorkflowExecutionPolicy*", "states:*", GOOD_REASON),
     [f"not acknowledged: {FINDING}", "stale (acknowledges nothing that fails now; remove it): RESOURCE_MISMATCH "
      "stack=production/* policy=WorkflowExecutionPolicy* subject=states:*"]),
    (Ack("RESOURCE_MISMATCH", "*/*", "*", "*", "by design"),
     ["reason is generic: RESOURCE_MISMATCH stack=*/* policy=* subject=*"]),
    (Ack("RESOURCE_MISMACH", "*/*", "*", "*", GOOD_REASON),
     [f"not acknowledged: {FINDING}", "unknown rule (not an issue of the gate: INVALID_ARN, MALFORMED, "
      "RESOURCE_MISMATCH, UNKNOWN_ACTION, UNKNOWN_CONDITION_FOR_ACTION, UNKNOWN_PREFIX): RESOURCE_MISMACH "
      "stack=*/* policy=* subject=*"]),
])
def test_problems_finds_unacknowledged_stale_unknown_and_weak(ack, expected):
    assert iam_lint.problems([FINDING], [ack]) == expected


def test_an_acknowledgment_with_missing_or_unknown_keys_is_refused(tmp_path):
    path = tmp_path / "acks.toml"
    path.write_text('[[ack]]\nissue = "RESOURCE_MISMATCH"\nstack = "*/*"\npolicy = "*"\nreason = "r"\n')
    with pytest.raises(ValueError, match="entry 1 needs exactly the keys"):
        iam_lint.load_acks(path)
