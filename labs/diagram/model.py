"""The data model of a diagram: nodes, edges, the graph, and what it leaves out. Pure data.

A ``Graph`` is what ``labs.diagram.graph.build_graph`` reads from a template: every resource
that says something about the architecture is a ``Node``; ``Edge`` s are of four kinds,
``reference`` (Ref, GetAtt, Sub, Join, or a literal name), ``depends_on`` (DependsOn),
``grant`` (an IAM or Lake Formation permission, labelled with an action) and ``event`` (data
or invocations flowing). Between two resources only the strongest kind is kept (``STRENGTH``:
event > grant > reference > depends_on). ``Graph.omitted`` says why each other resource is
not a node (the ``OMITTED_*`` reasons, or "folded into <host>"); ``footnote`` counts them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

EDGE_KINDS = ("reference", "depends_on", "grant", "event")
# Between two resources only the strongest kind of edge is drawn.
STRENGTH = {"depends_on": 0, "reference": 1, "grant": 2, "event": 3}
# Drawn small: supporting resources.
MINOR_TYPES = {"AWS::Logs::LogGroup", "AWS::EC2::FlowLog", "AWS::Glue::SecurityConfiguration"}

# Why a resource is not a node (Graph.omitted); folded ones say "folded into <host>".
OMITTED_METADATA = "CDK metadata"
OMITTED_HELPER = "aws-cdk-lib helper"
OMITTED_POLICY = "IAM policy: drawn as grant edges"
OMITTED_LAKE_FORMATION = "Lake Formation permissions: drawn as grant edges"
OMITTED_AS_EDGE = "drawn as an edge"
FOLDED = "folded into"


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

_FOOTNOTE_PHRASES = (
    (OMITTED_HELPER, "aws-cdk-lib helper resources (auto-delete, log retention, default-SG restriction providers)"),
    (OMITTED_POLICY, "IAM policies, drawn as grant edges"),
    (OMITTED_LAKE_FORMATION, "Lake Formation permissions, drawn as grant edges"),
    (OMITTED_AS_EDGE, "event source mappings, permissions, subscriptions or associations, drawn as edges"),
    (FOLDED, "bucket policies, subnets, routes, SG rules, log streams or aliases, folded into their owner"),
    (OMITTED_METADATA, "CDK metadata"),
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
