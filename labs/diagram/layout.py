"""Where each node of a diagram goes, and the path of each edge. Pure geometry, no drawing.

``layout(graph)``: one column per tier (``TIERS``: triggers and sources, processing, storage
and catalog, analytics and governance, IAM roles, keys and secrets, logs and monitoring,
network; empty tiers left out, a tier taller than the rest wraps into a second column),
nodes grouped by service within a column, the order within each column chosen by
barycenter sweeps over the edges to shorten and uncross them. Rows line up across columns.

``route(graph, plan)``: edges never run across a box. Between neighbouring columns they are
S-curves; otherwise they go through the free strips between columns (channels) and between
rows (corridors), each in its own lane.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from labs.diagram.model import Edge, Graph, Node

COLUMN_PITCH = 3.7
ROW_PITCH = 1.35
NODE_WIDTH = 2.6
NODE_HEIGHT = 0.8
MINOR_HEIGHT = 0.56

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

    def barycenter(plan: Layout, own: set[int], node_id: str) -> float:
        """The mean row of the node's neighbours outside the columns ``own`` (its own row if none)."""
        rows = [plan.cells[n][1] for n in neighbours[node_id] if plan.cells[n][0] not in own]
        return sum(rows) / len(rows) if rows else plan.cells[node_id][1]

    plan = place()
    for sweep in range(8):
        for tier in (list(orders) if sweep % 2 == 0 else list(reversed(orders))):
            ids = orders[tier]
            own = {plan.cells[i][0] for i in ids}
            groups: dict[str, list[str]] = {}
            for node_id in ids:
                groups.setdefault(graph.nodes[node_id].service, []).append(node_id)
            ranked = []
            for service, members in groups.items():
                members.sort(key=lambda i: (barycenter(plan, own, i), graph.nodes[i].label, i))
                mean = sum(barycenter(plan, own, i) for i in members) / len(members)
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
    for edge, (shape, _) in shapes.items():
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

