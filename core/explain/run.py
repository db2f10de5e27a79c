"""``explain``: SHAP values of a model version on a dataset version, cached by input.

The method is chosen (``auto``: exact TreeSHAP when the model is one ONNX tree ensemble
over its input columns, the Partition explainer with an image masker for pixel data,
Permutation otherwise), the background is drawn from the model's training dataset
version, and the result is stored under a key made of every input, so asking twice
costs one catalog read.
"""

from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from core.catalog.derived import derived_key, has_derived, load_derived, store_derived
from core.catalog.store import Catalog
from core.datasets.registry import DatasetVersion, get_dataset_version
from core.debug.feeds import FeedPlan, feature_matrix, feed_plan, image_shape
from core.debug.predict import open_session
from core.errors import BadInputError
from core.explain.agnostic import (
    CostEstimate,
    ModelFunction,
    agnostic_shap_values,
    estimate_cost,
)
from core.explain.options import DEFAULT_BACKGROUND, DEFAULT_ROWS, METHODS, PERTURBATIONS
from core.explain.result import Explanation
from core.explain.trees import TreeEnsemble, TreeNotApplicable, find_tree_ensemble
from core.models.registry import ModelVersion, get_model_version
from core.progress import ProgressCallback, Stage, no_progress

__all__ = [
    "DEFAULT_BACKGROUND",
    "DEFAULT_ROWS",
    "METHODS",
    "PERTURBATIONS",
    "ExplainPlan",
    "compare_importance",
    "estimate",
    "estimate_request",
    "explain",
    "plan_explanation",
]

_SPACES = {"LOGISTIC": "margin (log-odds)", "SOFTMAX": "margin (softmax logits)"}


@dataclass
class ExplainPlan:
    """Everything decided and checked before any heavy work starts."""

    model: ModelVersion
    dataset: DatasetVersion
    background_dataset: DatasetVersion
    feeds: FeedPlan
    method: str
    perturbation: str
    start: int
    stop: int
    background: int | str
    seed: int
    image: tuple[int, int] | None
    ensemble: TreeEnsemble | None
    key: str


def parse_rows(spec: str | int | None, dataset: DatasetVersion) -> tuple[int, int]:
    """``None`` (the first 1000), ``N`` (the first N) or ``a:b`` as a checked row range."""
    total = dataset.rows
    if spec is None:
        return 0, min(total, DEFAULT_ROWS)
    text = str(spec).strip()
    try:
        if ":" in text:
            first, _, last = text.partition(":")
            start, stop = int(first or 0), int(last) if last else total
        else:
            start, stop = 0, int(text)
    except ValueError:
        raise BadInputError(f"--rows {text!r}: give a row count N or a range a:b") from None
    if not 0 <= start < stop <= total:
        raise BadInputError(
            f"row range {start}:{stop} is outside dataset {dataset.ref} ({total} rows)"
        )
    return start, stop


def plan_explanation(
    catalog: Catalog,
    model_ref: str,
    data_ref: str,
    *,
    rows: str | int | None = None,
    method: str = "auto",
    perturbation: str = "interventional",
    background: int | str = DEFAULT_BACKGROUND,
    seed: int = 0,
) -> ExplainPlan:
    """Check the request and decide the method; raise a clear error on bad input."""
    if method not in METHODS:
        raise BadInputError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    if perturbation not in PERTURBATIONS:
        raise BadInputError(
            f"unknown perturbation {perturbation!r}; choose from {', '.join(PERTURBATIONS)}"
        )
    if not (background == "all" or (isinstance(background, int) and background > 0)):
        raise BadInputError(f"--background {background!r}: give a positive row count or 'all'")
    model = get_model_version(catalog, model_ref)
    dataset = get_dataset_version(catalog, data_ref)
    plan = feed_plan(model, dataset)
    start, stop = parse_rows(rows, dataset)
    source = get_dataset_version(catalog, model.trained_on) if model.trained_on else dataset
    feed_plan(model, source)  # the background must feed the model too
    image = image_shape(plan.columns)
    ensemble, reason = _tree_ensemble(catalog, model, plan)
    if method == "auto":
        method = "tree" if ensemble else ("partition" if image else "permutation")
    if method == "tree" and ensemble is None:
        raise BadInputError(f"model {model.ref}: the tree method does not apply ({reason})")
    if method == "partition" and image is None:
        raise BadInputError(
            f"model {model.ref}: the partition method needs image rows, and the columns of "
            f"{dataset.ref} are not pixel_ROW_COL columns of one image"
        )
    if method != "tree":
        perturbation = "interventional"  # what a masker over background rows does
    key = derived_key(
        "explanation",
        {
            "model": model.sha256,
            "features": plan.columns,
            "binding": plan.binding,
            "dataset": dataset.sha256,
            "background_dataset": source.sha256,
            "rows": [start, stop],
            "method": method,
            "perturbation": perturbation,
            "background": background,
            "seed": seed,
            "shap": _shap_version(),
        },
    )
    return ExplainPlan(
        model, dataset, source, plan, method, perturbation, start, stop, background, seed,
        image, ensemble, key,
    )  # fmt: skip


def _shap_version() -> str:
    try:
        return metadata.version("shap")
    except metadata.PackageNotFoundError:
        return "unknown"


def _tree_ensemble(
    catalog: Catalog, model: ModelVersion, plan: FeedPlan
) -> tuple[TreeEnsemble | None, str]:
    import onnx

    if plan.binding != "axis" or len(plan.inputs) != 1:
        return None, "the trees read one feature matrix, not several named inputs"
    try:
        path = catalog.blobs.verified_path(model.sha256)
        ensemble = find_tree_ensemble(onnx.load(str(path), load_external_data=False))
    except TreeNotApplicable as error:
        return None, str(error)
    if ensemble.input_name != plan.inputs[0]["name"] or ensemble.n_features != len(plan.columns):
        return None, "the trees do not read the mapped feature columns"
    return ensemble, ""


def _background(catalog: Catalog, plan: ExplainPlan) -> tuple[np.ndarray, np.ndarray]:
    """The background rows (sampled with the seed, or all) and all of the source's rows."""
    import pyarrow.parquet as pq

    source = plan.background_dataset
    table = pq.read_table(catalog.blobs.verified_path(source.sha256))
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
    with tempfile.TemporaryDirectory(prefix="modeldesk-explain-") as scratch:
        function = _function(catalog, plan, Path(scratch))
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
    labels = [str(label) for label in (plan.model.facts.get("class_names") or [])]
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
    import pyarrow.parquet as pq

    plan = plan or plan_explanation(
        catalog,
        model_ref,
        data_ref,
        rows=rows,
        method=method,
        perturbation=perturbation,
        background=background,
        seed=seed,
    )
    cached = load_derived(catalog, plan.key)
    if cached is not None:
        return Explanation.from_bytes(cached)
    started = time.perf_counter()
    progress(0, 1, "reading rows")
    table = pq.read_table(catalog.blobs.verified_path(plan.dataset.sha256))
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


def _explain_trees(
    plan: ExplainPlan,
    data: np.ndarray,
    background: np.ndarray,
    every: np.ndarray,
    progress: ProgressCallback,
    cancel: threading.Event | None,
) -> Explanation:
    from core.explain.tree_shap import tree_shap_values

    ensemble = plan.ensemble
    assert ensemble is not None
    interventional = plan.perturbation == "interventional"
    # Path-dependent TreeSHAP weighs each split by how much training data went each way.
    covers = ensemble.covers(background if interventional else every)
    values, base = tree_shap_values(
        ensemble.shap_model(covers),
        data.astype(ensemble.threshold_dtype),
        perturbation="interventional" if interventional else "tree_path_dependent",
        background=background.astype(ensemble.threshold_dtype) if interventional else None,
        progress=progress,
        cancel=cancel,
    )
    notes = []
    if not interventional:
        notes.append(
            f"node covers counted from the {len(every)} rows of {plan.background_dataset.ref}"
        )
    return _result(
        plan,
        data,
        values,
        np.tile(base, (len(data), 1)),
        _SPACES.get(ensemble.post_transform, "margin (raw value)"),
        ensemble.output_names,
        len(background) if interventional else len(every),
        notes,
    )


def _explain_agnostic(
    catalog: Catalog,
    plan: ExplainPlan,
    data: np.ndarray,
    background: np.ndarray,
    progress: ProgressCallback,
    cancel: threading.Event | None,
) -> Explanation:
    with tempfile.TemporaryDirectory(prefix="modeldesk-explain-") as scratch:
        function = _function(catalog, plan, Path(scratch))
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


def compare_importance(
    catalog: Catalog,
    model_a: str,
    model_b: str,
    data_ref: str,
    *,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
    **options: Any,
) -> list[tuple[str, float, float]]:
    """Mean |SHAP| per feature of two model versions on the same rows, largest first."""
    halves = Stage(progress, 0.0, 0.5), Stage(progress, 0.5, 1.0)
    first = explain(catalog, model_a, data_ref, progress=halves[0], cancel=cancel, **options)
    second = explain(catalog, model_b, data_ref, progress=halves[1], cancel=cancel, **options)
    a, b = _overall(first), _overall(second)
    features = list(dict.fromkeys(first.feature_names + second.feature_names))
    rows = [(name, a.get(name, 0.0), b.get(name, 0.0)) for name in features]
    return sorted(rows, key=lambda row: -max(row[1], row[2]))


def _overall(result: Explanation) -> dict[str, float]:
    output = result.output_index(None) if result.outputs <= 2 else None
    return dict(zip(result.feature_names, result.mean_abs(output).tolist(), strict=True))
