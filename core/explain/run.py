"""``explain``: SHAP values of a model version on a dataset version, cached by input.

The request is planned (:mod:`modeldesk.explain.plan`), the background is drawn from the
model's training dataset version, and the result is stored under a key made of every
input, so asking twice costs one catalog read.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from modeldesk.catalog.derived import has_derived, load_derived, store_derived
from modeldesk.catalog.store import Catalog
from modeldesk.datasets.registry import read_rows
from modeldesk.debug.feeds import feature_matrix, feed_plan
from modeldesk.debug.predict import open_session
from modeldesk.errors import BadInputError
from modeldesk.explain.agnostic import (
    CostEstimate,
    ModelFunction,
    agnostic_shap_values,
    estimate_cost,
)
from modeldesk.explain.options import DEFAULT_BACKGROUND
from modeldesk.explain.plan import ExplainPlan, plan_explanation
from modeldesk.explain.result import Explanation
from modeldesk.explain.trees import TreeEnsemble
from modeldesk.progress import ProgressCallback, Stage, no_progress

__all__ = ["check_additivity", "estimate", "estimate_request", "explain", "explain_matrix"]

_SPACES = {"LOGISTIC": "margin (log-odds)", "SOFTMAX": "margin (softmax logits)"}
# Tree values are checked against ONNX Runtime on this many rows, to within this
# fraction of the margin's scale (float32 sums over many trees round at about 1e-6).
ADDITIVITY_ROWS = 64
ADDITIVITY_TOLERANCE = 1e-4


def _background(catalog: Catalog, plan: ExplainPlan) -> tuple[np.ndarray, np.ndarray]:
    """The background rows (sampled with the seed, or all) and all of the source's rows."""

    source = plan.background_dataset
    table = read_rows(catalog, source)
    every = feature_matrix(feed_plan(plan.model, source), table, 0, source.rows)
    if plan.background == "all" or int(plan.background) >= len(every):
        return every, every
    rng = np.random.default_rng(plan.seed)
    chosen = np.sort(rng.choice(len(every), size=int(plan.background), replace=False))
    return every[chosen], every


def estimate(catalog: Catalog, plan: ExplainPlan) -> CostEstimate | None:
    """The model-agnostic cost (None for tree methods, which are cheap to run)."""
    if plan.method == "tree":
        return None
    background, _ = _background(catalog, plan)
    with catalog.blobs.scratch("explain") as scratch:
        function = _function(catalog, plan, scratch)
        return estimate_cost(
            function, plan.method, plan.stop - plan.start, len(plan.feeds.columns), background
        )


def estimate_request(
    catalog: Catalog,
    model_ref: str,
    data_ref: str,
    *,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
    **options: Any,
) -> CostEstimate | None:
    """Check a request and estimate its cost (None for the cheap tree method or a cached one)."""
    plan = plan_explanation(catalog, model_ref, data_ref, **options)
    if has_derived(catalog, plan.key):
        return None
    return estimate(catalog, plan)


def _function(catalog: Catalog, plan: ExplainPlan, scratch: Path) -> ModelFunction:
    labels = [str(label) for label in (plan.model.facts.class_names or [])]
    return ModelFunction(open_session(catalog, plan.model, scratch), plan.feeds, labels)


def explain(
    catalog: Catalog,
    model_ref: str,
    data_ref: str,
    *,
    rows: str | int | None = None,
    method: str = "auto",
    perturbation: str = "interventional",
    background: int | str = DEFAULT_BACKGROUND,
    seed: int = 0,
    plan: ExplainPlan | None = None,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> Explanation:
    """SHAP values of ``model_ref`` on rows of ``data_ref`` (see the module docstring).

    A cancelled run raises ``Cancelled`` and stores nothing.
    """

    plan = plan or plan_explanation(
        catalog,
        model_ref,
        data_ref,
        rows=rows,
        method=method,
        perturbation=perturbation,
        background=background,
        seed=seed,
        cancel=cancel,
    )
    cached = load_derived(catalog, plan.key)
    if cached is not None:
        return Explanation.from_bytes(cached)
    started = time.perf_counter()
    progress(0, 1, "reading rows")
    table = read_rows(catalog, plan.dataset)
    data = feature_matrix(plan.feeds, table, plan.start, plan.stop)
    background_rows, every = _background(catalog, plan)
    stage = Stage(progress, 0.05, 1.0)
    if plan.method == "tree":
        result = _explain_trees(plan, data, background_rows, every, stage, cancel)
    else:
        result = _explain_agnostic(catalog, plan, data, background_rows, stage, cancel)
    result.seconds = time.perf_counter() - started
    store_derived(
        catalog,
        plan.key,
        kind="explanation",
        model_version_id=plan.model.id,
        dataset_version_id=plan.dataset.id,
        params={
            "rows": [plan.start, plan.stop],
            "method": plan.method,
            "perturbation": plan.perturbation,
            "background": plan.background,
            "seed": plan.seed,
        },
        data=result.to_bytes(),
        summary={"space": result.space, "outputs": result.output_names},
        seconds=result.seconds,
    )
    return result


def explain_matrix(
    catalog: Catalog,
    plan: ExplainPlan,
    data: np.ndarray,
    *,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> Explanation:
    """SHAP values of rows that are not in a dataset version (a field capture's), as
    ``plan`` decided (its method, background and perturbation); nothing is stored.
    ``data`` holds the plan's feature columns; the result's ``rows`` number it from 0."""
    background_rows, every = _background(catalog, plan)
    if plan.method == "tree":
        result = _explain_trees(plan, data, background_rows, every, progress, cancel)
    else:
        result = _explain_agnostic(catalog, plan, data, background_rows, progress, cancel)
    result.rows = np.arange(len(data), dtype=np.int64)
    return result


def _explain_trees(
    plan: ExplainPlan,
    data: np.ndarray,
    background: np.ndarray,
    every: np.ndarray,
    progress: ProgressCallback,
    cancel: threading.Event | None,
) -> Explanation:
    from modeldesk.explain.tree_shap import tree_shap_values

    ensemble = plan.ensemble
    assert ensemble is not None
    interventional = plan.perturbation == "interventional"
    # Path-dependent TreeSHAP weighs each split by how much training data went each way.
    covers = ensemble.covers(background if interventional else every, cancel)
    rows = data.astype(ensemble.threshold_dtype)
    shap_values = tree_shap_values(
        ensemble.shap_model(covers),
        rows,
        perturbation="interventional" if interventional else "tree_path_dependent",
        background=background.astype(ensemble.threshold_dtype) if interventional else None,
        progress=progress,
        cancel=cancel,
    )
    check_additivity(plan, ensemble, rows, shap_values.values, shap_values.base)
    notes = []
    if not interventional:
        notes.append(
            f"node covers counted from the {len(every)} rows of {plan.background_dataset.ref}"
        )
    result = _result(
        plan,
        data,
        shap_values.values,
        np.tile(shap_values.base, (len(data), 1)),
        _SPACES.get(ensemble.post_transform, "margin (raw value)"),
        ensemble.output_names,
        len(background) if interventional else len(every),
        notes,
    )
    result.workers = shap_values.workers
    return result


def check_additivity(
    plan: ExplainPlan,
    ensemble: TreeEnsemble,
    rows: np.ndarray,
    values: np.ndarray,
    base: np.ndarray,
) -> None:
    """Refuse tree values that do not add up to ONNX Runtime's own margin.

    On a sample of rows, base + sum of values must equal the margin that ONNX Runtime
    computes from the model's own ensemble node (independently of how the trees were read
    here); if not, the reading is wrong and nothing may be stored.
    """
    from modeldesk.explain.margin import margin_session

    sample = np.unique(np.linspace(0, len(rows) - 1, min(len(rows), ADDITIVITY_ROWS)).astype(int))
    margin = margin_session(ensemble).run(None, {"X": rows[sample]})[0].astype(np.float64)
    total = base + values[sample].sum(axis=1)
    tolerance = ADDITIVITY_TOLERANCE * max(1.0, float(np.abs(margin).max()))
    error = np.abs(total - margin)
    if not np.all(error <= tolerance):
        worst, output = np.unravel_index(int(np.argmax(error)), error.shape)
        raise BadInputError(
            f"model {plan.model.ref}: the tree SHAP values of row "
            f"{plan.start + int(sample[worst])} add up to {total[worst, output]:.6g}, but ONNX "
            f"Runtime's margin is {margin[worst, output]:.6g}; the trees were not read "
            "correctly, so the values are refused (nothing stored)"
        )


def _explain_agnostic(
    catalog: Catalog,
    plan: ExplainPlan,
    data: np.ndarray,
    background: np.ndarray,
    progress: ProgressCallback,
    cancel: threading.Event | None,
) -> Explanation:
    with catalog.blobs.scratch("explain") as scratch:
        function = _function(catalog, plan, scratch)
        outputs = function(data)
        bad = ~np.isfinite(outputs).all(axis=1)
        if bad.any():
            first = plan.start + int(np.argmax(bad))
            raise BadInputError(
                f"model {plan.model.ref} gives no prediction for {int(bad.sum())} of the rows "
                f"to explain in {plan.dataset.ref} (first: row {first}); they hold missing "
                "values it cannot take"
            )
        values, base = agnostic_shap_values(
            function,
            data,
            background,
            method=plan.method,
            seed=plan.seed,
            image=plan.image,
            progress=progress,
            cancel=cancel,
        )
    space = "probability" if function.probability_at is not None else "model output"
    notes = []
    if plan.method == "partition":
        notes.append("hidden pixels take the background's mean image")
    result = _result(plan, data, values, base, space, function.output_names, len(background), notes)
    result.model_seconds = function.ort_seconds
    return result


def _result(
    plan: ExplainPlan,
    data: np.ndarray,
    values: np.ndarray,
    base: np.ndarray,
    space: str,
    outputs: list[str],
    background_rows: int,
    notes: list[str],
) -> Explanation:
    names = list(outputs)
    if plan.model.classes and len(plan.model.classes) == len(names):
        names = list(plan.model.classes)  # the version's class names, when they fit
    elif plan.model.classes and len(names) == 1 and len(plan.model.classes) == 2:
        names = [plan.model.classes[1]]
    return Explanation(
        model=plan.model.ref,
        dataset=plan.dataset.ref,
        method=plan.method,
        perturbation=plan.perturbation,
        space=space,
        feature_names=list(plan.feeds.columns),
        output_names=[str(name) for name in names],
        rows=np.arange(plan.start, plan.stop, dtype=np.int64),
        values=values,
        base_values=base,
        data=data,
        background_rows=background_rows,
        seed=plan.seed,
        notes=notes,
    )
