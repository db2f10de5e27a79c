"""What a graph view draws, headless: the items (nodes, folded groups, the graph's
inputs and outputs, values read from an enclosing graph, inputs produced nowhere) and
the edges between them with their shape labels, for a chosen set of unfolded groups.

The desktop view and the SVG/JSON export draw the same scene with the same layout, so
what the command line writes is what the Graph tab shows. Sizes are estimated from the
text (a fixed-width font's advance), so the layout needs no font metrics and can be
cached.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from modeldesk.graph.layout import Layout, layered_layout
from modeldesk.graph.scopes import Group, build_groups
from modeldesk.progress import ProgressCallback, no_progress

__all__ = [
    "GraphModel",
    "Scene",
    "SceneEdge",
    "SceneItem",
    "group_key",
    "node_key",
    "shape_text",
]

CHAR_WIDTH = 6.6  # the advance of the view's 10 pt font, near enough for sizes
LINE_HEIGHT = 14.0
MAX_LINES = 4
MIN_WIDTH, MAX_WIDTH = 56.0, 280.0
DEFAULT_BUDGET = 40  # how many items a first look shows, at most, before folding


def node_key(node_id: int) -> str:
    """The scene key of a node."""
    return f"n:{node_id}"


def group_key(path: tuple[str, ...]) -> str:
    """The scene key of a folded group."""
    return "g:" + "/".join(path)


def shape_text(shape: list[Any] | None) -> str:
    """A shape as an edge label: ``1×3×224×224``, ``batch×?``; "" when unknown."""
    if shape is None:
        return ""
    return "×".join(str(dim) for dim in shape) if shape else "scalar"


@dataclass
class SceneItem:
    """One box in the view."""

    key: str
    kind: str  # node, group, input, output, captured, missing
    title: str
    lines: list[str]
    category: str  # the op family for a node; group, io or problem otherwise
    width: float = 0.0
    height: float = 0.0
    node: int | None = None
    path: tuple[str, ...] | None = None
    count: int = 0  # nodes inside a folded group
    status: str | None = None  # in a diff: added, removed, changed

    def __post_init__(self) -> None:
        longest = max([len(self.title) + 2, *(len(line) for line in self.lines)])
        self.width = min(max(longest * CHAR_WIDTH + 16, MIN_WIDTH), MAX_WIDTH)
        self.height = 22.0 + LINE_HEIGHT * len(self.lines)


@dataclass
class SceneEdge:
    """Values passed from one item to another, labelled with the shape of the first."""

    source: str
    target: str
    values: list[str]
    label: str
    dashed: bool = False  # read from the enclosing graph


@dataclass
class Scene:
    """Items by key, edges, and the problems the graph has."""

    items: dict[str, SceneItem]
    edges: list[SceneEdge]
    problems: list[str] = field(default_factory=list)

    def layout(
        self, progress: ProgressCallback = no_progress, cancel: threading.Event | None = None
    ) -> Layout:
        """The layered layout of this scene (see ``modeldesk.graph.layout``)."""
        sizes: dict[Hashable, tuple[float, float]] = {
            key: (item.width, item.height) for key, item in self.items.items()
        }
        edges = [(e.source, e.target) for e in self.edges]
        return layered_layout(list(self.items), edges, sizes, progress=progress, cancel=cancel)


@functools.lru_cache(maxsize=512)
def _input_names(op: str, domain: str) -> tuple[str, ...]:
    """The schema's names of an operator's inputs (``X``, ``W``, ``B``), as Netron
    labels weights; empty for an operator onnx does not know."""
    import onnx

    try:
        schema = onnx.defs.get_schema(op, domain="" if domain == "ai.onnx" else domain)
    except Exception:  # a custom domain
        return ()
    return tuple(entry.name for entry in schema.inputs)


def _inline(weight: Mapping[str, Any]) -> str:
    values = weight.get("values")
    if values is not None:
        shown = [f"{v:.4g}" if isinstance(v, float) else str(v) for v in values]
        return "[" + ", ".join(shown) + "]" if weight.get("shape") else shown[0]
    return "⟨" + shape_text(weight.get("shape")) + "⟩"


class GraphModel:
    """A described graph (``modeldesk.graph.describe``) with its scope groups, ready to
    give the scene for any set of unfolded groups. ``status`` marks nodes in a diff."""

    def __init__(self, graph: Mapping[str, Any], status: Mapping[int, str] | None = None):
        self.graph = graph
        self.status = dict(status or {})
        self.nodes = {node["id"]: node for node in graph["nodes"]}
        self.root = build_groups(graph["nodes"])
        self.groups: dict[tuple[str, ...], Group] = {}
        self._parent: dict[int, tuple[str, ...]] = {}
        stack = [self.root]
        while stack:
            group = stack.pop()
            self.groups[group.path] = group
            for node in group.nodes:
                self._parent[node] = group.path
            stack.extend(group.children.values())
        self.sizes = {path: group.all_nodes() for path, group in self.groups.items()}
        self.producer = {
            name: node["id"] for node in graph["nodes"] for name in node["outputs"] if name
        }

    # -- folding --------------------------------------------------------------------
    def default_unfolded(self, budget: int = DEFAULT_BUDGET) -> set[tuple[str, ...]]:
        """The groups a first look opens: breadth first while the items shown stay
        within ``budget``; repeated blocks stay folded."""
        unfolded: set[tuple[str, ...]] = set()
        shown = len(self.root.nodes) + len(self.root.children)
        queue = list(self.root.children.values())
        while queue:
            group = queue.pop(0)
            if group.repeat_of is not None or group.repeats > 1:
                continue
            grown = shown - 1 + len(group.nodes) + len(group.children)
            if grown <= budget:
                unfolded.add(group.path)
                shown = grown
                queue.extend(group.children.values())
        return unfolded

    def ancestors(self, node_id: int) -> set[tuple[str, ...]]:
        """Every group around a node (to unfold so the node itself is shown)."""
        path = self._parent.get(node_id, ())
        return {path[:depth] for depth in range(1, len(path) + 1)}

    def owners(self, unfolded: set[tuple[str, ...]]) -> dict[int, str]:
        """The scene key showing each node: itself, or the outermost folded group."""
        owner: dict[int, str] = {}
        for node_id in self.nodes:
            path = self._parent.get(node_id, ())
            key = node_key(node_id)
            for depth in range(1, len(path) + 1):
                # A scope of one node is the node: folding it would hide nothing.
                if path[:depth] not in unfolded and len(self.sizes[path[:depth]]) > 1:
                    key = group_key(path[:depth])
                    break
            owner[node_id] = key
        return owner

    # -- the scene ------------------------------------------------------------------
    def scene(self, unfolded: Iterable[tuple[str, ...]] | None = None) -> Scene:
        """Items and edges with the groups in ``unfolded`` open (default: a first look)."""
        opened = self.default_unfolded() if unfolded is None else set(unfolded)
        owner = self.owners(opened)
        graph = self.graph
        items: dict[str, SceneItem] = {}
        for name in graph["inputs"]:
            items["i:" + name] = SceneItem(
                "i:" + name, "input", name, [self._value_line(name)], "io"
            )
        # A Constant node's tensor is drawn inline on the nodes that read it (as Netron
        # does); its own box would float unconnected.
        inline = {
            node_key(n["id"])
            for n in graph["nodes"]
            if n["op"] == "Constant"
            and n["domain"] == "ai.onnx"
            and all(o in graph["weights"] for o in n["outputs"])
        }
        for key in dict.fromkeys(owner.values()):
            if key not in inline:
                items[key] = self._item(key)
        edges: dict[tuple[str, str], SceneEdge] = {}

        def connect(source: str, target: str, value: str, dashed: bool = False) -> None:
            if source == target:
                return
            edge = edges.get((source, target))
            if edge is None:
                label = shape_text((graph["values"].get(value) or {}).get("shape"))
                edges[(source, target)] = SceneEdge(source, target, [value], label, dashed)
            elif value not in edge.values:
                edge.values.append(value)
                edge.label = f"{len(edge.values)} tensors"

        captured = set(graph.get("captured", ()))
        inputs = set(graph["inputs"])
        for node in graph["nodes"]:
            target = owner[node["id"]]
            for name in node["inputs"]:
                if not name or name in graph["weights"]:
                    continue
                if name in self.producer:
                    connect(owner[self.producer[name]], target, name)
                elif name in inputs:
                    connect("i:" + name, target, name)
                elif name in captured:
                    items.setdefault(
                        "c:" + name,
                        SceneItem(
                            "c:" + name, "captured", name, ["from the enclosing graph"], "io"
                        ),
                    )
                    connect("c:" + name, target, name, dashed=True)
                else:
                    items.setdefault(
                        "m:" + name,
                        SceneItem("m:" + name, "missing", name, ["produced nowhere"], "problem"),
                    )
                    connect("m:" + name, target, name)
        for name in graph["outputs"]:
            items["o:" + name] = SceneItem(
                "o:" + name, "output", name, [self._value_line(name)], "io"
            )
            if name in self.producer and owner[self.producer[name]] in items:
                connect(owner[self.producer[name]], "o:" + name, name)
            elif name in inputs:
                connect("i:" + name, "o:" + name, name)
        return Scene(items, list(edges.values()), list(graph.get("problems", [])))

    def _value_line(self, name: str) -> str:
        value = self.graph["values"].get(name) or {}
        return f"{value.get('dtype', '?')}[{shape_text(value.get('shape')) or '?'}]"

    def _item(self, key: str) -> SceneItem:
        if key.startswith("g:"):
            path = tuple(key[2:].split("/"))
            group = self.groups[path]
            inside = self.sizes[path]
            lines = [f"{len(inside)} nodes"]
            if group.repeat_of is not None:
                lines.append("= " + "/".join(group.repeat_of[-1:]))
            elif group.repeats > 1:
                lines.append(f"block repeated ×{group.repeats}")
            marks = {self.status[n] for n in inside if n in self.status}
            status = None if not marks else marks.pop() if len(marks) == 1 else "changed"
            return SceneItem(
                key, "group", path[-1], lines, "group", path=path, count=len(inside), status=status
            )
        node = self.nodes[int(key[2:])]
        return SceneItem(
            key,
            "node",
            node["op"],
            self.node_lines(node),
            node["category"],
            node=node["id"],
            status=self.status.get(node["id"]),
        )

    def node_lines(self, node: Mapping[str, Any]) -> list[str]:
        """The lines under a node's op: its weights (shapes, or small values inline) and
        the bodies it holds."""
        names = _input_names(node["op"], node["domain"])
        lines = []
        for position, name in enumerate(node["inputs"]):
            weight = self.graph["weights"].get(name)
            if weight is not None:
                label = names[position] if position < len(names) else f"in{position}"
                lines.append(f"{label} {_inline(weight)}")
        if node["subgraphs"]:
            lines.append("▸ " + ", ".join(node["subgraphs"]))
        if len(lines) > MAX_LINES:
            lines = [*lines[: MAX_LINES - 1], f"+{len(lines) - MAX_LINES + 1} more"]
        return lines

    # -- finding --------------------------------------------------------------------
    def find(self, text: str, limit: int = 50) -> list[tuple[int, str]]:
        """Nodes whose name or op, or one of whose tensors' names, contain ``text``
        (case-insensitive): (node id, what matched), best first."""
        wanted = text.strip().lower()
        if not wanted:
            return []
        exact: list[tuple[int, str]] = []
        partial: list[tuple[int, str]] = []
        for node in self.graph["nodes"]:
            names = [node["name"], *node["inputs"], *node["outputs"]]
            hit = next((n for n in names if n and wanted in n.lower()), None)
            if hit is None and wanted == node["op"].lower():
                hit = node["op"]
            if hit is not None:
                (exact if hit.lower() == wanted else partial).append((node["id"], hit))
        return (exact + partial)[:limit]
