"""A starter suite for a model version, with thresholds from that version's own intervals,
and the warnings a suite's thresholds deserve when the data cannot resolve them."""

from __future__ import annotations

import math

from modeldesk.catalog.store import Catalog
from modeldesk.datasets.registry import get_dataset_version
from modeldesk.debug.predict import predict
from modeldesk.errors import BadInputError
from modeldesk.models.registry import get_model_version
from modeldesk.validate.metrics import Outcomes, higher_is_better, statistic
from modeldesk.validate.stats import bootstrap, derive_seed
from modeldesk.validate.suite import Suite

__all__ = ["propose_suite", "resolution_warnings"]

Z95 = 1.959964
PROPORTIONS = ("accuracy", "error_rate", "recall", "precision", "f1")


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _round_toward(value: float, down: bool, half_width: float) -> float:
    """Two decimals, rounded outwards, with room for the resampling noise between this
    interval's edge and a run's (their seeds differ): a quarter of the half-width, which
    is wide for a skewed metric such as log loss."""
    slack = max(0.002, 0.25 * half_width)
    if down:
        return math.floor((value - slack) * 100) / 100
    return math.ceil((value + slack) * 100) / 100


def propose_suite(
    catalog: Catalog, model_ref: str, dataset_ref: str, *, name: str | None = None
) -> str:
    """TOML of a suite this version passes: each headline metric bounded by its interval.

    Thresholds sit at the edge of this version's 95 % interval, rounded outwards, so a
    later version fails only when it is measurably worse. A contract check against the
    previous version and data checks from the data dictionary come with it.
    """
    model = get_model_version(catalog, model_ref)
    dataset = get_dataset_version(catalog, dataset_ref)
    result = predict(catalog, model.ref, dataset.ref)
    if result.y_true is None:
        raise BadInputError(f"dataset {dataset.ref} has no label for {model.ref}: metrics need one")
    outcomes = Outcomes(
        result.task, result.y_true, result.predicted, result.probabilities, result.class_names
    )
    names = (
        ["accuracy", "roc_auc", "log_loss"]
        if result.task == "classification"
        else ["mae", "rmse", "r2"]
    )
    lines = [
        "[suite]",
        f"name = {_toml_string(name or f'{model.name}-gate')}",
        f"model = {_toml_string(model.name)}",
        f"dataset = {_toml_string(dataset.ref)}",
        "confidence = 0.95",
        'on_inconclusive = "fail"',
        "seed = 0",
        "",
        f"# Proposed from {model.ref} on {dataset.ref} ({outcomes.rows} rows): each bound is the",
        "# edge of that version's 95 % interval, so it passes and a clearly worse one fails.",
    ]
    for metric in names:
        interval = bootstrap(
            statistic(metric, outcomes), outcomes.rows, resamples=2000, confidence=0.95,
            seed=derive_seed("propose", model.sha256, dataset.sha256, metric),
        )  # fmt: skip
        if math.isnan(interval.low):
            continue
        better = higher_is_better(metric)
        edge = interval.low if better else interval.high
        bound = _round_toward(edge, down=better, half_width=interval.half_width)
        lines += [
            "",
            "[[check]]",
            f'id = "{metric}"',
            'kind = "metric"',
            f'metric = "{metric}"',
            f"{'min' if better else 'max'} = {bound:g}",
            f"# {model.ref}: {interval.value:.4f} [{interval.low:.4f}, {interval.high:.4f}]",
        ]
    previous = model.parent_version or (model.version - 1)
    if previous >= 1:
        lines += ["", "[[check]]", 'id = "contract"', 'kind = "contract"', 'baseline = "previous"']
    required = [column.name for column in dataset.columns if column.role in ("feature", "label")]
    ranges = [
        f"{_toml_string(c.name)} = [{c.stats['min']:g}, {c.stats['max']:g}]"
        for c in dataset.columns
        if c.role == "feature" and c.stats.get("min") is not None and c.stats.get("max") is not None
    ]
    lines += [
        "",
        "[[check]]",
        'id = "data"',
        'kind = "data"',
        "required_columns = [" + ", ".join(_toml_string(n) for n in required) + "]",
        "max_missing = 0.0",
    ]
    if ranges:
        lines.append("ranges = { " + ", ".join(ranges) + " }")
    return "\n".join(lines) + "\n"


def _accuracy_level(catalog: Catalog, suite: Suite, dataset_ref: str) -> float:
    """The newest version's accuracy on the dataset (0.9 when it cannot be had)."""
    from modeldesk.errors import ModelDeskError

    try:
        result = predict(catalog, suite.model, dataset_ref)
    except ModelDeskError:
        return 0.9
    if result.y_true is None or result.task != "classification":
        return 0.9
    return float((result.predicted == result.y_true).mean())


def resolution_warnings(catalog: Catalog, suite: Suite) -> list[str]:
    """Thresholds finer than the suite's data can resolve, one sentence each.

    A proportion (accuracy, recall, ...) measured on n rows has a 95 % interval of about
    +-1.96 sqrt(p (1 - p) / n): a champion margin smaller than that (p: the newest
    version's accuracy) cannot be verified, nor a bound closer to perfect than it.
    """
    warnings = []
    for check in suite.checks:
        metric = str(check.get("metric") or "")
        if metric.split("[", 1)[0] not in PROPORTIONS:
            continue
        try:
            dataset = get_dataset_version(catalog, check.get("dataset") or suite.dataset)
        except BadInputError:
            continue
        rows = dataset.rows
        if check.kind == "champion":
            margin = float(check.get("margin"))
            level = _accuracy_level(catalog, suite, dataset.ref)
            half = Z95 * math.sqrt(level * (1 - level) / max(rows, 1))
            if margin < half:
                warnings.append(
                    f"check {check.id!r}: with {rows} rows the {metric} interval is about "
                    f"+-{half * 100:.1f} points; a {margin * 100:g}-point margin cannot be verified"
                )
        elif check.kind == "metric":
            for bound in ("min", "max"):
                threshold = check.get(bound)
                if threshold is None or not 0 < threshold < 1:
                    continue
                half = Z95 * math.sqrt(threshold * (1 - threshold) / max(rows, 1))
                room = (1 - threshold) if bound == "min" else threshold
                if room < half:
                    warnings.append(
                        f"check {check.id!r}: with {rows} rows the {metric} interval near "
                        f"{threshold:g} is about +-{half * 100:.1f} points, more than the "
                        f"{room * 100:.1f} points between the bound and "
                        f"{'perfect' if bound == 'min' else 'zero'}; it can rarely pass"
                    )
    return warnings
