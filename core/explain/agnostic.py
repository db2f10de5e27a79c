"""Model-agnostic SHAP (Permutation, Kernel, Partition) with ONNX Runtime as the model.

shap calls the model with many perturbed copies of each row; every call is handed to
ONNX Runtime in large batches, so the time goes into the model and not into Python.
The cost is estimated before a run from the number of model rows an explainer will ask
for and the measured time per row.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from modeldesk.debug.feeds import FeedPlan, feeds_from_matrix
from modeldesk.debug.predict import output_positions, probability_matrix
from modeldesk.errors import BadInputError
from modeldesk.progress import ProgressCallback, check_cancel, no_progress

__all__ = [
    "AGNOSTIC_METHODS",
    "CostEstimate",
    "ModelFunction",
    "agnostic_shap_values",
    "estimate_cost",
]

AGNOSTIC_METHODS = ("permutation", "kernel", "partition")
# Rows per ONNX Runtime call: large enough that per-call overhead vanishes.
CALL_ROWS = 65_536
KERNEL_CENTRES = 50
# shap compiles its masking kernels with numba on first use in a process (they cannot be
# cached on disk: loading shap's cached partition kernels crashed here), which costs
# seconds before the first model-agnostic explanation.
COMPILE_S = 10.0
_compiled = False


class ModelFunction:
    """``f(matrix) -> outputs``: a model version as a function for shap, timed."""

    def __init__(self, session: Any, plan: FeedPlan, labels: list[str]) -> None:
        self.session = session
        self.plan = plan
        self.labels = labels
        self.probability_at, self.value_at = output_positions(plan.model)
        self.ort_seconds = 0.0
        self.rows_evaluated = 0

    @property
    def output_names(self) -> list[str]:
        """What each output column is (class names, or the model's value output)."""
        if self.probability_at is not None:
            return list(self.labels)
        return [self.plan.model.outputs[self.value_at or 0].name]

    def __call__(self, matrix: np.ndarray) -> np.ndarray:
        matrix = np.asarray(matrix, dtype=np.float64).reshape(len(matrix), -1)
        parts = []
        for start in range(0, len(matrix), CALL_ROWS):
            feeds = feeds_from_matrix(self.plan, matrix[start : start + CALL_ROWS])
            started = time.perf_counter()
            results = self.session.run(None, feeds)
            self.ort_seconds += time.perf_counter() - started
            if self.probability_at is not None:
                matrix = probability_matrix(results[self.probability_at], self.labels)
                if not self.labels:  # no class names recorded: number the columns
                    self.labels = [str(index) for index in range(matrix.shape[1])]
                parts.append(matrix)
            else:
                value = np.asarray(results[self.value_at or 0], dtype=np.float64)
                parts.append(value.reshape(len(value), -1)[:, :1])
        self.rows_evaluated += len(matrix)
        return np.concatenate(parts).astype(np.float64)


@dataclass(frozen=True)
class CostEstimate:
    """How long an explanation should take, before it runs."""

    method: str
    model_rows: int  # rows the model will be asked to predict
    seconds_per_row: float
    seconds: float

    def describe(self) -> str:
        """One line for a confirmation prompt."""
        return (
            f"{self.method}: about {self.model_rows:,} model evaluations, "
            f"~{self.seconds:.0f} s at {self.seconds_per_row * 1e6:.1f} µs each"
        )


def _max_evals(method: str, features: int) -> int:
    if method == "permutation":
        return max(500, 2 * features + 1)
    if method == "kernel":
        return 2 * features + 2048
    return max(500, 2 * features + 1)


def _rows_per_eval(method: str, background: int) -> int:
    # Permutation and Kernel blend every masked sample with each background row; the
    # image masker fills masked pixels with a blur of the row itself.
    if method == "partition":
        return 1
    if method == "kernel":
        return min(background, KERNEL_CENTRES)
    return background


def estimate_cost(
    function: ModelFunction, method: str, rows: int, features: int, background: np.ndarray
) -> CostEstimate:
    """Time a batch through the model and scale it to the explainer's evaluations."""
    probe = np.resize(background, (min(2048, max(256, len(background))), background.shape[1]))
    function(probe[:16])  # warm the session
    started = time.perf_counter()
    function(probe)
    per_row = (time.perf_counter() - started) / len(probe)
    model_rows = rows * _max_evals(method, features) * _rows_per_eval(method, len(background))
    overhead = 0.0 if _compiled else COMPILE_S
    return CostEstimate(method, model_rows, per_row, model_rows * per_row + overhead)


def agnostic_shap_values(
    function: ModelFunction,
    rows: np.ndarray,
    background: np.ndarray,
    *,
    method: str,
    seed: int,
    image: tuple[int, int] | None = None,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """SHAP values (rows x features x outputs) and base values (rows x outputs).

    Rows go through the explainer a few at a time so progress moves and cancel is
    honoured between them. Base values are per row because the image masker's
    "all hidden" input is a blur of each row itself.
    """
    import shap

    global _compiled
    features = rows.shape[1]
    if method == "partition":
        if image is None:
            raise BadInputError("the partition method needs image rows (pixel_ROW_COL columns)")
        height, width = image
        # Hidden pixels take the background's mean image (shap's blur masker needs OpenCV).
        mean_image = background.mean(axis=0).reshape(height, width, 1)
        masker = shap.maskers.Image(mean_image, (height, width, 1))

        def model(batch: np.ndarray) -> np.ndarray:
            return function(np.asarray(batch).reshape(len(batch), -1))

        explainer = shap.PartitionExplainer(model, masker, output_names=function.output_names)
        shaped = rows.reshape(len(rows), height, width, 1)
    elif method == "kernel":
        centres = (
            shap.kmeans(background, KERNEL_CENTRES)
            if len(background) > KERNEL_CENTRES
            else background
        )
        explainer = shap.KernelExplainer(function, centres)
        shaped = rows
    elif method == "permutation":
        masker = shap.maskers.Independent(background, max_samples=len(background))
        explainer = shap.PermutationExplainer(function, masker, seed=seed)
        shaped = rows
    else:
        raise BadInputError(f"unknown model-agnostic method {method!r}")
    step = max(1, min(64, len(rows) // 20 or 1))
    evals = _max_evals(method, features)
    values, bases = [], []
    # KernelExplainer draws from numpy's global generator: seed it, then put it back.
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        for start in range(0, len(rows), step):
            check_cancel(cancel, "explaining")
            part = shaped[start : start + step]
            if method == "kernel":
                raw = explainer.shap_values(part, nsamples=evals, silent=True)
                values.append(np.asarray(raw).reshape(len(part), features, -1))
                base = np.atleast_1d(np.asarray(explainer.expected_value, dtype=np.float64))
                bases.append(np.tile(base, (len(part), 1)))
            else:
                result = explainer(part, max_evals=evals, silent=True)
                values.append(np.asarray(result.values).reshape(len(part), features, -1))
                bases.append(np.asarray(result.base_values).reshape(len(part), -1))
            progress(min(start + step, len(rows)), len(rows), "explaining rows")
    finally:
        np.random.set_state(saved)
    _compiled = True
    return np.concatenate(values).astype(np.float64), np.concatenate(bases).astype(np.float64)
