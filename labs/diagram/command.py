"""``labs diagram LAB``: an architecture diagram drawn from a lab's synthesized template.

Three steps, each in its own module, so the graph can be tested without drawing anything:

``labs.diagram.graph.build_graph(template)``
    The graph (``labs.diagram.model``: ``Node``, ``Edge``, ``Graph``): resources as nodes,
    references, DependsOn, grants and events as edges, plumbing folded or left out, each
    resource type's label and role in ``labs.diagram.kinds``.
``labs.diagram.layout.layout(graph)`` and ``route(graph, plan)``
    One column per tier, rows lined up across columns, edges routed around the boxes.
``labs.diagram.render.render(graph, out_dir, name)``
    ``<name>.svg`` (byte-stable) and ``<name>.png`` with matplotlib, each written atomically.

``diagram_lab(lab, assembly, out_dir)`` reads the lab's template from a cloud assembly
(``cdk.out``) and writes both files. The names tests and callers use are re-exported here.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from labs.diagram.graph import build_graph
from labs.diagram.kinds import summarize_actions
from labs.diagram.layout import NODE_HEIGHT, NODE_WIDTH, Layout, Route, layout, route
from labs.diagram.model import EDGE_KINDS, Edge, Graph, Node
from labs.diagram.render import render
from labs.engine.errors import LabError

__all__ = [
    "EDGE_KINDS", "NODE_HEIGHT", "NODE_WIDTH", "Edge", "Graph", "Layout", "Node", "Route", "build_graph",
    "diagram_lab", "layout", "render", "route", "summarize_actions",
]


def diagram_lab(lab: str, assembly: Path, out_dir: Path) -> list[Path]:
    """Draws a synthesized lab: ``out_dir/<lab>.svg`` and ``out_dir/<lab>.png`` (the folder is created).

    Raises:
        LabError: the lab is unknown (the message lists the labs); ``out_dir`` is a file or
            lies under one, or cannot be created; or ``assembly`` holds no synthesized template
            of the lab (the message says to run ``labs synth LAB``). Nothing is written then.
    """
    from catalog import contract
    from labs.templates.inspection import template_of

    item = contract(lab)
    out_dir = Path(out_dir)
    _refuse_a_file(out_dir)
    try:
        template = template_of(Path(assembly), item.stack_name)
    except LabError as error:
        raise LabError(f"no synthesized template of {lab} ({item.stack_name}) in {assembly}: "
                       f"run `labs synth {lab}` first") from error
    graph = replace(build_graph(template), title=f"{lab} ({item.stack_name})")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise LabError(f"cannot create the folder {out_dir} ({error.strerror}): "
                       "give --out a folder you can write to") from error
    return render(graph, out_dir, lab)


def _refuse_a_file(out_dir: Path) -> None:
    """A LabError when ``out_dir``, or the nearest part of it that exists, is not a folder."""
    existing = next((p for p in (out_dir, *out_dir.parents) if p.exists()), None)
    if existing is None or existing.is_dir():
        return
    where = f"{out_dir} is a file" if existing == out_dir else f"{existing} (in {out_dir}) is a file"
    raise LabError(f"{where}, not a folder: --out takes the folder to write <lab>.svg and <lab>.png into "
                   "(created if missing), e.g. --out docs/diagrams")
