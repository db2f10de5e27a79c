"""A model's graph described in the examiner child: nodes with their op families,
inferred shapes on the values (symbolic dims verbatim, unknown as ``?``), weights in
initializers and in ``Constant`` nodes, subgraphs with the values they read from the
graph around them, and a dangling input reported rather than trusted."""

from __future__ import annotations

import json

import onnx
import pytest
from onnx import TensorProto, helper

from modeldesk.errors import ModelFileError
from modeldesk.models.examine import describe_model_graph

import onnx_factory


def _described(model: onnx.ModelProto, tmp_path, name: str) -> dict:
    path = onnx_factory.save(model, tmp_path / f"{name}.onnx")
    found = describe_model_graph(path)
    json.dumps(found)  # plain data all the way down
    return found


def test_control_flow_subgraphs_and_what_they_read_from_outside(tmp_path):
    found = _described(onnx_factory.control_flow(), tmp_path, "control")
    graph = found["graph"]
    assert [(n["op"], n["category"]) for n in graph["nodes"]] == [
        ("If", "control flow"), ("Loop", "control flow"), ("Scan", "control flow")]  # fmt: skip
    assert graph["inputs"] == ["flag", "x", "trips", "rows"] and not graph["problems"]
    assert graph["values"]["rows"]["shape"] == ["steps", 3]  # symbolic, verbatim
    branch = graph["nodes"][0]["subgraphs"]
    assert set(branch) == {"then_branch", "else_branch"}
    assert branch["then_branch"]["captured"] == ["one", "x"]  # drawn dashed
    assert not branch["then_branch"]["problems"]
    body = graph["nodes"][1]["subgraphs"]["body"]
    assert [n["op"] for n in body["nodes"]] == ["Identity", "Add"] and body["captured"] == ["one"]
    one = graph["weights"]["one"]
    assert (one["dtype"], one["shape"], one["values"], one["norm"]) == ("float32", [], [1.0], 1.0)
    assert isinstance(found["opsets"]["ai.onnx"], int) and isinstance(found["ir_version"], int)


def test_weights_in_constant_nodes_and_inferred_shapes(tmp_path):
    graph = _described(onnx_factory.constant_weights(4, 3), tmp_path, "constants")["graph"]
    weights = graph["weights"]
    assert "values" not in weights["W"]  # too big inline
    assert weights["W"]["shape"] == [4, 3] and len(weights["W"]["sha256"]) == 64
    assert weights["B"]["values"] == [0.5, 0.5, 0.5]
    ops = {n["op"]: n for n in graph["nodes"]}
    assert ops["MatMul"]["category"] == "convolution" and ops["Add"]["category"] == "arithmetic"
    assert graph["values"]["XW"]["shape"] == ["batch", 3]  # inferred: the file does not say
    assert graph["inputs"] == ["X"]


def test_ml_ops_and_unknown_dims(tmp_path):
    graph = _described(onnx_factory.tree_classifier(), tmp_path, "tree")["graph"]
    categories = {n["op"]: n["category"] for n in graph["nodes"]}
    assert categories["TreeEnsembleClassifier"] == "ml"
    assert (
        "nodes_featureids"
        in next(n for n in graph["nodes"] if n["op"] == "TreeEnsembleClassifier")["attributes"]
    )
    reshape = helper.make_graph(
        [helper.make_node("Reshape", ["X", "S"], ["Y"])],
        "unknown",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["n", 6]),
         helper.make_tensor_value_info("S", TensorProto.INT64, [2])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
    )  # fmt: skip
    model = helper.make_model(reshape, opset_imports=[helper.make_opsetid("", 17)])
    shapes = _described(model, tmp_path, "reshape")["graph"]["values"]
    # Inference gives the unknown dims its own symbolic names (unk__N): shown verbatim.
    assert [str(d).startswith("unk__") for d in shapes["Y"]["shape"]] == [True, True]
    assert "-1" not in json.dumps(shapes)


def test_a_dangling_input_is_reported_and_garbage_refused(tmp_path):
    graph = helper.make_graph(
        [helper.make_node("Add", ["X", "ghost"], ["Y"], name="/block/add")],
        "dangling",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [2])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "dangling.onnx"
    path.write_bytes(model.SerializeToString())  # the checker would refuse it: skip it
    described = describe_model_graph(path)["graph"]
    assert described["problems"] == ["input 'ghost' of a node is produced nowhere"]
    assert described["nodes"][0]["name"] == "/block/add"
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x00\xff" * 100)
    with pytest.raises(ModelFileError, match="garbage.onnx"):
        describe_model_graph(garbage)
