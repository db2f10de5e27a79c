"""An ONNX graph described as plain data: nodes, the values between them with their
inferred shapes, weights, subgraphs, and what is wrong with it.

It parses untrusted files with onnx's native code, so it runs inside the examination
child process (``modeldesk.models._examine_child``, in graph mode), never in the caller's
process; the caller gets JSON. Shapes come from ONNX shape inference (data propagation
on): symbolic dims verbatim, unknown ones as ``?`` (never ``-1``). Small constants are
kept inline (an initializer or a ``Constant`` node's tensor of up to ``INLINE_VALUES``
elements), since a view shows them on the node.
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from modeldesk.graph.categories import op_category
from modeldesk.models.facts import describe_type, dtype_name

__all__ = ["INLINE_VALUES", "describe_graph", "describe_model"]

INLINE_VALUES = 8
MAX_ATTRIBUTE_TEXT = 120


def _shape(dims: Any) -> list[Any]:
    return [dim if dim is not None else "?" for dim in dims]


def _tensor(tensor: onnx.TensorProto) -> dict[str, Any]:
    size = 1
    for dim in tensor.dims:
        size *= int(dim)
    found: dict[str, Any] = {"dtype": dtype_name(tensor.data_type),
                             "shape": [int(d) for d in tensor.dims], "size": size}  # fmt: skip
    if tensor.data_location == onnx.TensorProto.EXTERNAL:
        found["external"] = True  # its bytes are not read here: no hash, no values
        return found
    with contextlib.suppress(ValueError, TypeError):  # a type numpy cannot hold
        array = numpy_helper.to_array(tensor)
        # The hash and norm let a diff say whether weights changed, and by how much.
        found["sha256"] = hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()
        if array.dtype.kind in "fiub" and array.size:
            found["norm"] = float(np.linalg.norm(array.astype(np.float64).reshape(-1)))
        if size <= INLINE_VALUES:
            found["values"] = array.reshape(-1).tolist()
    return found


def _attribute(attribute: onnx.AttributeProto) -> Any:
    """An attribute's value, short: numbers and lists as they are, tensors summarised."""
    value = onnx.helper.get_attribute_value(attribute)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")[:MAX_ATTRIBUTE_TEXT]
    if isinstance(value, onnx.TensorProto):
        return {"tensor": _tensor(value)}
    if isinstance(value, onnx.GraphProto):
        return {"graph": value.name}
    if isinstance(value, list):
        if value and isinstance(value[0], bytes):
            return [v.decode("utf-8", "replace") for v in value[:INLINE_VALUES]]
        if value and not isinstance(value[0], int | float):
            return f"{len(value)} {type(value[0]).__name__} values"
        if len(value) <= 64:
            return value
        # Too long to show, but a diff must still see a change: the values' hash goes along.
        digest = hashlib.sha256(repr(value).encode()).hexdigest()[:12]
        return f"{len(value)} values #{digest}"
    return value


def _constant(node: onnx.NodeProto) -> dict[str, Any]:
    """What a ``Constant`` node holds, described like an initializer."""
    for attribute in node.attribute:
        if attribute.name == "value":
            return _tensor(attribute.t)
        if attribute.name in ("value_float", "value_int"):
            value = onnx.helper.get_attribute_value(attribute)
            kind = "float32" if attribute.name == "value_float" else "int64"
            return {"dtype": kind, "shape": [], "size": 1, "values": [value]}
        if attribute.name in ("value_floats", "value_ints"):
            values = list(onnx.helper.get_attribute_value(attribute))
            kind = "float32" if attribute.name == "value_floats" else "int64"
            found = {"dtype": kind, "shape": [len(values)], "size": len(values)}
            return found | ({"values": values} if len(values) <= INLINE_VALUES else {})
    return {"dtype": "?", "shape": None, "size": None}


def describe_graph(graph: onnx.GraphProto, outer: set[str] | None = None) -> dict[str, Any]:
    """One graph (and its subgraphs, nested), as data; ``outer`` names the values an
    enclosing graph makes visible here (a subgraph may read them: drawn dashed)."""
    outer = outer or set()
    values: dict[str, Any] = {}
    for value in [*graph.input, *graph.value_info, *graph.output]:
        described = describe_type(value.type)
        shape = described["shape"]
        values[value.name] = {"dtype": described["dtype"],
                              "shape": None if shape is None else _shape(shape)}  # fmt: skip
    weights = {tensor.name: _tensor(tensor) for tensor in graph.initializer}
    produced = set(weights) | {value.name for value in graph.input}
    nodes: list[dict[str, Any]] = []
    captured: set[str] = set()
    for node in graph.node:
        produced.update(name for name in node.output if name)
    for index, node in enumerate(graph.node):
        subgraphs = {}
        attributes = {}
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                subgraphs[attribute.name] = describe_graph(attribute.g, outer | produced)
            elif attribute.type == onnx.AttributeProto.GRAPHS:
                for number, sub in enumerate(attribute.graphs):
                    subgraphs[f"{attribute.name}[{number}]"] = describe_graph(sub, outer | produced)
            else:
                attributes[attribute.name] = _attribute(attribute)
        if node.op_type == "Constant":  # weights held in a node, as Paddle2ONNX exports
            for name in node.output:
                weights[name] = _constant(node)
        for name in node.input:
            if name and name not in produced and name in outer:
                captured.add(name)
        nodes.append({
            "id": index,
            "name": node.name or f"{node.op_type}_{index}",
            "op": node.op_type,
            "domain": node.domain or "ai.onnx",
            "category": op_category(node.op_type, node.domain),
            "inputs": list(node.input),
            "outputs": list(node.output),
            "attributes": attributes,
            "subgraphs": subgraphs,
        })  # fmt: skip
    dangling = sorted({name for node in graph.node for name in node.input
                       if name and name not in produced and name not in outer})  # fmt: skip
    return {
        "name": graph.name,
        "inputs": [v.name for v in graph.input if v.name not in weights],
        "outputs": [v.name for v in graph.output],
        "nodes": nodes,
        "values": values,
        "weights": weights,
        "captured": sorted(captured),  # read from the enclosing graph
        "problems": [f"input {name!r} of a node is produced nowhere" for name in dangling],
    }


def describe_model(model: onnx.ModelProto) -> dict[str, Any]:
    """The model's main graph after shape inference, and the model's properties."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except Exception:  # best effort: the declared shapes are kept when it cannot run
        inferred = model
    graph = describe_graph(inferred.graph)
    return {
        "graph": graph,
        "ir_version": int(model.ir_version),
        "producer": " ".join(p for p in (model.producer_name, model.producer_version) if p),
        "opsets": {entry.domain or "ai.onnx": int(entry.version) for entry in model.opset_import},
        "metadata": {entry.key: entry.value for entry in model.metadata_props},
    }
