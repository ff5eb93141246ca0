"""``render(graph, out_dir, name)``: a diagram drawn to ``<name>.svg`` and ``<name>.png``.

matplotlib's Agg and SVG backends directly (no pyplot, no display, no network), in the
layout and routes of ``labs.diagram.layout``. Nodes are coloured by service, log groups
drawn smaller; a legend names the services and edge styles (reference solid grey,
DependsOn dashed, grant dotted red with its action, event thick blue with its role), and a
footnote counts what is not drawn. The SVG is byte-stable: fixed hash salt, no date, text
kept as text. Each file is written atomically: an interrupted run leaves no half-written file.
"""

from __future__ import annotations

import math
import re
import textwrap
from pathlib import Path
from typing import Any

from labs.diagram.layout import (
    COLUMN_PITCH,
    MINOR_HEIGHT,
    NODE_HEIGHT,
    NODE_WIDTH,
    Layout,
    layout,
    route,
    tier_of,
)
from labs.diagram.model import STRENGTH, Graph, Node, footnote
from labs.engine.atomic_write import write_atomically

EDGE_STYLES: dict[str, dict[str, Any]] = {
    "reference": {"color": "#8A96A3", "linewidth": 0.8, "linestyle": "-", "label": "reference (Ref, GetAtt, Sub)"},
    "depends_on": {"color": "#A9B3BD", "linewidth": 0.8, "linestyle": (0, (4, 3)), "label": "DependsOn"},
    "grant": {"color": "#D13212", "linewidth": 0.9, "linestyle": (0, (1.5, 1.5)),
              "label": "IAM / Lake Formation grant"},
    "event": {"color": "#1A5FB4", "linewidth": 1.9, "linestyle": "-", "label": "event / data flow"},
}

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


def _rounded(points: list[tuple[float, float]], radius: float = 0.14) -> tuple[list, list]:
    """Vertices and codes of a polyline whose corners are rounded (quadratic curves)."""
    from matplotlib.path import Path as MplPath

    vertices, codes = [points[0]], [MplPath.MOVETO]
    # each corner with its neighbours: the windows end where points[2:] does
    for previous, corner, following in zip(points, points[1:], points[2:], strict=False):
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

        for edge in sorted(graph.edges, key=lambda e: (STRENGTH[e.kind], e)):
            style, path = EDGE_STYLES[edge.kind], routes[edge]
            if path.curve:
                vertices, codes = path.points, [MplPath.MOVETO] + [MplPath.CURVE4] * 3
            else:
                vertices, codes = _rounded(path.points)
            axes.add_patch(FancyArrowPatch(
                path=MplPath(vertices, codes), arrowstyle="-|>,head_length=3.5,head_width=1.8",
                color=style["color"], linewidth=style["linewidth"], linestyle=style["linestyle"],
                alpha=0.95 if edge.kind in {"event", "grant"} else 0.75, zorder=2 + STRENGTH[edge.kind] * 0.1))
        # labels: events first, then grants and port labels where they overlap nothing placed so far
        taken = [_box_of(plan, graph.nodes[node_id]) for node_id in graph.nodes]
        for edge in sorted(graph.edges, key=lambda e: (-STRENGTH[e.kind], e)):
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
        write_atomically(paths[0], lambda file: figure.savefig(file, format="svg", metadata={"Date": None}))
        write_atomically(paths[1], lambda file: figure.savefig(file, format="png", dpi=100,
                                                               metadata={"Software": None}))
    return paths
