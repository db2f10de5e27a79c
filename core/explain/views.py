"""What the explanation plots draw, computed from an :class:`Explanation` (no Qt here).

Each function returns plain arrays a widget can hand to a plot: the beeswarm's jittered
positions and colour groups, the dependence plot's points with the feature that interacts
most, and one row's waterfall.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from modeldesk.explain.result import Explanation
from modeldesk.progress import ProgressCallback, no_progress

__all__ = [
    "Beeswarm",
    "Dependence",
    "ViewData",
    "Waterfall",
    "beeswarm",
    "dependence",
    "explain_view",
    "feature_order",
    "view_data",
    "waterfall",
    "waterfall_of",
]

COLOUR_GROUPS = 16


def feature_order(explanation: Explanation, output: int) -> np.ndarray:
    """Feature indexes by mean |SHAP| of ``output``, largest first."""
    return np.argsort(-explanation.mean_abs(output), kind="stable")


@dataclass
class Beeswarm:
    """Points of a beeswarm: x = SHAP value, y = feature lane plus jitter."""

    x: np.ndarray
    y: np.ndarray
    row: np.ndarray  # position in the explanation's rows of each point
    group: np.ndarray  # colour group 0..COLOUR_GROUPS-1 (low..high feature value), -1 = missing
    lanes: list[str]  # feature names, top lane first (lane i sits at y = -i)


def beeswarm(explanation: Explanation, output: int, max_features: int = 20) -> Beeswarm:
    """Lay out a beeswarm of the ``max_features`` most important features.

    Points pile up where values are dense, as in shap's beeswarm: each point's jitter
    grows with how many points share its value bin, so a lane's outline shows density.
    """
    order = feature_order(explanation, output)[:max_features]
    rows = len(explanation.rows)
    xs, ys, groups, row_ids = [], [], [], []
    rng = np.random.default_rng(0)
    for lane, feature in enumerate(order):
        values = explanation.values[:, feature, output]
        bins = np.digitize(values, np.linspace(values.min(), values.max() + 1e-12, 100))
        counts = np.bincount(bins, minlength=101)
        crowd = counts[bins] / max(counts.max(), 1)
        jitter = (rng.random(rows) - 0.5) * 0.8 * np.sqrt(crowd)
        xs.append(values)
        ys.append(-lane + jitter)
        groups.append(_colour_groups(explanation.data[:, feature]))
        row_ids.append(np.arange(rows))
    names = [explanation.feature_names[i] for i in order]
    if not xs:
        empty = np.zeros(0)
        return Beeswarm(empty, empty, empty.astype(int), empty.astype(int), names)
    return Beeswarm(
        np.concatenate(xs), np.concatenate(ys), np.concatenate(row_ids),
        np.concatenate(groups), names,
    )  # fmt: skip


def _colour_groups(values: np.ndarray) -> np.ndarray:
    """Each value's colour group by rank (robust to outliers); NaN gets -1."""
    groups = np.full(len(values), -1, dtype=np.int64)
    present = np.isfinite(values)
    if present.any():
        low, high = np.nanpercentile(values[present], [5, 95])
        scaled = (
            (values[present] - low) / (high - low) if high > low else np.full(present.sum(), 0.5)
        )
        groups[present] = np.clip((scaled * COLOUR_GROUPS).astype(int), 0, COLOUR_GROUPS - 1)
    return groups


@dataclass
class Dependence:
    """A dependence plot: the feature's value against its SHAP value."""

    feature: str
    x: np.ndarray
    y: np.ndarray
    colour_feature: str | None
    group: np.ndarray  # colour groups of the interacting feature's value


def dependence(explanation: Explanation, feature: int, output: int) -> Dependence:
    """Points for ``feature``, coloured by the feature that interacts with it most.

    The interacting feature is shap's ``approximate_interactions`` pick: the one whose
    value best explains the spread of this feature's SHAP values at equal feature value.
    """
    from shap.utils import approximate_interactions

    values = explanation.values[:, :, output]
    colour = None
    group = np.full(len(values), -1, dtype=np.int64)
    if explanation.values.shape[1] > 1 and len(values) > 1:
        ranked = approximate_interactions(feature, values, explanation.data)
        candidates = [int(i) for i in ranked if int(i) != feature]
        if candidates:
            colour = candidates[0]
            group = _colour_groups(explanation.data[:, colour])
    return Dependence(
        explanation.feature_names[feature],
        explanation.data[:, feature],
        values[:, feature],
        explanation.feature_names[colour] if colour is not None else None,
        group,
    )


@dataclass
class Waterfall:
    """One row's path from the base value to its output, biggest contributions first."""

    row: int  # the dataset row number
    base: float
    output: float
    labels: list[str]  # "feature = value", or "N other features"
    contributions: np.ndarray
    starts: np.ndarray  # where each bar starts (the running total before it)


def waterfall(explanation: Explanation, position: int, output: int, shown: int = 12) -> Waterfall:
    """The waterfall of the explanation's ``position``-th row for ``output``."""
    return waterfall_of(
        explanation.values[position, :, output],
        explanation.feature_names,
        explanation.data[position],
        float(explanation.base_values[position, output]),
        int(explanation.rows[position]),
        shown=shown,
    )


def waterfall_of(
    values: Any,
    names: list[str],
    data: Any,
    base: float,
    row: int,
    *,
    shown: int = 12,
    order: Any = None,
) -> Waterfall:
    """One row's waterfall from its SHAP ``values`` and feature ``data``: the biggest
    contributions first, or in ``order`` (another row's, to read two side by side)."""
    values = np.asarray(values, dtype=np.float64)
    data = np.asarray(data, dtype=np.float64)
    if order is None:
        order = np.argsort(-np.abs(values), kind="stable")
    order = np.asarray(order)
    top, rest = order[:shown], order[shown:]
    labels = [f"{names[i]} = {_short(data[i])}" for i in top]
    contributions = list(values[top])
    if len(rest):
        labels.append(f"{len(rest)} other features")
        contributions.append(float(values[rest].sum()))
    amounts = np.asarray(contributions, dtype=np.float64)
    starts = base + np.concatenate([[0.0], np.cumsum(amounts)[:-1]])
    return Waterfall(row, base, base + float(values.sum()), labels, amounts, starts)


def _short(value: float) -> str:
    if not np.isfinite(value):
        return "missing"
    return f"{value:.4g}"


@dataclass
class ViewData:
    """Everything the Explain page draws for one output, computed off the GUI thread."""

    explanation: Explanation
    output: int
    importance: list[tuple[str, float]]  # largest first
    beeswarm: Beeswarm
    dependence: Dependence


def view_data(
    explanation: Explanation, output: int | None = None, feature: int | None = None
) -> ViewData:
    """Lay out every plot of ``explanation`` for ``output`` (default: class 1 or the only one).

    ``feature`` picks the dependence plot's feature (default: the most important one).
    """
    output = explanation.output_index(output)
    order = feature_order(explanation, output)
    means = explanation.mean_abs(output)
    importance = [(explanation.feature_names[i], float(means[i])) for i in order]
    chosen = int(order[0]) if feature is None else feature
    return ViewData(
        explanation,
        output,
        importance,
        beeswarm(explanation, output),
        dependence(explanation, chosen, output),
    )


def explain_view(
    catalog: Any,
    model_ref: str,
    data_ref: str,
    *,
    output: int | None = None,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
    **options: Any,
) -> ViewData:
    """Explain (or read the cached explanation) and lay out its plots: one GUI job."""
    from modeldesk.explain.run import explain

    result = explain(catalog, model_ref, data_ref, progress=progress, cancel=cancel, **options)
    return view_data(result, output)
