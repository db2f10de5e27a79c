"""Which family an operator belongs to, for colouring a graph the way Netron's users
read one: convolution, normalisation, activation, shape, arithmetic, control flow, ML."""

from __future__ import annotations

__all__ = ["CATEGORIES", "op_category"]

CATEGORIES: dict[str, frozenset[str]] = {
    "convolution": frozenset(
        {
            "Conv",
            "ConvTranspose",
            "ConvInteger",
            "QLinearConv",
            "MatMul",
            "MatMulInteger",
            "QLinearMatMul",
            "Gemm",
            "DeformConv",
        }
    ),
    "normalisation": frozenset(
        {
            "BatchNormalization",
            "InstanceNormalization",
            "LayerNormalization",
            "GroupNormalization",
            "LpNormalization",
            "MeanVarianceNormalization",
            "LRN",
            "SimplifiedLayerNormalization",
            "SkipLayerNormalization",
            "RMSNormalization",
        }
    ),
    "activation": frozenset(
        {
            "Relu",
            "LeakyRelu",
            "PRelu",
            "Elu",
            "Selu",
            "Celu",
            "Gelu",
            "FastGelu",
            "Sigmoid",
            "HardSigmoid",
            "HardSwish",
            "Tanh",
            "Softmax",
            "LogSoftmax",
            "Softplus",
            "Softsign",
            "ThresholdedRelu",
            "Mish",
            "Swish",
            "QuickGelu",
            "Hardmax",
        }
    ),
    "pooling": frozenset(
        {
            "MaxPool",
            "AveragePool",
            "GlobalAveragePool",
            "GlobalMaxPool",
            "LpPool",
            "GlobalLpPool",
            "MaxRoiPool",
            "RoiAlign",
            "MaxUnpool",
        }
    ),
    "shape": frozenset(
        {
            "Reshape",
            "Transpose",
            "Flatten",
            "Squeeze",
            "Unsqueeze",
            "Concat",
            "Split",
            "Slice",
            "Gather",
            "GatherElements",
            "GatherND",
            "Scatter",
            "ScatterElements",
            "ScatterND",
            "Shape",
            "Size",
            "Expand",
            "Tile",
            "Pad",
            "Resize",
            "Upsample",
            "DepthToSpace",
            "SpaceToDepth",
            "Identity",
            "Cast",
            "CastLike",
            "Constant",
            "ConstantOfShape",
            "Range",
            "NonZero",
            "Compress",
            "OneHot",
            "Trilu",
        }
    ),
    "arithmetic": frozenset(
        {
            "Add",
            "Sub",
            "Mul",
            "Div",
            "Pow",
            "Sqrt",
            "Exp",
            "Log",
            "Abs",
            "Neg",
            "Reciprocal",
            "Floor",
            "Ceil",
            "Round",
            "Min",
            "Max",
            "Mean",
            "Sum",
            "Clip",
            "Erf",
            "Sin",
            "Cos",
            "ReduceSum",
            "ReduceMean",
            "ReduceMax",
            "ReduceMin",
            "ReduceProd",
            "ReduceL1",
            "ReduceL2",
            "ReduceLogSumExp",
            "ReduceSumSquare",
            "ArgMax",
            "ArgMin",
            "Equal",
            "Greater",
            "GreaterOrEqual",
            "Less",
            "LessOrEqual",
            "Not",
            "And",
            "Or",
            "Xor",
            "Where",
            "Mod",
            "Sign",
            "TopK",
            "CumSum",
            "Einsum",
            "QuantizeLinear",
            "DequantizeLinear",
            "DynamicQuantizeLinear",
            "BitShift",
            "IsNaN",
            "IsInf",
        }
    ),
    "control flow": frozenset({"If", "Loop", "Scan", "SequenceMap"}),
}
_ML_DOMAIN = "ai.onnx.ml"
_BY_OP = {op: name for name, ops in CATEGORIES.items() for op in ops}


def op_category(op_type: str, domain: str = "") -> str:
    """``convolution``, ``normalisation``, ``activation``, ``pooling``, ``shape``,
    ``arithmetic``, ``control flow``, ``ml`` (the ai.onnx.ml domain) or ``other``."""
    if domain == _ML_DOMAIN:
        return "ml"
    return _BY_OP.get(op_type, "other")
