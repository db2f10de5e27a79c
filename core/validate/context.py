"""What the checks of one run share: predictions computed once, datasets, baselines, seeds."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import numpy as np

from modeldesk.catalog.store import Catalog
from modeldesk.datasets.registry import DatasetVersion, get_dataset_version
from modeldesk.debug.predict import Predictions, predict_table, predict_versions, session_in
from modeldesk.errors import BadInputError, NotFoundError
from modeldesk.models.registry import ModelVersion, get_model_version
from modeldesk.progress import check_cancel
from modeldesk.validate.metrics import Outcomes
from modeldesk.validate.stats import SharedResamples, derive_seed
from modeldesk.validate.suite import Check, Suite


class NoBaseline(BadInputError):
    """A check compares with the previous version and this is the first: it is skipped
    (there is nothing to be worse than), like a test skipped for a missing fixture."""


__all__ = ["NoBaseline", "RunContext", "column_values"]


def column_values(column: Any) -> np.ndarray:
    """An Arrow column as float64 (numbers and booleans; null is NaN) or objects (text)."""
    import pyarrow as pa

    kind = column.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind):
        return np.asarray(column.cast(pa.float64()).to_numpy(zero_copy_only=False))
    return np.array(column.to_pylist(), dtype=object)


class RunContext:
    """One run's shared state; every prediction of (model, dataset) is made once.

    ``rows_predicted`` counts the rows the run needed the model for: each dataset's
    rows once per model that read them, plus every perturbed row.
    """

    def __init__(
        self,
        catalog: Catalog,
        suite: Suite,
        model: ModelVersion,
        dataset_ref: str,
        cancel: threading.Event | None,
        datasets: dict[str, DatasetVersion] | None = None,
        baselines: dict[str, ModelVersion] | None = None,
    ) -> None:
        self.catalog = catalog
        self.suite = suite
        self.model = model
        self.dataset_ref = dataset_ref
        self.cancel = cancel
        self.rows_predicted = 0
        self.datasets_read: dict[str, str] = {}
        self._datasets: dict[str, DatasetVersion] = dict(datasets or {})  # by ref, read once
        self._predictions: dict[tuple[int, int], Predictions] = {}
        self._columns: dict[tuple[int, str], np.ndarray] = {}
        self._resamples: dict[str, SharedResamples] = {}
        self._masks: dict[tuple[int, str], np.ndarray] = {}
        self._seeds: dict[tuple[str, str], int] = {}
        self._baselines: dict[str, ModelVersion] = dict(baselines or {})  # by spec
        self._session: Any = None
        self._open = contextlib.ExitStack()  # the session's scratch folder, if it needs one

    def close(self) -> None:
        """Release the run's ONNX Runtime session and its scratch folder."""
        self._session = None
        self._open.close()

    def __enter__(self) -> RunContext:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def dataset(self, check: Check | None) -> DatasetVersion:
        """The dataset version a check reads: its own ``dataset``, else the run's."""
        ref = (check.get("dataset") if check is not None else None) or self.dataset_ref
        if ref not in self._datasets:
            self._datasets[ref] = get_dataset_version(self.catalog, ref)
        dataset = self._datasets[ref]
        self.datasets_read[dataset.ref] = dataset.sha256
        return dataset

    def predictions(self, model: ModelVersion, dataset: DatasetVersion) -> Predictions:
        """``model`` on every row of ``dataset`` (from the catalog's cache when it has them)."""
        key = (model.id, dataset.id)
        if key not in self._predictions:
            check_cancel(self.cancel, f"validating {self.model.ref}")
            # Every model reads the same rows: the dataset is read once per run.
            read = next((p.table for (_, d), p in self._predictions.items() if d == dataset.id),
                        None)  # fmt: skip
            self._predictions[key] = predict_versions(
                self.catalog, model, dataset, cancel=self.cancel, table=read
            )
            self.rows_predicted += dataset.rows
        return self._predictions[key]

    def outcomes(self, model: ModelVersion, dataset: DatasetVersion, check: Check) -> Outcomes:
        """Labelled outcomes of ``model`` on the rows of ``dataset`` the check's filter keeps."""
        result = self.predictions(model, dataset)
        if result.y_true is None:
            raise BadInputError(
                f"check {check.id!r}: dataset {dataset.ref} has no label column for "
                f"model {model.ref}; a metric needs one"
            )
        outcomes = Outcomes(
            result.task, result.y_true, result.predicted, result.probabilities, result.class_names
        )
        mask = self.mask(dataset, check)
        return outcomes if mask is None else outcomes.subset(mask)

    def mask(self, dataset: DatasetVersion, check: Check) -> np.ndarray | None:
        """The rows the check's ``where`` keeps (None: every row)."""
        if check.where is None:
            return None
        key = (dataset.id, check.where.text)
        if key not in self._masks:
            columns = {name: self.column(dataset, name) for name in check.where.columns}
            self._masks[key] = check.where.mask(columns)
        return self._masks[key]

    def row_ids(self, dataset: DatasetVersion, check: Check) -> np.ndarray:
        """The dataset row numbers the check's filter keeps (all rows without one)."""
        mask = self.mask(dataset, check)
        return np.arange(dataset.rows) if mask is None else np.flatnonzero(mask)

    def column(self, dataset: DatasetVersion, name: str) -> np.ndarray:
        """One column of a dataset version as numbers (float) or text (object, None missing)."""
        key = (dataset.id, name)
        if key not in self._columns:
            table = self.table(dataset)
            if name not in table.column_names:
                raise BadInputError(f"dataset {dataset.ref} has no column {name!r}")
            self._columns[key] = column_values(table.column(name))
        return self._columns[key]

    def table(self, dataset: DatasetVersion) -> Any:
        """The dataset version's Arrow table (read once, with the model's predictions)."""
        return self.predictions(self.model, dataset).table

    def predict_perturbed(self, dataset: DatasetVersion, table: Any) -> Predictions:
        """The run's model on a changed copy of ``dataset``'s rows (never cached)."""
        check_cancel(self.cancel, f"validating {self.model.ref}")
        if self._session is None:  # one session for every perturbed pass of the run
            self._session = session_in(self.catalog, self.model, self._open)
        result = predict_table(
            self.catalog,
            self.model,
            dataset,
            table,
            cancel=self.cancel,
            session=self._session,
            labelled=False,
        )
        self.rows_predicted += table.num_rows
        return result

    def baseline(self, spec: str, check: Check) -> ModelVersion:
        """``previous``, ``approved`` or ``NAME@V``: the version a check compares with."""
        if spec not in self._baselines:
            self._baselines[spec] = self._find_baseline(spec, check)
        return self._baselines[spec]

    def _find_baseline(self, spec: str, check: Check) -> ModelVersion:
        model = self.model
        if spec == "previous":
            number = model.parent_version or (model.version - 1)
            if number < 1:
                raise NoBaseline(
                    f"{model.ref} is the first version: there is no previous one to compare with"
                )
            return get_model_version(self.catalog, f"{model.name}@{number}")
        if spec == "approved":
            raise BadInputError(
                f"check {check.id!r}: model {model.name} has no approved release yet; name a "
                'version (baseline = "NAME@V") or use "previous"'
            )
        try:
            return get_model_version(self.catalog, spec)
        except NotFoundError as error:
            raise BadInputError(f"check {check.id!r}: baseline {error}") from None

    def resamples(self, dataset: DatasetVersion | None) -> SharedResamples:
        """The run's bootstrap counts for checks on ``dataset`` (see ``SharedResamples``)."""
        key = dataset.sha256 if dataset is not None else "-"
        if key not in self._resamples:
            seed = derive_seed(self.suite.sha256, str(self.suite.seed), self.model.sha256, key)
            rows = dataset.rows if dataset is not None else None
            self._resamples[key] = SharedResamples(self.suite.resamples, seed, rows)
        return self._resamples[key]

    def seed(self, check: Check, dataset: DatasetVersion | None = None) -> int:
        """The check's seed: from the suite's text and seed, check id, model and data content."""
        data = dataset.sha256 if dataset is not None else "-"
        key = (check.id, data)
        if key not in self._seeds:  # a hash each time a check asks would add up
            self._seeds[key] = derive_seed(
                self.suite.sha256, str(self.suite.seed), check.id, self.model.sha256, data
            )
        return self._seeds[key]
