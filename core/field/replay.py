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

__all__ = ["BATCH_ROWS", "Comparison", "compare", "number", "replay"]

BATCH_ROWS = 65_536
QUANTILES = (0.5, 0.9, 0.99)


@dataclass
class Comparison:
    """Device against lab over every row: per-row arrays and per-output figures."""

    beyond: np.ndarray  # a value of the row is beyond tolerance
    flipped: np.ndarray  # a decision of the row differs
    worst_excess: np.ndarray  # the row's largest error over its tolerance (> 1: beyond)
    worst_abs: np.ndarray  # the row's largest absolute error
    outputs: dict[str, dict[str, Any]]


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
    from modeldesk.debug.feeds import feed_plan, make_feeds
    from modeldesk.debug.predict import session_in
    from modeldesk.field.read import CaptureColumns, column_infos

    rows = table.num_rows
    plan = feed_plan(model, CaptureColumns(capture_ref, column_infos(table)), what="capture")
    labels = list(model.classes or model.facts.class_names or [])
    parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
    with contextlib.ExitStack() as stack:
        session = session_in(catalog, model, stack)
        for start in range(0, rows, BATCH_ROWS):
            check_cancel(cancel, f"replaying capture {capture_ref}")
            stop = min(start + BATCH_ROWS, rows)
            results = session.run(names, make_feeds(plan, table, start, stop))
            for name, value in zip(names, results, strict=True):
                parts[name].append(_lab_values(value, labels, stop - start))
            progress(stop, rows, f"replaying through {model.ref}")
    return {name: np.concatenate(chunks) for name, chunks in parts.items()}


def compare(
    table: Any, widths: dict[str, int], labs: dict[str, np.ndarray], atol: float, rtol: float
) -> Comparison:
    """The capture's device outputs against ``labs`` (from ``replay``), row by row."""
    rows = table.num_rows
    found = Comparison(np.zeros(rows, dtype=bool), np.zeros(rows, dtype=bool),
                       np.zeros(rows), np.zeros(rows), {})  # fmt: skip
    for name, width in widths.items():
        lab = labs[name]
        device = _device_values(table, name, width)
        if lab.shape[1] != device.shape[1]:
            raise ValueError(f"output {name!r}: {lab.shape[1]} values per row, not {width}")
        compared = _compare(device, lab, atol, rtol)
        how = _decision(lab)
        flips = _flips(device, lab, how)
        over = compared["excess"] > 1.0
        found.beyond |= over
        if flips is not None:
            found.flipped |= flips
        found.worst_excess = np.maximum(found.worst_excess, compared["excess"])
        found.worst_abs = np.maximum(found.worst_abs, compared["abs"])
        found.outputs[name] = {
            "values_per_row": width,
            "decision": how,
            "abs_error": _distribution(compared["abs"]),
            "rel_error": _distribution(compared["rel"]),
            "beyond_tolerance": int(over.sum()),
            "flips": None if flips is None else int(flips.sum()),
        }
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
    one_nan = np.isnan(device) != np.isnan(lab)
    difference = np.where(np.isnan(device) & np.isnan(lab), 0.0, difference)
    difference = np.where(one_nan, np.inf, difference)
    allowed = atol + rtol * np.abs(np.nan_to_num(lab))
    with np.errstate(divide="ignore", invalid="ignore"):
        excess = np.where(allowed > 0, difference / allowed, np.where(difference > 0, np.inf, 0))
        relative = difference / np.maximum(np.abs(np.nan_to_num(lab)), max(atol, 1e-12))
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


def number(value: Any) -> float | None:
    """A float for JSON: None for NaN; infinities kept."""
    value = float(value)
    return value if np.isfinite(value) else (None if np.isnan(value) else value)
