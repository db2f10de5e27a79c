"""An ONNX model that outputs a tree ensemble's margin, run by ONNX Runtime.

The margin is what tree explanations add up to: the summed leaf weights plus the base
values, before the ensemble's ``post_transform``. Building it as a one-node ONNX model
(the same node with its post-transform removed, as a regressor) lets ONNX Runtime compute
it, independently of our own reading of the trees.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modeldesk.explain.trees import TreeEnsemble

__all__ = ["margin_model", "margin_session"]


def margin_model(ensemble: TreeEnsemble) -> Any:
    """A ModelProto computing ``ensemble``'s margin (rows x outputs) from float features."""
    import onnx
    from onnx import TensorProto, helper

    node = ensemble.node
    attributes = []
    for attribute in node.attribute:
        name = attribute.name
        if name in ("post_transform", "classlabels_int64s", "classlabels_strings"):
            continue
        if name.startswith("class_"):
            name = "target_" + name[len("class_") :]
        copy = onnx.AttributeProto()
        copy.CopyFrom(attribute)
        copy.name = name
        attributes.append(copy)
    if node.op_type == "TreeEnsembleClassifier":
        attributes.append(helper.make_attribute("n_targets", ensemble.n_outputs))
    regressor = helper.make_node(
        "TreeEnsembleRegressor", ["X"], ["margin"], domain="ai.onnx.ml", name="margin"
    )
    regressor.attribute.extend(attributes)
    regressor.attribute.append(helper.make_attribute("post_transform", "NONE"))
    element = TensorProto.DOUBLE if ensemble.threshold_dtype == np.float64 else TensorProto.FLOAT
    graph = helper.make_graph(
        [regressor],
        "margin",
        [helper.make_tensor_value_info("X", element, [None, ensemble.n_features])],
        [helper.make_tensor_value_info("margin", TensorProto.FLOAT, [None, ensemble.n_outputs])],
    )
    ml_version = 3 if any(a.name.endswith("_as_tensor") for a in attributes) else 1
    return helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", ml_version)],
        ir_version=8,
    )


def margin_session(ensemble: TreeEnsemble) -> Any:
    """An ONNX Runtime session for :func:`margin_model`; call ``run`` with ``{"X": rows}``."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    data = margin_model(ensemble).SerializeToString()
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
