"""Replay a capture's inputs through a model here, and compare with what the device said.

Per output and row, the error is judged as ``numpy.isclose`` does: a value is beyond
tolerance when ``|device - lab| > atol + rtol * |lab|`` (or one side is NaN and the
other not). The relative error divides by ``max(|lab|, atol)``: below ``atol`` the lab
value is zero for this purpose, so a tiny value does not make a huge relative error.
A decision flips when the class (argmax of a probability output, or the label output)
differs, or a single probability lands on the other side of 0.5.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from modeldesk.catalog.store import Catalog
from modeldesk.models.registry import ModelVersion
from modeldesk.progress import ProgressCallback, check_cancel, no_progress

__all__ = ["BATCH_ROWS", "Comparison", "Replayer", "compare", "number", "replay"]

BATCH_ROWS = 65_536
QUANTILES = (0.5, 0.9, 0.99)
ERROR_DECADES = (-12, 3)  # the error histogram's range, as powers of ten


@dataclass
class Comparison:
    """Device against lab over every row: per-row arrays, and per output its raw errors
    (``outputs`` summarises them). Batches compared apart are :meth:`joined`."""

    beyond: np.ndarray  # a value of the row is beyond tolerance
    flipped: np.ndarray  # a decision of the row differs
    worst_excess: np.ndarray  # the row's largest error over its tolerance (> 1: beyond)
    worst_abs: np.ndarray  # the row's largest absolute error
    errors: dict[str, dict[str, Any]]  # per output: width, decision, abs, rel, over, flips

    @property
    def decisions(self) -> dict[str, str | None]:
        """How each output's decisions were read (to compare later batches the same way)."""
        return {name: item["decision"] for name, item in self.errors.items()}

    @property
    def outputs(self) -> dict[str, dict[str, Any]]:
        """Per output: the error distributions, the rows beyond tolerance, the flips."""
        return {
            name: {
                "values_per_row": item["width"],
                "decision": item["decision"],
                "abs_error": _distribution(item["abs"]),
                "abs_error_histogram": _decades(item["abs"]),
                "rel_error": _distribution(item["rel"]),
                "beyond_tolerance": item["over"],
                "flips": item["flips"],
            }
            for name, item in self.errors.items()
        }

    @staticmethod
    def joined(parts: list[Comparison]) -> Comparison:
        """The comparison of consecutive batches' rows, as if compared at once."""
        first = parts[0]
        errors = {}
        for name, item in first.errors.items():
            flips = [part.errors[name]["flips"] for part in parts]
            errors[name] = item | {
                "abs": np.concatenate([part.errors[name]["abs"] for part in parts]),
                "rel": np.concatenate([part.errors[name]["rel"] for part in parts]),
                "over": sum(part.errors[name]["over"] for part in parts),
                "flips": None if item["flips"] is None else sum(flips),
            }

        def joined_rows(key: str) -> np.ndarray:
            return np.concatenate([getattr(part, key) for part in parts])

        rows = [joined_rows(key) for key in ("beyond", "flipped", "worst_excess", "worst_abs")]
        return Comparison(rows[0], rows[1], rows[2], rows[3], errors)


class Replayer:
    """A model's session, open for replaying a capture's rows batch by batch (a context
    manager; the session closes with it)."""

    def __init__(self, catalog: Catalog, model: ModelVersion, table: Any, names: list[str],
                 capture_ref: str) -> None:  # fmt: skip
        """Check that the capture's columns (those of ``table``, any batch of it) can
        feed ``model``; ``BadInputError`` names the capture as ``capture_ref``."""
        from modeldesk.debug.feeds import feed_plan
        from modeldesk.field.read import CaptureColumns, column_infos

        self.catalog, self.model, self.names = catalog, model, names
        self.plan = feed_plan(model, CaptureColumns(capture_ref, column_infos(table)),
                              what="capture")  # fmt: skip
        self.labels = list(model.classes or model.facts.class_names or [])
        self._stack = contextlib.ExitStack()
        self._session: Any = None

    def __enter__(self) -> Replayer:
        from modeldesk.debug.predict import session_in

        self._session = session_in(self.catalog, self.model, self._stack)
        return self

    def __exit__(self, *exc: object) -> None:
        self._session = None
        self._stack.close()

    def run(self, table: Any, start: int = 0, stop: int | None = None) -> dict[str, np.ndarray]:
        """Outputs ``names`` for rows ``start:stop`` of ``table`` (rows x values)."""
        from modeldesk.debug.feeds import make_feeds

        stop = table.num_rows if stop is None else stop
        results = self._session.run(self.names, make_feeds(self.plan, table, start, stop))
        return {
            name: _lab_values(value, self.labels, stop - start)
            for name, value in zip(self.names, results, strict=True)
        }


def replay(
    catalog: Catalog,
    model: ModelVersion,
    table: Any,
    names: list[str],
    *,
    capture_ref: str,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> dict[str, np.ndarray]:
    """Outputs ``names`` of ``model`` for every row of a capture ``table`` (rows x values).

    Raises ``BadInputError`` when the capture's columns cannot feed ``model``; errors
    name the capture as ``capture_ref`` (``#3``).
    """
    rows = table.num_rows
    parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
    with Replayer(catalog, model, table, names, capture_ref) as replayer:
        for start in range(0, rows, BATCH_ROWS):
            check_cancel(cancel, f"replaying capture {capture_ref}")
            stop = min(start + BATCH_ROWS, rows)
            for name, values in replayer.run(table, start, stop).items():
                parts[name].append(values)
            progress(stop, rows, f"replaying through {model.ref}")
    return {name: np.concatenate(chunks) for name, chunks in parts.items()}


def compare(
    table: Any,
    widths: dict[str, int],
    labs: dict[str, np.ndarray],
    atol: float,
    rtol: float,
    decisions: dict[str, str | None] | None = None,
) -> Comparison:
    """The capture's device outputs against ``labs`` (from ``replay``), row by row;
    decisions read as ``decisions`` says (a previous batch's), else from ``labs``."""
    rows = table.num_rows
    found = Comparison(np.zeros(rows, dtype=bool), np.zeros(rows, dtype=bool),
                       np.zeros(rows), np.zeros(rows), {})  # fmt: skip
    for name, width in widths.items():
        lab = labs[name]
        device = _device_values(table, name, width)
        if lab.shape[1] != device.shape[1]:
            raise ValueError(f"output {name!r}: {lab.shape[1]} values per row, not {width}")
        compared = _compare(device, lab, atol, rtol)
        how = decisions[name] if decisions is not None else _decision(lab)
        flips = _flips(device, lab, how)
        over = compared["excess"] > 1.0
        found.beyond |= over
        if flips is not None:
            found.flipped |= flips
        found.worst_excess = np.maximum(found.worst_excess, compared["excess"])
        found.worst_abs = np.maximum(found.worst_abs, compared["abs"])
        found.errors[name] = {
            "width": width, "decision": how, "abs": compared["abs"], "rel": compared["rel"],
            "over": int(over.sum()), "flips": None if flips is None else int(flips.sum()),
        }  # fmt: skip
    return found


def _device_values(table: Any, name: str, width: int) -> np.ndarray:
    names = [f"output:{name}"] if width == 1 and f"output:{name}" in table.column_names else [
        f"output:{name}[{j}]" for j in range(width)
    ]  # fmt: skip
    return np.column_stack([_numbers(table.column(column)) for column in names])


def _numbers(column: Any) -> np.ndarray:
    import pyarrow as pa

    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return np.asarray(column.to_pylist(), dtype=object)
    return column.cast(pa.float64()).fill_null(np.nan).to_numpy()


def _lab_values(value: Any, labels: list[str], rows: int) -> np.ndarray:
    from modeldesk.debug.predict import probability_matrix

    if isinstance(value, list):  # a ZipMap
        return probability_matrix(value, labels)
    array = np.asarray(value).reshape(rows, -1)
    if array.dtype.kind in "USO":
        return array.astype(object)
    # A label output stays integer: that is how its decisions are told from scores.
    return array.astype(np.int64) if array.dtype.kind in "iub" else array.astype(np.float64)


def _decision(lab: np.ndarray) -> str | None:
    """How a decision is read from this output, or None (a regression value)."""
    if lab.dtype == object or lab.dtype.kind in "iub":
        return "label"
    if lab.shape[1] >= 2:
        return "argmax"
    finite = lab[np.isfinite(lab)]
    if finite.size and finite.min() >= 0.0 and finite.max() <= 1.0 and not _integers(finite):
        return "threshold 0.5"
    return None


def _integers(values: np.ndarray) -> bool:
    return bool(np.all(values == np.round(values)))


def _compare(device: np.ndarray, lab: np.ndarray, atol: float, rtol: float) -> dict[str, Any]:
    """Per row: largest absolute and relative error, and the excess over tolerance
    (beyond tolerance when above 1)."""
    if lab.dtype == object or device.dtype == object:
        # Text labels either match or do not: a mismatch is infinitely far.
        missed = np.where(np.all(device.astype(str) == lab.astype(str), axis=1), 0.0, np.inf)
        return {"abs": missed, "rel": missed, "excess": missed}
    difference = np.abs(device - lab)
    magnitude = np.abs(lab)
    device_nan, lab_nan = np.isnan(device), np.isnan(lab)
    if device_nan.any() or lab_nan.any():  # both missing: equal; one missing: infinitely far
        difference = np.where(device_nan & lab_nan, 0.0, difference)
        difference = np.where(device_nan != lab_nan, np.inf, difference)
        magnitude = np.nan_to_num(magnitude)
    allowed = atol + rtol * magnitude
    with np.errstate(divide="ignore", invalid="ignore"):
        excess = difference / allowed
        if not np.all(allowed > 0):  # zero tolerance: any difference is infinitely over it
            excess = np.where(allowed > 0, excess, np.where(difference > 0, np.inf, 0))
        relative = difference / np.maximum(magnitude, max(atol, 1e-12))
    return {"abs": difference.max(axis=1), "rel": relative.max(axis=1),
            "excess": excess.max(axis=1)}  # fmt: skip


def _flips(device: np.ndarray, lab: np.ndarray, how: str | None) -> np.ndarray | None:
    if how is None:
        return None
    if how == "label":
        return np.any(device.astype(str) != lab.astype(str), axis=1) if lab.dtype == object else (
            np.any(np.nan_to_num(device, nan=-1) != lab, axis=1)
        )  # fmt: skip
    if how == "argmax":
        return np.argmax(np.nan_to_num(device, nan=-np.inf), axis=1) != np.argmax(lab, axis=1)
    return (device[:, 0] >= 0.5) != (lab[:, 0] >= 0.5)


def _distribution(values: np.ndarray) -> dict[str, float | None]:
    finite = values[np.isfinite(values)]
    points = np.quantile(values, QUANTILES) if values.size else [np.nan] * len(QUANTILES)
    shown = {f"p{int(q * 100)}": number(p) for q, p in zip(QUANTILES, points, strict=True)}
    return shown | {
        "max": number(values.max()) if values.size else None,
        "mean": number(finite.mean()) if finite.size else None,
    }


def _decades(values: np.ndarray) -> dict[str, Any]:
    """Absolute errors counted per decade from 1e-12 to 1e3 (smaller ones in the first,
    larger in the last; exact zeros and infinities apart): float errors span many orders
    of magnitude, so a linear histogram would hide all but the largest."""
    finite = values[np.isfinite(values)]
    edges = 10.0 ** np.arange(ERROR_DECADES[0], ERROR_DECADES[1] + 1)
    positive = finite[finite > 0]
    counts = np.histogram(np.clip(positive, edges[0], edges[-1]), bins=edges)[0]
    zero, infinite = int(np.sum(finite == 0)), int(len(values) - len(finite))
    return {"edges": edges.tolist(), "counts": counts.tolist(), "zero": zero,
            "infinite": infinite}  # fmt: skip


def number(value: Any) -> float | None:
    """A float for JSON: None for NaN; infinities kept."""
    value = float(value)
    return value if np.isfinite(value) else (None if np.isnan(value) else value)
