"""What a node costs, from the described graph alone: its parameters, its
multiply-accumulates and the bytes of the activations it writes.

Shapes come from shape inference, so a cost is only as known as the shapes. Costs are
per sample: a symbolic leading (batch) dim counts as 1, as profilers report them; any
other unknown dim makes the activation bytes and MACs None (unknown), never a guess. MACs
are counted for the operators that dominate a model's arithmetic (convolutions and
matrix products), the way on-device profilers and papers count them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["ITEM_BYTES", "node_cost"]

ITEM_BYTES = {
    "float64": 8,
    "int64": 8,
    "uint64": 8,
    "complex64": 8,
    "complex128": 16,
    "float32": 4,
    "int32": 4,
    "uint32": 4,
    "float16": 2,
    "bfloat16": 2,
    "int16": 2,
    "uint16": 2,
    "int8": 1,
    "uint8": 1,
    "bool": 1,
    "float8e4m3fn": 1,
    "float8e5m2": 1,
}


def _numel(shape: Sequence[Any] | None) -> int | None:
    """Elements per sample: a symbolic leading (batch) dim counts as 1; any other
    unknown dim leaves the count unknown."""
    if shape is None:
        return None
    dims = [
        1 if index == 0 and not isinstance(dim, int) else dim for index, dim in enumerate(shape)
    ]
    if not all(isinstance(dim, int) for dim in dims):
        return None
    return math.prod(dims)


def _shape_of(name: str, graph: Mapping[str, Any]) -> list[Any] | None:
    weight = graph["weights"].get(name)
    if weight is not None:
        return weight.get("shape")
    value = graph["values"].get(name)
    return None if value is None else value.get("shape")


def node_cost(node: Mapping[str, Any], graph: Mapping[str, Any]) -> dict[str, int | None]:
    """``params``, ``macs`` and ``activation_bytes`` of one node of a described graph
    (``modeldesk.graph.describe``); None where the shapes leave it unknown."""
    weights = graph["weights"]
    params = sum(int(weights[name].get("size") or 0) for name in node["inputs"] if name in weights)
    written: int | None = 0
    for name in node["outputs"]:
        value = graph["values"].get(name)
        count = _numel(value.get("shape")) if value else None
        item = ITEM_BYTES.get(value.get("dtype", "")) if value else None
        if count is None or item is None:
            written = None
            break
        written = (written or 0) + count * item
    return {"params": params, "macs": _macs(node, graph), "activation_bytes": written}


def _macs(node: Mapping[str, Any], graph: Mapping[str, Any]) -> int | None:
    op, inputs = node["op"], node["inputs"]
    out = _numel(_shape_of(node["outputs"][0], graph)) if node["outputs"] else None
    if op in ("Conv", "ConvInteger", "QLinearConv"):
        weight = (
            _shape_of(inputs[3 if op == "QLinearConv" else 1], graph) if len(inputs) > 1 else None
        )
        per_output = _numel(weight[1:]) if weight else None
        return None if out is None or per_output is None else out * per_output
    if op == "ConvTranspose":
        source = _numel(_shape_of(inputs[0], graph))
        weight = _shape_of(inputs[1], graph) if len(inputs) > 1 else None
        per_input = _numel(weight[1:]) if weight else None
        return None if source is None or per_input is None else source * per_input
    if op in ("MatMul", "MatMulInteger", "Gemm", "QLinearMatMul"):
        left = _shape_of(inputs[0], graph)
        if left is None or not left:
            return None
        transposed = op == "Gemm" and node["attributes"].get("transA", 0)
        inner = left[0] if transposed else left[-1]
        return None if out is None or not isinstance(inner, int) else out * inner
    return None
