"""The reference a capture's drift is measured against: the training data, profiled.

Per feature over every training row: the missing count, PSI bins (the deciles) with their
counts, a display histogram, quantiles and, for text, category counts; plus an exact
sample of up to ``SAMPLE_ROWS`` rows (drawn with a fixed seed), on whose grid the KS
statistic and the Wasserstein distance are computed. It is plain JSON and one small
table, so it can travel in a release bundle to a laptop that has neither the training
data nor a network.

Image models (pixel columns ``name_ROW_COL``) are profiled on per-image statistics
instead: each image's ``mean``, ``std`` and ``brightness`` (for one channel the mean
luminance, which is the mean; kept under its own name so colour models read the same).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

__all__ = [
    "IMAGE_STATISTICS",
    "SAMPLE_ROWS",
    "build_reference",
    "feature_values",
    "is_numeric",
    "sample_indices",
]

SAMPLE_ROWS = 10_000
PSI_BINS = 10
DISPLAY_BINS = 30
MAX_CATEGORIES = 50  # the rest are counted together as "(other)"
OTHER = "(other)"
IMAGE_STATISTICS = ("mean", "std", "brightness")
SEED = 20_261_203


def is_numeric(data_type: pa.DataType) -> bool:
    """Numbers (and booleans, as 0 and 1) are binned; text is counted by category."""
    return bool(
        pa.types.is_integer(data_type)
        or pa.types.is_floating(data_type)
        or pa.types.is_boolean(data_type)
    )


def feature_values(
    table: pa.Table, features: list[str], image: bool, *, native: bool = False
) -> dict[str, Any]:
    """Each drift feature's values in a batch: float64 arrays (NaN missing) or text.
    With ``native``, a float32 column without nulls stays float32 (zero-copy) for a
    caller that widens it itself after sorting, which is a third cheaper in float32."""
    if image:
        pixels = np.column_stack([_floats(table.column(name)) for name in features])
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(pixels, axis=1)
            return {"mean": mean, "std": np.nanstd(pixels, axis=1), "brightness": mean}
    values: dict[str, Any] = {}
    for name in features:
        column = table.column(name)
        if native and pa.types.is_float32(column.type) and not column.null_count:
            values[name] = column.to_numpy()
        elif is_numeric(column.type):
            values[name] = _floats(column)
        else:
            values[name] = column.cast(pa.string())
    return values


def _floats(column: Any) -> np.ndarray:
    if pa.types.is_boolean(column.type):
        column = column.cast(pa.int8())
    if column.null_count:
        column = column.cast(pa.float64()).fill_null(np.nan)
    return np.asarray(column.to_numpy(), dtype=np.float64)


def _numeric_profile(values: np.ndarray, sample: np.ndarray) -> dict[str, Any]:
    present = values[~np.isnan(values)]
    profile: dict[str, Any] = {"kind": "number", "rows": len(values),
                               "missing": int(len(values) - len(present))}  # fmt: skip
    if not len(present):
        return profile | {"empty": True}
    edges = np.unique(np.quantile(present, np.linspace(0, 1, PSI_BINS + 1)[1:-1]))
    display = np.histogram_bin_edges(present, bins=DISPLAY_BINS)
    grid, grid_counts = np.unique(sample[~np.isnan(sample)], return_counts=True)
    return profile | {
        "mean": float(present.mean()),
        "std": float(present.std()),
        "min": float(present.min()),
        "max": float(present.max()),
        "quantiles": np.quantile(present, np.linspace(0, 1, 101)).tolist(),
        "psi_edges": edges.tolist(),
        "psi_counts": np.bincount(
            np.searchsorted(edges, present, side="right"), minlength=len(edges) + 1
        ).tolist(),
        "display_edges": display.tolist(),
        "display_counts": np.histogram(present, bins=display)[0].tolist(),
        "grid": grid.tolist(),
        "grid_counts": grid_counts.tolist(),
    }


def _text_profile(column: Any) -> dict[str, Any]:
    counts = column.value_counts().to_pylist()
    missing = column.null_count
    ranked = sorted(
        ((item["values"], item["counts"]) for item in counts if item["values"] is not None),
        key=lambda pair: (-pair[1], pair[0]),
    )
    kept = dict(ranked[:MAX_CATEGORIES])
    other = sum(count for _, count in ranked[MAX_CATEGORIES:])
    return {"kind": "category", "rows": len(column), "missing": int(missing),
            "categories": kept, "other": int(other)}  # fmt: skip


def sample_indices(rows: int) -> np.ndarray:
    """The rows of the exact sample (up to ``SAMPLE_ROWS``, fixed seed), in order."""
    chosen = np.random.default_rng(SEED).choice(rows, size=min(rows, SAMPLE_ROWS), replace=False)
    chosen.sort()
    return chosen


def build_reference(
    table: pa.Table, features: list[str], *, image: bool, dataset: str, ranges: dict[str, Any]
) -> dict[str, Any]:
    """The reference profile of ``table``'s ``features`` (see the module)."""
    rows = table.num_rows
    chosen = sample_indices(rows)
    values = feature_values(table, features, image)
    sampled = feature_values(table.take(pa.array(chosen)), features, image)
    profiles: dict[str, Any] = {}
    for name, column in values.items():
        if isinstance(column, np.ndarray):
            profiles[name] = _numeric_profile(column, sampled[name])
            if name in ranges:
                profiles[name]["dictionary_range"] = ranges[name]
        else:
            profiles[name] = _text_profile(column)
    return {
        "dataset": dataset,
        "rows": rows,
        "sample_rows": len(chosen),
        "seed": SEED,
        "image": image,
        "columns": list(features),
        "features": profiles,
    }
