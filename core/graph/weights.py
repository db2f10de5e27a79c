"""Weight values, read in the examination child: statistics of one tensor, and how
much matched weights changed between two versions (the norm of the difference).

Both parse untrusted files, so they run in the child process like every other read of
a model (``modeldesk.models.examine``); the caller gets numbers. External data is not
read: a tensor kept in an external file is reported as such.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from modeldesk.errors import ModelFileError
from modeldesk.models.facts import iter_graphs

__all__ = ["find_tensor", "tensor_statistics", "weight_deltas"]


def find_tensor(model: onnx.ModelProto, name: str) -> onnx.TensorProto | None:
    """The initializer or ``Constant`` node tensor called ``name``, in any graph."""
    for graph in iter_graphs(model.graph):
        for tensor in graph.initializer:
            if tensor.name == name:
                return tensor
        for node in graph.node:
            if node.op_type == "Constant" and name in node.output:
                for attribute in node.attribute:
                    if attribute.name == "value":
                        return attribute.t
    return None


def _array(model: onnx.ModelProto, name: str, where: str) -> np.ndarray:
    tensor = find_tensor(model, name)
    if tensor is None:
        raise ModelFileError(f"{where}: no weight called {name!r}")
    if tensor.data_location == onnx.TensorProto.EXTERNAL:
        raise ModelFileError(f"{where}: weight {name!r} is in external data, which is not read")
    try:
        return numpy_helper.to_array(tensor)
    except (ValueError, TypeError) as error:
        raise ModelFileError(f"{where}: weight {name!r} cannot be read ({error})") from None


def tensor_statistics(model: onnx.ModelProto, name: str, where: str = "model") -> dict[str, Any]:
    """Min, max, mean, standard deviation and sparsity (share of exact zeros) of one
    weight; numbers only for numeric tensors."""
    array = _array(model, name, where)
    found: dict[str, Any] = {
        "name": name,
        "dtype": str(array.dtype),
        "shape": list(array.shape),
        "size": int(array.size),
    }
    if array.dtype.kind not in "fiub" or not array.size:
        return found
    values = array.astype(np.float64).reshape(-1)
    finite = values[np.isfinite(values)]
    found.update(
        {
            "min": float(finite.min()) if finite.size else None,
            "max": float(finite.max()) if finite.size else None,
            "mean": float(finite.mean()) if finite.size else None,
            "std": float(finite.std()) if finite.size else None,
            "sparsity": float(np.count_nonzero(values == 0) / values.size),
            "non_finite": int(values.size - finite.size),
        }
    )
    return found


def weight_deltas(
    old: onnx.ModelProto, new: onnx.ModelProto, pairs: Sequence[tuple[str, str]]
) -> dict[str, dict[str, float | None]]:
    """For each (old name, new name) pair of same-shaped weights: the L2 norm of the
    change and of the old weight, keyed by the new name. A pair that cannot be read or
    whose shapes differ gets None."""
    found: dict[str, dict[str, float | None]] = {}
    for old_name, new_name in pairs:
        try:
            before = _array(old, old_name, "old model").astype(np.float64)
            after = _array(new, new_name, "new model").astype(np.float64)
        except ModelFileError:
            found[new_name] = {"delta": None, "norm": None}
            continue
        if before.shape != after.shape:
            found[new_name] = {"delta": None, "norm": float(np.linalg.norm(before))}
            continue
        found[new_name] = {
            "delta": float(np.linalg.norm((after - before).reshape(-1))),
            "norm": float(np.linalg.norm(before.reshape(-1))),
        }
    return found
