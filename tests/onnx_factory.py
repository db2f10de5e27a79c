"""Real ONNX models built with onnx.helper, covering what real-world files contain.

Each builder returns a ``ModelProto`` that passes the full ONNX checker (unless
its name says otherwise) and loads in ONNX Runtime.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
ML_OPSET = 3


def _model(graph: onnx.GraphProto, *, ml: bool = False, **metadata: str) -> onnx.ModelProto:
    opsets = [helper.make_opsetid("", OPSET)]
    if ml:
        opsets.append(helper.make_opsetid("ai.onnx.ml", ML_OPSET))
    model = helper.make_model(graph, opset_imports=opsets, producer_name="modeldesk-tests")
    model.ir_version = 8
    helper.set_model_props(model, metadata)
    return model


def linear_regressor(
    features: int = 4, *, seed: int = 0, input_name: str = "X", **metadata: str
) -> onnx.ModelProto:
    """``Y = X @ W + b`` with ``X: float32[batch x features]``."""
    rng = np.random.default_rng(seed)
    weights = numpy_helper.from_array(rng.normal(size=(features, 1)).astype(np.float32), "W")
    bias = numpy_helper.from_array(np.array([0.5], dtype=np.float32), "B")
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", [input_name, "W"], ["XW"]),
            helper.make_node("Add", ["XW", "B"], ["Y"]),
        ],
        "linear",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["batch", features])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["batch", 1])],
        [weights, bias],
    )
    return _model(graph, **metadata)


def image_classifier(height: int = 8, width: int = 8, classes: int = 3) -> onnx.ModelProto:
    """Softmax over a linear map of ``X: float32[batch x 1 x height x width]`` images."""
    rng = np.random.default_rng(3)
    shape = numpy_helper.from_array(np.array([-1, height * width], dtype=np.int64), "flat")
    weights = rng.normal(size=(height * width, classes)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Reshape", ["X", "flat"], ["F"]),
            helper.make_node("MatMul", ["F", "W"], ["Z"]),
            helper.make_node("Softmax", ["Z"], ["P"], axis=1),
        ],
        "image",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", 1, height, width])],
        [helper.make_tensor_value_info("P", TensorProto.FLOAT, ["batch", classes])],
        [shape, numpy_helper.from_array(weights, "W")],
    )
    return _model(graph)


def multi_io() -> onnx.ModelProto:
    """Several inputs and outputs: int64, int32, bool, fp16, a scalar, unnamed dynamic dims."""
    inputs = [
        helper.make_tensor_value_info("tokens", TensorProto.INT64, ["batch", "sequence"]),
        helper.make_tensor_value_info("positions", TensorProto.INT32, ["batch", None]),
        helper.make_tensor_value_info("mask", TensorProto.BOOL, ["batch", "sequence"]),
        helper.make_tensor_value_info("image", TensorProto.FLOAT16, [1, 3, None, None]),
        helper.make_tensor_value_info("temperature", TensorProto.FLOAT, []),
    ]
    nodes = [
        helper.make_node("Cast", ["tokens"], ["tokens_f"], to=TensorProto.FLOAT),
        helper.make_node("Cast", ["mask"], ["mask_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["tokens_f", "mask_f"], ["masked"]),
        helper.make_node("Div", ["masked", "temperature"], ["scores"]),
        helper.make_node("Cast", ["positions"], ["positions_out"], to=TensorProto.INT64),
        helper.make_node("Relu", ["image"], ["image_out"]),
        helper.make_node("Not", ["mask"], ["inverted"]),
    ]
    outputs = [
        helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", "sequence"]),
        helper.make_tensor_value_info("positions_out", TensorProto.INT64, ["batch", None]),
        helper.make_tensor_value_info("image_out", TensorProto.FLOAT16, [1, 3, None, None]),
        helper.make_tensor_value_info("inverted", TensorProto.BOOL, ["batch", "sequence"]),
    ]
    return _model(helper.make_graph(nodes, "multi_io", inputs, outputs))


def control_flow() -> onnx.ModelProto:
    """If, Loop and Scan with their subgraphs."""
    one = numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one")
    then_graph = helper.make_graph(
        [helper.make_node("Add", ["x", "one"], ["then_out"])],
        "then",
        [],
        [helper.make_tensor_value_info("then_out", TensorProto.FLOAT, [3])],
    )
    else_graph = helper.make_graph(
        [helper.make_node("Sub", ["x", "one"], ["else_out"])],
        "else",
        [],
        [helper.make_tensor_value_info("else_out", TensorProto.FLOAT, [3])],
    )
    loop_body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Add", ["acc_in", "one"], ["acc_out"]),
        ],
        "loop_body",
        [
            helper.make_tensor_value_info("iteration", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_in", TensorProto.FLOAT, [3]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, [3]),
        ],
    )
    scan_body = helper.make_graph(
        [
            helper.make_node("Add", ["sum_in", "row"], ["sum_out"]),
            helper.make_node("Identity", ["sum_out"], ["scan_out"]),
        ],
        "scan_body",
        [
            helper.make_tensor_value_info("sum_in", TensorProto.FLOAT, [3]),
            helper.make_tensor_value_info("row", TensorProto.FLOAT, [3]),
        ],
        [
            helper.make_tensor_value_info("sum_out", TensorProto.FLOAT, [3]),
            helper.make_tensor_value_info("scan_out", TensorProto.FLOAT, [3]),
        ],
    )
    nodes = [
        helper.make_node(
            "If", ["flag"], ["branch"], then_branch=then_graph, else_branch=else_graph
        ),
        helper.make_node("Loop", ["trips", "", "branch"], ["looped"], body=loop_body),
        helper.make_node(
            "Scan", ["looped", "rows"], ["total", "partials"], body=scan_body, num_scan_inputs=1
        ),
    ]
    graph = helper.make_graph(
        nodes,
        "control_flow",
        [
            helper.make_tensor_value_info("flag", TensorProto.BOOL, []),
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [3]),
            helper.make_tensor_value_info("trips", TensorProto.INT64, []),
            helper.make_tensor_value_info("rows", TensorProto.FLOAT, ["steps", 3]),
        ],
        [
            helper.make_tensor_value_info("total", TensorProto.FLOAT, [3]),
            helper.make_tensor_value_info("partials", TensorProto.FLOAT, ["steps", 3]),
        ],
        [one],
    )
    return _model(graph)


def constant_weights(features: int = 4, outputs: int = 3) -> onnx.ModelProto:
    """``Y = X @ W + B`` with W and B in ``Constant`` nodes, as Paddle2ONNX exports do."""
    rng = np.random.default_rng(1)
    weights = numpy_helper.from_array(rng.normal(size=(features, outputs)).astype(np.float32))
    graph = helper.make_graph(
        [
            helper.make_node("Constant", [], ["W"], value=weights),
            helper.make_node("Constant", [], ["B"], value_floats=[0.5] * outputs),
            helper.make_node("MatMul", ["X", "W"], ["XW"]),
            helper.make_node("Add", ["XW", "B"], ["Y"]),
        ],
        "constants",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", features])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["batch", outputs])],
    )
    return _model(graph)


def subgraph_weights() -> onnx.ModelProto:
    """An ``If`` whose branches hold their own weights: an initializer and a Constant."""
    then_graph = helper.make_graph(
        [helper.make_node("Add", ["x", "then_w"], ["then_out"])],
        "then",
        [],
        [helper.make_tensor_value_info("then_out", TensorProto.FLOAT, [3])],
        [numpy_helper.from_array(np.ones(3, dtype=np.float32), "then_w")],
    )
    else_graph = helper.make_graph(
        [
            helper.make_node(
                "Constant", [], ["else_w"],
                value=numpy_helper.from_array(np.full(3, 2.0, dtype=np.float64)),
            ),
            helper.make_node("Cast", ["else_w"], ["else_w32"], to=TensorProto.FLOAT),
            helper.make_node("Sub", ["x", "else_w32"], ["else_out"]),
        ],
        "else",
        [],
        [helper.make_tensor_value_info("else_out", TensorProto.FLOAT, [3])],
    )  # fmt: skip
    graph = helper.make_graph(
        [helper.make_node("If", ["flag"], ["y"], then_branch=then_graph, else_branch=else_graph)],
        "subgraph_weights",
        [
            helper.make_tensor_value_info("flag", TensorProto.BOOL, []),
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [3]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])],
    )
    return _model(graph)


def tree_classifier() -> onnx.ModelProto:
    """An ``ai.onnx.ml`` TreeEnsembleClassifier (two stumps, two classes) with ZipMap."""
    tree = {
        "nodes_treeids": [0, 0, 0, 1, 1, 1],
        "nodes_nodeids": [0, 1, 2, 0, 1, 2],
        "nodes_featureids": [0, 0, 0, 1, 0, 0],
        "nodes_values": [0.5, 0.0, 0.0, 1.5, 0.0, 0.0],
        "nodes_modes": ["BRANCH_LEQ", "LEAF", "LEAF", "BRANCH_LT", "LEAF", "LEAF"],
        "nodes_truenodeids": [1, 0, 0, 1, 0, 0],
        "nodes_falsenodeids": [2, 0, 0, 2, 0, 0],
        "nodes_missing_value_tracks_true": [0, 0, 0, 1, 0, 0],
        "class_treeids": [0, 0, 1, 1],
        "class_nodeids": [1, 2, 1, 2],
        "class_ids": [1, 1, 1, 1],
        "class_weights": [-0.4, 0.6, -0.2, 0.3],
    }
    nodes = [
        helper.make_node(
            "TreeEnsembleClassifier",
            ["features"],
            ["label", "probabilities"],
            domain="ai.onnx.ml",
            classlabels_strings=["benign", "malignant"],
            post_transform="LOGISTIC",
            **tree,
        ),
        helper.make_node(
            "ZipMap",
            ["probabilities"],
            ["output_probability"],
            domain="ai.onnx.ml",
            classlabels_strings=["benign", "malignant"],
        ),
    ]
    graph = helper.make_graph(
        nodes,
        "trees",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, 2])],
        [
            helper.make_tensor_value_info("label", TensorProto.STRING, [None]),
            helper.make_value_info(
                "output_probability",
                helper.make_sequence_type_proto(
                    helper.make_map_type_proto(
                        TensorProto.STRING, helper.make_tensor_type_proto(TensorProto.FLOAT, [])
                    )
                ),
            ),
        ],
    )
    return _model(graph, ml=True)


def failing_checker() -> onnx.ModelProto:
    """Parses fine but fails the checker: a node reads a value nothing produces."""
    graph = helper.make_graph(
        [helper.make_node("Relu", ["nowhere"], ["Y"])],
        "broken",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1])],
    )
    return _model(graph)


def save(model: onnx.ModelProto, path: Path) -> Path:
    """Write ``model`` to ``path`` (parents created) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)
    return path


def save_with_external_data(model: onnx.ModelProto, path: Path, data_name: str) -> Path:
    """Write ``model`` with every initializer in the file ``data_name`` beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(
        model,
        path,
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=data_name,
        size_threshold=0,
    )
    return path


def point_external_data_at(path: Path, location: str) -> None:
    """Rewrite every external-data location in the saved model at ``path``."""
    model = onnx.load(path, load_external_data=False)
    for tensor in model.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = location
    onnx.save(model, path)


def residual_network(
    blocks: int = 3, channels: int = 4, *, seed: int = 0, extra_relu_after: int | None = None
) -> onnx.ModelProto:
    """A scoped residual convnet (``/model/layers.N/...`` names, as exporters write):
    per block Conv, BatchNormalization, Relu, Conv, Add, Relu (6 nodes), then a head of
    GlobalAveragePool, Flatten, Gemm and Softmax. ``extra_relu_after`` inserts one more
    node (``/model/layers.K/extra/Relu``) after block K's first Relu: a one-node change."""
    rng = np.random.default_rng(seed)
    nodes, weights = [], []

    def weight(name: str, shape: tuple[int, ...]) -> str:
        weights.append(numpy_helper.from_array(rng.normal(size=shape).astype(np.float32), name))
        return name

    current = "image"
    for block in range(blocks):
        scope = f"/model/layers.{block}"
        first = f"{scope}/conv1/Conv_output_0"
        nodes.append(
            helper.make_node(
                "Conv",
                [
                    current,
                    weight(f"layers.{block}.conv1.weight", (channels, channels, 3, 3)),
                    weight(f"layers.{block}.conv1.bias", (channels,)),
                ],
                [first],
                name=f"{scope}/conv1/Conv",
                pads=[1, 1, 1, 1],
            )
        )
        norm = [
            weight(f"layers.{block}.bn.{part}", (channels,))
            for part in ("scale", "bias", "mean", "var")
        ]
        nodes.append(
            helper.make_node(
                "BatchNormalization",
                [first, *norm],
                [f"{scope}/bn/out"],
                name=f"{scope}/bn/BatchNormalization",
            )
        )
        activated = f"{scope}/relu1/out"
        nodes.append(
            helper.make_node("Relu", [f"{scope}/bn/out"], [activated], name=f"{scope}/relu1/Relu")
        )
        if extra_relu_after == block:
            nodes.append(
                helper.make_node(
                    "Relu", [activated], [f"{scope}/extra/out"], name=f"{scope}/extra/Relu"
                )
            )
            activated = f"{scope}/extra/out"
        nodes.append(
            helper.make_node(
                "Conv",
                [activated, weight(f"layers.{block}.conv2.weight", (channels, channels, 3, 3))],
                [f"{scope}/conv2/out"],
                name=f"{scope}/conv2/Conv",
                pads=[1, 1, 1, 1],
            )
        )
        nodes.append(
            helper.make_node(
                "Add", [f"{scope}/conv2/out", current], [f"{scope}/add/out"], name=f"{scope}/Add"
            )
        )
        nodes.append(
            helper.make_node("Relu", [f"{scope}/add/out"], [f"{scope}/out"], name=f"{scope}/Relu")
        )
        current = f"{scope}/out"
    nodes += [
        helper.make_node(
            "GlobalAveragePool", [current], ["pooled"], name="/head/GlobalAveragePool"
        ),
        helper.make_node("Flatten", ["pooled"], ["flat"], name="/head/Flatten"),
        helper.make_node(
            "Gemm",
            ["flat", weight("head.weight", (3, channels)), weight("head.bias", (3,))],
            ["logits"],
            name="/head/Gemm",
            transB=1,
        ),
        helper.make_node("Softmax", ["logits"], ["probabilities"], name="/head/Softmax", axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "residual",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", channels, 8, 8])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 3])],
        weights,
    )
    return _model(graph)
