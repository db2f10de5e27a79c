"""Parity: replay a capture's inputs through the exact model here and compare outputs.

Per output and row, the error is judged as ``numpy.isclose`` does: a value is beyond
tolerance when ``|device - lab| > atol + rtol * |lab|`` (or one side is NaN and the
other not). The relative error divides by ``max(|lab|, atol)``: below ``atol`` the lab
value is zero for this purpose, so a tiny value does not make a huge relative error.
A decision flips when the class (argmax of a probability output, or the label output)
differs, or a single probability lands on the other side of 0.5.

The capture is a sample of what the device does: the shares of rows beyond tolerance
and of flipped decisions carry Wilson intervals, and each is PASS only when its whole
interval is within the limit (``max_flip_rate``), FAIL when wholly above, else
INCONCLUSIVE.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import numpy as np

from modeldesk.catalog.store import Catalog
from modeldesk.field.registry import Capture, capture_table, get_capture
from modeldesk.progress import ProgressCallback, check_cancel, no_progress

__all__ = ["BATCH_ROWS", "WORST_ROWS", "parity", "tolerances_for"]

BATCH_ROWS = 65_536
WORST_ROWS = 20
TIME_WINDOWS = 12
QUANTILES = (0.5, 0.9, 0.99)


def tolerances_for(
    catalog: Catalog, capture: Capture, overrides: dict[str, float | None]
) -> dict[str, Any]:
    """``atol``, ``rtol``, ``max_flip_rate`` from the capture's profile, then the flags."""
    from modeldesk.bench.profiles import Profile, get_profile
    from modeldesk.errors import NotFoundError

    source = "the fp32 defaults (the capture names no profile)"
    profile = Profile("defaults")
    if capture.profile:
        try:
            profile = get_profile(catalog, capture.profile)
            source = f"profile {profile.name} ({profile.precision})"
        except NotFoundError:
            source = f"the fp32 defaults (profile {capture.profile!r} is not in this catalog)"
    tolerances: dict[str, Any] = dict(profile.parity_tolerances())
    given = {key: value for key, value in overrides.items() if value is not None}
    tolerances.update(given)
    if given:
        source += "; " + ", ".join(
            f"--{key.replace('_', '-')} {value}" for key, value in given.items()
        )
    return {**tolerances, "source": source}


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
    shown = {f"p{int(q * 100)}": _number(p) for q, p in zip(QUANTILES, points, strict=True)}
    return shown | {
        "max": _number(values.max()) if values.size else None,
        "mean": _number(finite.mean()) if finite.size else None,
    }


def _number(value: Any) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else (None if np.isnan(value) else value)


def _judged(count: int, rows: int, limit: float) -> dict[str, Any]:
    from modeldesk.delivery_stats import CONFIDENCE, wilson_interval
    from modeldesk.validate.stats import Interval, verdict_at_most

    interval = wilson_interval(count, rows) or [0.0, 1.0]
    share = count / rows if rows else 0.0
    verdict = verdict_at_most(Interval(share, interval[0], interval[1], CONFIDENCE, 0), limit)
    return {"count": count, "rows": rows, "share": share, "interval": interval,
            "confidence": CONFIDENCE, "limit": limit, "verdict": verdict}  # fmt: skip


def _groups(keys: np.ndarray, beyond: np.ndarray, flipped: np.ndarray, worst: np.ndarray):
    for key in dict.fromkeys(keys.tolist()):
        chosen = keys == key
        yield (
            key,
            {
                "rows": int(chosen.sum()),
                "beyond": int(beyond[chosen].sum()),
                "flips": int(flipped[chosen].sum()),
                "max_abs_error": _number(worst[chosen].max()),
            },
        )


def _worst(row: int, seconds: np.ndarray, worst_abs: np.ndarray, excess: np.ndarray,
           beyond: np.ndarray, flipped: np.ndarray) -> dict[str, Any]:  # fmt: skip
    return {
        "row": int(row),
        "timestamp": float(seconds[row]),
        "max_abs_error": _number(worst_abs[row]),
        "tolerance_ratio": _number(excess[row]),
        "beyond": bool(beyond[row]),
        "flipped": bool(flipped[row]),
    }


def parity(
    catalog: Catalog,
    capture_id: int,
    *,
    atol: float | None = None,
    rtol: float | None = None,
    max_flip_rate: float | None = None,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """Replay capture ``capture_id`` through its model with ONNX Runtime; compare."""
    from modeldesk.debug.feeds import feed_plan, make_feeds
    from modeldesk.debug.predict import session_in
    from modeldesk.field.read import CaptureColumns, column_infos
    from modeldesk.validate.stats import combine_verdicts

    capture = get_capture(catalog, capture_id)
    model = capture.model
    limits = tolerances_for(
        catalog, capture, {"atol": atol, "rtol": rtol, "max_flip_rate": max_flip_rate}
    )
    table = capture_table(catalog, capture)
    rows = table.num_rows
    plan = feed_plan(model, CaptureColumns(capture.name, column_infos(table)), what="capture")
    names = list(capture.outputs)
    labels = list(model.classes or model.facts.class_names or [])
    lab_parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
    with contextlib.ExitStack() as stack:
        session = session_in(catalog, model, stack)
        for start in range(0, rows, BATCH_ROWS):
            check_cancel(cancel, f"replaying capture #{capture.id}")
            stop = min(start + BATCH_ROWS, rows)
            results = session.run(names, make_feeds(plan, table, start, stop))
            for name, value in zip(names, results, strict=True):
                lab_parts[name].append(_lab_values(value, labels, stop - start))
            progress(stop, rows, f"replaying through {model.ref}")
    beyond = np.zeros(rows, dtype=bool)
    flipped = np.zeros(rows, dtype=bool)
    worst_excess = np.zeros(rows)
    worst_abs = np.zeros(rows)
    outputs: dict[str, Any] = {}
    for name in names:
        lab = np.concatenate(lab_parts[name])
        device = _device_values(table, name, capture.outputs[name])
        compared = _compare(device, lab, limits["atol"], limits["rtol"])
        how = _decision(lab)
        flips = _flips(device, lab, how)
        over = compared["excess"] > 1.0
        beyond |= over
        if flips is not None:
            flipped |= flips
        worst_excess = np.maximum(worst_excess, compared["excess"])
        worst_abs = np.maximum(worst_abs, compared["abs"])
        outputs[name] = {
            "values_per_row": capture.outputs[name],
            "decision": how,
            "abs_error": _distribution(compared["abs"]),
            "rel_error": _distribution(compared["rel"]),
            "beyond_tolerance": int(over.sum()),
            "flips": None if flips is None else int(flips.sum()),
        }
    seconds = table.column("timestamp").to_numpy()
    edges = np.linspace(seconds[0], seconds[-1], TIME_WINDOWS + 1)
    window = np.clip(np.searchsorted(edges, seconds, side="right") - 1, 0, TIME_WINDOWS - 1)
    devices = (
        np.asarray(table.column("device").cast("string").fill_null("").to_pylist(), dtype=object)
        if "device" in table.column_names
        else np.full(rows, capture.device or "", dtype=object)
    )
    order = np.argsort(-worst_excess, kind="stable")[:WORST_ROWS]
    checks = {
        "beyond_tolerance": _judged(int(beyond.sum()), rows, limits["max_flip_rate"]),
        "flips": _judged(int(flipped.sum()), rows, limits["max_flip_rate"]),
    }
    return {
        "capture": capture.id,
        "model": model.ref,
        "model_sha256": model.sha256,
        "release": capture.release_id,
        "rows": rows,
        "tolerances": limits,
        "outputs": outputs,
        "checks": checks,
        "verdict": combine_verdicts([check["verdict"] for check in checks.values()]),
        "by_window": [
            {"start": float(edges[key]), "end": float(edges[key + 1]), **figures}
            for key, figures in sorted(_groups(window, beyond, flipped, worst_abs))
        ],
        "by_device": [
            {"device": key or None, **figures}
            for key, figures in _groups(devices, beyond, flipped, worst_abs)
        ],
        "worst_rows": [
            _worst(row, seconds, worst_abs, worst_excess, beyond, flipped)
            for row in order
            if worst_excess[row] > 0
        ],
    }
