"""Where two versions' explanations part, on the rows where their predictions do.

A champion check records the rows on which the candidate and its baseline predict
differently; this explains both versions on those rows (through the explanation cache,
so a second look is free) and ranks the features by how differently the two versions
use them there: the mean over those rows of |SHAP(candidate) - SHAP(baseline)|.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from modeldesk.catalog.store import Catalog
from modeldesk.errors import BadInputError
from modeldesk.explain.result import Explanation
from modeldesk.explain.run import explain
from modeldesk.progress import ProgressCallback, Stage, no_progress

__all__ = ["ExplanationDifference", "explanation_difference"]


@dataclass
class ExplanationDifference:
    """Per feature, each version's mean SHAP on the disagreeing rows and how far apart."""

    candidate: str
    baseline: str
    dataset: str
    rows: list[int]  # the disagreeing dataset rows explained
    output: str  # the output (class) whose values are compared
    spaces: tuple[str, str]
    # feature, mean SHAP (candidate), mean SHAP (baseline), mean |difference|; largest first
    features: list[tuple[str, float, float, float]]

    @property
    def same_space(self) -> bool:
        """False when the two versions' values are in different units (margin, probability)."""
        return self.spaces[0] == self.spaces[1]


def _values_on(result: Explanation, rows: list[int]) -> tuple[np.ndarray, str]:
    """rows x features values of the compared output (class 1 of a binary model)."""
    output = result.output_index(None)
    positions = np.searchsorted(result.rows, rows)
    return result.values[positions, :, output], result.output_names[output]


def explanation_difference(
    catalog: Catalog,
    candidate: str,
    baseline: str,
    data_ref: str,
    rows: list[int],
    *,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
    **options: Any,
) -> ExplanationDifference:
    """Explain ``candidate`` and ``baseline`` on ``rows`` of ``data_ref`` and compare."""
    if not rows:
        raise BadInputError(f"{candidate} and {baseline} agree on every row: nothing to compare")
    chosen = sorted(set(int(row) for row in rows))
    span = f"{chosen[0]}:{chosen[-1] + 1}"  # explanations cover a range of rows
    halves = Stage(progress, 0.0, 0.5), Stage(progress, 0.5, 1.0)
    first = explain(
        catalog, candidate, data_ref, rows=span, progress=halves[0], cancel=cancel, **options
    )
    second = explain(
        catalog, baseline, data_ref, rows=span, progress=halves[1], cancel=cancel, **options
    )
    new, output = _values_on(first, chosen)
    old, _ = _values_on(second, chosen)
    shared = [name for name in first.feature_names if name in second.feature_names]
    features = []
    for name in shared:
        a = new[:, first.feature_names.index(name)]
        b = old[:, second.feature_names.index(name)]
        features.append((name, float(a.mean()), float(b.mean()), float(np.abs(a - b).mean())))
    features.sort(key=lambda item: -item[3])
    return ExplanationDifference(
        candidate, baseline, data_ref, chosen, output, (first.space, second.space), features
    )
