"""``labs diagram LAB``: an architecture diagram drawn from a lab's synthesized template.

Two steps, kept apart so the first can be tested without drawing anything:

``build_graph(template)``
    A pure data model. Every resource that says something about the architecture is a
    node (``Node``: logical id, CloudFormation type, AWS service, label). Edges
    (``Edge``) are of four kinds:

    * ``reference``: a ``Ref``, ``Fn::GetAtt``, ``${X}`` / ``${X.Arn}`` inside ``Fn::Sub``
      or a ``Fn::Join`` part anywhere in a resource's Properties, pointing from the
      resource that holds it to the resource it names. A literal name that is another
      resource's name (``DatabaseName: "mlref_data_lake_raw"``) counts too, when the
      property says which kind of resource it names.
    * ``depends_on``: ``DependsOn`` of a resource drawn as a node, unless another edge
      already links the two.
    * ``grant``: an ``AWS::IAM::Policy`` / ``AWS::IAM::ManagedPolicy`` (or a role's inline
      policy, or a Lake Formation ``PrincipalPermissions``) is not drawn as a node: each
      statement becomes principal -> resource edges labelled with an action
      (``s3:GetObject…``). Resources are found through references and through literal
      ARNs that end in a resource's name (``…:database/mlref_data_lake_raw``).
    * ``event``: data or invocations flowing: Kinesis stream -> Firehose (source),
      Firehose -> its transform Lambda and its destinations, a Scheduler schedule or an
      EventBridge rule -> its target, Lambda event source mappings, Lambda permissions
      with a source ARN, S3 notifications, SNS subscriptions.

    Between two resources only the strongest kind is kept (event > grant > reference >
    depends_on), so a Firehose's reference to its stream is drawn once, as the event.

    What is not a node, and why, is in ``Graph.omitted``:

    * ``AWS::CDK::Metadata``; Parameters, Conditions and pseudo parameters never are.
    * aws-cdk-lib's own helpers (auto-delete objects, log retention, default security
      group restriction, bucket notifications and deployments, AwsCustomResource): their
      custom resources, provider functions, roles and log groups are dropped with their
      edges, and the diagram's footnote counts them.
    * Policies, Lake Formation permissions, event source mappings, Lambda permissions,
      SNS subscriptions and FSx data repository associations become edges.
    * Plumbing folds into the resource it belongs to, which takes over its edges: bucket
      policies into their bucket, subnets, route tables, routes and gateway attachments
      into their VPC, security group rules into their group (drawn as group -> group
      edges labelled with the ports), log streams into their log group, aliases into
      their key.

    Labels read ``"S3 bucket\\nRawZone"``: the kind of resource, then its construct path
    without the stack and generic tails (``RawZone/Bucket/Resource`` -> ``RawZone``), or
    the logical id without its hash when the template has no path metadata.

``render(graph, out_dir, name)``
    ``<name>.svg`` and ``<name>.png`` with matplotlib (no pyplot, no network) in a layout
    computed here (``layout`` and ``route``): one column per tier (triggers and sources,
    processing, storage and catalog, analytics and governance, IAM roles, keys and
    secrets, logs and monitoring, network; empty tiers left out, a tier taller than the
    rest wraps into a second column), nodes grouped by service within a column, the
    order within each column chosen by barycenter sweeps over the edges to shorten and
    uncross them. Rows line up across columns, so edges never run across a box: between
    neighbouring columns they are S-curves, otherwise they go through the free strips
    between columns and between rows, each in its own lane. Nodes are coloured by
    service, log groups drawn smaller; a legend names the services and edge styles
    (reference solid grey, DependsOn dashed, grant dotted red with its action, event
    thick blue with its role), and a footnote counts what is not drawn. The SVG is
    byte-stable: fixed hash salt, no date, text kept as text.

``diagram_lab(lab, assembly, out_dir)``
    Reads the lab's template from a cloud assembly (``cdk.out``) and writes both files.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from labs.errors import LabError

EDGE_KINDS = ("reference", "depends_on", "grant", "event")
# Between two resources only the strongest kind of edge is drawn.
_STRENGTH = {"depends_on": 0, "reference": 1, "grant": 2, "event": 3}

# --------------------------------------------------------------------------- model


@dataclass(frozen=True, order=True)
class Node:
    """One resource drawn in the diagram.

    Attributes:
        id: the CloudFormation logical id.
        type: the resource type, e.g. ``AWS::S3::Bucket``.
        service: the AWS service it belongs to, e.g. ``S3`` (colour and legend).
        label: two or more lines: the kind of resource, then its name.
    """

    id: str
    type: str
    service: str
    label: str

    @property
    def minor(self) -> bool:
        """Drawn small: log groups and other supporting resources."""
        return self.type in MINOR_TYPES


@dataclass(frozen=True, order=True)
class Edge:
    """A relation between two nodes.

    Attributes:
        source: logical id the edge starts at (the resource that refers, grants or sends).
        target: logical id it points to.
        kind: one of ``reference``, ``depends_on``, ``grant``, ``event``.
        label: a short description, e.g. ``s3:GetObject…`` on a grant; may be empty.
    """

    source: str
    target: str
    kind: str
    label: str = ""


@dataclass
class Graph:
    """The architecture of one template.

    Attributes:
        nodes: logical id -> node, sorted by logical id.
        edges: sorted, at most one per (source, target, kind), none to a missing node.
        omitted: logical id -> why the resource is not a node (dropped or folded).
        title: drawn above the diagram.
    """

    nodes: dict[str, Node]
    edges: list[Edge]
    omitted: dict[str, str] = field(default_factory=dict)
    title: str = ""

    def edges_of(self, kind: str) -> list[Edge]:
        """The edges of one kind."""
        return [edge for edge in self.edges if edge.kind == kind]


# --------------------------------------------------------------------------- tables

MINOR_TYPES = {"AWS::Logs::LogGroup", "AWS::EC2::FlowLog", "AWS::Glue::SecurityConfiguration"}

# Resource kinds whose name alone does not read well when generated from the type.
_KIND_NAMES = {
    "AWS::S3::Bucket": "S3 bucket",
    "AWS::KMS::Key": "KMS key",
    "AWS::IAM::Role": "IAM role",
    "AWS::IAM::User": "IAM user",
    "AWS::IAM::Group": "IAM group",
    "AWS::Lambda::Function": "Lambda function",
    "AWS::Logs::LogGroup": "Log group",
    "AWS::Kinesis::Stream": "Kinesis data stream",
    "AWS::KinesisFirehose::DeliveryStream": "Firehose stream",
    "AWS::RedshiftServerless::Namespace": "Redshift Serverless namespace",
    "AWS::RedshiftServerless::Workgroup": "Redshift Serverless workgroup",
    "AWS::LakeFormation::Resource": "Lake Formation location",
    "AWS::LakeFormation::DataLakeSettings": "Lake Formation settings",
    "AWS::Scheduler::Schedule": "EventBridge schedule",
    "AWS::Events::Rule": "EventBridge rule",
    "AWS::EC2::VPC": "VPC",
    "AWS::EC2::VPCEndpoint": "VPC endpoint",
    "AWS::EC2::SecurityGroup": "Security group",
    "AWS::EC2::InternetGateway": "Internet gateway",
    "AWS::EC2::NatGateway": "NAT gateway",
    "AWS::EC2::FlowLog": "VPC flow log",
    "AWS::SecretsManager::Secret": "Secret",
    "AWS::Athena::WorkGroup": "Athena workgroup",
    "AWS::SageMaker::FeatureGroup": "Feature group",
    "AWS::EFS::FileSystem": "EFS file system",
    "AWS::Budgets::Budget": "Cost budget",
}

_SERVICE_NAMES = {
    "Logs": "CloudWatch Logs",
    "LakeFormation": "Lake Formation",
    "KinesisFirehose": "Data Firehose",
    "RedshiftServerless": "Redshift Serverless",
    "Scheduler": "EventBridge",
    "Events": "EventBridge",
    "EC2": "VPC",
    "SecretsManager": "Secrets Manager",
    "StepFunctions": "Step Functions",
    "CloudWatch": "CloudWatch",
    "Custom": "Custom resource",
}

# Columns, left to right, and the services (or single types) in each, top to bottom.
TIERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Triggers & sources", ("EventBridge", "Kinesis", "SNS", "SQS", "ApiGateway", "Pipes")),
    ("Processing", ("Data Firehose", "Lambda", "Glue::Crawler", "Glue::Job", "SageMaker", "Step Functions",
                    "Custom resource")),
    ("Storage & catalog", ("S3", "FSx", "EFS", "AWS::SageMaker::FeatureGroup", "Glue", "DynamoDB",
                           "AWS::RedshiftServerless::Namespace", "ECR")),
    ("Analytics & governance", ("Redshift Serverless", "Athena", "Lake Formation")),
    ("IAM roles", ("IAM",)),
    ("Keys & secrets", ("KMS", "Secrets Manager", "AWS::Glue::SecurityConfiguration")),
    ("Logs & monitoring", ("CloudWatch Logs", "CloudWatch", "Budgets")),
    ("Network", ("VPC",)),
)
_DEFAULT_TIER = 1

# Fill colours by service (the legend shows those present); others cycle through _SPARE_COLOURS.
SERVICE_COLOURS = {
    "S3": "#7AA116",
    "FSx": "#3F8624",
    "EFS": "#3F8624",
    "Glue": "#3B6FD1",
    "Lake Formation": "#17405E",
    "Athena": "#B8860B",
    "SageMaker": "#01A88D",
    "Redshift Serverless": "#C925D1",
    "Kinesis": "#6B3FD9",
    "Data Firehose": "#A166FF",
    "Lambda": "#ED7100",
    "EventBridge": "#B0084D",
    "IAM": "#E7157B",
    "KMS": "#DD344C",
    "Secrets Manager": "#8B2F1C",
    "VPC": "#1D8FBF",
    "CloudWatch Logs": "#8E9AA6",
    "CloudWatch": "#8E9AA6",
    "Custom resource": "#545B64",
}
_SPARE_COLOURS = ("#1B660F", "#D45B07", "#116D5B", "#7D8998", "#A166FF")

# aws-cdk-lib's own helper machinery: dropped with its edges.
HELPER_ID_PREFIXES = (
    "CustomS3AutoDeleteObjects",
    "AWS679f53fac002430cb0da5b7982bd2287",
    "LogRetention",
    "BucketNotificationsHandler",
    "CustomCDKBucketDeployment",
    "CustomVpcRestrictDefaultSG",
    "CustomCrossRegionExportReader",
    "CustomCrossRegionExportWriter",
)
HELPER_TYPES = {
    "Custom::S3AutoDeleteObjects",
    "Custom::VpcRestrictDefaultSG",
    "Custom::LogRetention",
    "Custom::CDKBucketDeployment",
    "Custom::AWS",
    "Custom::S3BucketNotifications",
    "Custom::CrossRegionExportReader",
    "Custom::CrossRegionExportWriter",
}
_HELPER_PATH = re.compile(r"/(Custom::\w+CustomResourceProvider|LogRetention[0-9a-f]{32}|"
                          r"BucketNotificationsHandler[0-9a-f]{32}|AWS679f53fac002430cb0da5b7982bd2287)(/|$)")

# Resources folded into the resource a property names (first reference in it).
FOLDED_INTO = {
    "AWS::S3::BucketPolicy": "Bucket",
    "AWS::SQS::QueuePolicy": "Queues",
    "AWS::SNS::TopicPolicy": "Topics",
    "AWS::EC2::SecurityGroupIngress": "GroupId",
    "AWS::EC2::SecurityGroupEgress": "GroupId",
    "AWS::EC2::Subnet": "VpcId",
    "AWS::EC2::RouteTable": "VpcId",
    "AWS::EC2::Route": "RouteTableId",
    "AWS::EC2::SubnetRouteTableAssociation": "SubnetId",
    "AWS::EC2::VPCGatewayAttachment": "VpcId",
    "AWS::EC2::NetworkAcl": "VpcId",
    "AWS::EC2::NetworkAclEntry": "NetworkAclId",
    "AWS::EC2::SubnetNetworkAclAssociation": "SubnetId",
    "AWS::Logs::LogStream": "LogGroupName",
    "AWS::KMS::Alias": "TargetKeyId",
    "AWS::IAM::InstanceProfile": "Roles",
    "AWS::Lambda::Version": "FunctionName",
    "AWS::Lambda::Alias": "FunctionName",
}

# Why a resource is not a node (Graph.omitted); folded ones say "folded into <host>".
_METADATA = "CDK metadata"
_HELPER = "aws-cdk-lib helper"
_POLICY = "IAM policy: drawn as grant edges"
_LAKE_FORMATION = "Lake Formation permissions: drawn as grant edges"
_AS_EDGE = "drawn as an edge"

_POLICY_TYPES = {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}
_LF_PERMISSION_TYPES = {"AWS::LakeFormation::PrincipalPermissions", "AWS::LakeFormation::Permissions"}
# Resources that become edges: type -> (property of the edge's source, of its target, kind, label).
_EDGE_RESOURCES = {
    "AWS::Lambda::EventSourceMapping": ("EventSourceArn", "FunctionName", "event", "event source"),
    "AWS::Lambda::Permission": ("SourceArn", "FunctionName", "event", "invokes"),
    "AWS::SNS::Subscription": ("TopicArn", "Endpoint", "event", "subscription"),
    "AWS::FSx::DataRepositoryAssociation": ("FileSystemId", "DataRepositoryPath", "reference", "data repository"),
}

# Types that serve a data flow without being part of it (a Firehose's role, key, logs).
_SUPPORT_TYPES = {"AWS::IAM::Role", "AWS::KMS::Key", "AWS::Logs::LogGroup", "AWS::Logs::LogStream",
                  "AWS::SecretsManager::Secret", "AWS::EC2::SecurityGroup", "AWS::EC2::Subnet"}
_NOTIFICATION_KEYS = {"Function", "Queue", "Topic", "LambdaFunctionArn", "QueueArn", "TopicArn"}

# Physical names given literally: type -> (property path of the name, ARN fragments before the name).
NAMED_TYPES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "AWS::S3::Bucket": (("BucketName",), (":::",)),
    "AWS::Glue::Database": (("DatabaseInput", "Name"), (":database/", ":table/")),
    "AWS::Glue::Table": (("TableInput", "Name"), ()),
    "AWS::Glue::Crawler": (("Name",), (":crawler/",)),
    "AWS::Glue::SecurityConfiguration": (("Name",), ()),
    "AWS::Athena::WorkGroup": (("Name",), (":workgroup/",)),
    "AWS::Kinesis::Stream": (("Name",), (":stream/",)),
    "AWS::KinesisFirehose::DeliveryStream": (("DeliveryStreamName",), (":deliverystream/",)),
    "AWS::Logs::LogGroup": (("LogGroupName",), (":log-group:",)),
    "AWS::Lambda::Function": (("FunctionName",), (":function:",)),
    "AWS::IAM::Role": (("RoleName",), (":role/",)),
    "AWS::SageMaker::FeatureGroup": (("FeatureGroupName",), (":feature-group/",)),
    "AWS::RedshiftServerless::Namespace": (("NamespaceName",), ()),
    "AWS::RedshiftServerless::Workgroup": (("WorkgroupName",), ()),
    "AWS::SecretsManager::Secret": (("Name",), (":secret:",)),
    "AWS::DynamoDB::Table": (("TableName",), (":table/",)),
    "AWS::ECR::Repository": (("RepositoryName",), (":repository/",)),
}

_INTRINSICS = {"Ref", "Fn::GetAtt", "Fn::Sub", "Fn::Join", "Fn::Select", "Fn::If", "Fn::Split",
               "Fn::Base64", "Fn::FindInMap", "Fn::ImportValue", "Fn::GetAZs", "Fn::Cidr", "Fn::Equals",
               "Fn::Not", "Fn::And", "Fn::Or", "Fn::ToJsonString", "Fn::Length"}
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")
_HASH_SUFFIX = re.compile(r"(?<=.)[0-9A-F]{8}$")
_GENERIC_TAILS = {"resource", "default"}


# --------------------------------------------------------------------------- helpers


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _references(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Every logical id (or parameter) ``value`` names, with the property keys leading to it.

    Pseudo parameters and names that are not resources are filtered by the caller.
    """
    if isinstance(value, dict):
        if len(value) == 1:
            (function, argument), = value.items()
            if function == "Ref" and isinstance(argument, str):
                yield argument, path
                return
            if function == "Fn::GetAtt":
                target = argument[0] if isinstance(argument, list) else str(argument).split(".", 1)[0]
                if isinstance(target, str):
                    yield target, path
                return
            if function == "Fn::Sub":
                text, variables = (argument[0], argument[1]) if isinstance(argument, list) else (argument, {})
                variables = variables if isinstance(variables, dict) else {}
                if isinstance(text, str):
                    for match in _SUB_VARIABLE.finditer(text):
                        name = match.group(1).split(".", 1)[0]
                        if name not in variables:
                            yield name, path
                for inner in variables.values():
                    yield from _references(inner, path)
                return
        for key, inner in value.items():
            yield from _references(inner, path if key in _INTRINSICS else (*path, key))
    elif isinstance(value, list):
        for inner in value:
            yield from _references(inner, path)


def _strings(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Every literal string in ``value`` that is a whole property value, with its keys."""
    if isinstance(value, str):
        if path:
            yield value, path
    elif isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in _INTRINSICS:
            return
        for key, inner in value.items():
            if key != "Tags":
                yield from _strings(inner, (*path, key))
    elif isinstance(value, list):
        for inner in value:
            yield from _strings(inner, path)


def _text(value: Any) -> str:
    """A value flattened to text, references as ``${X}``: for matching ARNs written out."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (function, argument), = value.items()
        if function == "Ref":
            return f"${{{argument}}}"
        if function == "Fn::GetAtt":
            return f"${{{'.'.join(argument) if isinstance(argument, list) else argument}}}"
        if function == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
            return str(argument[0]).join(_text(part) for part in _as_list(argument[1]))
        if function == "Fn::Sub":
            return _text(argument[0] if isinstance(argument, list) else argument)
    if isinstance(value, list):
        return " ".join(_text(inner) for inner in value)
    return ""


def _lookup(properties: dict, path: tuple[str, ...]) -> Any:
    value: Any = properties
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _words(name: str) -> list[str]:
    return re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+", name)


def service_of(resource_type: str) -> str:
    """The service a type belongs to, as shown in the legend: ``AWS::S3::Bucket`` -> ``S3``."""
    parts = resource_type.split("::")
    if parts[0] == "Custom" or resource_type == "AWS::CloudFormation::CustomResource":
        return "Custom resource"
    service = parts[1] if len(parts) > 1 else resource_type
    return _SERVICE_NAMES.get(service, service)


def kind_of(resource_type: str) -> str:
    """The first line of a label: ``AWS::Glue::Crawler`` -> ``Glue crawler``."""
    if resource_type in _KIND_NAMES:
        return _KIND_NAMES[resource_type]
    parts = resource_type.split("::")
    if parts[0] == "Custom":
        return resource_type if len(resource_type) <= 26 else "Custom resource"
    words = _words(parts[-1])
    text = " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in words)
    return f"{service_of(resource_type)} {text}"


def name_of(logical_id: str, resource: dict) -> str:
    """The second line of a label: the construct path without stack and generic tails.

    ``mlref-data-lake/RawZone/Bucket/Resource`` -> ``RawZone``; without path metadata the
    logical id without its hash and type (``RawZoneBucketD23CD850`` -> ``RawZone``).
    """
    tail = resource["Type"].split("::")[-1]
    tail_words = [w.lower() for w in _words(tail)]
    # a custom type names what the resource does, not a kind of resource: keep its words
    generic = set() if resource["Type"].startswith("Custom::") else set(tail_words) | {tail.lower()}
    path = resource.get("Metadata", {}).get("aws:cdk:path")
    if isinstance(path, str) and "/" in path:
        segments = path.split("/")[1:]
        while len(segments) > 1 and segments[-1].lower() in _GENERIC_TAILS:
            segments.pop()
        if len(segments) > 1 and segments[-1].lower() in generic:
            segments.pop()
        return "/".join(segments[-2:])
    name = _HASH_SUFFIX.sub("", logical_id)
    words = _words(name)
    if "".join(words) != name:  # not plain camel case: leave it as it is
        return name
    # strip the type from the end unless too little is left (RawZoneBucket -> RawZone, RawDatabase stays)
    if generic and len(words) > len(tail_words) and [w.lower() for w in words[-len(tail_words):]] == tail_words:
        rest = "".join(words[: -len(tail_words)])
        if len(rest) >= 6:
            return rest
    return name


def is_cdk_helper(logical_id: str, resource: dict) -> bool:
    """A resource aws-cdk-lib adds for its own machinery rather than the lab's architecture."""
    if resource.get("Type") in HELPER_TYPES or logical_id.startswith(HELPER_ID_PREFIXES):
        return True
    path = resource.get("Metadata", {}).get("aws:cdk:path", "")
    return bool(isinstance(path, str) and _HELPER_PATH.search(path))


_VERB_ORDER = ("GetObject", "PutObject", "PutRecord", "Get", "Put", "Invoke", "SELECT", "Select", "Query",
               "Decrypt", "Encrypt", "Send", "Describe", "List")


def summarize_actions(actions: Iterable[str]) -> str:
    """One representative action per service, ``…`` when it has more: ``kms:Decrypt, s3:GetObject…``."""
    by_service: dict[str, list[str]] = {}
    for action in sorted(set(actions)):
        by_service.setdefault(action.split(":")[0], []).append(action)
    return ", ".join(_representative(group) for _, group in sorted(by_service.items()))


def _representative(unique: list[str]) -> str:
    """The most telling of one service's actions (reads before writes before the rest)."""

    def rank(action: str) -> tuple[int, str]:
        verb = action.split(":")[-1]
        for index, prefix in enumerate(_VERB_ORDER):
            if verb.startswith(prefix):
                return index, action
        return len(_VERB_ORDER), action

    best = min(unique, key=rank)
    return best + ("…" if len(unique) > 1 else "")


# --------------------------------------------------------------------------- graph


class _Builder:
    """Turns a template into a Graph; see the module docstring for the rules."""

    def __init__(self, template: dict) -> None:
        self.resources: dict[str, dict] = {
            k: v for k, v in template.get("Resources", {}).items() if isinstance(v, dict) and "Type" in v}
        self.omitted: dict[str, str] = {}
        self.hosts: dict[str, str | None] = {}
        # (source, target, kind) -> label parts (ordered set); grants keep actions.
        self.raw: dict[tuple[str, str, str], dict[str, None]] = {}
        # edges some resource drawn as a node (not only a folded one) contributed
        self.primary: set[tuple[str, str, str]] = set()
        self.current: str = ""  # the resource whose edges are being recorded
        self.names = self._name_index()

    # -- which resources are nodes -------------------------------------------------

    def _name_index(self) -> dict[str, list[str]]:
        names: dict[str, list[str]] = {}
        for logical_id, resource in self.resources.items():
            spec = NAMED_TYPES.get(resource["Type"])
            if spec:
                value = _lookup(resource.get("Properties", {}), spec[0])
                if isinstance(value, str) and value:
                    names.setdefault(value, []).append(logical_id)
        return names

    def _principals_of_policy(self, logical_id: str) -> list[str]:
        props = self.resources[logical_id].get("Properties", {})
        found = [ref for key in ("Roles", "Users", "Groups") for ref, _ in _references(props.get(key, []))]
        for other_id, other in self.resources.items():  # roles listing it in ManagedPolicyArns
            if other["Type"] in {"AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"}:
                arns = other.get("Properties", {}).get("ManagedPolicyArns", [])
                if any(ref == logical_id for ref, _ in _references(arns)):
                    found.append(other_id)
        return [p for p in dict.fromkeys(found) if p in self.resources]

    def _first_reference(self, value: Any) -> str | None:
        return next((ref for ref, _ in _references(value) if ref in self.resources), None)

    def classify(self) -> None:
        """Fills ``hosts``: logical id -> the node it is drawn as (itself, a host, or None)."""
        pending: dict[str, str] = {}
        for logical_id, resource in self.resources.items():
            kind, props = resource["Type"], resource.get("Properties", {})
            if kind == "AWS::CDK::Metadata":
                self.omitted[logical_id] = _METADATA
                self.hosts[logical_id] = None
            elif is_cdk_helper(logical_id, resource):
                self.omitted[logical_id] = _HELPER
                self.hosts[logical_id] = None
            elif kind in _POLICY_TYPES:
                principals = self._principals_of_policy(logical_id)
                self.omitted[logical_id] = _POLICY
                pending[logical_id] = principals[0] if principals else ""
            elif kind in _LF_PERMISSION_TYPES:
                self.omitted[logical_id] = _LAKE_FORMATION
                pending[logical_id] = self._first_reference(props.get("Principal")) or ""
            elif kind in _EDGE_RESOURCES:
                self.omitted[logical_id] = _AS_EDGE
                pending[logical_id] = self._first_reference(props.get(_EDGE_RESOURCES[kind][1])) or ""
            elif kind in FOLDED_INTO:
                host = self._first_reference(props.get(FOLDED_INTO[kind]))
                self.omitted[logical_id] = f"folded into {host}" if host else "plumbing without a host"
                pending[logical_id] = host or ""
            else:
                self.hosts[logical_id] = logical_id
        for logical_id in pending:
            self.hosts[logical_id] = self._resolve(logical_id, pending, set())

    def _resolve(self, logical_id: str, pending: dict[str, str], seen: set[str]) -> str | None:
        if logical_id not in pending:
            return self.hosts.get(logical_id)
        if logical_id in seen:
            return None
        seen.add(logical_id)
        host = pending[logical_id]
        return self._resolve(host, pending, seen) if host else None

    # -- edges -------------------------------------------------------------------

    def add(self, source: str, target: str, kind: str, label: str = "") -> None:
        """Records an edge between two resources, drawn between the nodes that host them."""
        source_node, target_node = self.hosts.get(source), self.hosts.get(target)
        if not source_node or not target_node or source_node == target_node:
            return
        key = (source_node, target_node, kind)
        parts = self.raw.setdefault(key, {})
        if label:
            parts[label] = None
        if self.resources.get(self.current, {}).get("Type") not in FOLDED_INTO:
            self.primary.add(key)

    def resource_targets(self, value: Any) -> list[str]:
        """Resources a policy statement's Resource names: references and ARNs ending in a name."""
        found = [ref for ref, _ in _references(value) if ref in self.resources]
        for text in (_text(item) for item in _as_list(value)):
            for name, owners in self.names.items():
                for owner in owners:
                    markers = NAMED_TYPES[self.resources[owner]["Type"]][1]
                    haystack, needle = (text.lower(), name.lower()) if \
                        self.resources[owner]["Type"] == "AWS::SageMaker::FeatureGroup" else (text, name)
                    if any(re.search(re.escape(marker + needle) + r"(?=$|[/:*\s])", haystack) for marker in markers):
                        found.append(owner)
        return list(dict.fromkeys(found))

    def grants(self, principal: str, document: Any) -> None:
        """Principal -> resource edges for every Allow statement of a policy document."""
        if not isinstance(document, dict):
            return
        for statement in _as_list(document.get("Statement", [])):
            if not isinstance(statement, dict) or statement.get("Effect", "Allow") != "Allow":
                continue
            actions = [a for a in _as_list(statement.get("Action", [])) if isinstance(a, str)]
            for target in self.resource_targets(statement.get("Resource", [])):
                for action in actions or ["*"]:
                    self.add(principal, target, "grant", action)

    def named(self, value: str, key: str) -> str | None:
        """The resource a literal string names, if the property key says which kind it is."""
        owners = [o for o in self.names.get(value, [])
                  if self.resources[o]["Type"].split("::")[-1].lower() in key.lower()]
        return owners[0] if len(owners) == 1 else None

    def edges_of(self, logical_id: str) -> None:
        """Every edge a resource contributes."""
        resource = self.resources[logical_id]
        kind, props = resource["Type"], resource.get("Properties", {}) or {}
        if not isinstance(props, dict):
            props = {}
        if kind in _POLICY_TYPES:
            for principal in self._principals_of_policy(logical_id):
                self.grants(principal, props.get("PolicyDocument"))
            return
        if kind in _LF_PERMISSION_TYPES:
            self._lake_formation_grant(props)
            return
        if kind in _EDGE_RESOURCES:
            source_key, target_key, edge_kind, label = _EDGE_RESOURCES[kind]
            for source, _ in _references(props.get(source_key)):
                for target, _ in _references(props.get(target_key)):
                    if source in self.resources and target in self.resources:
                        self.add(source, target, edge_kind, label)
            return
        if kind == "Custom::S3BucketNotifications":
            self._bucket_notifications(props)
        skip = {"Policies", "ManagedPolicyArns"} if kind in {"AWS::IAM::Role", "AWS::IAM::User",
                                                             "AWS::IAM::Group"} else set()
        if skip:
            for policy in _as_list(props.get("Policies", [])):
                if isinstance(policy, dict):
                    self.grants(logical_id, policy.get("PolicyDocument"))
        for key, value in props.items():
            if key in skip:
                continue
            for target, path in _references(value, (key,)):
                if target in self.resources and target != logical_id:
                    self._reference(logical_id, target, path, props)
            for text, path in _strings(value, (key,)):
                owner = self.named(text, path[-1])
                if owner and owner != logical_id:
                    self.add(logical_id, owner, "reference")

    def _reference(self, logical_id: str, target: str, path: tuple[str, ...], props: dict) -> None:
        """A reference, or the event or labelled edge it stands for in this resource type."""
        kind = self.resources[logical_id]["Type"]
        target_type = self.resources[target]["Type"]
        if kind == "AWS::KinesisFirehose::DeliveryStream" and target_type not in _SUPPORT_TYPES:
            if path[0].endswith("SourceConfiguration"):
                return self.add(target, logical_id, "event", "source")
            if "ProcessingConfiguration" in path:
                return self.add(logical_id, target, "event", "transform")
            if path[0].endswith("DestinationConfiguration"):
                return self.add(logical_id, target, "event", "delivers to")
        if kind == "AWS::Scheduler::Schedule" and path == ("Target", "Arn"):
            return self.add(logical_id, target, "event", "invokes")
        if kind == "AWS::Events::Rule" and path == ("Targets", "Arn"):
            return self.add(logical_id, target, "event", "triggers")
        if kind == "AWS::S3::Bucket" and path[0] == "NotificationConfiguration" and path[-1] in _NOTIFICATION_KEYS:
            return self.add(logical_id, target, "event", "notifies")
        if kind == "AWS::Pipes::Pipe" and path == ("Source",):
            return self.add(target, logical_id, "event", "source")
        if kind == "AWS::Pipes::Pipe" and path == ("Target",):
            return self.add(logical_id, target, "event", "target")
        if kind in {"AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress", "AWS::EC2::SecurityGroup"}:
            rule = props if kind != "AWS::EC2::SecurityGroup" else None
            if path[-1] == "SourceSecurityGroupId":
                return self.add(target, logical_id, "reference", _ports(rule))
            if path[-1] == "DestinationSecurityGroupId":
                return self.add(logical_id, target, "reference", _ports(rule))
        if kind == "AWS::FSx::FileSystem" and path[-1] in {"ImportPath", "ExportPath"}:
            return self.add(logical_id, target, "reference", "data repository")
        self.add(logical_id, target, "reference")

    def _lake_formation_grant(self, props: dict) -> None:
        principals = [r for r, _ in _references(props.get("Principal")) if r in self.resources]
        resource = props.get("Resource", {})
        targets = [r for r, _ in _references(resource) if r in self.resources]
        for text, path in _strings(resource):
            if path[-1] == "DatabaseName" or path == ("Database", "Name"):
                targets += [o for o in self.names.get(text, []) if self.resources[o]["Type"] == "AWS::Glue::Database"]
            elif path == ("Table", "Name"):
                targets += [o for o in self.names.get(text, []) if self.resources[o]["Type"] == "AWS::Glue::Table"]
        actions = [f"lakeformation:{p}" for p in _as_list(props.get("Permissions", [])) if isinstance(p, str)]
        for principal in principals:
            for target in dict.fromkeys(targets):
                for action in actions or ["lakeformation:*"]:
                    self.add(principal, target, "grant", action)

    def _bucket_notifications(self, props: dict) -> None:
        buckets = [r for r, _ in _references(props.get("BucketName")) if r in self.resources]
        for target, path in _references(props.get("NotificationConfiguration", {})):
            if target in self.resources and path and path[-1] in _NOTIFICATION_KEYS:
                for bucket in buckets:
                    # the handler is a dropped helper: record the edge on the bucket itself
                    self.add(bucket, target, "event", "notifies")

    def dependencies(self) -> None:
        """DependsOn of the resources drawn as nodes (a folded policy's own are no architecture)."""
        for logical_id, resource in self.resources.items():
            if self.hosts.get(logical_id) != logical_id:
                continue
            self.current = logical_id
            for target in _as_list(resource.get("DependsOn", [])):
                if isinstance(target, str) and target in self.resources:
                    self.add(logical_id, target, "depends_on")

    def build(self, title: str) -> Graph:
        """Nodes, then every resource's edges, then one edge per pair and kind, strongest kinds only."""
        self.classify()
        for logical_id in self.resources:
            if logical_id in self.omitted and self.omitted[logical_id] in {_METADATA, _HELPER} \
                    and self.resources[logical_id]["Type"] != "Custom::S3BucketNotifications":
                continue
            self.current = logical_id
            self.edges_of(logical_id)
        self.dependencies()
        strongest: dict[frozenset[str], int] = {}
        for source, target, kind in self.raw:
            pair = frozenset((source, target))
            strongest[pair] = max(strongest.get(pair, -1), _STRENGTH[kind])
        edges = []
        for (source, target, kind), parts in self.raw.items():
            if _STRENGTH[kind] < strongest[frozenset((source, target))]:
                continue
            key, reverse = (source, target, kind), (target, source, kind)
            if key not in self.primary and reverse in self.primary:
                continue  # a folded resource's reference back to what already refers to it
            label = summarize_actions(parts) if kind == "grant" else ", ".join(parts)
            edges.append(Edge(source, target, kind, label))
        nodes = {}
        for logical_id in sorted(self.resources):
            if self.hosts.get(logical_id) == logical_id:
                resource = self.resources[logical_id]
                label = f"{kind_of(resource['Type'])}\n{name_of(logical_id, resource)}"
                nodes[logical_id] = Node(logical_id, resource["Type"], service_of(resource["Type"]), label)
        return Graph(nodes=nodes, edges=sorted(edges), omitted=dict(sorted(self.omitted.items())), title=title)


def _ports(rule: dict | None) -> str:
    if not rule:
        return ""
    protocol = str(rule.get("IpProtocol", ""))
    low, high = rule.get("FromPort"), rule.get("ToPort")
    if protocol == "-1":
        return "all traffic"
    ports = f"{low}" if low == high else f"{low}-{high}"
    return f"{protocol} {ports}".strip()


def build_graph(template: dict) -> Graph:
    """The architecture graph of a synthesized CloudFormation template (pure, deterministic).

    See the module docstring for what becomes a node and an edge.
    """
    return _Builder(template).build(title=str(template.get("Description", "")))


# --------------------------------------------------------------------------- layout

COLUMN_PITCH = 3.7
ROW_PITCH = 1.35
NODE_WIDTH = 2.6
NODE_HEIGHT = 0.8
MINOR_HEIGHT = 0.56


@dataclass(frozen=True)
class Layout:
    """Where each node goes: a grid of columns (tiers) and rows, in diagram units.

    One unit is about three quarters of an inch when drawn. Rows line up across columns,
    so the strips between rows (corridors) and between columns (channels) are free of
    nodes and edges are routed through them.

    Attributes:
        cells: logical id -> (column, row); row 0 is the top.
        headings: (column, heading) of each tier; the column is fractional when a tier wraps.
        columns: how many columns.
        rows: how many rows.
    """

    cells: dict[str, tuple[int, int]]
    headings: list[tuple[float, str]]
    columns: int
    rows: int

    def centre(self, node_id: str) -> tuple[float, float]:
        """The centre of a node's box; y grows upwards, the top row is at ``rows - 1``."""
        column, row = self.cells[node_id]
        return self.x(column), self.y(row)

    @staticmethod
    def x(column: float) -> float:
        """The centre x of a column."""
        return column * COLUMN_PITCH + NODE_WIDTH / 2

    def y(self, row: float) -> float:
        """The centre y of a row (fractional rows are the corridors between rows)."""
        return (self.rows - 1 - row) * ROW_PITCH

    @property
    def width(self) -> float:
        return (self.columns - 1) * COLUMN_PITCH + NODE_WIDTH

    @property
    def height(self) -> float:
        return (self.rows - 1) * ROW_PITCH


def tier_of(node: Node) -> tuple[int, int]:
    """(tier, rank of its service within the tier) of a node: see ``TIERS``."""
    resource_service = "::".join(node.type.split("::")[1:3]) if node.type.startswith("AWS::") else ""
    for wanted in (node.type, resource_service, node.service):  # the most specific entry wins
        for column, (_, members) in enumerate(TIERS):
            if wanted in members:
                return column, members.index(wanted)
    return _DEFAULT_TIER, len(TIERS[_DEFAULT_TIER][1])


def layout(graph: Graph, max_rows: int | None = None) -> Layout:
    """Columns by tier, nodes grouped by service, ordered by barycenter sweeps (deterministic).

    A tier with more than ``max_rows`` nodes wraps into more columns; a column shorter
    than the tallest is centred on whole rows so that rows line up across columns.
    """
    tiers: dict[int, list[Node]] = {}
    for node in graph.nodes.values():
        tiers.setdefault(tier_of(node)[0], []).append(node)
    if max_rows is None:
        max_rows = max(8, math.ceil(1.6 * math.sqrt(max(len(graph.nodes), 1))))
    neighbours: dict[str, list[str]] = {node_id: [] for node_id in graph.nodes}
    for edge in graph.edges:
        neighbours[edge.source].append(edge.target)
        neighbours[edge.target].append(edge.source)
    orders: dict[int, list[str]] = {
        tier: [n.id for n in sorted(nodes, key=lambda n: (tier_of(n)[1], n.service, n.label, n.id))]
        for tier, nodes in sorted(tiers.items())}

    def place() -> Layout:
        stacks: list[list[str]] = []
        headings: list[tuple[float, str]] = []
        for tier, ids in orders.items():
            pieces = math.ceil(len(ids) / max_rows)
            size = math.ceil(len(ids) / pieces)
            headings.append((len(stacks) + (pieces - 1) / 2, TIERS[tier][0]))
            stacks += [ids[piece * size:(piece + 1) * size] for piece in range(pieces)]
        rows = max((len(ids) for ids in stacks), default=1)
        cells = {node_id: (column, (rows - len(ids)) // 2 + row)
                 for column, ids in enumerate(stacks) for row, node_id in enumerate(ids)}
        return Layout(cells=cells, headings=headings, columns=len(stacks), rows=rows)

    plan = place()
    for sweep in range(8):
        for tier in (list(orders) if sweep % 2 == 0 else list(reversed(orders))):
            ids = orders[tier]
            own = {plan.cells[i][0] for i in ids}

            def barycenter(node_id: str) -> float:
                rows = [plan.cells[n][1] for n in neighbours[node_id] if plan.cells[n][0] not in own]
                return sum(rows) / len(rows) if rows else plan.cells[node_id][1]

            groups: dict[str, list[str]] = {}
            for node_id in ids:
                groups.setdefault(graph.nodes[node_id].service, []).append(node_id)
            ranked = []
            for service, members in groups.items():
                members.sort(key=lambda i: (barycenter(i), graph.nodes[i].label, i))
                mean = sum(barycenter(i) for i in members) / len(members)
                ranked.append((round(mean, 6), tier_of(graph.nodes[members[0]])[1], service, members))
            ranked.sort(key=lambda item: item[:3])
            orders[tier] = [node_id for *_, members in ranked for node_id in members]
        plan = place()
    return plan


@dataclass(frozen=True)
class Route:
    """The drawn path of one edge: a polyline with rounded corners, or an S-curve.

    Attributes:
        points: the polyline's vertices, from the source's side to the target's side.
        curve: True when ``points`` are the four control points of one cubic Bezier.
        spots: where the edge's label may go, best first.
    """

    points: list[tuple[float, float]]
    curve: bool
    spots: list[tuple[float, float]]


def route(graph: Graph, plan: Layout) -> dict[Edge, Route]:
    """Paths that leave nodes sideways and run through channels and corridors, never across a box.

    Edges between neighbouring columns are S-curves; others go to the channel beside the
    source, along the free corridor between rows nearest to both ends, and down the
    channel beside the target. Each edge gets its own lane in a channel or corridor, and
    its own port on a node's side, ordered to avoid crossings.
    """
    gap = COLUMN_PITCH - NODE_WIDTH
    occupied = {(column, row) for column, row in plan.cells.values()}
    # sides: where each edge leaves and enters; +1 right, -1 left
    sides: dict[Edge, tuple[int, int]] = {}
    for edge in graph.edges:
        source_column, target_column = plan.cells[edge.source][0], plan.cells[edge.target][0]
        if source_column < target_column:
            sides[edge] = (1, -1)
        elif source_column > target_column:
            sides[edge] = (-1, 1)
        else:
            sides[edge] = (1, 1)
    # ports: spread the edges on each side of a node by the row of their other end
    attached: dict[tuple[str, int], list[tuple[float, Edge, bool]]] = {}
    for edge, (out_side, in_side) in sides.items():
        attached.setdefault((edge.source, out_side), []).append((plan.cells[edge.target][1], edge, True))
        attached.setdefault((edge.target, in_side), []).append((plan.cells[edge.source][1], edge, False))
    ports: dict[tuple[Edge, bool], tuple[float, float]] = {}
    for (node_id, side), items in attached.items():
        items.sort(key=lambda item: (item[0], item[1], item[2]))
        x, y = plan.centre(node_id)
        half = (MINOR_HEIGHT if graph.nodes[node_id].minor else NODE_HEIGHT) / 2
        spread = 0.0 if len(items) == 1 else 1.3 * half / (len(items) - 1)
        for index, (_, edge, outgoing) in enumerate(items):
            offset = (len(items) - 1) / 2 - index  # first item (lowest row = highest y) at the top
            ports[(edge, outgoing)] = (x + side * NODE_WIDTH / 2, y + offset * spread)

    load: dict[float, int] = {}

    def corridor(source_row: int, target_row: int, columns: range) -> float:
        """The free row or between-row strip nearest to both ends and least used (in row units)."""
        low, high = sorted((source_row, target_row))
        candidates = [r + 0.5 for r in range(-1, plan.rows)]
        candidates += [float(r) for r in range(plan.rows) if all((c, r) not in occupied for c in columns)]
        best = min(candidates, key=lambda r: (max(low - r, 0) + max(r - high, 0) + 0.25 * load.get(r, 0),
                                              abs(r - (low + high) / 2), r))
        load[best] = load.get(best, 0) + 1
        return best

    # first pass: the shape of each route, lanes assigned afterwards
    shapes: dict[Edge, tuple[str, Any]] = {}
    channel_users: dict[int, list[tuple[float, Edge, int]]] = {}
    corridor_users: dict[float, list[tuple[float, Edge]]] = {}
    for edge in graph.edges:
        (sc, sr), (tc, tr) = plan.cells[edge.source], plan.cells[edge.target]
        start, end = ports[(edge, True)], ports[(edge, False)]
        if abs(sc - tc) == 1:
            shapes[edge] = ("curve", None)
            continue
        if sc == tc:
            channel = sc  # channel c lies right of column c
            channel_users.setdefault(channel, []).append(((start[1] + end[1]) / 2, edge, 0))
            shapes[edge] = ("same", channel)
            continue
        first = sc if sc < tc else sc - 1
        last = tc - 1 if sc < tc else tc
        between = range(min(sc, tc) + 1, max(sc, tc))
        strip = corridor(sr, tr, between)
        channel_users.setdefault(first, []).append((start[1], edge, 0))
        channel_users.setdefault(last, []).append((end[1], edge, 1))
        corridor_users.setdefault(strip, []).append((min(start[0], end[0]), edge))
        shapes[edge] = ("corridor", (first, last, strip))
    lanes: dict[tuple[Edge, int], float] = {}
    for channel, users in channel_users.items():
        users.sort(key=lambda item: (item[0], item[1], item[2]))
        left = plan.x(channel) + NODE_WIDTH / 2
        for index, (_, edge, end_index) in enumerate(users):
            lanes[(edge, end_index)] = left + gap * (0.18 + 0.64 * (index + 0.5) / len(users))
    corridor_lane: dict[Edge, float] = {}
    for strip, users in corridor_users.items():
        users.sort(key=lambda item: (item[0], item[1]))
        room = (ROW_PITCH - NODE_HEIGHT) * 0.7 if strip % 1 else NODE_HEIGHT * 0.7
        for index, (_, edge) in enumerate(users):
            corridor_lane[edge] = plan.y(strip) + room * ((index + 0.5) / len(users) - 0.5)

    routes: dict[Edge, Route] = {}
    for edge, (shape, data) in shapes.items():
        start, end = ports[(edge, True)], ports[(edge, False)]
        if shape == "curve":
            middle = (start[0] + end[0]) / 2
            points = [start, (middle, start[1]), (middle, end[1]), end]
            spots = [_bezier(points, t) for t in (0.5, 0.35, 0.65, 0.2, 0.8)]
            routes[edge] = Route(points, True, spots)
        elif shape == "same":
            lane = lanes[(edge, 0)]
            points = [start, (lane, start[1]), (lane, end[1]), end]
            routes[edge] = Route(points, False, [(lane, (start[1] + end[1]) / 2), (lane, start[1] * 0.7 + end[1] * 0.3),
                                                 (lane, start[1] * 0.3 + end[1] * 0.7)])
        else:
            first_lane, last_lane, y = lanes[(edge, 0)], lanes[(edge, 1)], corridor_lane[edge]
            points = [start, (first_lane, start[1]), (first_lane, y), (last_lane, y), (last_lane, end[1]), end]
            spots = [(first_lane + (last_lane - first_lane) * t, y) for t in (0.5, 0.3, 0.7, 0.15, 0.85)]
            routes[edge] = Route(points, False, spots)
    return routes


def _bezier(points: list[tuple[float, float]], t: float) -> tuple[float, float]:
    """A point of the cubic Bezier curve with control points ``points``."""
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = points
    a, b, c, d = (1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t ** 3
    return a * x0 + b * x1 + c * x2 + d * x3, a * y0 + b * y1 + c * y2 + d * y3


def _rounded(points: list[tuple[float, float]], radius: float = 0.14) -> tuple[list, list]:
    """Vertices and codes of a polyline whose corners are rounded (quadratic curves)."""
    from matplotlib.path import Path as MplPath

    vertices, codes = [points[0]], [MplPath.MOVETO]
    for previous, corner, following in zip(points, points[1:], points[2:]):
        into = math.dist(previous, corner)
        out = math.dist(corner, following)
        r = min(radius, into / 2, out / 2)
        if r <= 1e-9:
            vertices.append(corner)
            codes.append(MplPath.LINETO)
            continue
        before = (corner[0] + (previous[0] - corner[0]) * r / into, corner[1] + (previous[1] - corner[1]) * r / into)
        after = (corner[0] + (following[0] - corner[0]) * r / out, corner[1] + (following[1] - corner[1]) * r / out)
        vertices += [before, corner, after]
        codes += [MplPath.LINETO, MplPath.CURVE3, MplPath.CURVE3]
    vertices.append(points[-1])
    codes.append(MplPath.LINETO)
    return vertices, codes


# --------------------------------------------------------------------------- drawing

EDGE_STYLES: dict[str, dict[str, Any]] = {
    "reference": {"color": "#8A96A3", "linewidth": 0.8, "linestyle": "-", "label": "reference (Ref, GetAtt, Sub)"},
    "depends_on": {"color": "#A9B3BD", "linewidth": 0.8, "linestyle": (0, (4, 3)), "label": "DependsOn"},
    "grant": {"color": "#D13212", "linewidth": 0.9, "linestyle": (0, (1.5, 1.5)), "label": "IAM / Lake Formation grant"},
    "event": {"color": "#1A5FB4", "linewidth": 1.9, "linestyle": "-", "label": "event / data flow"},
}


def _wrap(text: str, width: int = 24) -> list[str]:
    """A node name in at most two lines, broken at ``/`` or word boundaries."""
    if len(text) <= width:
        return [text]
    pieces = re.findall(r"[^/]+/?", text)
    if len(pieces) == 1:
        pieces = [w for w in re.split(r"(?<=[a-z0-9])(?=[A-Z])", text) if w]
    first = ""
    while pieces and len(first + pieces[0]) <= width:
        first += pieces.pop(0)
    rest = "".join(pieces)
    if not first:
        first, rest = text[:width], text[width:]
    if len(rest) > width:
        rest = rest[: width - 1] + "…"
    return [first, rest] if rest else [first]


def _colour(service: str, services: list[str]) -> str:
    if service in SERVICE_COLOURS:
        return SERVICE_COLOURS[service]
    spare = [s for s in services if s not in SERVICE_COLOURS]
    return _SPARE_COLOURS[spare.index(service) % len(_SPARE_COLOURS)]


def _tint(colour: str, amount: float) -> tuple[float, float, float]:
    red, green, blue = (int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return (1 - amount * (1 - red), 1 - amount * (1 - green), 1 - amount * (1 - blue))


def _box_of(plan: Layout, node: Node) -> tuple[float, float, float, float]:
    x, y = plan.centre(node.id)
    half = (MINOR_HEIGHT if node.minor else NODE_HEIGHT) / 2
    return x - NODE_WIDTH / 2, x + NODE_WIDTH / 2, y - half, y + half


def _overlap(one: tuple[float, float, float, float], other: tuple[float, float, float, float]) -> bool:
    return one[0] < other[1] and other[0] < one[1] and one[2] < other[3] and other[2] < one[3]


_FOOTNOTE_PHRASES = (
    (_HELPER, "aws-cdk-lib helper resources (auto-delete, log retention, default-SG restriction providers)"),
    (_POLICY, "IAM policies, drawn as grant edges"),
    (_LAKE_FORMATION, "Lake Formation permissions, drawn as grant edges"),
    (_AS_EDGE, "event source mappings, permissions, subscriptions or associations, drawn as edges"),
    ("folded into", "bucket policies, subnets, routes, SG rules, log streams or aliases, folded into their owner"),
    (_METADATA, "CDK metadata"),
)


def footnote(graph: Graph) -> str:
    """What the diagram leaves out, counted by reason."""
    counts: dict[str, int] = {}
    for reason in graph.omitted.values():
        phrase = next((p for prefix, p in _FOOTNOTE_PHRASES if reason.startswith(prefix)), "other plumbing")
        counts[phrase] = counts.get(phrase, 0) + 1
    order = [p for _, p in _FOOTNOTE_PHRASES] + ["other plumbing"]
    parts = [f"{counts[p]} {p}" for p in order if p in counts]
    return "Not drawn as boxes: " + "; ".join(parts) + "." if parts else ""


def render(graph: Graph, out_dir: Path, name: str) -> list[Path]:
    """Draws the graph to ``out_dir/<name>.svg`` and ``out_dir/<name>.png``; returns both paths.

    Uses matplotlib's Agg and SVG backends directly (no pyplot, no display, no network);
    the SVG is byte-identical for the same graph (fixed hash salt, no date, text as text).
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch
    from matplotlib.path import Path as MplPath

    out_dir.mkdir(parents=True, exist_ok=True)
    plan = layout(graph)
    routes = route(graph, plan)
    services = sorted({node.service for node in graph.nodes.values()},
                      key=lambda s: min((tier_of(n), s) for n in graph.nodes.values() if n.service == s))
    kinds = [kind for kind in EDGE_STYLES if graph.edges_of(kind)]
    legend_columns = 6
    legend_rows = math.ceil((len(services) + len(kinds)) / legend_columns)
    note_lines = textwrap.wrap(footnote(graph), width=max(int(plan.width * 15), 60))
    settings = {"svg.hashsalt": "mlref-labs-diagram", "svg.fonttype": "none", "font.family": "DejaVu Sans",
                "path.simplify": True}
    paths = [out_dir / f"{name}.svg", out_dir / f"{name}.png"]
    with matplotlib.rc_context(settings):
        top_margin = 1.5
        bottom_margin = 0.8 + 0.36 * legend_rows + 0.22 * len(note_lines)
        left, right = -0.4, plan.width + (COLUMN_PITCH - NODE_WIDTH) + 0.8
        bottom, top = -NODE_HEIGHT / 2 - bottom_margin, plan.height + NODE_HEIGHT / 2 + top_margin
        scale = 0.72  # inches per diagram unit
        figure = Figure(figsize=((right - left) * scale, (top - bottom) * scale))
        FigureCanvasAgg(figure)
        axes = figure.add_axes((0, 0, 1, 1))
        axes.set_xlim(left, right)
        axes.set_ylim(bottom, top)
        axes.axis("off")
        if graph.title:
            axes.text(plan.width / 2, top - 0.3, graph.title, ha="center", va="top", fontsize=13,
                      fontweight="bold", color="#232F3E")
        for column, heading in plan.headings:
            axes.text(plan.x(column), plan.height + NODE_HEIGHT / 2 + 0.25, heading, ha="center", va="bottom",
                      fontsize=9.5, color="#545B64", fontstyle="italic")

        for edge in sorted(graph.edges, key=lambda e: (_STRENGTH[e.kind], e)):
            style, path = EDGE_STYLES[edge.kind], routes[edge]
            if path.curve:
                vertices, codes = path.points, [MplPath.MOVETO] + [MplPath.CURVE4] * 3
            else:
                vertices, codes = _rounded(path.points)
            axes.add_patch(FancyArrowPatch(
                path=MplPath(vertices, codes), arrowstyle="-|>,head_length=3.5,head_width=1.8",
                color=style["color"], linewidth=style["linewidth"], linestyle=style["linestyle"],
                alpha=0.95 if edge.kind in {"event", "grant"} else 0.75, zorder=2 + _STRENGTH[edge.kind] * 0.1))
        # labels: events first, then grants and port labels where they overlap nothing placed so far
        taken = [_box_of(plan, graph.nodes[node_id]) for node_id in graph.nodes]
        for edge in sorted(graph.edges, key=lambda e: (-_STRENGTH[e.kind], e)):
            if not edge.label or edge.kind == "depends_on":
                continue
            style = EDGE_STYLES[edge.kind]
            text = edge.label if len(edge.label) <= 44 else edge.label[:43] + "…"
            size = 6.5 if edge.kind == "event" else 5.4
            half_w, half_h = len(text) * size * 0.3 / 72 / scale + 0.04, size * 0.75 / 72 / scale + 0.02
            for x, y in routes[edge].spots:
                area = (x - half_w, x + half_w, y - half_h, y + half_h)
                if edge.kind == "event" or not any(_overlap(area, other) for other in taken):
                    break
            else:
                continue  # no free spot: the edge's style still says it is a grant
            taken.append(area)
            axes.text(x, y, text, ha="center", va="center", zorder=6, fontsize=size, color=style["color"],
                      fontweight="bold" if edge.kind == "event" else "normal",
                      bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.85})

        for node_id, node in graph.nodes.items():
            x, y = plan.centre(node_id)
            half = (MINOR_HEIGHT if node.minor else NODE_HEIGHT) / 2
            colour = _colour(node.service, services)
            axes.add_patch(FancyBboxPatch(
                (x - NODE_WIDTH / 2, y - half), NODE_WIDTH, 2 * half, boxstyle="round,pad=0,rounding_size=0.08",
                facecolor=_tint(colour, 0.2), edgecolor=colour, linewidth=1.3 if not node.minor else 0.8,
                zorder=4))
            axes.add_patch(FancyBboxPatch(
                (x - NODE_WIDTH / 2, y - half), 0.1, 2 * half, boxstyle="square,pad=0", facecolor=colour,
                edgecolor="none", zorder=4.5))
            kind, _, name_text = node.label.partition("\n")
            lines = _wrap(name_text)
            if node.minor:
                axes.text(x + 0.05, y + 0.1, kind, ha="center", va="center", fontsize=5.8, color="#414D5C",
                          zorder=5)
                axes.text(x + 0.05, y - 0.11, lines[0] + ("…" if len(lines) > 1 else ""), ha="center",
                          va="center", fontsize=6.3, color="#16191F", zorder=5)
                continue
            first = y + 0.12 * len(lines)
            axes.text(x + 0.05, first, kind, ha="center", va="center", fontsize=6.6, color="#414D5C", zorder=5)
            for row, line in enumerate(lines):
                axes.text(x + 0.05, first - 0.25 - row * 0.2, line, ha="center", va="center", fontsize=7.8,
                          fontweight="bold", color="#16191F", zorder=5)

        handles = [Patch(facecolor=_tint(_colour(s, services), 0.2), edgecolor=_colour(s, services), label=s)
                   for s in services]
        handles += [Line2D([], [], color=EDGE_STYLES[k]["color"], linewidth=EDGE_STYLES[k]["linewidth"] + 0.4,
                           linestyle=EDGE_STYLES[k]["linestyle"], label=EDGE_STYLES[k]["label"]) for k in kinds]
        if handles:
            axes.legend(handles=handles, loc="upper center", bbox_to_anchor=(plan.width / 2, -NODE_HEIGHT / 2 - 0.45),
                        bbox_transform=axes.transData, ncol=min(len(handles), legend_columns), fontsize=8,
                        frameon=False, handlelength=2.8, columnspacing=1.8)
        for row, line in enumerate(note_lines):
            axes.text(plan.width / 2, bottom + 0.25 + 0.22 * (len(note_lines) - 1 - row), line, ha="center",
                      va="bottom", fontsize=6.8, color="#687078")
        figure.savefig(paths[0], format="svg", metadata={"Date": None})
        figure.savefig(paths[1], format="png", dpi=100, metadata={"Software": None})
    return paths


# --------------------------------------------------------------------------- lab


def diagram_lab(lab: str, assembly: Path, out_dir: Path) -> list[Path]:
    """Draws a synthesized lab: ``out_dir/<lab>.svg`` and ``out_dir/<lab>.png``.

    Raises:
        LabError: the lab is unknown (the message lists the labs), or ``assembly`` holds
            no synthesized template of it (the message says to run ``labs synth LAB``).
    """
    from labs.inspect import template_of
    from labs.contracts import contract as definition

    item = definition(lab)
    try:
        template = template_of(Path(assembly), item.stack_name)
    except LabError as error:
        raise LabError(f"no synthesized template of {lab} ({item.stack_name}) in {assembly}: "
                       f"run `labs synth {lab}` first") from error
    graph = replace(build_graph(template), title=f"{lab} ({item.stack_name})")
    return render(graph, Path(out_dir), lab)
