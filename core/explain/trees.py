"""Read an ONNX tree ensemble into the tree format shap's ``TreeExplainer`` takes.

ONNX Runtime's ``TreeEnsembleRegressor`` / ``TreeEnsembleClassifier`` (ai.onnx.ml opsets
1 and 3) describe every node by tree id, node id, feature, threshold, mode and the ids of
its true and false children, with leaf weights listed apart. shap wants, per tree, arrays
indexed by node position where a row goes left when ``x <= threshold`` and to a default
child when ``x`` is missing. Every ONNX mode is rewritten into that one rule:

* ``BRANCH_LEQ``: left = true.  ``BRANCH_GT``: left = false (``x > t`` is ``not x <= t``).
* ``BRANCH_LT`` / ``BRANCH_GTE``: the threshold becomes the next representable value
  below ``t`` in the threshold's own precision (``x < t`` is ``x <= nextafter(t, -inf)``).
* ``BRANCH_EQ`` / ``BRANCH_NEQ``: two nodes (``x <= t`` then ``x <= nextafter(t)``) with
  the subtree that both reach copied, because a tree may not share a node.

Missing values follow ONNX Runtime: a NaN fails every comparison (so it goes to the false
child, except ``NEQ``, where ``NaN != t`` holds) unless the node tracks missing values to
its true child.

What is explained is the *margin*: the sum of leaf weights plus the base values, before
any ``post_transform`` (sigmoid, softmax). ONNX keeps no node covers, so they are counted
by routing rows through the trees (:meth:`TreeEnsemble.covers`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modeldesk.explain.tree_checks import (
    check_after_trees,
    check_lengths,
    check_tree,
    check_weights,
)
from modeldesk.explain.tree_layout import (
    TreeNotApplicable,
    finish_tree,
    leaf_of,
    tree_arrays,
    tree_depth,
    visit_counts,
    with_internal_values,
)
from modeldesk.progress import check_cancel

__all__ = ["TreeEnsemble", "TreeNotApplicable", "find_tree_ensemble"]

TREE_OPS = ("TreeEnsembleRegressor", "TreeEnsembleClassifier")
_MODES = ("BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ")
# Nodes that leave the feature matrix as it is on its way to the tree ensemble.
_PASS_THROUGH = {"Identity", "Cast"}


@dataclass
class TreeEnsemble:
    """An ONNX tree ensemble as arrays, one dict per tree (shap's layout)."""

    trees: list[dict[str, np.ndarray]]
    base_values: np.ndarray  # one per output, added to the sum of leaf weights
    output_names: list[str]
    n_features: int
    input_name: str
    post_transform: str
    node: Any  # the ONNX NodeProto, to build a margin model for ONNX Runtime
    threshold_dtype: Any
    depths: list[int] = field(default_factory=list)  # per tree, bounds every walk down it

    @property
    def n_outputs(self) -> int:
        """How many margins the ensemble sums (one per class, or one for binary)."""
        return len(self.base_values)

    def covers(
        self, features: np.ndarray, cancel: threading.Event | None = None
    ) -> list[np.ndarray]:
        """How many of ``features``' rows pass through each node of each tree."""
        x = np.asarray(features, dtype=self.threshold_dtype)
        counts = []
        for tree, depth in zip(self.trees, self.depths, strict=True):
            check_cancel(cancel, "counting node covers")
            counts.append(visit_counts(tree, x, depth))
        return counts

    def margin(self, features: np.ndarray, cancel: threading.Event | None = None) -> np.ndarray:
        """The ensemble's raw output (rows x outputs), computed from the arrays here."""
        x = np.asarray(features, dtype=self.threshold_dtype)
        total = np.tile(self.base_values, (len(x), 1)).astype(np.float64)
        for tree, depth in zip(self.trees, self.depths, strict=True):
            check_cancel(cancel, "routing rows through the trees")
            total += tree["values"][leaf_of(tree, x, depth)]
        return total

    def shap_model(self, covers: list[np.ndarray]) -> dict[str, Any]:
        """A fresh model dict for ``shap.TreeExplainer`` with the given node covers.

        shap writes into the arrays it is given, so every call copies them. Internal
        nodes get the cover-weighted mean of their children, which path-dependent
        TreeSHAP reads as the tree's expected value at the root.
        """
        trees = []
        for tree, cover in zip(self.trees, covers, strict=True):
            weight = np.asarray(cover, dtype=np.float64).copy()
            # A node no row reached would divide by zero in path-dependent TreeSHAP; a
            # tiny cover gives it (correctly) almost no say.
            weight[weight <= 0] = 1e-9
            trees.append(
                {
                    "children_left": tree["children_left"].copy(),
                    "children_right": tree["children_right"].copy(),
                    "children_default": tree["children_default"].copy(),
                    "features": tree["features"].copy(),
                    "thresholds": tree["thresholds"].astype(np.float64),
                    "values": with_internal_values(tree, weight),
                    "node_sample_weight": weight,
                }
            )
        return {
            "trees": trees,
            "base_offset": self.base_values.astype(np.float64).copy(),
            "tree_output": "raw_value",
            "objective": "squared_error",
            "input_dtype": np.dtype(self.threshold_dtype).type,
            "internal_dtype": np.float64,
        }


def find_tree_ensemble(model_proto: Any, cancel: threading.Event | None = None) -> TreeEnsemble:
    """The one tree ensemble of ``model_proto``, read into arrays and checked.

    Raises :class:`TreeNotApplicable` when the graph holds no tree ensemble, several, one
    of an unsupported kind, one whose features are not the model's input as given (a
    scaler or encoder in between would make the explanation about other features), one
    whose output the graph changes afterwards, or one whose node arrays do not describe
    finite trees (see :mod:`modeldesk.explain.tree_checks`).
    """
    graph = model_proto.graph
    found = [n for n in graph.node if n.op_type in TREE_OPS and n.domain == "ai.onnx.ml"]
    if not found:
        others = sorted({n.op_type for n in graph.node if n.op_type.startswith("TreeEnsemble")})
        if others:
            raise TreeNotApplicable(f"tree operator {others[0]} is not supported yet")
        raise TreeNotApplicable("the model holds no TreeEnsembleRegressor/Classifier")
    if len(found) > 1:
        raise TreeNotApplicable(f"the model holds {len(found)} tree ensembles, not one")
    node = found[0]
    input_name = _graph_input_behind(graph, node.input[0])
    check_after_trees(graph, node, cancel)
    ensemble = _read(node, _attributes(node), input_name, cancel)
    width = _input_width(graph, input_name)
    if width is not None:
        if width < ensemble.n_features:
            raise TreeNotApplicable(
                f"the trees read feature {ensemble.n_features - 1} of an input {width} wide"
            )
        ensemble.n_features = width
    return ensemble


def _input_width(graph: Any, name: str) -> int | None:
    for item in graph.input:
        if item.name == name:
            dims = item.type.tensor_type.shape.dim
            if len(dims) >= 2 and dims[-1].HasField("dim_value"):
                return int(dims[-1].dim_value)
    return None


def _graph_input_behind(graph: Any, name: str) -> str:
    producers = {output: node for node in graph.node for output in node.output}
    inputs = {item.name for item in graph.input}
    while name not in inputs:
        producer = producers.get(name)
        if producer is None or producer.op_type not in _PASS_THROUGH:
            step = producer.op_type if producer is not None else "an initializer"
            raise TreeNotApplicable(
                f"the tree ensemble reads {name!r}, made by {step} from the input; "
                "its features are not the model's input columns"
            )
        name = producer.input[0]
    return name


def _attributes(node: Any) -> dict[str, Any]:
    import onnx

    values = {}
    for attribute in node.attribute:
        value = onnx.helper.get_attribute_value(attribute)
        if isinstance(value, onnx.TensorProto):
            if value.data_location == onnx.TensorProto.EXTERNAL:
                raise TreeNotApplicable(f"attribute {attribute.name} is stored outside the model")
            value = onnx.numpy_helper.to_array(value)
        values[attribute.name] = value
    return values


def _numbers(attrs: dict[str, Any], name: str, default: Any = ()) -> np.ndarray:
    """A float attribute, preferring opset 3's double ``*_as_tensor`` form."""
    if f"{name}_as_tensor" in attrs:
        return np.asarray(attrs[f"{name}_as_tensor"]).ravel()
    return np.asarray(attrs.get(name, default), dtype=np.float32)


_NODE_ARRAYS = (
    "nodes_treeids",
    "nodes_nodeids",
    "nodes_featureids",
    "nodes_modes",
    "nodes_truenodeids",
    "nodes_falsenodeids",
    "nodes_values",
    "nodes_values_as_tensor",
    "nodes_missing_value_tracks_true",
)


def _read(
    node: Any, attrs: dict[str, Any], input_name: str, cancel: threading.Event | None = None
) -> TreeEnsemble:
    classifier = node.op_type == "TreeEnsembleClassifier"
    prefix = "class" if classifier else "target"
    for required in ("nodes_treeids", "nodes_nodeids", "nodes_modes", f"{prefix}_weights"):
        if required not in attrs and f"{required}_as_tensor" not in attrs:
            raise TreeNotApplicable(f"the tree ensemble has no {required}")
    check_lengths(attrs, _NODE_ARRAYS, "node")
    tree_ids = np.asarray(attrs["nodes_treeids"], dtype=np.int64)
    node_ids = np.asarray(attrs["nodes_nodeids"], dtype=np.int64)
    thresholds = _numbers(attrs, "nodes_values", np.zeros(len(tree_ids)))
    modes = np.asarray([m.decode() if isinstance(m, bytes) else m for m in attrs["nodes_modes"]])
    features = np.asarray(attrs.get("nodes_featureids", np.zeros(len(tree_ids))), dtype=np.int64)
    true_ids = np.asarray(attrs.get("nodes_truenodeids", np.zeros(len(tree_ids))), dtype=np.int64)
    false_ids = np.asarray(attrs.get("nodes_falsenodeids", np.zeros(len(tree_ids))), dtype=np.int64)
    tracks = np.asarray(
        attrs.get("nodes_missing_value_tracks_true") or np.zeros(len(tree_ids)), dtype=bool
    )
    unknown = sorted(set(modes) - {"LEAF", *_MODES})
    if unknown:
        raise TreeNotApplicable(f"node mode {unknown[0]} is not supported")
    weight_trees = np.asarray(attrs.get(f"{prefix}_treeids", ()), dtype=np.int64)
    weight_nodes = np.asarray(attrs.get(f"{prefix}_nodeids", ()), dtype=np.int64)
    weight_outputs = np.asarray(attrs.get(f"{prefix}_ids", ()), dtype=np.int64)
    weights = _numbers(attrs, f"{prefix}_weights").astype(np.float64)
    if not len(weights) == len(weight_trees) == len(weight_nodes) == len(weight_outputs):
        raise TreeNotApplicable("the leaf weight arrays have different lengths")

    aggregate = attrs.get("aggregate_function", b"SUM")
    aggregate = aggregate.decode() if isinstance(aggregate, bytes) else aggregate
    if aggregate not in ("SUM", "AVERAGE"):
        raise TreeNotApplicable(f"aggregate function {aggregate} is not a sum of trees")
    if classifier:
        labels = attrs.get("classlabels_strings") or attrs.get("classlabels_int64s") or []
        labels = [x.decode() if isinstance(x, bytes) else str(x) for x in labels]
        n_outputs = int(weight_outputs.max()) + 1 if len(weight_outputs) else len(labels)
        # Binary models keep one score column, the margin of the second class.
        names = [labels[-1]] if n_outputs == 1 and len(labels) == 2 else labels[:n_outputs]
        if len(names) != n_outputs:
            raise TreeNotApplicable(
                f"the trees add to {n_outputs} class scores but the model names "
                f"{len(labels)} classes"
            )
    else:
        n_outputs = int(attrs.get("n_targets", 1))
        names = [node.output[0]] if n_outputs == 1 else [f"target{i}" for i in range(n_outputs)]
    if n_outputs < 1:
        raise TreeNotApplicable("the tree ensemble has no outputs")
    base = _numbers(attrs, "base_values").astype(np.float64)
    if len(base) not in (0, n_outputs):
        raise TreeNotApplicable(f"the ensemble has {len(base)} base values for {n_outputs} outputs")
    base_values = base if len(base) else np.zeros(n_outputs)  # absent: ONNX's default, zero
    post = attrs.get("post_transform", b"NONE")
    post = post.decode() if isinstance(post, bytes) else post

    dtype = np.float64 if thresholds.dtype == np.float64 else np.float32
    unique_trees = np.unique(tree_ids)
    strays = np.setdiff1d(weight_trees, unique_trees)
    if len(strays):
        raise TreeNotApplicable(f"leaf weights name tree {int(strays[0])}, which has no nodes")
    scale = 1.0 / len(unique_trees) if aggregate == "AVERAGE" and len(unique_trees) else 1.0
    trees, depths = [], []
    for tree_id in unique_trees:
        check_cancel(cancel, "reading the tree ensemble")
        in_tree = tree_ids == tree_id
        mine = weight_trees == tree_id
        check_tree(int(tree_id), node_ids[in_tree], modes[in_tree], true_ids[in_tree],
                   false_ids[in_tree], features[in_tree], None)  # fmt: skip
        check_weights(int(tree_id), node_ids[in_tree], modes[in_tree], weight_nodes[mine],
                      weight_outputs[mine], n_outputs)  # fmt: skip
        tree = tree_arrays(
            node_ids[in_tree],
            features[in_tree],
            thresholds[in_tree].astype(dtype),
            modes[in_tree],
            true_ids[in_tree],
            false_ids[in_tree],
            tracks[in_tree],
            n_outputs,
        )
        leaf_positions = np.searchsorted(tree["_node_ids"], weight_nodes[mine])
        np.add.at(
            tree["values"],
            (tree["_position"][leaf_positions], weight_outputs[mine]),
            weights[mine] * scale,
        )
        finished = finish_tree(tree)
        trees.append(finished)
        depths.append(tree_depth(finished))
    n_features = int(features[modes != "LEAF"].max()) + 1 if (modes != "LEAF").any() else 0
    return TreeEnsemble(
        trees, base_values, list(names), n_features, input_name, post, node, dtype, depths
    )
