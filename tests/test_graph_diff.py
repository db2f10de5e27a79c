"""Two versions' graphs compared: a one-node insertion lists exactly that node, retrained
weights are changed with the norm of their change, an edited attribute names itself, and
nodes renamed by an exporter are still matched by structure."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

from modeldesk.graph.diff import diff_graphs, merged_graph
from modeldesk.graph.scene import GraphModel
from modeldesk.graph.versions import compare_graphs
from modeldesk.models.importer import import_model
from modeldesk.models.registry import get_model_version

import onnx_factory


def _import(catalog, tmp_path, model: onnx.ModelProto, name: str = "net"):
    path = onnx_factory.save(model, tmp_path / f"{name}-{len(list(tmp_path.iterdir()))}.onnx")
    return import_model(catalog, path, name=name)


def test_one_inserted_node_is_the_whole_diff(catalog, tmp_path):
    _import(catalog, tmp_path, onnx_factory.residual_network(4))
    _import(catalog, tmp_path, onnx_factory.residual_network(4, extra_relu_after=2))
    compared = compare_graphs(
        catalog, get_model_version(catalog, "net@1"), get_model_version(catalog, "net@2")
    )
    found = compared.to_dict()
    assert found["added"] == [{"name": "/model/layers.2/extra/Relu", "op": "Relu"}]
    assert found["removed"] == [] and found["changed"] == [] and found["contract"] == []
    assert compared.diff.summary() == "1 added, 0 removed, 0 changed, 28 same"
    # Drawn in one graph: the new node green, nothing else marked.
    model = GraphModel(compared.merged, compared.status)
    scene = model.scene(set(model.groups))
    marked = {item.title: item.status for item in scene.items.values() if item.status}
    assert marked == {"Relu": "added"}


def test_removed_node_is_drawn_between_its_old_neighbours():
    old = onnx_factory.residual_network(3, extra_relu_after=0)
    new = onnx_factory.residual_network(3)
    from modeldesk.graph.describe import describe_model

    a, b = describe_model(old)["graph"], describe_model(new)["graph"]
    diff = diff_graphs(a, b)
    assert [a["nodes"][i]["name"] for i in diff.removed] == ["/model/layers.0/extra/Relu"]
    merged, status = merged_graph(a, b, diff)
    model = GraphModel(merged, status)
    scene = model.scene(set(model.groups))
    removed = next(k for k, item in scene.items.items() if item.status == "removed")
    sources = {e.source for e in scene.edges if e.target == removed}
    targets = {e.target for e in scene.edges if e.source == removed}
    titles = {scene.items[k].title for k in sources | targets}
    assert titles == {"Relu", "Conv"}  # relu1 before it, conv2 after it


def test_retrained_weights_and_an_edited_attribute(catalog, tmp_path):
    base = onnx_factory.residual_network(2)
    retrained = onnx.ModelProto()
    retrained.CopyFrom(base)
    weight = next(t for t in retrained.graph.initializer if t.name == "layers.1.conv2.weight")
    original = numpy_helper.to_array(weight).astype(np.float64)
    values = numpy_helper.to_array(weight).copy()
    values[0, 0, 0, 0] += 3.0  # one value moved by 3: the norm of the change is 3
    weight.CopyFrom(numpy_helper.from_array(values, weight.name))
    softmax = next(n for n in retrained.graph.node if n.op_type == "Softmax")
    softmax.attribute[0].i = -1
    _import(catalog, tmp_path, base)
    _import(catalog, tmp_path, retrained)
    compared = compare_graphs(
        catalog, get_model_version(catalog, "net@1"), get_model_version(catalog, "net@2")
    )
    changed = {entry["name"]: entry["changes"] for entry in compared.to_dict()["changed"]}
    assert set(changed) == {"/model/layers.1/conv2/Conv", "/head/Softmax"}
    assert changed["/head/Softmax"] == ["attribute axis: 1 → -1"]
    (line,) = changed["/model/layers.1/conv2/Conv"]
    assert line.startswith("weight layers.1.conv2.weight values changed (‖Δ‖ = 3,")
    delta = compared.diff.weight_deltas["layers.1.conv2.weight"]
    assert abs(delta["delta"] - 3.0) < 1e-5
    assert abs(delta["norm"] - float(np.linalg.norm(original))) < 1e-4


def test_nodes_renamed_by_the_exporter_are_matched_by_structure():
    from modeldesk.graph.describe import describe_model

    old = onnx_factory.residual_network(3)
    new = onnx_factory.residual_network(3)
    for index, node in enumerate(new.graph.node):
        node.name = f"node_{index + 100}"  # another exporter's numbering
    a, b = describe_model(old)["graph"], describe_model(new)["graph"]
    diff = diff_graphs(a, b)
    assert not diff.added and not diff.removed and not diff.changed
    assert all(a["nodes"][i]["op"] == b["nodes"][j]["op"] for i, j in diff.pairs.items())
    assert diff.pairs == {i: i for i in range(len(a["nodes"]))}
