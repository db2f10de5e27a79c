"""The layered layout: edges point down, nodes of a layer never overlap, crossings are
counted exactly and reduced, a cycle is broken and reported (never a hang), and the
same graph always gets the same layout."""

from __future__ import annotations

import itertools
import random

from modeldesk.graph.layout import NODE_GAP, count_crossings, layered_layout


def _no_overlaps(layout, sizes) -> None:
    by_layer: dict[int, list] = {}
    for node, layer in layout.layers.items():
        by_layer.setdefault(layer, []).append(node)
    for members in by_layer.values():
        members.sort(key=lambda n: layout.positions[n][0])
        for left, right in itertools.pairwise(members):
            room = (sizes[left][0] + sizes[right][0]) / 2 + NODE_GAP
            gap = layout.positions[right][0] - layout.positions[left][0]
            assert gap >= room - 1e-6, (left, right, gap, room)


def test_edges_point_down_and_nodes_never_overlap():
    rng = random.Random(5)
    nodes = list(range(200))
    edges = [(a, b) for b in nodes for a in rng.sample(range(b), min(b, 2))]
    sizes = {n: (rng.uniform(40, 160), 30.0) for n in nodes}
    layout = layered_layout(nodes, edges, sizes)
    assert not layout.reversed_edges
    for source, target in edges:
        assert layout.layers[source] < layout.layers[target]
        assert layout.positions[source][1] < layout.positions[target][1]
    _no_overlaps(layout, sizes)
    assert all(x >= sizes[n][0] / 2 - 1e-6 for n, (x, _) in layout.positions.items())
    assert layout.width >= max(x + sizes[n][0] / 2 for n, (x, _) in layout.positions.items()) - 1e-6
    # Each edge is drawn through one point per layer it spans, top to bottom.
    for source, target, points in layout.edges:
        assert len(points) == layout.layers[target] - layout.layers[source] + 1
        assert [y for _, y in points] == sorted(y for _, y in points)
    assert layered_layout(nodes, edges, sizes) == layout  # deterministic


def test_crossings_are_counted_exactly():
    rng = random.Random(11)
    for _ in range(50):
        upper, lower = list(range(8)), list(range(10, 19))
        rng.shuffle(upper)
        rng.shuffle(lower)
        edges = [(rng.choice(upper), rng.choice(lower)) for _ in range(15)]
        position = {n: i for i, n in enumerate(upper)} | {n: i for i, n in enumerate(lower)}
        brute = sum(
            1
            for (a, b), (c, d) in itertools.combinations(edges, 2)
            if (position[a] - position[c]) * (position[b] - position[d]) < 0
        )
        assert count_crossings(upper, lower, edges) == brute


def test_an_order_without_crossings_is_found():
    # Two parallel chains given crosswise: the layout must uncross them.
    nodes = ["a1", "b1", "b2", "a2", "a3", "b3"]
    edges = [("a1", "a2"), ("a2", "a3"), ("b1", "b2"), ("b2", "b3")]
    assert layered_layout(nodes, edges).crossings == 0
    # A ladder of four rungs, listed in reverse on the second layer.
    top = [f"t{i}" for i in range(4)]
    bottom = [f"b{i}" for i in reversed(range(4))]
    layout = layered_layout(top + bottom, [(f"t{i}", f"b{i}") for i in range(4)])
    assert layout.crossings == 0
    rungs = sorted(range(4), key=lambda i: layout.positions[f"t{i}"][0])
    assert rungs == sorted(range(4), key=lambda i: layout.positions[f"b{i}"][0])


def test_a_cycle_is_broken_and_reported_never_a_hang():
    nodes = ["in", "a", "b", "c", "out"]
    edges = [("in", "a"), ("a", "b"), ("b", "c"), ("c", "a"), ("c", "out"), ("b", "b")]
    layout = layered_layout(nodes, edges)
    assert layout.reversed_edges == [("c", "a")] and layout.loops == ["b"]
    assert set(layout.positions) == set(nodes)
    drawn = {(s, t) for s, t, _ in layout.edges}
    assert ("c", "a") in drawn  # the reversed edge is still drawn, from c to a
    # A long chain is walked without recursion.
    chain = list(range(10_000))
    long = layered_layout(chain, list(itertools.pairwise(chain)))
    assert long.layers[9_999] == 9_999


def test_a_layout_reports_progress_and_stops_when_cancelled():
    import threading

    import pytest

    from modeldesk.errors import Cancelled

    nodes = list(range(200))
    edges = [(i, i + 1) for i in range(199)] + [(i, i + 7) for i in range(0, 190, 3)]
    seen: list[tuple[float, float]] = []
    layered_layout(nodes, edges, progress=lambda done, total, _: seen.append((done, total)))
    assert len(seen) >= 5 and seen[0][0] == 0 and all(d <= t for d, t in seen)
    cancel = threading.Event()

    def cancel_at_second(done, total, message):
        if done >= 2:
            cancel.set()

    with pytest.raises(Cancelled, match="graph layout"):
        layered_layout(nodes, edges, progress=cancel_at_second, cancel=cancel)
