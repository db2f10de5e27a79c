"""Untrusted tree ensembles are checked before they are walked; values must add up."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from modeldesk.catalog.derived import list_derived
from modeldesk.datasets.importer import import_dataset
from modeldesk.errors import BadInputError, Cancelled
from modeldesk.explain.run import explain
from modeldesk.explain.trees import TreeNotApplicable, find_tree_ensemble
from modeldesk.models.importer import import_model
from modeldesk.models.registry import get_model_version

# One tree: root 0 splits on x0 -> 1 (leaf) / 2 (split on x1 -> 3 / 4, leaves).
GOOD = dict(
    nodes_treeids=[0, 0, 0, 0, 0],
    nodes_nodeids=[0, 1, 2, 3, 4],
    nodes_featureids=[0, 0, 1, 0, 0],
    nodes_values=[0.5, 0.0, 0.25, 0.0, 0.0],
    nodes_modes=["BRANCH_LEQ", "LEAF", "BRANCH_LEQ", "LEAF", "LEAF"],
    nodes_truenodeids=[1, 0, 3, 0, 0],
    nodes_falsenodeids=[2, 0, 4, 0, 0],
    target_treeids=[0, 0, 0],
    target_nodeids=[1, 3, 4],
    target_ids=[0, 0, 0],
    target_weights=[1.0, -2.0, 3.5],
    base_values=[0.25],
)


def _model(after: list[onnx.NodeProto] | None = None, **changes) -> onnx.ModelProto:
    """A regressor over X: float[N x 2] with GOOD's arrays, changed by ``changes``."""
    attrs = {**GOOD, **changes, "n_targets": 1, "post_transform": "NONE"}
    attrs = {key: value for key, value in attrs.items() if value is not None}
    out = "trees" if after else "Y"
    nodes = [helper.make_node("TreeEnsembleRegressor", ["X"], [out], domain="ai.onnx.ml", **attrs)]
    initializers = []
    for node in after or []:
        nodes.append(node)
    for name, value in (("two", 2.0), ("one", 1.0), ("zero", 0.0)):
        initializers.append(numpy_helper.from_array(np.array([value], dtype=np.float32), name))
    graph = helper.make_graph(
        nodes,
        "trees",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 1])],
        initializers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 1)]
    )
    model.ir_version = 8
    return model


def test_a_good_tree_reads_and_matches_onnx_runtime():
    ensemble = find_tree_ensemble(_model())
    x = np.array([[0.1, 0.0], [0.9, 0.1], [0.9, 0.9]], dtype=np.float32)
    assert ensemble.margin(x)[:, 0].tolist() == [1.25, -1.75, 3.75]
    assert ensemble.depths == [2]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        # Node 2's true child points back at the root: a loop onnx.checker lets through.
        ({"nodes_truenodeids": [1, 0, 0, 0, 0]}, "cannot be reached from the root .*loop"),
        # Nodes 3 and 4 point at each other, apart from the root's tree.
        (
            {
                "nodes_modes": ["BRANCH_LEQ", "LEAF", "LEAF", "BRANCH_LEQ", "BRANCH_LEQ"],
                "nodes_truenodeids": [1, 0, 0, 4, 3],
                "nodes_falsenodeids": [2, 0, 0, 4, 3],
                "target_nodeids": [1, 2, 2],
            },
            "reached from two branches",
        ),
        ({"nodes_truenodeids": [1, 0, 7, 0, 0]}, "points to node 7, which does not exist"),
        ({"nodes_nodeids": [0, 1, 2, 3, 3]}, "node id 3 appears twice"),
        ({"nodes_featureids": [0, 0, 5, 0, 0]}, "feature 5 of an input 2 wide"),
        ({"target_nodeids": [1, 3, 9]}, "names node 9, which does not exist"),
        ({"target_nodeids": [1, 3, 2]}, "names node 2, which is not a leaf"),
        ({"target_treeids": [0, 0, 4]}, "tree 4, which has no nodes"),
        ({"base_values": [0.25, 0.5]}, "2 base values for 1 outputs"),
        ({"nodes_values": [0.5, 0.0, 0.25]}, "different lengths"),
        ({"target_ids": [0, 0]}, "different lengths"),
    ],
)
def test_a_malformed_ensemble_is_refused_naming_the_problem(changes, problem):
    model = _model(**changes)
    with pytest.raises(TreeNotApplicable, match=problem):
        find_tree_ensemble(model)


def test_a_loop_passes_the_onnx_checker_but_not_our_reading():
    model = _model(nodes_truenodeids=[1, 0, 0, 0, 0])
    onnx.checker.check_model(model, full_check=True)  # the premise: the checker accepts it
    with pytest.raises(TreeNotApplicable, match="loop"):
        find_tree_ensemble(model)


def test_arithmetic_after_the_trees_is_refused_unless_it_changes_nothing():
    changes = helper.make_node("Add", ["trees", "two"], ["Y"], name="shift")
    with pytest.raises(TreeNotApplicable, match=r"goes through Add \(shift\)"):
        find_tree_ensemble(_model([changes]))
    scale = helper.make_node("Mul", ["two", "trees"], ["Y"], name="scale")
    with pytest.raises(TreeNotApplicable, match="goes through Mul"):
        find_tree_ensemble(_model([scale]))
    for neutral in (
        helper.make_node("Mul", ["trees", "one"], ["Y"]),  # what onnxmltools writes
        helper.make_node("Add", ["zero", "trees"], ["Y"]),
        helper.make_node("Identity", ["trees"], ["Y"]),
    ):
        assert find_tree_ensemble(_model([neutral])).n_outputs == 1
    divided = helper.make_node("Div", ["one", "trees"], ["Y"])  # 1 / x is not x
    with pytest.raises(TreeNotApplicable, match="goes through Div"):
        find_tree_ensemble(_model([divided]))


def test_reading_and_routing_stop_on_cancel():
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        find_tree_ensemble(_model(), cancel)
    ensemble = find_tree_ensemble(_model())
    with pytest.raises(Cancelled):
        ensemble.covers(np.zeros((4, 2), dtype=np.float32), cancel)


@pytest.fixture
def tree_catalog(catalog, tmp_path: Path):
    rows = np.random.default_rng(1).uniform(size=(50, 2))
    csv = tmp_path / "rows.csv"
    csv.write_text("a,b\n" + "".join(f"{a:.5f},{b:.5f}\n" for a, b in rows))
    import_dataset(catalog, csv, name="rows")
    for name, model in (("good", _model()), ("looped", _model(nodes_truenodeids=[1, 0, 0, 0, 0]))):
        path = tmp_path / f"{name}.onnx"
        onnx.save(model, path)
        import_model(catalog, path, name=name, trained_on="rows@1", features=["a", "b"])
    return catalog


def test_a_looping_model_in_the_catalog_is_refused_by_the_tree_method(tree_catalog):
    with pytest.raises(BadInputError, match=r"looped@1: the tree method does not apply .*loop"):
        explain(tree_catalog, "looped@1", "rows@1", method="tree")
    # The automatic choice does not walk it either: ONNX Runtime refuses the model too.
    with pytest.raises(BadInputError, match="looped@1"):
        explain(tree_catalog, "looped@1", "rows@1", rows=5)


def test_values_that_do_not_add_up_are_refused_and_not_stored(tree_catalog, monkeypatch):
    from modeldesk.explain.trees import TreeEnsemble

    real = TreeEnsemble.shap_model

    def misread(self, covers):  # a reading error: one leaf's value off by 0.5
        model = real(self, covers)
        model["trees"][0]["values"][1] += 0.5
        return model

    monkeypatch.setattr(TreeEnsemble, "shap_model", misread)
    with pytest.raises(BadInputError, match="not read correctly.*nothing stored"):
        explain(tree_catalog, "good@1", "rows@1", method="tree")
    version = get_model_version(tree_catalog, "good@1")
    assert list_derived(tree_catalog, "explanation", version.id) == []
    monkeypatch.undo()
    result = explain(tree_catalog, "good@1", "rows@1", method="tree")
    assert np.allclose(result.predictions(), result.base_values + result.values.sum(axis=1))
