"""One tree's arrays in shap's layout: built from ONNX nodes, routed, weighted.

See :mod:`modeldesk.explain.trees` for how ONNX node modes map onto shap's single
``x <= threshold`` rule; this module does the array work.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modeldesk.errors import BadInputError

__all__ = [
    "LEAF",
    "NO_FEATURE",
    "TreeNotApplicable",
    "below",
    "finish_tree",
    "leaf_of",
    "tree_arrays",
    "tree_depth",
    "visit_counts",
    "with_internal_values",
]

LEAF = -1
# Leaves carry this feature index, as in scikit-learn's trees.
NO_FEATURE = -2


class TreeNotApplicable(BadInputError):
    """The model is not a tree ensemble over its input features (say why)."""


def below(value: np.ndarray, dtype: Any) -> np.ndarray:
    """The next representable number below ``value`` in ``dtype``."""
    return np.nextafter(value.astype(dtype), dtype(-np.inf))


def tree_arrays(
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
    true_at = np.where(leaf, LEAF, np.searchsorted(node_ids, true_ids))
    false_at = np.where(leaf, LEAF, np.searchsorted(node_ids, false_ids))
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
    cut = np.where(lower, below(thresholds, dtype), thresholds)
    missing = np.where(tracks, true_at, false_at)
    missing = np.where(modes == "BRANCH_NEQ", true_at, missing)

    def at(values: np.ndarray) -> np.ndarray:
        out = np.full(size, LEAF, dtype=np.int64)
        out[position] = np.where(leaf, LEAF, position[np.maximum(values, 0)])
        return out

    arranged = {
        "children_left": at(left),
        "children_right": at(right),
        "children_default": at(missing),
        "features": np.full(size, NO_FEATURE, dtype=np.int64),
        "thresholds": np.zeros(size, dtype=dtype),
        "values": np.zeros((size, n_outputs), dtype=np.float64),
        "_mode": np.empty(size, dtype=modes.dtype),
        "_node_ids": node_ids,
        "_position": position,
    }
    arranged["features"][position] = np.where(leaf, NO_FEATURE, features)
    arranged["thresholds"][position] = np.where(leaf, 0, cut)
    arranged["_mode"][position] = modes
    arranged["_true"] = at(true_at)
    arranged["_false"] = at(false_at)
    return arranged


def finish_tree(tree: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
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
        if columns["children_left"][node] == LEAF:
            return add(LEAF, LEAF, LEAF, NO_FEATURE, 0, values[node])
        left, right = copy(columns["children_left"][node]), copy(columns["children_right"][node])
        default_old = columns["children_default"][node]
        default = left if default_old == columns["children_left"][node] else right
        return add(left, right, default, columns["features"][node], thresholds[node], values[node])

    for node in equality:
        threshold = dtype(tree["thresholds"][node])
        lower = below(np.asarray([threshold]), dtype)[0]
        true_child, false_child = int(tree["_true"][node]), int(tree["_false"][node])
        feature = int(columns["features"][node])
        blank = np.zeros_like(values[node])
        if tree["_mode"][node] == "BRANCH_EQ":
            # x <= t, then x <= below(t): equal lands right of the second test.
            second = add(copy(false_child), true_child, true_child, feature, lower, blank)
            first_left, first_right = second, false_child
        else:
            second = add(copy(true_child), false_child, false_child, feature, lower, blank)
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


def tree_depth(tree: dict[str, np.ndarray]) -> int:
    """Edges from the root to the deepest leaf (the tree must be checked finite first)."""
    left, right = tree["children_left"], tree["children_right"]
    level = np.zeros(1, dtype=np.int64)
    for depth in range(len(left)):  # a finite tree is never deeper than it has nodes
        inner = level[left[level] != LEAF]
        if not len(inner):
            return depth
        level = np.concatenate([left[inner], right[inner]])
    raise TreeNotApplicable("a tree does not end in leaves")


def leaf_of(tree: dict[str, np.ndarray], x: np.ndarray, depth: int) -> np.ndarray:
    """The leaf each row of ``x`` lands in (``depth`` bounds the walk)."""
    node = np.zeros(len(x), dtype=np.int64)
    for _ in range(depth + 1):
        nxt = _step(tree, x, node)
        if np.array_equal(nxt, node):
            return node
        node = nxt
    raise TreeNotApplicable(f"a tree is deeper than its {depth} levels")


def visit_counts(tree: dict[str, np.ndarray], x: np.ndarray, depth: int) -> np.ndarray:
    """How many rows of ``x`` pass through each node (``depth`` bounds the walk)."""
    counts = np.zeros(len(tree["features"]), dtype=np.float64)
    node = np.zeros(len(x), dtype=np.int64)
    counts[0] = len(x)
    for _ in range(depth + 1):
        nxt = _step(tree, x, node)
        moved = nxt != node
        if not moved.any():
            return counts
        counts += np.bincount(nxt[moved], minlength=len(counts))
        node = nxt
    raise TreeNotApplicable(f"a tree is deeper than its {depth} levels")


def with_internal_values(tree: dict[str, np.ndarray], cover: np.ndarray) -> np.ndarray:
    """Leaf values kept; each internal node gets the cover-weighted mean of its children."""
    values = tree["values"].astype(np.float64).copy()
    left, right = tree["children_left"], tree["children_right"]
    levels = [np.zeros(1, dtype=np.int64)]
    for _ in range(len(left)):  # a checked tree ends within as many levels as it has nodes
        inner = levels[-1][left[levels[-1]] != LEAF]
        if not len(inner):
            break
        levels.append(np.concatenate([left[inner], right[inner]]))
    for level in reversed(levels):  # deepest first, so children are done before parents
        inner = level[left[level] != LEAF]
        a, b = left[inner], right[inner]
        total = (cover[a] + cover[b])[:, None]
        values[inner] = (values[a] * cover[a][:, None] + values[b] * cover[b][:, None]) / total
    return values
