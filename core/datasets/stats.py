"""Per-column statistics for the data dictionary.

Computed with Arrow compute kernels (which release the GIL) on a few worker
threads, so a wide or long table costs a fraction of reading it.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modeldesk.progress import ProgressCallback, check_cancel, no_progress

__all__ = ["HISTOGRAM_BINS", "TOP_VALUES", "column_stats", "dtype_label", "table_stats"]

HISTOGRAM_BINS = 20
TOP_VALUES = 10


def dtype_label(data_type: pa.DataType) -> str:
    """A short, tool-neutral name for an Arrow type (``float64``, ``int64``, ``string``...)."""
    if pa.types.is_float64(data_type):
        return "float64"
    if pa.types.is_float32(data_type):
        return "float32"
    if pa.types.is_float16(data_type):
        return "float16"
    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        return "string"
    if pa.types.is_boolean(data_type):
        return "bool"
    if pa.types.is_dictionary(data_type):
        return f"category({dtype_label(data_type.value_type)})"
    return str(data_type)


def _finite(value: Any) -> Any:
    # JSON has no NaN or infinity; statistics over no values are None.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _sorted_numbers(values: pa.ChunkedArray) -> np.ndarray:
    """The finite, non-null values as one sorted numpy array.

    One sort (numpy's is vectorised and releases the GIL) gives the distinct
    count, min, max and histogram; Arrow's hash-based count_distinct is
    several times slower on high-cardinality floats.
    """
    array = values.to_numpy()
    return np.sort(array, kind="quicksort")


def _histogram(ordered: np.ndarray, is_integer: bool, distinct: int) -> dict[str, Any]:
    low, high = float(ordered[0]), float(ordered[-1])
    if is_integer and high - low + 1 <= HISTOGRAM_BINS:
        # One bar per integer value when there are few of them.
        edges = np.arange(low - 0.5, high + 1.0, 1.0)
    else:
        bins = max(1, min(HISTOGRAM_BINS, distinct))
        edges = np.linspace(low, high, bins + 1) if high > low else np.array([low - 0.5, low + 0.5])
    # Same bins as numpy.histogram: half-open, the last one closed on the right.
    positions = np.searchsorted(ordered, edges, side="left")
    positions[-1] = np.searchsorted(ordered, edges[-1], side="right")
    counts = np.diff(positions)
    return {"edges": [float(edge) for edge in edges], "counts": [int(c) for c in counts]}


def _value_counts(column: pa.ChunkedArray) -> tuple[int, list[list[Any]]]:
    """Distinct count and the most frequent values with their counts."""
    counts = pc.value_counts(column.drop_null())
    if len(counts) == 0:
        return 0, []
    order = pc.array_sort_indices(counts.field("counts"), order="descending")
    top = counts.take(order[:TOP_VALUES])
    pairs = [
        [value, int(count)]
        for value, count in zip(
            top.field("values").to_pylist(), top.field("counts").to_pylist(), strict=True
        )
    ]
    return len(counts), pairs


def column_stats(column: pa.ChunkedArray) -> dict[str, Any]:
    """Statistics for one column: count, missing, and what fits its type."""
    data_type = column.type
    missing = column.null_count
    stats: dict[str, Any] = {"count": len(column) - missing, "missing": missing}
    if pa.types.is_dictionary(data_type):
        column = column.cast(data_type.value_type)
        data_type = column.type
    if stats["count"] == 0:
        stats["distinct"] = 0
        return stats
    is_float = pa.types.is_floating(data_type)
    is_integer = pa.types.is_integer(data_type)
    if is_float or is_integer:
        values = column.drop_null() if missing else column
        if is_float:
            nan = pc.sum(pc.is_nan(values)).as_py() or 0
            inf = pc.sum(pc.is_inf(values)).as_py() or 0
            stats["nan"], stats["inf"] = int(nan), int(inf)
            if nan or inf:
                values = values.filter(pc.is_finite(values))
        if len(values) == 0:
            stats["distinct"] = 0
            return stats
        ordered = _sorted_numbers(values)
        stats["distinct"] = int(np.count_nonzero(ordered[1:] != ordered[:-1])) + 1
        stats["min"] = ordered[0].item()
        stats["max"] = ordered[-1].item()
        stats["mean"] = _finite(float(ordered.mean(dtype=np.float64)))
        stats["std"] = (
            _finite(float(ordered.std(ddof=1, dtype=np.float64))) if len(ordered) > 1 else None
        )
        stats["histogram"] = _histogram(ordered, is_integer, stats["distinct"])
        return stats
    if pa.types.is_decimal(data_type):
        stats["distinct"] = int(pc.count_distinct(column).as_py())
        extremes = pc.min_max(column)
        stats["min"] = _as_number(extremes["min"].as_py())
        stats["max"] = _as_number(extremes["max"].as_py())
        stats["mean"] = _as_number(pc.mean(column).as_py())
        return stats
    if (
        pa.types.is_string(data_type)
        or pa.types.is_large_string(data_type)
        or pa.types.is_boolean(data_type)
    ):
        stats["distinct"], stats["top"] = _value_counts(column)
        if not pa.types.is_boolean(data_type):
            lengths = pc.min_max(pc.utf8_length(column))
            stats["min_length"] = lengths["min"].as_py()
            stats["max_length"] = lengths["max"].as_py()
        return stats
    stats["distinct"] = int(pc.count_distinct(column).as_py())
    if pa.types.is_temporal(data_type):
        extremes = pc.min_max(column)
        stats["min"] = str(extremes["min"].as_py())
        stats["max"] = str(extremes["max"].as_py())
    return stats


def _as_number(value: Any) -> Any:
    # Decimal values are not JSON numbers; keep them as floats for display.
    if value is not None and not isinstance(value, int | float):
        return float(value)
    return value


def table_stats(
    table: pa.Table,
    *,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> list[dict[str, Any]]:
    """Statistics for every column, in column order."""
    total = table.num_columns
    done = 0
    lock = threading.Lock()

    def one(index: int) -> dict[str, Any]:
        nonlocal done
        check_cancel(cancel, "statistics")
        result = column_stats(table.column(index))
        with lock:
            done += 1
            progress(done, total, "computing statistics")
        return result

    workers = min(total, os.cpu_count() or 1, 4)
    if workers <= 1 or total < 4:
        return [one(index) for index in range(total)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, range(total)))
