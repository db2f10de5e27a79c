"""Run a model version over a dataset version with ONNX Runtime, in batches."""

from __future__ import annotations

import contextlib
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modeldesk.catalog.derived import derived_key, load_derived, store_derived
from modeldesk.catalog.paths import inside
from modeldesk.catalog.store import Catalog
from modeldesk.datasets.registry import DatasetVersion, get_dataset_version, read_rows
from modeldesk.debug.feeds import FeedPlan, feed_plan, make_feeds
from modeldesk.errors import BadInputError
from modeldesk.models.registry import ModelVersion, get_model_version
from modeldesk.progress import ProgressCallback, check_cancel, no_progress

__all__ = [
    "BATCH_ROWS",
    "PREDICTION_RUNTIMES",
    "Predictions",
    "lay_out_model",
    "open_session",
    "output_positions",
    "predict",
    "predict_table",
    "predict_versions",
    "probability_matrix",
    "session_in",
]

BATCH_ROWS = 4096
# What computes predictions (their versions are part of every cached prediction's key).
PREDICTION_RUNTIMES = ("onnxruntime", "numpy")


@dataclass
class Predictions:
    """What a model predicted for every row of a dataset version."""

    model: ModelVersion
    dataset: DatasetVersion
    task: str  # "classification" or "regression"
    y_true: np.ndarray | None  # class indexes (classification) or targets (regression)
    predicted: np.ndarray  # class indexes or predicted values
    probabilities: np.ndarray | None  # rows x classes, classification only
    class_labels: list[str]  # the model's own labels, in probability-column order
    class_names: list[str]  # what to show (names from metadata or --classes when they fit)
    table: Any  # the dataset's Arrow table, for slicing and showing rows

    @property
    def trained_on_this(self) -> bool:
        """True when the dataset is the model's own training data (metrics will flatter)."""
        return self.model.trained_on == self.dataset.ref


def open_session(catalog: Catalog, model: ModelVersion, scratch: Path | None) -> Any:
    """An ONNX Runtime CPU session for ``model`` (external data laid out in ``scratch``,
    which only a model with external data needs)."""
    import onnxruntime as ort

    path = catalog.blobs.verified_path(model.sha256)
    if model.external_files:
        if scratch is None:
            raise ValueError(f"model {model.ref}: its external data needs a scratch folder")
        path = lay_out_model(catalog, model, scratch / "model")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    # Without this, ORT's worker threads spin after every run, taking the cores from the
    # numpy work between a validation run's passes (both ran about twice as slow).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # ORT raises its own types; the model is the problem
        detail = " ".join(str(error).split())[:300] or type(error).__name__
        raise BadInputError(f"model {model.ref}: ONNX Runtime cannot load it ({detail})") from None


def session_in(catalog: Catalog, model: ModelVersion, stack: contextlib.ExitStack) -> Any:
    """``open_session``, with a scratch folder (closed by ``stack``) only for a model whose
    external data must be laid out; most models load from their blob where it is."""
    scratch = None
    if model.external_files:
        scratch = stack.enter_context(catalog.blobs.scratch("predict"))
    return open_session(catalog, model, scratch)


def lay_out_model(catalog: Catalog, model: ModelVersion, folder: Path) -> Path:
    """Copy the model and its external data files into ``folder``; return the model's path.

    ONNX Runtime finds external data beside the model, so the files are laid out by
    their recorded relative paths, each checked to stay inside ``folder`` first (the
    paths come from catalog.db, which may have been edited by hand).
    """
    what = f"catalog.db, model {model.ref}"
    folder.mkdir(parents=True, exist_ok=True)
    target = inside(folder, model.file_name or "model.onnx", what=what, file_name=True)
    layout = [(target, model.sha256)]
    for entry in model.external_files:
        layout.append((inside(folder, entry.path, what=f"{what} external file"), entry.sha256))
    for destination, sha256 in layout:
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(catalog.blobs.verified_path(sha256), destination)
    return target


def probability_matrix(value: Any, labels: list[str]) -> np.ndarray:
    """Rows x classes from a probability output, tensor or ZipMap sequence."""
    if isinstance(value, list):  # ZipMap: one {label: probability} per row
        keys = labels if labels else ([str(key) for key in value[0]] if value else [])
        return np.array([[row.get(_key(row, key), 0.0) for key in keys] for row in value])
    return np.asarray(value, dtype=np.float64)


def _key(row: dict[Any, float], label: str) -> Any:
    return next((key for key in row if str(key) == label), label)


def output_positions(model: ModelVersion) -> tuple[int | None, int | None]:
    """Positions of the probability output and the label/value output."""
    probability, value = None, None
    for position, output in enumerate(model.outputs):
        shape = output.shape or ()
        if output.kind == "sequence" or (
            output.dtype.startswith("float") and len(shape) == 2 and shape[-1] != 1
        ):
            probability = position if probability is None else probability
        elif value is None:
            value = position
    return probability, value


def predict(
    catalog: Catalog,
    model_ref: str,
    data_ref: str,
    *,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
    table: Any = None,
) -> Predictions:
    """Predict every row of ``data_ref`` with ``model_ref`` (batched through ONNX Runtime).

    ``table`` is the dataset version's rows when the caller has read them already.
    """
    model = get_model_version(catalog, model_ref)
    dataset = get_dataset_version(catalog, data_ref)
    return predict_versions(catalog, model, dataset, progress=progress, cancel=cancel, table=table)


def predict_versions(
    catalog: Catalog,
    model: ModelVersion,
    dataset: DatasetVersion,
    *,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
    table: Any = None,
) -> Predictions:
    """``predict`` for versions the caller has read already."""
    plan = feed_plan(model, dataset)
    if table is None:
        table = read_rows(catalog, dataset)
    labels = [str(label) for label in (model.facts.class_names or [])]
    key = derived_key(
        "predictions",
        model=model,
        datasets={"rows": dataset.sha256},
        features=plan.columns,
        binding=plan.binding,
        runtimes=PREDICTION_RUNTIMES,
    )
    outputs = _load_outputs(catalog, key)
    if outputs is None:
        outputs = _run_model(
            catalog, plan, table, output_positions(model), labels, progress, cancel
        )
        store_derived(
            catalog,
            key,
            kind="predictions",
            model_version_id=model.id,
            dataset_version_id=dataset.id,
            params={},
            data=_outputs_bytes(outputs),
        )
    return _assemble(model, dataset, table, outputs, own_rows=True)


def _assemble(
    model: ModelVersion,
    dataset: DatasetVersion,
    table: Any,
    outputs: tuple[np.ndarray | None, np.ndarray | None],
    *,
    labelled: bool = True,
    own_rows: bool = False,
) -> Predictions:
    """Predictions from the model's value and probability outputs on ``table``'s rows
    (``labelled``: with the label column read as ``y_true``, if the model names one;
    ``own_rows``: ``table`` is the dataset version's own rows, so its labels' class
    indexes can be kept)."""
    values, probabilities = outputs
    labels = [str(label) for label in (model.facts.class_names or [])]
    task = _task(model)
    if task == "classification":
        matrix = probabilities if probabilities is not None else np.zeros((0, 0))
        if not labels:
            labels = [str(index) for index in range(matrix.shape[1])]
        _refuse_missing(matrix, model, dataset)
        predicted = np.argmax(matrix, axis=1)
        y_true = None
        if model.label and labelled:
            read = _kept_class_indexes if own_rows else _class_indexes
            y_true = read(table, model, dataset, labels)
        names = model.classes if model.classes and len(model.classes) == len(labels) else labels
        return Predictions(
            model, dataset, task, y_true, predicted, matrix, labels, list(names), table
        )
    predicted = np.asarray(values, dtype=np.float64)
    _refuse_missing(predicted, model, dataset)
    y_true = None
    if labelled and model.label and model.label in table.column_names:
        y_true = np.asarray(table.column(model.label).to_numpy(), dtype=np.float64)
    return Predictions(model, dataset, task, y_true, predicted, None, [], [], table)


def _task(model: ModelVersion) -> str:
    probability_at, _ = output_positions(model)
    return "classification" if probability_at is not None else (model.facts.task or "regression")


def predict_table(
    catalog: Catalog,
    model: ModelVersion,
    dataset: DatasetVersion,
    table: Any,
    *,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
    session: Any = None,
    labelled: bool = True,
) -> Predictions:
    """Predict the rows of ``table`` (a changed copy of ``dataset``'s, same columns).

    Not cached: the rows are not a dataset version's. Validation's invariance and
    direction checks feed perturbed rows through here, through one ``session`` (from
    ``open_session``) for all of a run's checks, and ``labelled=False``: they compare
    outputs, so the labels are not read.
    """
    plan = feed_plan(model, dataset)
    labels = [str(label) for label in (model.facts.class_names or [])]
    outputs = _run_model(catalog, plan, table, output_positions(model), labels, progress, cancel,
                         session=session)  # fmt: skip
    return _assemble(model, dataset, table, outputs, labelled=labelled)


def _run_model(
    catalog: Catalog,
    plan: FeedPlan,
    table: Any,
    positions: tuple[int | None, int | None],
    labels: list[str],
    progress: ProgressCallback,
    cancel: threading.Event | None,
    *,
    session: Any = None,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The model's value and probability outputs for every row, batched through ORT
    (in a session of its own unless given one)."""
    model, rows = plan.model, table.num_rows
    probability_at, value_at = positions
    values, probabilities = [], []
    with contextlib.ExitStack() as stack:
        if session is None:
            session = session_in(catalog, model, stack)
        for start in range(0, rows, BATCH_ROWS):
            check_cancel(cancel, f"predicting with {model.ref}")
            stop = min(start + BATCH_ROWS, rows)
            results = session.run(None, make_feeds(plan, table, start, stop))
            if probability_at is not None:
                probabilities.append(probability_matrix(results[probability_at], labels))
            if value_at is not None:
                values.append(np.asarray(results[value_at]).reshape(stop - start, -1)[:, 0])
            progress(stop, rows, "predicting")
    return (
        np.concatenate(values) if values else None,
        np.concatenate(probabilities) if probabilities else None,
    )


def _outputs_bytes(outputs: tuple[np.ndarray | None, np.ndarray | None]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    values, probabilities = outputs
    columns = {}
    if values is not None:
        columns["value"] = values
    if probabilities is not None:
        for index in range(probabilities.shape[1]):
            columns[f"p{index}"] = probabilities[:, index]
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table(columns), sink)
    return sink.getvalue().to_pybytes()


Outputs = tuple[np.ndarray | None, np.ndarray | None]
# Decoded cached outputs the process keeps (read-only): the key names the model and data
# content, features and runtimes, so an entry can never go stale.
_OUTPUTS_KEPT = 16
_OUTPUTS_KEPT_VALUES = 1 << 20  # larger outputs are decoded again each time
_recent_outputs: dict[str, Outputs] = {}


def _load_outputs(catalog: Catalog, key: str) -> Outputs | None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if key in _recent_outputs:
        return _recent_outputs[key]
    data = load_derived(catalog, key)
    if data is None:
        return None
    table = pq.read_table(pa.BufferReader(data))
    values = table.column("value").to_numpy() if "value" in table.column_names else None
    columns = [name for name in table.column_names if name.startswith("p")]
    probabilities = (
        np.column_stack([table.column(name).to_numpy() for name in columns]) if columns else None
    )
    if table.num_rows * table.num_columns <= _OUTPUTS_KEPT_VALUES:
        for array in (values, probabilities):
            if array is not None:
                array.flags.writeable = False
        if len(_recent_outputs) >= _OUTPUTS_KEPT:
            _recent_outputs.pop(next(iter(_recent_outputs)))
        _recent_outputs[key] = (values, probabilities)
    return values, probabilities


def _refuse_missing(values: np.ndarray, model: ModelVersion, dataset: DatasetVersion) -> None:
    bad = ~np.isfinite(values.reshape(len(values), -1)).all(axis=1)
    if bad.any():
        first = int(np.argmax(bad))
        raise BadInputError(
            f"model {model.ref} gives no prediction for {int(bad.sum())} row(s) of "
            f"{dataset.ref} (first: row {first}); they hold missing or infinite values "
            "it cannot take"
        )


# Class indexes of datasets' labels the process keeps: the key names the dataset's
# content, the label column and the classes, so an entry can never go stale.
_recent_labels: dict[tuple[str, str, tuple[str, ...]], np.ndarray] = {}


def _kept_class_indexes(
    table: Any, model: ModelVersion, dataset: DatasetVersion, labels: list[str]
) -> np.ndarray:
    key = (dataset.sha256, str(model.label), tuple(labels))
    if key not in _recent_labels:
        indexes = _class_indexes(table, model, dataset, labels)
        if len(indexes) > _OUTPUTS_KEPT_VALUES:
            return indexes
        indexes.flags.writeable = False
        if len(_recent_labels) >= _OUTPUTS_KEPT:
            _recent_labels.pop(next(iter(_recent_labels)))
        _recent_labels[key] = indexes
    return _recent_labels[key]


def _class_indexes(
    table: Any, model: ModelVersion, dataset: DatasetVersion, labels: list[str]
) -> np.ndarray:
    """Each row's label as the index of its class among ``labels`` (a 1.0 reads as "1")."""
    if model.label not in table.column_names:
        raise BadInputError(f"dataset {dataset.ref} has no label column {model.label!r}")
    positions = {label: index for index, label in enumerate(labels)}
    # Each distinct value is looked up once: a label column holds a handful of them.
    encoded = table.column(model.label).combine_chunks().dictionary_encode()
    codes = encoded.indices
    if codes.null_count:
        row = int(np.flatnonzero(np.asarray(codes.is_null()))[0])
        raise BadInputError(
            f"label None in row {row} of {dataset.ref} is not one of model {model.ref}'s "
            f"classes ({', '.join(labels)})"
        )
    codes = np.asarray(codes.to_numpy(zero_copy_only=False), dtype=np.int64)
    mapping = np.empty(len(encoded.dictionary), dtype=np.int64)
    for code, value in enumerate(encoded.dictionary.to_pylist()):
        text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
        if text not in positions:
            row = int(np.flatnonzero(codes == code)[0])
            raise BadInputError(
                f"label {value!r} in row {row} of {dataset.ref} is not one of model "
                f"{model.ref}'s classes ({', '.join(labels)})"
            )
        mapping[code] = positions[text]
    return mapping[codes]
