"""Checks of an untrusted ONNX tree ensemble, made before anything walks it.

A tree ensemble's node arrays come from the model file: a child id may name no node, a
node may point back at an ancestor (``onnx.checker`` accepts that, and a walk from the
root would never end), leaf weights may name nodes that are not leaves, and the graph may
change the ensemble's output after the trees. Each of these is refused here with
:class:`TreeNotApplicable` naming the problem, so every later loop over a tree is over a
finite tree whose depth is known.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from modeldesk.explain.tree_layout import TreeNotApplicable
from modeldesk.progress import check_cancel

__all__ = ["check_after_trees", "check_lengths", "check_tree", "check_weights"]

# Nodes that may stand between the ensemble and the model's outputs: they change how the
# output is typed or laid out, never its values.
_OUTPUT_PASS_THROUGH = {"Identity", "Cast", "ZipMap"}


def check_lengths(attrs: dict[str, Any], names: tuple[str, ...], what: str) -> int:
    """The common length of the parallel attribute arrays ``names``; raise if they differ."""
    lengths = {name: len(attrs[name]) for name in names if name in attrs}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name} {length}" for name, length in lengths.items())
        raise TreeNotApplicable(f"the {what} arrays have different lengths ({shown})")
    return next(iter(lengths.values()), 0)


def check_tree(
    tree_id: int,
    node_ids: np.ndarray,
    modes: np.ndarray,
    true_ids: np.ndarray,
    false_ids: np.ndarray,
    features: np.ndarray,
    n_features: int | None,
) -> int:
    """Check one tree's nodes form a finite tree; return its depth (edges, root to leaf).

    Every node id is unique, every child id names a node of the tree, every node but the
    root has exactly one parent, and every node is reached from the root (which rules out
    loops). Branch nodes split on a feature that exists.
    """
    where = f"tree {tree_id}"
    if not len(node_ids):
        raise TreeNotApplicable(f"{where} has no nodes")
    known = np.sort(node_ids, kind="stable")
    repeated = known[1:][known[1:] == known[:-1]]
    if len(repeated):
        raise TreeNotApplicable(f"{where}: node id {int(repeated[0])} appears twice")
    branch = modes != "LEAF"
    children = []
    for side in (true_ids, false_ids):
        position, absent = _find(node_ids, side)
        absent &= branch
        if absent.any():
            at = int(np.argmax(absent))
            raise TreeNotApplicable(
                f"{where}: node {int(node_ids[at])} points to node {int(side[at])}, "
                "which does not exist"
            )
        children.append(np.where(branch, position, -1))
    bad_feature = branch & ((features < 0) | (n_features is not None and features >= n_features))
    if bad_feature.any():
        at = int(np.argmax(bad_feature))
        raise TreeNotApplicable(
            f"{where}: node {int(node_ids[at])} splits on feature {int(features[at])}, "
            "which the input does not have"
        )
    every_child = np.concatenate([c[branch] for c in children])
    parents = np.bincount(every_child, minlength=len(node_ids))
    if (parents > 1).any():
        node = int(node_ids[int(np.argmax(parents > 1))])
        raise TreeNotApplicable(
            f"{where}: node {node} is reached from two branches (a loop or a shared node); "
            "a tree may not join"
        )
    roots = np.flatnonzero(parents == 0)
    if len(roots) != 1:
        raise TreeNotApplicable(
            f"{where} has {len(roots)} roots, not one" + (" (it loops)" if not len(roots) else "")
        )
    # Walk down level by level: at most one step per node, so this ends even on bad input.
    level, reached, depth = roots, 1, 0
    true_at, false_at = children
    while True:
        inner = level[branch[level]]
        if not len(inner):
            break
        level = np.concatenate([true_at[inner], false_at[inner]])
        reached += len(level)
        depth += 1
        if reached > len(node_ids):  # cannot happen after the parent count; kept as a bound
            raise TreeNotApplicable(f"{where} loops")
    if reached != len(node_ids):
        raise TreeNotApplicable(
            f"{where}: {len(node_ids) - reached} node(s) cannot be reached from the root "
            "(they loop among themselves)"
        )
    return depth


def check_weights(
    tree_id: int,
    node_ids: np.ndarray,
    modes: np.ndarray,
    weight_nodes: np.ndarray,
    weight_outputs: np.ndarray,
    n_outputs: int,
) -> None:
    """Leaf weights name leaves of their tree and outputs the ensemble has."""
    position, absent = _find(node_ids, weight_nodes)
    if absent.any():
        node = int(weight_nodes[int(np.argmax(absent))])
        raise TreeNotApplicable(
            f"tree {tree_id}: a leaf weight names node {node}, which does not exist"
        )
    not_leaf = modes[position] != "LEAF"
    if not_leaf.any():
        node = int(weight_nodes[int(np.argmax(not_leaf))])
        raise TreeNotApplicable(
            f"tree {tree_id}: a leaf weight names node {node}, which is not a leaf"
        )
    outside = (weight_outputs < 0) | (weight_outputs >= n_outputs)
    if outside.any():
        output = int(weight_outputs[int(np.argmax(outside))])
        raise TreeNotApplicable(
            f"tree {tree_id}: a leaf weight adds to output {output} of {n_outputs}"
        )


def _find(node_ids: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each of ``wanted`` is in ``node_ids`` (an index), and which are not there."""
    order = np.argsort(node_ids, kind="stable")
    known = node_ids[order]
    found = np.searchsorted(known, wanted).clip(0, len(known) - 1)
    return order[found], known[found] != wanted


def check_after_trees(graph: Any, node: Any, cancel: threading.Event | None = None) -> None:
    """Refuse a graph that changes the ensemble's output on its way to the model's outputs.

    Explaining the trees explains their margin; an ``Add`` or ``Mul`` behind them would
    make the model compute something the values do not add up to.
    """
    consumers: dict[str, list[Any]] = {}
    for candidate in graph.node:
        for name in candidate.input:
            consumers.setdefault(name, []).append(candidate)
    constants = _constants(graph)
    frontier, seen = list(node.output), set()
    while frontier:  # each value is visited once, so this ends on any graph
        check_cancel(cancel, "reading the tree ensemble")
        name = frontier.pop()
        if name in seen:
            continue
        seen.add(name)
        for consumer in consumers.get(name, []):
            if consumer.op_type not in _OUTPUT_PASS_THROUGH and not _neutral(
                consumer, name, constants
            ):
                raise TreeNotApplicable(
                    f"the tree ensemble's output {name!r} goes through {consumer.op_type} "
                    f"({consumer.name or 'unnamed'}) before the model's output, so the trees "
                    "alone are not what the model computes"
                )
            frontier.extend(consumer.output)


# Arithmetic that leaves a value as it is when its other operand is this constant
# (onnxmltools multiplies LightGBM's probabilities by 1.0 on their way out).
_NEUTRAL = {"Add": 0.0, "Sub": 0.0, "Mul": 1.0, "Div": 1.0}


def _neutral(consumer: Any, name: str, constants: dict[str, np.ndarray]) -> bool:
    """Whether ``consumer`` passes ``name`` through unchanged (x + 0, x * 1, ...)."""
    neutral = _NEUTRAL.get(consumer.op_type)
    if neutral is None or len(consumer.input) != 2:
        return False
    first, second = consumer.input
    if first == name:
        other = second
    elif consumer.op_type in ("Add", "Mul"):  # commutative: 0 + x, 1 * x
        other = first
    else:
        return False
    value = constants.get(other)
    return value is not None and value.size > 0 and bool(np.all(value == neutral))


def _constants(graph: Any) -> dict[str, np.ndarray]:
    """Initializers and Constant nodes' values by name (small ones; weights are skipped)."""
    import onnx

    found = {}
    for tensor in graph.initializer:
        if tensor.data_location != onnx.TensorProto.EXTERNAL and _elements(tensor) <= 64:
            found[tensor.name] = onnx.numpy_helper.to_array(tensor)
    for node in graph.node:
        if node.op_type == "Constant" and node.output:
            for attribute in node.attribute:
                if attribute.name == "value" and _elements(attribute.t) <= 64:
                    found[node.output[0]] = onnx.numpy_helper.to_array(attribute.t)
                elif attribute.name in ("value_float", "value_int"):
                    found[node.output[0]] = np.asarray(onnx.helper.get_attribute_value(attribute))
    return found


def _elements(tensor: Any) -> int:
    count = 1
    for dim in tensor.dims:
        count *= int(dim)
    return count
