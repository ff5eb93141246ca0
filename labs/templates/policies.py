"""Every IAM policy of a synthesized template, resolved (``labs.templates.resolved``) and named by where it
is: roles with their trust policy, identity policies and permission boundary; resource policies of
buckets, keys, queues, topics and functions. CDK-free, pure.

A policy's name is the logical id of the resource that holds it (``AnalystPolicy108D7AD7``), with
``#<PolicyName>`` for a role's inline policy; a statement is named ``<policy>/<Sid or number>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from labs.templates.resolved import TemplateValues

# Resource policies: {policy resource type: (property of the document, property naming the resources)}.
RESOURCE_POLICIES = {"AWS::S3::BucketPolicy": ("PolicyDocument", "Bucket"),
                     "AWS::SQS::QueuePolicy": ("PolicyDocument", "Queues"),
                     "AWS::SNS::TopicPolicy": ("PolicyDocument", "Topics")}


@dataclass(frozen=True)
class Policy:
    name: str
    document: dict[str, Any]

    def statements(self) -> list[dict[str, Any]]:
        found = self.document.get("Statement", [])
        return found if isinstance(found, list) else [found]


def statement_name(policy: str, statement: dict[str, Any], number: int) -> str:
    return f"{policy}/{statement.get('Sid') or number}"


@dataclass
class Role:
    logical_id: str
    arn: str
    trust: Policy
    identity: list[Policy] = field(default_factory=list)
    boundary: list[Policy] = field(default_factory=list)
    managed_arns: list[str] = field(default_factory=list)  # AWS managed policies: named, not read


@dataclass
class Policies:
    """A template's policies: roles by logical id, resource policies by the ARN of their resource."""

    roles: dict[str, Role]
    resource: dict[str, Policy]

    def role_of(self, arn: str) -> Role | None:
        return next((role for role in self.roles.values() if role.arn == arn), None)


def _bucket_arn(values: TemplateValues, bucket: Any) -> str:
    return f"arn:{values.partition}:s3:::{values.resolve(bucket)}"


def _resource_arns(values: TemplateValues, kind: str, target: Any) -> list[str]:
    if kind == "AWS::S3::BucketPolicy":
        return [_bucket_arn(values, target)]
    arns = []
    for reference in target if isinstance(target, list) else [target]:
        name = reference.get("Ref") if isinstance(reference, dict) else None
        arns.append(values.arn(name) if name in values.resources else str(values.resolve(reference)))
    return arns


def _function_permission(values: TemplateValues, props: dict[str, Any]) -> dict[str, Any]:
    """A Lambda permission as the statement it adds to the function's resource policy."""
    condition: dict[str, Any] = {}
    if "SourceArn" in props:
        condition["ArnLike"] = {"aws:SourceArn": values.resolve(props["SourceArn"])}
    if "SourceAccount" in props:
        condition["StringEquals"] = {"aws:SourceAccount": values.resolve(props["SourceAccount"])}
    principal = str(values.resolve(props["Principal"]))
    return {"Effect": "Allow", "Action": values.resolve(props["Action"]),
            "Principal": {"Service": principal} if principal.endswith(".amazonaws.com") else {"AWS": principal},
            **({"Condition": condition} if condition else {})}


def policies_of(values: TemplateValues) -> Policies:
    roles: dict[str, Role] = {}
    resource: dict[str, Policy] = {}
    function_statements: dict[str, list[dict]] = {}
    for logical_id, item in values.resources.items():
        kind, props = item["Type"], item.get("Properties", {})
        if kind == "AWS::IAM::Role":
            role = Role(logical_id, values.arn(logical_id),
                        Policy(f"{logical_id}#trust", values.resolve(props["AssumeRolePolicyDocument"])),
                        managed_arns=[str(a) for a in values.resolve(props.get("ManagedPolicyArns", []))
                                      if ":iam::aws:policy/" in str(a)])
            role.identity += [Policy(f"{logical_id}#{p.get('PolicyName', n)}", values.resolve(p["PolicyDocument"]))
                              for n, p in enumerate(props.get("Policies", []), 1)]
            roles[logical_id] = role
        elif kind == "AWS::KMS::Key":
            resource[values.arn(logical_id)] = Policy(logical_id, values.resolve(props["KeyPolicy"]))
        elif kind in RESOURCE_POLICIES:
            document, target = RESOURCE_POLICIES[kind]
            for arn in _resource_arns(values, kind, props[target]):
                resource[arn] = Policy(logical_id, values.resolve(props[document]))
        elif kind == "AWS::Lambda::Permission":
            function = props["FunctionName"]
            name = function.get("Fn::GetAtt", [None])[0] if isinstance(function, dict) else None
            arn = values.arn(name) if name else str(values.resolve(function))
            function_statements.setdefault(arn, []).append({"Sid": logical_id, **_function_permission(values, props)})
    for arn, statements in function_statements.items():
        resource[arn] = Policy(f"{arn.rsplit(':', 1)[-1]}#permissions",
                               {"Version": "2012-10-17",
                                "Statement": [{**s, "Resource": arn} for s in statements]})
    _attach_managed(values, roles)
    return Policies(roles=roles, resource=resource)


def _attach_managed(values: TemplateValues, roles: dict[str, Role]) -> None:
    """AWS::IAM::Policy and AWS::IAM::ManagedPolicy documents onto the roles they name; the
    roles' permission boundaries (ManagedPolicy ARNs of this template)."""
    by_arn = {}
    for logical_id, item in values.resources.items():
        kind, props = item["Type"], item.get("Properties", {})
        if kind not in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}:
            continue
        policy = Policy(logical_id, values.resolve(props["PolicyDocument"]))
        if kind == "AWS::IAM::ManagedPolicy":
            by_arn[values.ref(logical_id)] = policy
        for target in props.get("Roles", []):
            name = target.get("Ref") if isinstance(target, dict) else None
            if name in roles:
                roles[name].identity.append(policy)
    for logical_id, role in roles.items():
        props = values.resources[logical_id].get("Properties", {})
        for arn in values.resolve(props.get("ManagedPolicyArns", [])):
            if arn in by_arn:
                role.identity.append(by_arn[arn])
        if "PermissionsBoundary" in props:
            boundary = values.resolve(props["PermissionsBoundary"])
            if boundary in by_arn:
                role.boundary.append(by_arn[boundary])


def documents(policies: Policies) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(policy name, kind, document) for every policy: identity, boundary, trust and resource policies.
    A trust policy is given with its role's ARN as the Resource of each statement, which is what a
    trust policy applies to, so a linter reads it like any resource policy."""
    seen: set[str] = set()
    for role in policies.roles.values():
        trust = dict(role.trust.document)
        trust["Statement"] = [{**s, "Resource": role.arn} for s in role.trust.statements()]
        yield role.trust.name, "trust", trust
        for kind, found in (("identity", role.identity), ("boundary", role.boundary)):
            for policy in found:
                if policy.name not in seen:
                    seen.add(policy.name)
                    yield policy.name, kind, policy.document
    for policy in policies.resource.values():
        if policy.name not in seen:
            seen.add(policy.name)
            yield policy.name, "resource", policy.document
