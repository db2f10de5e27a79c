"""A laid-out scene as SVG or JSON, headless: what ``modeldesk model graph`` writes and
what the Graph tab exports. The SVG uses only the system's sans-serif font (no web
fonts), so it renders offline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from modeldesk.graph.layout import Layout
from modeldesk.graph.overlay import Overlay
from modeldesk.graph.scene import GraphModel, Scene, SceneItem
from modeldesk.graph.style import (
    CAPTURED_EDGE,
    EDGE,
    REVERSED_EDGE,
    STATUS_COLOURS,
    Colours,
    item_colours,
)

__all__ = [
    "DrawnBox",
    "DrawnEdge",
    "drawing",
    "edge_ends",
    "format_us",
    "item_paint",
    "label_point",
    "scene_json",
    "scene_svg",
]

MARGIN = 24.0
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"


def format_us(us: float) -> str:
    """A node time for its label: ``850 µs``, ``1.2 ms``."""
    return f"{us:.0f} µs" if us < 1000 else f"{us / 1000:.3g} ms"


def item_paint(
    model: GraphModel, item: SceneItem, diff: bool = False, overlay: Overlay | None = None
) -> tuple[Colours, str | None]:
    """An item's colours and its runtime label (None without the overlay or a time)."""
    heat, label = None, None
    if overlay is not None and item.node is not None:
        name = model.nodes[item.node]["name"]
        heat = overlay.share(name)
        if heat is not None:
            label = format_us(overlay.times[name])
            if overlay.fell_back(name):
                label += " · CPU"
    elif overlay is not None and item.kind == "group" and item.path is not None:
        names = [model.nodes[n]["name"] for n in model.sizes[item.path]]
        total = sum(overlay.times.get(name, 0) for name in names)
        if total:
            heat, label = min(total / max(overlay.slowest_us, 1), 1.0), format_us(total)
    colours = item_colours(item.kind, item.category, item.status, diff, heat, overlay is not None)
    return colours, label


def edge_ends(
    points: Sequence[tuple[float, float]], source: SceneItem, target: SceneItem
) -> list[tuple[float, float]]:
    """An edge's polyline from the source box's border to the target box's."""
    drawn = list(points)
    if len(drawn) < 2:
        return drawn
    (x0, y0), (_x1, y1) = drawn[0], drawn[1]
    drawn[0] = (x0, y0 + (source.height / 2 if y1 >= y0 else -source.height / 2))
    (_xa, ya), (xb, yb) = drawn[-2], drawn[-1]
    drawn[-1] = (xb, yb - (target.height / 2 if ya <= yb else -target.height / 2))
    return drawn


@dataclass
class DrawnBox:
    """One item as it is drawn: centre, size, text and colours."""

    key: str
    x: float
    y: float
    width: float
    height: float
    title: str
    lines: list[str]
    fill: str
    stroke: str
    text: str
    dashed: bool = False  # a folded group
    badge: str | None = None  # the runtime label, right of the box
    tooltip: str = ""
    emphasis: bool = False  # a diff's change, or a node that fell back to the CPU


@dataclass
class DrawnEdge:
    """One edge as it is drawn: its polyline (border to border), label and colour."""

    points: list[tuple[float, float]]
    label: str
    colour: str
    kind: str = "edge"  # edge, captured (from an enclosing graph) or reversed (a cycle)

    @property
    def dashed(self) -> bool:
        """Captured values and the reversed edges of a cycle are dashed."""
        return self.kind != "edge"


EDGE_COLOURS = {"edge": EDGE, "captured": CAPTURED_EDGE, "reversed": REVERSED_EDGE}


def drawing(
    model: GraphModel,
    scene: Scene,
    layout: Layout,
    *,
    diff: bool = False,
    overlay: Overlay | None = None,
) -> tuple[list[DrawnBox], list[DrawnEdge]]:
    """What to draw for a laid-out scene: the SVG export and the desktop canvas both
    draw exactly this."""
    boxes = []
    for key, item in scene.items.items():
        x, y = layout.positions[key]
        colours, badge = item_paint(model, item, diff, overlay)
        outline = STATUS_COLOURS.get(item.status or "", colours.stroke) if diff else colours.stroke
        fell_back = bool(
            overlay and item.node is not None and overlay.fell_back(model.nodes[item.node]["name"])
        )
        boxes.append(
            DrawnBox(
                key,
                x,
                y,
                item.width,
                item.height,
                item.title,
                item.lines,
                colours.fill,
                outline,
                colours.text,
                item.kind == "group",
                badge,
                _tooltip(model, item),
                bool(diff and item.status) or fell_back,
            )
        )
    flipped = {tuple(pair) for pair in layout.reversed_edges}
    labels = {(edge.source, edge.target): edge for edge in scene.edges}
    edges = []
    for start, end, points in layout.edges:
        source, target = str(start), str(end)
        edge = labels.get((source, target))
        reversed_edge = (start, end) in flipped or (end, start) in flipped
        kind = "reversed" if reversed_edge else "captured" if edge and edge.dashed else "edge"
        ends = edge_ends(points, scene.items[source], scene.items[target])
        edges.append(DrawnEdge(ends, edge.label if edge else "", EDGE_COLOURS[kind], kind))
    return boxes, edges


def scene_svg(
    model: GraphModel,
    scene: Scene,
    layout: Layout,
    *,
    diff: bool = False,
    overlay: Overlay | None = None,
    title: str = "",
) -> str:
    """The scene drawn as a standalone SVG document."""
    width = max(layout.width + 2 * MARGIN, len(title) * 7.0 + 2 * MARGIN)
    height = layout.height + 2 * MARGIN + 20
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family={quoteattr(FONT)}>',
        "<defs>",
        *(
            f'<marker id="arrow-{name}" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" '
            f'markerHeight="7" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="{colour}"/></marker>'
            for name, colour in EDGE_COLOURS.items()
        ),
        "</defs>",
        '<rect width="100%" height="100%" fill="#ffffff"/>',
        f'<text x="{MARGIN}" y="16" font-size="12" fill="#1f2933">{escape(title)}</text>',
        f'<g transform="translate({MARGIN},{MARGIN + 20})">',
    ]
    boxes, edges = drawing(model, scene, layout, diff=diff, overlay=overlay)
    for edge in edges:
        if len(edge.points) < 2:
            continue
        path = " L".join(f"{x:.1f},{y:.1f}" for x, y in edge.points)
        dash = ' stroke-dasharray="5,3"' if edge.dashed else ""
        out.append(
            f'<path d="M{path}" fill="none" stroke="{edge.colour}" stroke-width="1.2"{dash} '
            f'marker-end="url(#arrow-{edge.kind})"/>'
        )
        if edge.label:
            mx, my = label_point(edge.points)
            out.append(
                f'<text x="{mx:.1f}" y="{my:.1f}" font-size="9" fill="#52606d">'
                f"{escape(edge.label)}</text>"
            )
    for box in boxes:
        left, top = box.x - box.width / 2, box.y - box.height / 2
        dash = ' stroke-dasharray="4,2"' if box.dashed else ""
        width = 3.0 if box.emphasis else 1.5
        out.append(
            f"<g><title>{escape(box.tooltip)}</title>"
            f'<rect x="{left:.1f}" y="{top:.1f}" width="{box.width:.1f}" '
            f'height="{box.height:.1f}" rx="4" fill="{box.fill}" stroke="{box.stroke}" '
            f'stroke-width="{width}"{dash}/>'
        )
        out.append(
            f'<text x="{box.x:.1f}" y="{top + 15:.1f}" font-size="11" font-weight="bold" '
            f'text-anchor="middle" fill="{box.text}">{escape(box.title)}</text>'
        )
        for number, line in enumerate(box.lines):
            out.append(
                f'<text x="{box.x:.1f}" y="{top + 29 + 14 * number:.1f}" font-size="9.5" '
                f'text-anchor="middle" fill="{box.text}">{escape(line)}</text>'
            )
        if box.badge:
            out.append(
                f'<text x="{left + box.width + 4:.1f}" y="{box.y + 3:.1f}" font-size="9.5" '
                f'fill="#7f1d1d">{escape(box.badge)}</text>'
            )
        out.append("</g>")
    out += ["</g>", "</svg>"]
    return "\n".join(out) + "\n"


def label_point(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """Where an edge's label goes: beside the middle of its middle segment."""
    middle = len(points) // 2
    (ax, ay), (bx, by) = points[max(middle - 1, 0)], points[middle]
    return (ax + bx) / 2 + 4, (ay + by) / 2


def _tooltip(model: GraphModel, item: SceneItem) -> str:
    if item.node is not None:
        return model.nodes[item.node]["name"]
    return "/".join(item.path) if item.path else item.title


def scene_json(
    model: GraphModel, scene: Scene, layout: Layout, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The scene with its layout as data: every item with its box, every edge with its
    points and label, the graph's problems, and ``extra`` (the model, a diff)."""
    items = []
    for key, item in scene.items.items():
        x, y = layout.positions[key]
        entry: dict[str, Any] = {
            "key": key,
            "kind": item.kind,
            "title": item.title,
            "lines": item.lines,
            "category": item.category,
            "x": x,
            "y": y,
            "width": item.width,
            "height": item.height,
        }
        if item.node is not None:
            entry["name"] = model.nodes[item.node]["name"]
        if item.path is not None:
            entry["group"] = "/".join(item.path)
            entry["nodes"] = item.count
        if item.status:
            entry["status"] = item.status
        items.append(entry)
    labels = {(edge.source, edge.target): edge for edge in scene.edges}
    edges = []
    for start, end, points in layout.edges:
        source, target = str(start), str(end)
        edge = labels.get((source, target))
        edges.append(
            {
                "source": source,
                "target": target,
                "points": [list(p) for p in points],
                "values": edge.values if edge else [],
                "label": edge.label if edge else "",
                "dashed": bool(edge and edge.dashed),
            }
        )
    return {
        **(extra or {}),
        "items": items,
        "edges": edges,
        "problems": scene.problems,
        "reversed_edges": [list(pair) for pair in layout.reversed_edges],
        "width": layout.width,
        "height": layout.height,
    }
