"""Turn a dataset version's columns into a model version's input tensors."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from modeldesk.datasets.registry import ColumnInfo
from modeldesk.errors import BadInputError
from modeldesk.models.model_facts import Dim
from modeldesk.models.registry import ModelVersion

_PIXEL = re.compile(r"^(?P<prefix>.*?)_?(?P<row>\d+)_(?P<col>\d+)$")

__all__ = [
    "FeedPlan",
    "feature_matrix",
    "feed_plan",
    "feeds_from_matrix",
    "image_shape",
    "make_feeds",
]

_NUMPY_DTYPES = {
    "float32": np.float32,
    "float64": np.float64,
    "float16": np.float16,
    "int64": np.int64,
    "int32": np.int32,
    "int16": np.int16,
    "int8": np.int8,
    "uint8": np.uint8,
    "bool": np.bool_,
}


# An error names this many missing columns, then counts the rest.
MAX_NAMED = 6


class ColumnSource(Protocol):
    """What a plan is checked against: a dataset version, or a field capture's columns."""

    @property
    def ref(self) -> str:
        """How errors name the source (``NAME@V``, a file name)."""
        ...

    @property
    def columns(self) -> Sequence[ColumnInfo]:
        """Its columns, with their dtypes and roles."""
        ...


class FeedPlan:
    """Which columns feed which model input, checked against the dataset."""

    def __init__(self, model: ModelVersion, columns: list[str], binding: str) -> None:
        self.model = model
        self.columns = columns
        self.binding = binding  # "axis": one input, columns on its last axis; "inputs": by name
        self.inputs = [item for item in model.inputs if item.is_tensor]


def feed_plan(model: ModelVersion, dataset: ColumnSource, *, what: str = "dataset") -> FeedPlan:
    """Decide and check how ``dataset`` feeds ``model``; raise a clear error if it cannot.

    ``what`` names the kind of source in errors ("dataset", "capture").
    """
    inputs = [item for item in model.inputs if item.is_tensor]
    available = {column.name: column for column in dataset.columns}
    if model.features:
        columns, binding = list(model.features), model.feature_binding or "axis"
    elif inputs and all(item.name in available for item in inputs):
        columns, binding = [item.name for item in inputs], "inputs"
    elif len(inputs) == 1:
        columns = [c.name for c in dataset.columns if c.role == "feature" and c.name != model.label]
        binding = "axis"
    else:
        raise BadInputError(
            f"model {model.ref}: no feature mapping and its inputs are not named after "
            f"columns of {what} {dataset.ref}; import it with --features"
        )
    missing = [name for name in columns if name not in available]
    if missing:
        named = ", ".join(map(repr, missing[:MAX_NAMED]))
        if len(missing) > MAX_NAMED:
            named += f" and {len(missing) - MAX_NAMED} more"
        raise BadInputError(
            f"{what} {dataset.ref} lacks column(s) {named} that model {model.ref} needs"
        )
    plan = FeedPlan(model, columns, binding)
    source = dataset.ref if what == "dataset" else f"{what} {dataset.ref}"
    for item in plan.inputs:
        wanted = item.dtype
        names = columns if binding == "axis" else [item.name]
        for name in names:
            if available[name].dtype == "string" and wanted != "string":
                raise BadInputError(
                    f"column {name!r} of {source} is text but input {item.name!r} "
                    f"of {model.ref} takes {wanted}"
                )
    if binding == "axis":
        shape = plan.inputs[0].shape or ()
        width = shape[-1] if shape else None
        if len(shape) >= 3:
            _check_image_columns(plan, dataset, shape)
        elif isinstance(width, int) and len(shape) == 2 and width != len(columns):
            raise BadInputError(
                f"model {model.ref}: input {plan.inputs[0].name!r} takes {width} features "
                f"but {len(columns)} columns of {source} feed it"
            )
    return plan


def rank_datasets(catalog: Any, model: ModelVersion, refs: list[str]) -> list[str]:
    """``refs`` ordered for running ``model``: datasets that can feed it first, held-out
    data before its own training set (which flatters it), then the rest."""
    from modeldesk.datasets.registry import get_dataset_version

    def key(ref: str) -> tuple[bool, bool, bool, str]:
        try:
            feed_plan(model, get_dataset_version(catalog, ref))
            fits = True
        except BadInputError:
            fits = False
        return (not fits, ref == model.trained_on, "test" not in ref, ref)

    return sorted(refs, key=key)


def _check_image_columns(plan: FeedPlan, dataset: ColumnSource, shape: tuple[Dim, ...]) -> None:
    """An image input needs the dataset's pixel columns, one per value of an image."""
    fixed = [dim for dim in shape[1:] if isinstance(dim, int)]
    pixels = int(np.prod(fixed)) if len(fixed) == len(shape) - 1 else None
    if image_shape(plan.columns) is None or (pixels is not None and pixels != len(plan.columns)):
        dims = " x ".join(str(dim) for dim in shape)
        raise BadInputError(
            f"model {plan.model.ref} takes images (input {plan.inputs[0].name!r} of shape "
            f"{dims}) but the columns of {dataset.ref} are not the pixel_ROW_COL columns of "
            "one such image"
        )


def image_shape(columns: list[str]) -> tuple[int, int] | None:
    """(height, width) when the columns are the pixels ``name_ROW_COL`` of a full grid."""
    matches = [_PIXEL.match(name) for name in columns]
    cells = [cell for cell in matches if cell is not None]
    if len(columns) < 4 or len(cells) != len(columns):
        return None
    prefixes = {cell["prefix"] for cell in cells}
    grid = [(int(cell["row"]), int(cell["col"])) for cell in cells]
    height, width = max(r for r, _ in grid) + 1, max(c for _, c in grid) + 1
    expected = [(r, c) for r in range(height) for c in range(width)]
    if len(prefixes) != 1 or grid != expected:
        return None
    return height, width


def make_feeds(plan: FeedPlan, table: Any, start: int, stop: int) -> dict[str, np.ndarray]:
    """Input tensors for rows ``start:stop`` of an Arrow table."""
    part = table.slice(start, stop - start)
    if plan.binding == "axis":
        # Straight into the input's dtype: a float32 column is then copied once, not
        # widened, stacked and narrowed again (a third of a large replay's feeding time).
        dtype = _NUMPY_DTYPES.get(plan.inputs[0].dtype, np.float32)
        matrix = np.empty((part.num_rows, len(plan.columns)), dtype=dtype)
        for j, name in enumerate(plan.columns):
            matrix[:, j] = _column(part, name, dtype)
        return feeds_from_matrix(plan, matrix)
    feeds = {}
    for item in plan.inputs:
        if item.dtype == "string":  # a category input, e.g. a OneHotEncoder's
            values = _text_column(part, item.name)
        else:
            values = _column(part, item.name, _NUMPY_DTYPES.get(item.dtype, np.float32))
        rank = len(item.shape or (None, None))
        feeds[item.name] = values.reshape(-1, 1) if rank >= 2 else values
    return feeds


def feeds_from_matrix(plan: FeedPlan, matrix: np.ndarray) -> dict[str, np.ndarray]:
    """Input tensors from a rows x ``plan.columns`` matrix (what explainers perturb)."""
    if plan.binding == "axis":
        item = plan.inputs[0]
        shape = item.shape or ()
        tensor: np.ndarray = matrix.astype(_NUMPY_DTYPES.get(item.dtype, np.float32), copy=False)
        if len(shape) >= 3:  # images: one pixel column per value, in row-major order
            inner = [dim if isinstance(dim, int) else -1 for dim in shape[1:]]
            tensor = tensor.reshape(len(matrix), *inner)
        return {item.name: tensor}
    feeds = {}
    for item in plan.inputs:
        values = matrix[:, plan.columns.index(item.name)]
        values = values.astype(_NUMPY_DTYPES.get(item.dtype, np.float32))
        rank = len(item.shape or (None, None))
        feeds[item.name] = values.reshape(-1, 1) if rank >= 2 else values
    return feeds


def feature_matrix(plan: FeedPlan, table: Any, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of the plan's columns as a float64 matrix (NaN for nulls)."""
    part = table.slice(start, stop - start)
    return np.column_stack([_column(part, name, np.float64) for name in plan.columns])


def _column(table: Any, name: str, dtype: Any) -> np.ndarray:
    column = table.column(name)
    if column.null_count:
        column = column.cast("double").fill_null(float("nan"))
    return np.asarray(column.to_numpy(), dtype=dtype)


def _text_column(table: Any, name: str) -> np.ndarray:
    """A column as the object array of str ONNX Runtime takes for a string tensor
    (a missing value becomes "", which an encoder reads as an unknown category)."""
    column = table.column(name).cast("string").fill_null("")
    return np.asarray(column.to_pylist(), dtype=object)
