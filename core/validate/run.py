"""Run a validation suite on a model version and record the run as evidence.

Everything a check needs that can be checked without running the model is checked
first (datasets, baselines, columns, metrics that fit the task, perturbations that fit
the columns), so a bad suite is refused before any prediction and nothing is recorded.
The model then predicts each dataset once; every check reads those predictions and
asks only for its own perturbed rows.
"""

from __future__ import annotations

import difflib
import threading
import time
from dataclasses import dataclass

from modeldesk import __version__
from modeldesk.catalog.derived import runtime_versions
from modeldesk.catalog.store import Catalog
from modeldesk.datasets.registry import DatasetVersion, get_dataset_version
from modeldesk.errors import BadInputError
from modeldesk.models.registry import ModelVersion, get_model_version
from modeldesk.progress import ProgressCallback, check_cancel, no_progress
from modeldesk.validate.checks_metric import check_champion, check_metric, check_slices
from modeldesk.validate.checks_perturb import check_direction, check_invariance, check_parity
from modeldesk.validate.checks_static import check_contract, check_data, check_latency
from modeldesk.validate.context import NoBaseline, RunContext
from modeldesk.validate.metrics import CLASSIFICATION_METRICS, REGRESSION_METRICS
from modeldesk.validate.registry import StoredSuite, add_suite, record_run
from modeldesk.validate.result import SKIPPED, CheckResult, ValidationRun, overall_verdict
from modeldesk.validate.stats import INCONCLUSIVE
from modeldesk.validate.suite import ON_INCONCLUSIVE, Check, Suite, parse_suite

__all__ = ["CHECKS", "check_inputs", "preflight", "run_suite", "store_checked_suite"]

CHECKS = {
    "metric": check_metric,
    "slices": check_slices,
    "champion": check_champion,
    "invariance": check_invariance,
    "direction": check_direction,
    "parity": check_parity,
    "contract": check_contract,
    "latency": check_latency,
    "data": check_data,
}
# Checks that read the model's predictions (the others read the record or a bench run).
_PREDICTING = {"metric", "slices", "champion", "invariance", "direction", "parity"}


def _task(model: ModelVersion) -> str:
    from modeldesk.debug.predict import output_positions

    probability_at, _ = output_positions(model)
    return "classification" if probability_at is not None else (model.facts.task or "regression")


def _metric_fits(name: str, task: str, check: Check, classes: list[str]) -> None:
    base = name.split("[", 1)[0]
    fits = base in (CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS)
    if task == "classification" and "[" in name:
        fits = base in ("recall", "precision", "f1") and (
            not classes or name[len(base) + 1 : -1] in classes
        )
    if not fits:
        known = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
        close = difflib.get_close_matches(base, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f" ({', '.join(known)})"
        raise BadInputError(
            f"check {check.id!r} (line {check.line}): metric {name!r} does not fit a {task} "
            f"model{hint}"
        )


@dataclass(frozen=True)
class Inputs:
    """What a suite's checks read, each looked up once: dataset versions and the model
    versions named as baselines, by the refs the checks name them with."""

    datasets: dict[str, DatasetVersion]
    baselines: dict[str, ModelVersion]


def preflight(catalog: Catalog, suite: Suite, model: ModelVersion, dataset_ref: str) -> Inputs:
    """Refuse what is wrong before anything runs: refs, columns, metrics, perturbations."""
    task = _task(model)
    classes = list(model.classes or model.facts.class_names or [])
    datasets: dict[str, DatasetVersion] = {}
    baselines: dict[str, ModelVersion] = {}
    for check in suite.checks:
        where = f"check {check.id!r} (line {check.line})"
        ref = check.get("dataset") or dataset_ref
        if ref not in datasets:
            datasets[ref] = get_dataset_version(catalog, ref)
        dataset = datasets[ref]
        columns = {column.name: column for column in dataset.columns}
        named = list(check.where.columns if check.where else [])
        for field in ("column", "per_slice_column"):
            if check.get(field):
                named.append(check.get(field))
        named += list(check.get("columns", []))
        for name in named:
            if name not in columns:
                raise BadInputError(f"{where}: dataset {dataset.ref} has no column {name!r}")
        if check.get("metric"):
            _metric_fits(check.get("metric"), task, check, classes)
        if check.kind == "invariance":
            for name in check.get("columns"):
                text = columns[name].dtype == "string"
                if check.get("perturbation") == "noise" and text:
                    raise BadInputError(f"{where}: noise needs numbers; column {name!r} is text")
                if check.get("perturbation") == "swap" and not text:
                    raise BadInputError(f"{where}: swap exchanges categories; {name!r} is numbers")
        if check.kind == "direction" and columns[check.get("column")].dtype == "string":
            raise BadInputError(f"{where}: a step needs numbers; {check.get('column')!r} is text")
        for field in ("baseline", "reference"):
            spec = check.get(field)
            if spec and spec not in ("previous", "approved") and spec not in baselines:
                baselines[spec] = get_model_version(catalog, spec)
        if check.kind == "latency":
            from modeldesk.bench.profiles import get_profile

            get_profile(catalog, check.get("profile"))
    return Inputs(datasets, baselines)


def check_inputs(
    catalog: Catalog,
    suite: Suite,
    model_ref: str,
    *,
    dataset_ref: str | None = None,
    name: str = "the suite",
) -> ModelVersion:
    """The model version, once the suite fits it and every input exists (see preflight)."""
    return _checked(catalog, suite, model_ref, dataset_ref, name)[0]


def _checked(
    catalog: Catalog, suite: Suite, model_ref: str, dataset_ref: str | None, name: str
) -> tuple[ModelVersion, Inputs]:
    model = get_model_version(catalog, model_ref)
    if model.name != suite.model:
        raise BadInputError(f"{name} validates model {suite.model!r}, not {model.name!r}")
    return model, preflight(catalog, suite, model, dataset_ref or suite.dataset)


def store_checked_suite(
    catalog: Catalog,
    text: str,
    model_ref: str,
    *,
    dataset_ref: str | None = None,
    name: str = "the suite",
) -> StoredSuite:
    """Store suite ``text`` as the next version of its name (or find the version that
    holds it), once it is known to run on ``model_ref``: runs are evidence of a stored
    version, and a suite that cannot run is not kept."""
    check_inputs(catalog, parse_suite(text, path=name), model_ref, dataset_ref=dataset_ref,
                 name=name)  # fmt: skip
    stored, _ = add_suite(catalog, text, source_name=name)
    return stored


def run_suite(
    catalog: Catalog,
    stored: StoredSuite,
    model_ref: str,
    *,
    dataset_ref: str | None = None,
    on_inconclusive: str | None = None,
    record: bool = True,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> ValidationRun:
    """Run a stored suite on ``model_ref``; record the run (unless ``record`` is False).

    A ``BadInputError`` (or ``NotFoundError``) means the suite or its inputs are wrong:
    nothing is recorded. A check that cannot run for another reason ends in ERROR.
    """
    started = time.perf_counter()
    suite = stored.suite
    model, inputs = _checked(catalog, suite, model_ref, dataset_ref, stored.ref)
    policy = on_inconclusive or suite.on_inconclusive
    if policy not in ON_INCONCLUSIVE:
        raise BadInputError(f"--on-inconclusive {policy!r}: choose fail, pass or skip")
    default_dataset = dataset_ref or suite.dataset
    results: list[CheckResult] = []
    ordered = sorted(suite.checks, key=lambda check: check.kind not in _PREDICTING)
    with RunContext(
        catalog, suite, model, default_dataset, cancel, inputs.datasets, inputs.baselines
    ) as ctx:
        for index, check in enumerate(ordered):
            check_cancel(cancel, f"validating {model.ref}")
            progress(index, len(ordered), f"check {check.id}")
            began = time.perf_counter()
            try:
                result = CHECKS[check.kind](ctx, check)
            except NoBaseline as why:
                result = CheckResult(check.id, check.kind, SKIPPED, str(why))
            result.seconds = time.perf_counter() - began
            if result.verdict == INCONCLUSIVE and policy == "skip":
                result.verdict = SKIPPED
            results.append(result)
    by_id = {result.id: result for result in results}
    results = [by_id[check.id] for check in suite.checks]  # the suite's own order
    progress(len(ordered), len(ordered), "validated")
    dataset = ctx.dataset(None)
    run = ValidationRun(
        suite=stored.ref,
        suite_sha256=suite.sha256,
        model=model.ref,
        model_sha256=model.sha256,
        dataset=dataset.ref,
        datasets=ctx.datasets_read,
        verdict=overall_verdict(results, policy),
        on_inconclusive=policy,
        seed=suite.seed,
        results=results,
        rows_predicted=ctx.rows_predicted,
        runtimes={"modeldesk": __version__, **runtime_versions(["onnxruntime"])},
    )
    run.seconds = time.perf_counter() - started
    if record:
        record_run(
            catalog,
            run,
            suite_version_id=stored.id,
            model_version_id=model.id,
            dataset_version_id=dataset.id,
        )
    return run
