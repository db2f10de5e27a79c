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

from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import BadInputError

__all__ = ["TreeEnsemble", "TreeNotApplicable", "find_tree_ensemble"]

TREE_OPS = ("TreeEnsembleRegressor", "TreeEnsembleClassifier")
# Nodes that leave the feature matrix as it is on its way to the tree ensemble.
_PASS_THROUGH = {"Identity", "Cast"}
_LEAF = -1
# Leaves carry this feature index, as in scikit-learn's trees.
_NO_FEATURE = -2


class TreeNotApplicable(BadInputError):
    """The model is not a tree ensemble over its input features (say why)."""


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

    @property
    def n_outputs(self) -> int:
        """How many margins the ensemble sums (one per class, or one for binary)."""
        return len(self.base_values)

    def covers(self, features: np.ndarray) -> list[np.ndarray]:
        """How many of ``features``' rows pass through each node of each tree."""
        x = np.asarray(features, dtype=self.threshold_dtype)
        return [_visit_counts(tree, x) for tree in self.trees]

    def margin(self, features: np.ndarray) -> np.ndarray:
        """The ensemble's raw output (rows x outputs), computed from the arrays here."""
        x = np.asarray(features, dtype=self.threshold_dtype)
        total = np.tile(self.base_values, (len(x), 1)).astype(np.float64)
        for tree in self.trees:
            total += tree["values"][_leaf_of(tree, x)]
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
                    "values": _with_internal_values(tree, weight),
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


def find_tree_ensemble(model_proto: Any) -> TreeEnsemble:
    """The one tree ensemble of ``model_proto``, read into arrays.

    Raises :class:`TreeNotApplicable` when the graph holds no tree ensemble, several, one
    of an unsupported kind, or one whose features are not the model's input as given
    (a scaler or encoder in between would make the explanation about other features).
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
    ensemble = _read(node, _attributes(node), input_name)
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


def _read(node: Any, attrs: dict[str, Any], input_name: str) -> TreeEnsemble:
    classifier = node.op_type == "TreeEnsembleClassifier"
    prefix = "class" if classifier else "target"
    tree_ids = np.asarray(attrs["nodes_treeids"], dtype=np.int64)
    node_ids = np.asarray(attrs["nodes_nodeids"], dtype=np.int64)
    thresholds = _numbers(attrs, "nodes_values", np.zeros(len(tree_ids)))
    modes = np.asarray([m.decode() if isinstance(m, bytes) else m for m in attrs["nodes_modes"]])
    features = np.asarray(attrs["nodes_featureids"], dtype=np.int64)
    true_ids = np.asarray(attrs["nodes_truenodeids"], dtype=np.int64)
    false_ids = np.asarray(attrs["nodes_falsenodeids"], dtype=np.int64)
    tracks = np.asarray(
        attrs.get("nodes_missing_value_tracks_true") or np.zeros(len(tree_ids)), dtype=bool
    )
    unknown = sorted(set(modes) - {"LEAF", *_MODES})
    if unknown:
        raise TreeNotApplicable(f"node mode {unknown[0]} is not supported")
    weight_trees = np.asarray(attrs[f"{prefix}_treeids"], dtype=np.int64)
    weight_nodes = np.asarray(attrs[f"{prefix}_nodeids"], dtype=np.int64)
    weight_outputs = np.asarray(attrs[f"{prefix}_ids"], dtype=np.int64)
    weights = _numbers(attrs, f"{prefix}_weights").astype(np.float64)

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
    else:
        n_outputs = int(attrs.get("n_targets", 1))
        names = [node.output[0]] if n_outputs == 1 else [f"target{i}" for i in range(n_outputs)]
    base = _numbers(attrs, "base_values").astype(np.float64)
    base_values = base if len(base) == n_outputs else np.zeros(n_outputs)
    post = attrs.get("post_transform", b"NONE")
    post = post.decode() if isinstance(post, bytes) else post

    dtype = np.float64 if thresholds.dtype == np.float64 else np.float32
    unique_trees = np.unique(tree_ids)
    scale = 1.0 / len(unique_trees) if aggregate == "AVERAGE" and len(unique_trees) else 1.0
    trees = []
    for tree_id in unique_trees:
        in_tree = tree_ids == tree_id
        tree = _tree_arrays(
            node_ids[in_tree],
            features[in_tree],
            thresholds[in_tree].astype(dtype),
            modes[in_tree],
            true_ids[in_tree],
            false_ids[in_tree],
            tracks[in_tree],
            n_outputs,
        )
        mine = weight_trees == tree_id
        leaf_positions = np.searchsorted(tree["_node_ids"], weight_nodes[mine])
        np.add.at(
            tree["values"],
            (tree["_position"][leaf_positions], weight_outputs[mine]),
            weights[mine] * scale,
        )
        trees.append(_finish_tree(tree))
    n_features = int(features[modes != "LEAF"].max()) + 1 if (modes != "LEAF").any() else 0
    return TreeEnsemble(trees, base_values, list(names), n_features, input_name, post, node, dtype)


_MODES = ("BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ")


def _below(value: np.ndarray, dtype: Any) -> np.ndarray:
    """The next representable number below ``value`` in ``dtype``."""
    return np.nextafter(value.astype(dtype), dtype(-np.inf))


def _tree_arrays(
    node_ids: np.ndarray,
    features: np.ndarray,
    thresholds: np.ndarray,
    modes: np.ndarray,
    true_ids: np.ndarray,
    false_ids: np.ndarray,
    tracks: np.ndarray,
    n_outputs: int,
) -> dict[str, np.ndarray]:
    """One tree's shap arrays; equality nodes are expanded afterwards."""
    dtype = thresholds.dtype.type
    order = np.argsort(node_ids, kind="stable")
    node_ids, features, thresholds = node_ids[order], features[order], thresholds[order]
    modes, tracks = modes[order], tracks[order]
    true_ids, false_ids = true_ids[order], false_ids[order]
    size = len(node_ids)
    leaf = modes == "LEAF"
    true_at = np.where(leaf, _LEAF, np.searchsorted(node_ids, true_ids))
    false_at = np.where(leaf, _LEAF, np.searchsorted(node_ids, false_ids))
    # The root is the node no other node points to; shap wants it at position 0.
    referenced = np.zeros(size, dtype=bool)
    referenced[true_at[~leaf]] = True
    referenced[false_at[~leaf]] = True
    roots = np.flatnonzero(~referenced)
    if len(roots) != 1:
        raise TreeNotApplicable(f"a tree has {len(roots)} roots, not one")
    position = np.arange(size)
    if roots[0] != 0:
        position[[0, roots[0]]] = position[[roots[0], 0]]

    swap = np.isin(modes, ("BRANCH_GT", "BRANCH_GTE"))
    lower = np.isin(modes, ("BRANCH_LT", "BRANCH_GTE"))
    left = np.where(swap, false_at, true_at)
    right = np.where(swap, true_at, false_at)
    cut = np.where(lower, _below(thresholds, dtype), thresholds)
    missing = np.where(tracks, true_at, false_at)
    missing = np.where(modes == "BRANCH_NEQ", true_at, missing)

    def at(values: np.ndarray) -> np.ndarray:
        out = np.full(size, _LEAF, dtype=np.int64)
        out[position] = np.where(leaf, _LEAF, position[np.maximum(values, 0)])
        return out

    arranged = {
        "children_left": at(left),
        "children_right": at(right),
        "children_default": at(missing),
        "features": np.full(size, _NO_FEATURE, dtype=np.int64),
        "thresholds": np.zeros(size, dtype=dtype),
        "values": np.zeros((size, n_outputs), dtype=np.float64),
        "_mode": np.empty(size, dtype=modes.dtype),
        "_node_ids": node_ids,
        "_position": position,
    }
    arranged["features"][position] = np.where(leaf, _NO_FEATURE, features)
    arranged["thresholds"][position] = np.where(leaf, 0, cut)
    arranged["_mode"][position] = modes
    arranged["_true"] = at(true_at)
    arranged["_false"] = at(false_at)
    return arranged


def _finish_tree(tree: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Expand equality nodes (rarely present) and drop the working arrays."""
    equality = np.flatnonzero(np.isin(tree["_mode"], ("BRANCH_EQ", "BRANCH_NEQ")))
    if len(equality):
        tree = _expand_equality(tree, equality)
    return {
        key: np.ascontiguousarray(tree[key])
        for key in (
            "children_left",
            "children_right",
            "children_default",
            "features",
            "thresholds",
            "values",
        )
    }


def _expand_equality(tree: dict[str, np.ndarray], equality: np.ndarray) -> dict[str, np.ndarray]:
    """Rewrite ``x == t`` / ``x != t`` nodes as two ``<=`` nodes with a copied subtree."""
    columns = {
        key: list(tree[key])
        for key in ("children_left", "children_right", "children_default", "features")
    }
    thresholds = list(tree["thresholds"])
    values = list(tree["values"])
    dtype = tree["thresholds"].dtype.type

    def add(left: int, right: int, default: int, feature: int, threshold: Any, value: Any) -> int:
        for key, item in zip(columns, (left, right, default, feature), strict=True):
            columns[key].append(item)
        thresholds.append(threshold)
        values.append(value)
        return len(thresholds) - 1

    def copy(node: int) -> int:
        if columns["children_left"][node] == _LEAF:
            return add(_LEAF, _LEAF, _LEAF, _NO_FEATURE, 0, values[node])
        left, right = copy(columns["children_left"][node]), copy(columns["children_right"][node])
        default_old = columns["children_default"][node]
        default = left if default_old == columns["children_left"][node] else right
        return add(left, right, default, columns["features"][node], thresholds[node], values[node])

    for node in equality:
        threshold = dtype(tree["thresholds"][node])
        below = _below(np.asarray([threshold]), dtype)[0]
        true_child, false_child = int(tree["_true"][node]), int(tree["_false"][node])
        feature = int(columns["features"][node])
        blank = np.zeros_like(values[node])
        if tree["_mode"][node] == "BRANCH_EQ":
            # x <= t, then x <= below(t): equal lands right of the second test.
            second = add(copy(false_child), true_child, true_child, feature, below, blank)
            first_left, first_right = second, false_child
        else:
            second = add(copy(true_child), false_child, false_child, feature, below, blank)
            first_left, first_right = second, true_child
        columns["children_left"][node] = first_left
        columns["children_right"][node] = first_right
        # shap wants a node's missing-value child to be one of its two children: a NaN
        # bound for the other side of an EQ test goes through the second test, whose
        # default is that side.
        missing = int(tree["children_default"][node])
        columns["children_default"][node] = missing if missing == first_right else second
        thresholds[node] = threshold
    expanded = {key: np.asarray(items, dtype=np.int64) for key, items in columns.items()}
    expanded["thresholds"] = np.asarray(thresholds, dtype=dtype)
    expanded["values"] = np.asarray(values, dtype=np.float64)
    return expanded


def _step(tree: dict[str, np.ndarray], x: np.ndarray, node: np.ndarray) -> np.ndarray:
    """Where each row at ``node`` goes next (leaves stay where they are)."""
    feature = tree["features"][node]
    inner = feature >= 0
    value = x[np.arange(len(x)), np.where(inner, feature, 0)]
    goes_left = value <= tree["thresholds"][node]
    nxt = np.where(goes_left, tree["children_left"][node], tree["children_right"][node])
    nxt = np.where(np.isnan(value), tree["children_default"][node], nxt)
    return np.where(inner, nxt, node)


def _leaf_of(tree: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    node = np.zeros(len(x), dtype=np.int64)
    while True:
        nxt = _step(tree, x, node)
        if np.array_equal(nxt, node):
            return node
        node = nxt


def _visit_counts(tree: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    counts = np.zeros(len(tree["features"]), dtype=np.float64)
    node = np.zeros(len(x), dtype=np.int64)
    counts[0] = len(x)
    while True:
        nxt = _step(tree, x, node)
        moved = nxt != node
        if not moved.any():
            return counts
        counts += np.bincount(nxt[moved], minlength=len(counts))
        node = nxt


def _with_internal_values(tree: dict[str, np.ndarray], cover: np.ndarray) -> np.ndarray:
    """Leaf values kept; each internal node gets the cover-weighted mean of its children."""
    values = tree["values"].astype(np.float64).copy()
    left, right = tree["children_left"], tree["children_right"]
    levels = [np.zeros(1, dtype=np.int64)]
    while True:
        inner = levels[-1][left[levels[-1]] != _LEAF]
        if not len(inner):
            break
        levels.append(np.concatenate([left[inner], right[inner]]))
    for level in reversed(levels):  # deepest first, so children are done before parents
        inner = level[left[level] != _LEAF]
        a, b = left[inner], right[inner]
        total = (cover[a] + cover[b])[:, None]
        values[inner] = (values[a] * cover[a][:, None] + values[b] * cover[b][:, None]) / total
    return values
