"""Triage: which rows of a capture to look at first, each beside its nearest training row.

Every row gets three signals: its parity error (the largest error over its tolerance),
how many features lie outside the training data's range, and the model's uncertainty
(one minus its top probability; classifiers only). Rows beyond parity tolerance come
first (the device computed something else there); within each group rows are ranked by
the mean of their percentile ranks on the three signals, so no signal's units drown the
others. For the top
rows the nearest training row (Euclidean distance in training standard deviations) is
found, and both are explained with SHAP as the model version's explanations are (its
method and background), so a field row's waterfall can be read beside the lab's.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from modeldesk.catalog.store import Catalog
from modeldesk.errors import MissingExtraError
from modeldesk.field.registry import capture_table, get_capture
from modeldesk.progress import ProgressCallback, no_progress

__all__ = ["DEFAULT_TOP", "triage"]

DEFAULT_TOP = 10
DISTANCE_CHUNK = 65_536


def _ranks(values: np.ndarray) -> np.ndarray:
    """Percentile ranks in [0, 1], ties sharing their average rank."""
    from modeldesk.debug.metrics import average_ranks

    if len(values) < 2:
        return np.zeros(len(values))
    return (average_ranks(values) - 1) / (len(values) - 1)


def _outside(matrix: np.ndarray, reference: dict[str, Any], names: list[str]) -> np.ndarray:
    low = np.array([reference["features"][n].get("min", -np.inf) for n in names])
    high = np.array([reference["features"][n].get("max", np.inf) for n in names])
    return (matrix < low) | (matrix > high)


def _nearest(train: np.ndarray, rows: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, ...]:
    """For each of ``rows``: the nearest training row and its distance (in std units)."""
    best = np.full(len(rows), np.inf)
    where = np.zeros(len(rows), dtype=np.int64)
    scaled_rows = np.nan_to_num(rows / scale)
    for start in range(0, len(train), DISTANCE_CHUNK):
        part = np.nan_to_num(train[start : start + DISTANCE_CHUNK] / scale)
        distances = ((scaled_rows[:, None, :] - part[None, :, :]) ** 2).sum(axis=2)
        closest = distances.argmin(axis=1)
        found = distances[np.arange(len(rows)), closest]
        better = found < best
        best[better], where[better] = found[better], start + closest[better]
    return where, np.sqrt(best)


def _explained(catalog: Catalog, model: Any, training: str, data: np.ndarray,
               cancel: threading.Event | None) -> tuple[Any, str | None]:  # fmt: skip
    try:
        from modeldesk.explain.plan import plan_explanation
        from modeldesk.explain.run import explain_matrix

        plan = plan_explanation(catalog, model.ref, training, rows="0:1", cancel=cancel)
        return explain_matrix(catalog, plan, data, cancel=cancel), None
    except MissingExtraError as error:
        return None, str(error)


def triage(
    catalog: Catalog,
    capture_id: int,
    *,
    top: int = DEFAULT_TOP,
    bundle: Any = None,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """The ``top`` rows of capture ``capture_id`` to look at first, with their reasons."""
    from modeldesk.datasets.registry import get_dataset_version, read_rows
    from modeldesk.debug.feeds import feature_matrix, feed_plan
    from modeldesk.debug.predict import output_positions
    from modeldesk.field.bundled import bundle_reference
    from modeldesk.field.drift_run import bundled_profile, model_reference
    from modeldesk.field.parity import tolerances_for
    from modeldesk.field.read import CaptureColumns, column_infos
    from modeldesk.field.replay import compare, number, replay

    capture = get_capture(catalog, capture_id)
    model = capture.model
    table = capture_table(catalog, capture)
    limits = tolerances_for(catalog, capture, {})
    names = list(capture.outputs)
    probability_at, _ = output_positions(model)
    probability = model.outputs[probability_at].name if probability_at is not None else None
    wanted = names + ([probability] if probability and probability not in names else [])
    labs = replay(catalog, model, table, wanted, capture_ref=f"#{capture.id}",
                  progress=progress, cancel=cancel)  # fmt: skip
    found = compare(table, capture.outputs, labs, limits["atol"], limits["rtol"])
    plan = feed_plan(model, CaptureColumns(f"#{capture.id}", column_infos(table)), what="capture")
    matrix = feature_matrix(plan, table, 0, table.num_rows)
    bundled = None if bundle is None else bundle_reference(catalog, bundle, model)
    if bundled is not None:
        reference = bundled_profile(bundled, list(plan.columns))
    else:
        reference = model_reference(catalog, model, list(plan.columns))
    # Image models are profiled per image, not per pixel: no pixel is "out of range".
    profiles = reference["features"]
    numeric = [n for n in plan.columns if profiles.get(n, {}).get("kind") == "number"]
    columns = [plan.columns.index(n) for n in numeric]
    outside = _outside(matrix[:, columns], reference, numeric)
    uncertainty = 1 - labs[probability].max(axis=1) if probability else np.zeros(len(matrix))
    excess = np.minimum(np.nan_to_num(found.worst_excess, posinf=1e12), 1e12)
    score = (_ranks(excess) + _ranks(outside.sum(axis=1)) + _ranks(uncertainty)) / 3
    order = np.lexsort((-score, ~found.beyond))[:top]
    if bundled is not None:  # the bundle's exact sample stands in for the training rows
        training = f"{reference['dataset']} (the sample in {Path(bundle).name})"
        train = feature_matrix(plan, bundled.sample, 0, bundled.sample.num_rows)
    else:
        dataset = get_dataset_version(catalog, reference["dataset"])
        training = dataset.ref
        train = feature_matrix(plan, read_rows(catalog, dataset), 0, dataset.rows)
    scale = np.nanstd(train, axis=0)
    scale[~(scale > 0)] = 1.0
    nearest, distance = _nearest(train, matrix[order], scale)
    explanation: Any = None
    why_not: str | None = (
        f"SHAP explanations need the training data {reference['dataset']} in this "
        "catalog (its background); the bundle carries only its profile and sample"
    )
    if bundled is None:
        explanation, why_not = _explained(
            catalog, model, training, np.vstack([matrix[order], train[nearest]]), cancel
        )
    rows = []
    for place, row in enumerate(order.tolist()):
        reasons = []
        if found.beyond[row]:
            reasons.append(f"parity error {number(found.worst_excess[row]):.3g}x tolerance")
        far = [numeric[j] for j in np.flatnonzero(outside[row])] if outside.shape[1] else []
        if far:
            reasons.append(f"outside the training range: {', '.join(far[:5])}")
        if probability:
            reasons.append(f"top probability {1 - uncertainty[row]:.3f}")
        entry: dict[str, Any] = {
            "row": row,
            "timestamp": float(table.column("timestamp")[row].as_py()),
            "score": float(score[row]),
            "parity_ratio": number(found.worst_excess[row]),
            "flipped": bool(found.flipped[row]),
            "features_outside": far,
            "uncertainty": float(uncertainty[row]) if probability else None,
            "reasons": reasons,
            "values": dict(zip(plan.columns, matrix[row].tolist(), strict=True)),
            "nearest_training_row": {
                "dataset": training,
                "row": int(nearest[place]),
                "distance_in_std": float(distance[place]),
                "values": dict(zip(plan.columns, train[nearest[place]].tolist(), strict=True)),
            },
        }
        if explanation is not None:
            output = explanation.output_index(None)
            entry["shap"] = {
                "output": explanation.output_names[output],
                "space": explanation.space,
                "field": explanation.values[place, :, output].tolist(),
                "field_base": float(explanation.base_values[place, output]),
                "nearest": explanation.values[len(order) + place, :, output].tolist(),
                "nearest_base": float(explanation.base_values[len(order) + place, output]),
            }
        rows.append(entry)
    return {
        "capture": capture.id,
        "model": model.ref,
        "rows": table.num_rows,
        "features": list(plan.columns),
        "explanations": None if explanation is None else explanation.method,
        "explanations_missing": why_not,
        "triage": rows,
    }
