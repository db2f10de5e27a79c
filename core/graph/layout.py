"""A layered top-to-bottom layout of a directed graph (Sugiyama's method), our own.

The steps are the classic ones, each chosen to stay fast in Python on graphs of a few
thousand nodes:

1. **Cycles** are broken by reversing the back edges a depth-first search finds (an
   ONNX graph has none; a broken file may), and the reversed edges (and self-loops,
   which are not drawn) are reported so a view can mark them.
2. **Layers**: each node one below the lowest of its predecessors (longest path from
   the sources), then nodes with successors only are pulled down next to them, so a
   weight-less constant does not float at the top of the page.
3. **Long edges** get a dummy node per layer they cross, so edges bend around nodes.
4. **Order** within layers: barycentre sweeps down and up, keeping the order with the
   fewest crossings (counted exactly, by inversions, after every sweep).
5. **Coordinates**: nodes start packed in their order, then move toward the median
   position of their neighbours in alternating passes; each layer is placed where the
   squared distance to those targets is least while keeping its order and gaps (an
   isotonic regression, solved exactly).

The result is plain data (positions and edge polylines), so it can be cached and drawn
by any view, or written as SVG headless.
"""

from __future__ import annotations

import bisect
import itertools
import threading
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

from modeldesk.progress import ProgressCallback, check_cancel, no_progress

__all__ = ["Layout", "count_crossings", "layered_layout"]

SWEEPS = 8  # barycentre sweeps (each down and up); more rarely helps on model graphs
COORDINATE_PASSES = 6
LAYER_GAP = 60.0  # vertical distance between layer centres, beyond the tallest node
NODE_GAP = 24.0  # horizontal distance between neighbouring nodes
DUMMY_WIDTH = 4.0


@dataclass
class Layout:
    """Where every node and edge goes. Coordinates are node centres, y grows down."""

    positions: dict[Hashable, tuple[float, float]]
    layers: dict[Hashable, int]
    edges: list[tuple[Hashable, Hashable, list[tuple[float, float]]]]  # with bend points
    reversed_edges: list[tuple[Hashable, Hashable]] = field(default_factory=list)
    loops: list[Hashable] = field(default_factory=list)  # nodes feeding themselves
    width: float = 0.0
    height: float = 0.0
    crossings: int = 0


def _break_cycles(nodes: Sequence[Hashable], edges: list[tuple[Hashable, Hashable]]):
    """Edges with every back edge of a depth-first search reversed; the reversed ones."""
    successors: dict[Hashable, list[Hashable]] = {node: [] for node in nodes}
    for source, target in edges:
        if source != target:  # a self-loop is reported apart, not reversed
            successors[source].append(target)
    state: dict[Hashable, int] = {}  # 1: on the stack, 2: done
    back: set[tuple[Hashable, Hashable]] = set()
    for root in nodes:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(successors[root]))]
        while stack:  # iterative: a 10,000-node chain must not hit the recursion limit
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif child not in state:
                state[child] = 1
                stack.append((child, iter(successors[child])))
            elif state[child] == 1:
                back.add((node, child))
    kept = [(t, s) if (s, t) in back else (s, t) for s, t in edges if s != t]
    return kept, sorted(back, key=repr)


def _layers(nodes: Sequence[Hashable], edges: list[tuple[Hashable, Hashable]]) -> dict:
    predecessors: dict[Hashable, list[Hashable]] = {node: [] for node in nodes}
    successors: dict[Hashable, list[Hashable]] = {node: [] for node in nodes}
    for source, target in edges:
        predecessors[target].append(source)
        successors[source].append(target)
    waiting = {node: len(predecessors[node]) for node in nodes}
    ready = [node for node in nodes if waiting[node] == 0]
    order: list[Hashable] = []
    while ready:
        node = ready.pop()
        order.append(node)
        for child in successors[node]:
            waiting[child] -= 1
            if waiting[child] == 0:
                ready.append(child)
    layer: dict[Hashable, int] = {}
    for node in order:
        layer[node] = 1 + max((layer[p] for p in predecessors[node]), default=-1)
    for node in reversed(order):  # sources with successors sit right above them
        if not predecessors[node] and successors[node]:
            layer[node] = min(layer[child] for child in successors[node]) - 1
    return layer


def count_crossings(upper: Sequence[Hashable], lower: Sequence[Hashable],
                    edges: Sequence[tuple[Hashable, Hashable]]) -> int:  # fmt: skip
    """How many pairs of ``edges`` (upper node, lower node) cross between two layers in
    these orders: the inversions of the lower ends, sorted by the upper ends."""
    top = {node: i for i, node in enumerate(upper)}
    bottom = {node: i for i, node in enumerate(lower)}
    ends = [bottom[t] for _, t in sorted(edges, key=lambda e: (top[e[0]], bottom[e[1]]))]
    seen: list[int] = []
    crossings = 0
    for end in reversed(ends):  # count earlier-sorted ends that lie to the right
        crossings += bisect.bisect_left(seen, end)
        bisect.insort(seen, end)
    return crossings


def _total_crossings(order: list[list[Hashable]], down: dict) -> int:
    total = 0
    for upper, lower in itertools.pairwise(order):
        edges = [(u, v) for u in upper for v in down[u]]
        total += count_crossings(upper, lower, edges)
    return total


def _sweep(order: list[list[Hashable]], neighbours: dict, layers: range) -> None:
    for index in layers:
        previous = {node: i for i, node in enumerate(order[index - 1 if layers.step > 0
                                                             else index + 1])}  # fmt: skip
        current = order[index]
        keys = {}
        for position, node in enumerate(current):
            near = [previous[n] for n in neighbours[node] if n in previous]
            keys[node] = sum(near) / len(near) if near else position
        current.sort(key=lambda node: keys[node])


def layered_layout(
    nodes: Sequence[Hashable],
    edges: Sequence[tuple[Hashable, Hashable]],
    sizes: dict[Hashable, tuple[float, float]] | None = None,
    *,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> Layout:
    """Lay out ``nodes`` (each ``sizes[node] = (width, height)``, default 80 x 30) with
    ``edges`` pointing down; any cycle is broken and reported, never a hang. Progress is
    reported per step (``SWEEPS + COORDINATE_PASSES + 2`` of them), and ``cancel`` is
    checked between them."""
    sizes = sizes or {}
    steps = SWEEPS + COORDINATE_PASSES + 2

    def report(done: int, what: str) -> None:
        check_cancel(cancel, "graph layout")
        progress(done, steps, what)

    report(0, f"layering {len(nodes):,} items")
    known = set(nodes)
    given = [(s, t) for s, t in edges if s in known and t in known]
    kept, reversed_edges = _break_cycles(list(nodes), given)
    layer = _layers(list(nodes), kept)
    # Long edges become chains of dummies, one per layer crossed.
    down: dict[Hashable, list[Hashable]] = {node: [] for node in nodes}
    up: dict[Hashable, list[Hashable]] = {node: [] for node in nodes}
    chains: list[tuple[Hashable, Hashable, list[Hashable]]] = []
    for number, (source, target) in enumerate(kept):
        path = [source]
        for step in range(layer[source] + 1, layer[target]):
            dummy = ("__dummy__", number, step)
            layer[dummy] = step
            down[dummy], up[dummy] = [], []
            path.append(dummy)
        path.append(target)
        for a, b in itertools.pairwise(path):
            down[a].append(b)
            up[b].append(a)
        chains.append((source, target, path[1:-1]))
    depth = max(layer.values(), default=-1) + 1
    order: list[list[Hashable]] = [[] for _ in range(depth)]
    for node in layer:  # first seen, first placed: the input order is a fair start
        order[layer[node]].append(node)
    best, fewest = [list(level) for level in order], _total_crossings(order, down)
    for sweep in range(SWEEPS):
        report(2 + sweep, "ordering layers")
        if fewest == 0:
            break
        _sweep(order, up, range(1, depth))
        _sweep(order, down, range(depth - 2, -1, -1))
        crossings = _total_crossings(order, down)
        if crossings < fewest:
            best, fewest = [list(level) for level in order], crossings
    order = best

    def size(node: Hashable) -> tuple[float, float]:
        if isinstance(node, tuple) and node and node[0] == "__dummy__":
            return (DUMMY_WIDTH, 0.0)
        return sizes.get(node, (80.0, 30.0))

    x = _coordinates(order, up, down, size, lambda done: report(2 + SWEEPS + done, "placing"))
    heights = [max((size(n)[1] for n in level), default=0.0) for level in order]
    y, top = [], 0.0
    for height in heights:
        y.append(top + height / 2)
        top += height + LAYER_GAP
    positions = {node: (x[node], y[layer[node]]) for node in layer}
    left = min((x[n] - size(n)[0] / 2 for n in layer), default=0.0)
    right = max((x[n] + size(n)[0] / 2 for n in layer), default=0.0)
    shift = -left
    positions = {node: (px + shift, py) for node, (px, py) in positions.items()}
    drawn = []
    for source, target, dummies in chains:
        points = [positions[source], *(positions[d] for d in dummies), positions[target]]
        flipped = (target, source) in reversed_edges
        drawn.append((target, source, points[::-1]) if flipped else (source, target, points))
    real = {node: positions[node] for node in nodes}
    loops = sorted({s for s, t in given if s == t}, key=repr)
    return Layout(real, {n: layer[n] for n in nodes}, drawn, reversed_edges, loops,
                  right - left, max(top - LAYER_GAP, 0.0), fewest)  # fmt: skip


def _coordinates(order: list[list[Hashable]], up: dict, down: dict, size, step) -> dict:
    """Packed in order, then pulled toward neighbours' mean, overlaps pushed apart."""
    x: dict[Hashable, float] = {}
    for level in order:
        cursor = 0.0
        for node in level:
            width = size(node)[0]
            x[node] = cursor + width / 2
            cursor += width + NODE_GAP
    for sweep in range(COORDINATE_PASSES):
        step(sweep)
        neighbours = up if sweep % 2 == 0 else down
        levels = order if sweep % 2 == 0 else order[::-1]
        for level in levels:
            wanted = {}
            for node in level:
                near = sorted(x[n] for n in neighbours[node])
                # The median: one far neighbour (a skip connection) does not drag it.
                wanted[node] = (
                    (near[(len(near) - 1) // 2] + near[len(near) // 2]) / 2 if near else x[node]
                )
            _place(level, wanted, x, size)
    return x


def _place(level: list[Hashable], wanted: dict, x: dict, size) -> None:
    """Each node of a layer as near ``wanted`` as the order and the gaps allow: the
    least-squares placement, found exactly by pooling adjacent violators. With
    ``offset[i]`` the least distance from the first node, ``x[i] - offset[i]`` must not
    decrease, so its best value is the isotonic regression of ``wanted[i] - offset[i]``."""
    offsets = [0.0]
    for left, right in itertools.pairwise(level):
        offsets.append(offsets[-1] + (size(left)[0] + size(right)[0]) / 2 + NODE_GAP)
    blocks: list[list[float]] = []  # [mean, count]
    for node, offset in zip(level, offsets, strict=True):
        blocks.append([wanted[node] - offset, 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean, count = blocks.pop()
            blocks[-1][0] = (blocks[-1][0] * blocks[-1][1] + mean * count) / (blocks[-1][1] + count)
            blocks[-1][1] += count
    values = [mean for mean, count in blocks for _ in range(int(count))]
    for node, value, offset in zip(level, values, offsets, strict=True):
        x[node] = value + offset
