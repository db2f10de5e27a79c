"""Groups from node-name scopes: a 10,000-node model opens as a few dozen items, its
identical layers are marked as repeats of one block, and edges into a folded group end
at the group."""

from __future__ import annotations

from modeldesk.graph.layout import layered_layout
from modeldesk.graph.scopes import build_groups, node_edges, scope_of, visible_graph

LAYER_OPS = ["LayerNormalization", "MatMul", "MatMul", "MatMul", "Softmax", "MatMul", "Add"]


def _transformer(layers: int, blocks_per_layer: int) -> dict:
    """A described graph: an embedding, ``layers`` identical layers of attention blocks
    (every node consuming the one before), and a head; one layer is different."""
    nodes = []

    def add(name: str, op: str) -> None:
        previous = [f"v{len(nodes) - 1}"] if nodes else ["input"]
        nodes.append({"id": len(nodes), "name": name, "op": op, "inputs": previous,
                      "outputs": [f"v{len(nodes)}"]})  # fmt: skip

    add("/model/embed/Gather", "Gather")
    for layer in range(layers):
        for block in range(blocks_per_layer):
            ops = LAYER_OPS if layer != 5 else [*LAYER_OPS, "Relu"]  # layer 5 differs
            for op in ops:
                add(f"/model/layers.{layer}/attn.{block}/{op}", op)
    add("/head/MatMul", "MatMul")
    add("Softmax_out", "Softmax")
    return {"nodes": nodes}


def test_a_large_model_opens_as_a_few_dozen_groups_with_its_repeats_marked():
    graph = _transformer(layers=24, blocks_per_layer=60)
    assert len(graph["nodes"]) > 10_000
    assert scope_of("/model/layers.3/attn.0/MatMul") == ("model", "layers.3", "attn.0")
    root = build_groups(graph["nodes"])
    edges = node_edges(graph)
    assert len(edges) == len(graph["nodes"]) - 1
    items, shown = visible_graph(root, edges, unfolded=set())
    assert items == [len(graph["nodes"]) - 1, ("model",), ("head",)]  # Softmax_out has no scope
    assert shown == [(("model",), ("head",)), (("head",), len(graph["nodes"]) - 1)]
    model = root.children["model"]
    items, shown = visible_graph(root, edges, unfolded={("model",)})
    assert len(items) == 1 + 1 + 24 + 1  # the head, the embedding, 24 layers, the softmax
    first = model.children["layers.0"]
    assert first.repeats == 23 and first.repeat_of is None  # layer 5 is not a repeat
    assert model.children["layers.7"].repeat_of == ("model", "layers.0")
    assert model.children["layers.5"].repeat_of is None
    # Folded, the layers chain one after another; laid out, they are a short column.
    layout = layered_layout(items, shown)
    assert not layout.reversed_edges and len(layout.positions) == len(items)
    # Unfolding one layer shows its 60 blocks, and only those.
    inner = {("model",), ("model", "layers.3")}
    items, shown = visible_graph(root, edges, unfolded=inner)
    assert len(items) == 1 + 1 + 23 + 60 + 1
    assert (("model", "layers.2"), ("model", "layers.3", "attn.0")) in shown
