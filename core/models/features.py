"""How a model's inputs are fed from a dataset's columns (the feature mapping).

Two bindings cover the models we see:

- ``axis``: one tensor input whose last axis holds the features, fed by an
  ordered list of columns (what skl2onnx produces: ``X: float32[N x F]``);
- ``inputs``: several inputs, each named after the column that feeds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from modeldesk.datasets.registry import DatasetVersion
from modeldesk.errors import BadInputError
from modeldesk.models.model_facts import ValueInfo

__all__ = ["FeatureMapping", "resolve_feature_mapping"]


@dataclass(frozen=True)
class FeatureMapping:
    """Columns feeding the model, in order, and how they bind to its inputs."""

    columns: list[str]
    binding: str  # "axis" or "inputs"


def _tensor_inputs(inputs: list[ValueInfo]) -> list[ValueInfo]:
    return [item for item in inputs if item.is_tensor]


def _check_axis_width(model_input: ValueInfo, columns: list[str], where: str) -> None:
    shape = model_input.shape
    if not shape:
        return
    width = shape[-1]
    if isinstance(width, int) and len(shape) >= 2 and width != len(columns):
        raise BadInputError(
            f"{where}: {len(columns)} feature columns given but input "
            f"{model_input.name!r} takes {width} on its last axis"
        )


def resolve_feature_mapping(
    inputs: list[ValueInfo],
    dataset: DatasetVersion | None,
    *,
    features: list[str] | None,
    label: str | None,
    model_file: Path,
) -> FeatureMapping | None:
    """Decide which columns feed the model, or None when nothing says.

    ``features`` (``--features``) wins; otherwise a model whose inputs are
    named after the training dataset's columns maps by name; otherwise a
    single-input model takes the dataset's feature columns in their order.
    """
    tensors = _tensor_inputs(inputs)
    where = str(model_file)
    columns = [column.name for column in dataset.columns] if dataset else None
    dataset_ref = dataset.ref if dataset else ""
    label = label if label is not None else (dataset.label if dataset else None)
    if label is not None and columns is not None and label not in columns:
        raise BadInputError(f"--label {label!r}: not a column of dataset {dataset_ref}")

    if features is not None:
        if not features:
            raise BadInputError(f"{where}: --features names no columns")
        duplicates = sorted({name for name in features if features.count(name) > 1})
        if duplicates:
            raise BadInputError(f"{where}: --features repeats {', '.join(duplicates)}")
        if label is not None and label in features:
            raise BadInputError(f"{where}: --features includes the label column {label!r}")
        if columns is not None:
            missing = [name for name in features if name not in columns]
            if missing:
                raise BadInputError(
                    f"--features: {', '.join(map(repr, missing))} not in dataset {dataset_ref}"
                )
        input_names = [item.name for item in tensors]
        if len(tensors) == 1:
            _check_axis_width(tensors[0], features, where)
            return FeatureMapping(list(features), "axis")
        if set(input_names) <= set(features):
            return FeatureMapping(input_names, "inputs")
        raise BadInputError(
            f"{where}: the model has {len(tensors)} inputs; with several inputs each must be "
            "named after a column given in --features"
        )

    if dataset is None or columns is None:
        return None
    input_names = [item.name for item in tensors]
    if input_names and all(name in columns for name in input_names):
        return FeatureMapping(input_names, "inputs")
    if len(tensors) == 1:
        chosen = [name for name in dataset.feature_columns() if name != label]
        if not chosen:
            raise BadInputError(f"dataset {dataset.ref}: has no feature columns to feed the model")
        shape = tensors[0].shape or ()
        width = shape[-1] if shape else None
        if isinstance(width, int) and len(shape) >= 2 and width != len(chosen):
            raise BadInputError(
                f"{where}: input {tensors[0].name!r} takes {width} features but dataset "
                f"{dataset.ref} has {len(chosen)} feature columns; say which with --features"
            )
        return FeatureMapping(chosen, "axis")
    return None
