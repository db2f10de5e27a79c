"""What an ONNX file says about itself: I/O, opsets, ops, parameters, metadata.

This module parses untrusted files with onnx's native code, so it is meant to
run inside the examination child process (see ``modeldesk.models.examine``), never
in the caller's process.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import onnx

from modeldesk.errors import ModelFileError

__all__ = [
    "check_external_data",
    "describe_type",
    "dtype_name",
    "io_facts",
    "iter_graphs",
    "iter_tensors",
    "iter_weights",
    "model_facts",
    "weight_totals",
]

_FRIENDLY_DTYPES = {
    "FLOAT": "float32",
    "DOUBLE": "float64",
    "FLOAT16": "float16",
    "BFLOAT16": "bfloat16",
    "COMPLEX64": "complex64",
    "COMPLEX128": "complex128",
    "UNDEFINED": "?",
}
_ITEM_SIZE = {
    "float32": 4,
    "float64": 8,
    "float16": 2,
    "bfloat16": 2,
    "complex64": 8,
    "complex128": 16,
    "int8": 1,
    "uint8": 1,
    "int16": 2,
    "uint16": 2,
    "int32": 4,
    "uint32": 4,
    "int64": 8,
    "uint64": 8,
    "bool": 1,
}
_CLASSIFIER_OPS = {
    "TreeEnsembleClassifier",
    "LinearClassifier",
    "SVMClassifier",
    "ZipMap",
}
_REGRESSOR_OPS = {"TreeEnsembleRegressor", "LinearRegressor", "SVMRegressor"}
DEFAULT_DOMAINS = {"", "ai.onnx"}


def dtype_name(elem_type: int) -> str:
    """A friendly name for an ONNX tensor element type (``float32``, ``int64``, ...)."""
    try:
        raw = onnx.TensorProto.DataType.Name(elem_type)
    except ValueError:
        return f"type{elem_type}"
    return _FRIENDLY_DTYPES.get(raw, raw.lower())


def _dim(dim: onnx.TensorShapeProto.Dimension) -> int | str | None:
    which = dim.WhichOneof("value")
    if which == "dim_value" and dim.dim_value >= 0:
        return int(dim.dim_value)
    if which == "dim_param" and dim.dim_param:
        return dim.dim_param
    return None


def describe_type(type_proto: onnx.TypeProto) -> dict[str, Any]:
    """Describe an ONNX type as ``{kind, dtype, shape}``.

    ``shape`` is a list of dims (int, symbolic name, or None for unknown), or
    None when even the rank is unknown or the value is not a tensor.
    """
    which = type_proto.WhichOneof("value")
    if which in ("tensor_type", "sparse_tensor_type"):
        tensor = getattr(type_proto, which)
        shape = [_dim(d) for d in tensor.shape.dim] if tensor.HasField("shape") else None
        kind = "tensor" if which == "tensor_type" else "sparse_tensor"
        return {"kind": kind, "dtype": dtype_name(tensor.elem_type), "shape": shape}
    if which == "sequence_type":
        inner = describe_type(type_proto.sequence_type.elem_type)
        return {"kind": "sequence", "dtype": f"seq({_label(inner)})", "shape": None}
    if which == "map_type":
        key = dtype_name(type_proto.map_type.key_type)
        value = describe_type(type_proto.map_type.value_type)
        return {"kind": "map", "dtype": f"map({key}, {_label(value)})", "shape": None}
    if which == "optional_type":
        inner = describe_type(type_proto.optional_type.elem_type)
        return {"kind": "optional", "dtype": f"optional({_label(inner)})", "shape": None}
    return {"kind": "unknown", "dtype": "?", "shape": None}


def _label(described: dict[str, Any]) -> str:
    if described["kind"] == "tensor":
        return f"tensor({described['dtype']})"
    return str(described["dtype"])


def io_facts(values: Any, skip: set[str] | None = None) -> list[dict[str, Any]]:
    """Describe graph inputs or outputs (``ValueInfoProto`` list), skipping ``skip`` names."""
    skip = skip or set()
    return [
        {"name": value.name, **describe_type(value.type)}
        for value in values
        if value.name not in skip
    ]


def iter_graphs(graph: onnx.GraphProto) -> Iterator[onnx.GraphProto]:
    """The graph and every subgraph inside it (If / Loop / Scan bodies), depth first."""
    yield graph
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                yield from iter_graphs(attribute.g)
            elif attribute.type == onnx.AttributeProto.GRAPHS:
                for subgraph in attribute.graphs:
                    yield from iter_graphs(subgraph)


def iter_tensors(model: onnx.ModelProto) -> Iterator[onnx.TensorProto]:
    """Every tensor stored in the model: initializers, sparse parts, constant attributes."""

    def from_nodes(nodes: Any) -> Iterator[onnx.TensorProto]:
        for node in nodes:
            for attribute in node.attribute:
                if attribute.HasField("t"):
                    yield attribute.t
                yield from attribute.tensors
                if attribute.HasField("sparse_tensor"):
                    yield attribute.sparse_tensor.values
                    yield attribute.sparse_tensor.indices

    for graph in iter_graphs(model.graph):
        yield from graph.initializer
        for sparse in graph.sparse_initializer:
            yield sparse.values
            yield sparse.indices
        yield from from_nodes(graph.node)
    for function in model.functions:
        yield from from_nodes(function.node)


def check_external_data(model: onnx.ModelProto, model_path: Path) -> list[dict[str, Any]]:
    """Check every external-data reference stays inside the model's own folder.

    Runs before onnx or onnxruntime reads any external file: absolute paths,
    paths that resolve outside the folder, symlinks anywhere on the way and
    ranges past the end of the file are refused. Returns the files used.
    """
    base = model_path.parent.resolve()
    files: dict[str, dict[str, Any]] = {}
    for tensor in iter_tensors(model):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        info = {entry.key: entry.value for entry in tensor.external_data}
        location = info.get("location", "")
        where = f"{model_path.name}: external data of tensor {tensor.name!r}"
        if not location:
            raise ModelFileError(f"{where} has no location")
        relative = Path(location)
        if relative.is_absolute() or relative.drive or relative.anchor:
            raise ModelFileError(f"{where} is an absolute path ({location}); refused")
        candidate = base / relative
        if not candidate.resolve().is_relative_to(base):
            raise ModelFileError(f"{where} points outside the model's folder ({location})")
        step = base
        for part in relative.parts:
            step = step / part
            if step.is_symlink():
                raise ModelFileError(f"{where} goes through a symbolic link ({location})")
        if not candidate.is_file():
            raise ModelFileError(f"{where} names a missing file ({location})")
        size = candidate.stat().st_size
        try:
            offset = int(info.get("offset", "0"))
            length = int(info["length"]) if "length" in info else size - offset
        except ValueError:
            raise ModelFileError(f"{where} has a malformed offset or length") from None
        if offset < 0 or length < 0 or offset + length > size:
            raise ModelFileError(
                f"{where} asks for bytes {offset}..{offset + length} of {location}, "
                f"which holds {size} bytes"
            )
        entry = files.setdefault(
            location, {"path": relative.as_posix(), "size": size, "tensors": 0}
        )
        entry["tensors"] += 1
    return list(files.values())


def _with_inferred_dims(
    declared: list[dict[str, Any]], inferred: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Declared I/O, with what shape inference learned where the file does not say.

    A dim the file leaves unknown takes an inferred fixed size; the names
    shape inference invents for unknown dims (``unk__3``) are not kept, so an
    unknown dim reads ``?`` everywhere.
    """
    by_name = {value["name"]: value for value in inferred}
    merged = []
    for value in declared:
        found = by_name.get(value["name"])
        if found is None or found.get("kind") != value.get("kind"):
            merged.append(value)
            continue
        shape, better = value.get("shape"), found.get("shape")
        if better is not None and (shape is None or len(shape) == len(better)):
            base = shape if shape is not None else [None] * len(better)
            shape = [
                _known(new) if dim is None else dim for dim, new in zip(base, better, strict=True)
            ]
        merged.append({**value, "shape": shape})
    return merged


def _known(dim: int | str | None) -> int | str | None:
    if isinstance(dim, str) and dim.startswith("unk__"):
        return None
    return dim


def _tensor_elements_and_bytes(tensor: onnx.TensorProto) -> tuple[int, int]:
    elements = math.prod(tensor.dims) if tensor.dims else 1
    dtype = dtype_name(tensor.data_type)
    if dtype == "string":
        return elements, sum(len(item) for item in tensor.string_data)
    if tensor.data_location == onnx.TensorProto.EXTERNAL:
        info = {entry.key: entry.value for entry in tensor.external_data}
        if "length" in info and info["length"].isdigit():
            return elements, int(info["length"])
    return elements, elements * _ITEM_SIZE.get(dtype, 1)


def iter_weights(model: onnx.ModelProto) -> Iterator[tuple[int, int]]:
    """(elements, bytes) of every stored weight: initializers, sparse initializers and
    the values of ``Constant`` nodes, in the main graph, every subgraph (``If``, ``Loop``,
    ``Scan`` bodies) and every local function.

    Paddle2ONNX and some PyTorch exports keep every weight in ``Constant`` nodes, so a
    count of initializers alone reads 0 for them.
    """
    for graph in iter_graphs(model.graph):
        for tensor in graph.initializer:
            yield _tensor_elements_and_bytes(tensor)
        for sparse in graph.sparse_initializer:
            yield _tensor_elements_and_bytes(sparse.values)
        yield from _constant_weights(graph.node)
    for function in model.functions:
        yield from _constant_weights(function.node)


def _constant_weights(nodes: Any) -> Iterator[tuple[int, int]]:
    for node in nodes:
        if node.op_type != "Constant" or node.domain not in DEFAULT_DOMAINS:
            continue
        for attribute in node.attribute:
            if attribute.name == "value":
                yield _tensor_elements_and_bytes(attribute.t)
            elif attribute.name == "sparse_value":
                yield _tensor_elements_and_bytes(attribute.sparse_tensor.values)
            elif attribute.name in ("value_float", "value_int"):
                yield 1, 4 if attribute.name == "value_float" else 8
            elif attribute.name == "value_floats":
                yield len(attribute.floats), 4 * len(attribute.floats)
            elif attribute.name == "value_ints":
                yield len(attribute.ints), 8 * len(attribute.ints)


def weight_totals(model: onnx.ModelProto) -> tuple[int, int]:
    """The parameter count and the bytes the weights take (see :func:`iter_weights`)."""
    count = size = 0
    for elements, nbytes in iter_weights(model):
        count += elements
        size += nbytes
    return count, size


def _class_names(model: onnx.ModelProto) -> list[str] | None:
    for graph in iter_graphs(model.graph):
        for node in graph.node:
            if node.op_type not in _CLASSIFIER_OPS:
                continue
            for attribute in node.attribute:
                if attribute.name == "classlabels_strings" and attribute.strings:
                    return [item.decode("utf-8", "replace") for item in attribute.strings]
                if attribute.name in ("classlabels_int64s", "classlabels_ints") and attribute.ints:
                    return [str(item) for item in attribute.ints]
    return None


def _task(ops: Counter[str]) -> str | None:
    names = {op.rsplit(".", 1)[-1] for op in ops}
    if names & _CLASSIFIER_OPS:
        return "classification"
    if names & _REGRESSOR_OPS:
        return "regression"
    return None


def model_facts(model: onnx.ModelProto, inferred: onnx.ModelProto | None) -> dict[str, Any]:
    """Everything the catalog records about a parsed model (external data not loaded)."""
    initializer_names = {init.name for init in model.graph.initializer}
    shaped = inferred if inferred is not None else model
    ops: Counter[str] = Counter()
    node_count = 0
    for graph in iter_graphs(model.graph):
        for node in graph.node:
            key = (
                node.op_type if node.domain in DEFAULT_DOMAINS else f"{node.domain}.{node.op_type}"
            )
            ops[key] += 1
            node_count += 1
    param_count, initializer_bytes = weight_totals(model)
    opsets = [
        {"domain": item.domain or "ai.onnx", "version": int(item.version)}
        for item in model.opset_import
    ]
    return {
        "ir_version": int(model.ir_version),
        "producer_name": model.producer_name,
        "producer_version": model.producer_version,
        "domain": model.domain,
        "model_version": int(model.model_version),
        "doc_string": model.doc_string,
        "opsets": opsets,
        "inputs": _with_inferred_dims(
            io_facts(model.graph.input, skip=initializer_names),
            io_facts(shaped.graph.input, skip=initializer_names),
        ),
        "outputs": _with_inferred_dims(io_facts(model.graph.output), io_facts(shaped.graph.output)),
        "ops": dict(sorted(ops.items(), key=lambda item: (-item[1], item[0]))),
        "node_count": node_count,
        "subgraph_count": sum(1 for _ in iter_graphs(model.graph)) - 1,
        "functions": [f"{fn.domain}.{fn.name}" if fn.domain else fn.name for fn in model.functions],
        "param_count": param_count,
        "initializer_bytes": initializer_bytes,
        "metadata": {prop.key: prop.value for prop in model.metadata_props},
        "class_names": _class_names(model),
        "task": _task(ops),
    }
