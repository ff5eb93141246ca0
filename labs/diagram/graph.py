"""``build_graph(template)``: the architecture graph of a synthesized CloudFormation template.

Pure and deterministic; nothing is drawn here (see ``labs.diagram.model`` for the graph).
Every resource that says something about the architecture is a node. Edges:

* ``reference``: a ``Ref``, ``Fn::GetAtt``, ``${X}`` / ``${X.Arn}`` inside ``Fn::Sub`` or a
  ``Fn::Join`` part anywhere in a resource's Properties, pointing from the resource that
  holds it to the resource it names. A literal name that is another resource's name
  (``DatabaseName: "mlref_data_lake_raw"``) counts too, when the property says which kind
  of resource it names.
* ``depends_on``: ``DependsOn`` of a resource drawn as a node, unless another edge already
  links the two.
* ``grant``: an ``AWS::IAM::Policy`` / ``AWS::IAM::ManagedPolicy`` (or a role's inline
  policy, or a Lake Formation ``PrincipalPermissions``) is not drawn as a node: each
  statement becomes principal -> resource edges labelled with an action (``s3:GetObject…``).
  Resources are found through references and through literal ARNs that end in a
  resource's name (``…:database/mlref_data_lake_raw``).
* ``event``: data or invocations flowing: Kinesis stream -> Firehose (source), Firehose ->
  its transform Lambda and its destinations, a Scheduler schedule or an EventBridge rule ->
  its target, Lambda event source mappings, Lambda permissions with a source ARN, S3
  notifications, SNS subscriptions.

Between two resources only the strongest kind is kept, so a Firehose's reference to its
stream is drawn once, as the event. What is not a node, and why, is in ``Graph.omitted``:

* ``AWS::CDK::Metadata``; Parameters, Conditions and pseudo parameters never are.
* aws-cdk-lib's own helpers (auto-delete objects, log retention, default security group
  restriction, bucket notifications and deployments, AwsCustomResource): their custom
  resources, provider functions, roles and log groups are dropped with their edges.
* Policies, Lake Formation permissions, event source mappings, Lambda permissions, SNS
  subscriptions and FSx data repository associations become edges.
* Plumbing folds into the resource it belongs to, which takes over its edges: bucket
  policies into their bucket, subnets, route tables, routes and gateway attachments into
  their VPC, security group rules into their group (drawn as group -> group edges labelled
  with the ports), log streams into their log group, aliases into their key.
"""

from __future__ import annotations

import re
from typing import Any

from labs.diagram.kinds import (
    EDGE_RESOURCES,
    FOLDED_INTO,
    LF_PERMISSION_TYPES,
    NAMED_TYPES,
    NOTIFICATION_KEYS,
    POLICY_TYPES,
    SUPPORT_TYPES,
    is_cdk_helper,
    kind_of,
    name_of,
    service_of,
    summarize_actions,
)
from labs.diagram.model import (
    FOLDED,
    OMITTED_AS_EDGE,
    OMITTED_HELPER,
    OMITTED_LAKE_FORMATION,
    OMITTED_METADATA,
    OMITTED_POLICY,
    STRENGTH,
    Edge,
    Graph,
    Node,
)
from labs.templates import cfn_text as cfn


def _lookup(properties: dict, path: tuple[str, ...]) -> Any:
    value: Any = properties
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


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
        found = [ref for key in ("Roles", "Users", "Groups") for ref, _ in cfn.references(props.get(key, []))]
        for other_id, other in self.resources.items():  # roles listing it in ManagedPolicyArns
            if other["Type"] in {"AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"}:
                arns = other.get("Properties", {}).get("ManagedPolicyArns", [])
                if any(ref == logical_id for ref, _ in cfn.references(arns)):
                    found.append(other_id)
        return [p for p in dict.fromkeys(found) if p in self.resources]

    def _first_reference(self, value: Any) -> str | None:
        return next((ref for ref, _ in cfn.references(value) if ref in self.resources), None)

    def classify(self) -> None:
        """Fills ``hosts``: logical id -> the node it is drawn as (itself, a host, or None)."""
        pending: dict[str, str] = {}
        for logical_id, resource in self.resources.items():
            kind, props = resource["Type"], resource.get("Properties", {})
            if kind == "AWS::CDK::Metadata":
                self.omitted[logical_id] = OMITTED_METADATA
                self.hosts[logical_id] = None
            elif is_cdk_helper(logical_id, resource):
                self.omitted[logical_id] = OMITTED_HELPER
                self.hosts[logical_id] = None
            elif kind in POLICY_TYPES:
                principals = self._principals_of_policy(logical_id)
                self.omitted[logical_id] = OMITTED_POLICY
                pending[logical_id] = principals[0] if principals else ""
            elif kind in LF_PERMISSION_TYPES:
                self.omitted[logical_id] = OMITTED_LAKE_FORMATION
                pending[logical_id] = self._first_reference(props.get("Principal")) or ""
            elif kind in EDGE_RESOURCES:
                self.omitted[logical_id] = OMITTED_AS_EDGE
                pending[logical_id] = self._first_reference(props.get(EDGE_RESOURCES[kind][1])) or ""
            elif kind in FOLDED_INTO:
                host = self._first_reference(props.get(FOLDED_INTO[kind]))
                self.omitted[logical_id] = f"{FOLDED} {host}" if host else "plumbing without a host"
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
        found = [ref for ref, _ in cfn.references(value) if ref in self.resources]
        for text in (cfn.render(item, cfn.nothing) for item in cfn.as_list(value)):
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
        for statement in cfn.as_list(document.get("Statement", [])):
            if not isinstance(statement, dict) or statement.get("Effect", "Allow") != "Allow":
                continue
            actions = [a for a in cfn.as_list(statement.get("Action", [])) if isinstance(a, str)]
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
        if kind in POLICY_TYPES:
            for principal in self._principals_of_policy(logical_id):
                self.grants(principal, props.get("PolicyDocument"))
            return
        if kind in LF_PERMISSION_TYPES:
            self._lake_formation_grant(props)
            return
        if kind in EDGE_RESOURCES:
            source_key, target_key, edge_kind, label = EDGE_RESOURCES[kind]
            for source, _ in cfn.references(props.get(source_key)):
                for target, _ in cfn.references(props.get(target_key)):
                    if source in self.resources and target in self.resources:
                        self.add(source, target, edge_kind, label)
            return
        if kind == "Custom::S3BucketNotifications":
            self._bucket_notifications(props)
        skip = {"Policies", "ManagedPolicyArns"} if kind in {"AWS::IAM::Role", "AWS::IAM::User",
                                                             "AWS::IAM::Group"} else set()
        if skip:
            for policy in cfn.as_list(props.get("Policies", [])):
                if isinstance(policy, dict):
                    self.grants(logical_id, policy.get("PolicyDocument"))
        for key, value in props.items():
            if key in skip:
                continue
            for target, path in cfn.references(value, (key,)):
                if target in self.resources and target != logical_id:
                    self._reference(logical_id, target, path, props)
            for text, path in cfn.strings(value, (key,)):
                owner = self.named(text, path[-1])
                if owner and owner != logical_id:
                    self.add(logical_id, owner, "reference")

    def _reference(self, logical_id: str, target: str, path: tuple[str, ...], props: dict) -> None:
        """A reference, or the event or labelled edge it stands for in this resource type."""
        kind = self.resources[logical_id]["Type"]
        target_type = self.resources[target]["Type"]
        if kind == "AWS::KinesisFirehose::DeliveryStream" and target_type not in SUPPORT_TYPES:
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
        if kind == "AWS::S3::Bucket" and path[0] == "NotificationConfiguration" and path[-1] in NOTIFICATION_KEYS:
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
        principals = [r for r, _ in cfn.references(props.get("Principal")) if r in self.resources]
        resource = props.get("Resource", {})
        targets = [r for r, _ in cfn.references(resource) if r in self.resources]
        for text, path in cfn.strings(resource):
            if path[-1] == "DatabaseName" or path == ("Database", "Name"):
                targets += [o for o in self.names.get(text, []) if self.resources[o]["Type"] == "AWS::Glue::Database"]
            elif path == ("Table", "Name"):
                targets += [o for o in self.names.get(text, []) if self.resources[o]["Type"] == "AWS::Glue::Table"]
        actions = [f"lakeformation:{p}" for p in cfn.as_list(props.get("Permissions", [])) if isinstance(p, str)]
        for principal in principals:
            for target in dict.fromkeys(targets):
                for action in actions or ["lakeformation:*"]:
                    self.add(principal, target, "grant", action)

    def _bucket_notifications(self, props: dict) -> None:
        buckets = [r for r, _ in cfn.references(props.get("BucketName")) if r in self.resources]
        for target, path in cfn.references(props.get("NotificationConfiguration", {})):
            if target in self.resources and path and path[-1] in NOTIFICATION_KEYS:
                for bucket in buckets:
                    # the handler is a dropped helper: record the edge on the bucket itself
                    self.add(bucket, target, "event", "notifies")

    def dependencies(self) -> None:
        """DependsOn of the resources drawn as nodes (a folded policy's own are no architecture)."""
        for logical_id, resource in self.resources.items():
            if self.hosts.get(logical_id) != logical_id:
                continue
            self.current = logical_id
            for target in cfn.as_list(resource.get("DependsOn", [])):
                if isinstance(target, str) and target in self.resources:
                    self.add(logical_id, target, "depends_on")

    def build(self, title: str) -> Graph:
        """Nodes, then every resource's edges, then one edge per pair and kind, strongest kinds only."""
        self.classify()
        for logical_id in self.resources:
            if logical_id in self.omitted and self.omitted[logical_id] in {OMITTED_METADATA, OMITTED_HELPER} \
                    and self.resources[logical_id]["Type"] != "Custom::S3BucketNotifications":
                continue
            self.current = logical_id
            self.edges_of(logical_id)
        self.dependencies()
        strongest: dict[frozenset[str], int] = {}
        for source, target, kind in self.raw:
            pair = frozenset((source, target))
            strongest[pair] = max(strongest.get(pair, -1), STRENGTH[kind])
        edges = []
        for (source, target, kind), parts in self.raw.items():
            if STRENGTH[kind] < strongest[frozenset((source, target))]:
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
