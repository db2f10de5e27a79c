"""An explanation request, checked and decided before any heavy work starts.

The method is chosen here (``auto``: exact TreeSHAP when the model is one ONNX tree
ensemble over its input columns, the Partition explainer with an image masker for pixel
data, Permutation otherwise), and so is the cache key: every input that changes the
values is part of it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from modeldesk.catalog.derived import derived_key
from modeldesk.catalog.store import Catalog
from modeldesk.datasets.registry import DatasetVersion, get_dataset_version
from modeldesk.debug.feeds import FeedPlan, feed_plan, image_shape
from modeldesk.errors import BadInputError, require_extra
from modeldesk.explain.options import DEFAULT_BACKGROUND, DEFAULT_ROWS, METHODS, PERTURBATIONS
from modeldesk.explain.trees import TreeEnsemble, TreeNotApplicable, find_tree_ensemble
from modeldesk.models.registry import ModelVersion, get_model_version

__all__ = ["EXPLANATION_RUNTIMES", "ExplainPlan", "parse_rows", "plan_explanation"]

# What computes explanations (their versions are part of every cached explanation's key).
EXPLANATION_RUNTIMES = ("onnxruntime", "shap", "numpy")


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
    cancel: threading.Event | None = None,
) -> ExplainPlan:
    """Check the request and decide the method; raise a clear error on bad input.

    Raises ``MissingExtraError`` when shap (the ``explain`` extra) is not installed: every
    method, TreeSHAP too, runs shap's code.
    """
    require_extra("explaining a model", "explain", "shap")
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
    # The trees are read (and checked) only when the tree method may run: a large
    # ensemble costs a noticeable part of a short model-agnostic run to read.
    ensemble, reason = (
        _tree_ensemble(catalog, model, plan, cancel) if method in ("auto", "tree") else (None, "")
    )
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
        model=model,
        datasets={"rows": dataset.sha256, "background": source.sha256},
        features=plan.columns,
        binding=plan.binding,
        runtimes=EXPLANATION_RUNTIMES,
        options={
            "rows": [start, stop],
            "method": method,
            "perturbation": perturbation,
            "background": background,
            "seed": seed,
        },
    )
    return ExplainPlan(
        model, dataset, source, plan, method, perturbation, start, stop, background, seed,
        image, ensemble, key,
    )  # fmt: skip


def _tree_ensemble(
    catalog: Catalog, model: ModelVersion, plan: FeedPlan, cancel: threading.Event | None
) -> tuple[TreeEnsemble | None, str]:
    import onnx

    if plan.binding != "axis" or len(plan.inputs) != 1:
        return None, "the trees read one feature matrix, not several named inputs"
    try:
        path = catalog.blobs.verified_path(model.sha256)
        ensemble = find_tree_ensemble(onnx.load(str(path), load_external_data=False), cancel)
    except TreeNotApplicable as error:
        return None, str(error)
    if ensemble.input_name != plan.inputs[0].name or ensemble.n_features != len(plan.columns):
        return None, "the trees do not read the mapped feature columns"
    return ensemble, ""
