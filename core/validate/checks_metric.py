"""Checks on a metric of the model's predictions: ``metric``, ``slices`` and ``champion``.

Each verdict comes from a seeded bootstrap interval: PASS when the whole interval
clears the threshold, FAIL when it misses it entirely, INCONCLUSIVE otherwise (with
the rows that would decide it). Slices and per-slice champion checks hold across many
slices at once, so their tests are Holm-corrected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from modeldesk.errors import BadInputError
from modeldesk.validate.context import RunContext
from modeldesk.validate.metrics import Outcomes, higher_is_better, statistic
from modeldesk.validate.result import CheckResult
from modeldesk.validate.stats import (
    FAIL,
    INCONCLUSIVE,
    PASS,
    Interval,
    Statistic,
    bootstrap_draws,
    combine_verdicts,
    derive_seed,
    holm_all_rejected,
    holm_any_rejected,
    interval_of,
    mcnemar_exact,
    quantiles,
    rows_to_decide,
    share_beyond,
    verdict_at_least,
    verdict_at_most,
)
from modeldesk.validate.suite import Check
from modeldesk.validate.weighted import paired

__all__ = ["check_champion", "check_metric", "check_slices", "slice_masks"]

DEFAULT_MIN_ROWS = 30
DEFAULT_BINS = 5
MAX_CATEGORIES = 20
EVIDENCE_ROWS = 50  # row ids kept as evidence


def _format(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.4g}"


def _interval_text(interval: Interval, rows: int) -> str:
    confidence = f"{interval.confidence * 100:g} %"
    return (
        f"{_format(interval.value)} [{_format(interval.low)}, {_format(interval.high)}] "
        f"({confidence}, {rows} rows)"
    )


@dataclass(frozen=True)
class _Bound:
    """A threshold the value must stay on one side of."""

    threshold: float
    at_least: bool

    @property
    def text(self) -> str:
        return f"{'>=' if self.at_least else '<='} {self.threshold:g}"

    def verdict(self, interval: Interval) -> str:
        if self.at_least:
            return verdict_at_least(interval, self.threshold)
        return verdict_at_most(interval, self.threshold)


def _bounds(check: Check) -> list[_Bound]:
    found = []
    if check.get("min") is not None:
        found.append(_Bound(float(check.get("min")), True))
    if check.get("max") is not None:
        found.append(_Bound(float(check.get("max")), False))
    return found


def _decisive_rows(interval: Interval, bounds: list[_Bound], rows: int) -> int | None:
    needed = [
        rows_to_decide(interval, bound.threshold, rows)
        for bound in bounds
        if bound.verdict(interval) == INCONCLUSIVE
    ]
    known = [count for count in needed if count is not None]
    return max(known) if known else None


def _verdict_note(verdict: str, needed: int | None) -> str:
    if verdict != INCONCLUSIVE:
        return verdict
    if needed is None:
        return "INCONCLUSIVE (the estimate sits on the threshold)"
    return f"INCONCLUSIVE (about {needed:,} rows would decide it)"


def check_metric(ctx: RunContext, check: Check) -> CheckResult:
    """``metric``: one metric on the (filtered) rows must stay within ``min``/``max``."""
    dataset = ctx.dataset(check)
    outcomes = ctx.outcomes(ctx.model, dataset, check)
    name = check.get("metric")
    compute = statistic(name, outcomes, where=f"check {check.id!r}")
    point, drawn = bootstrap_draws(
        compute,
        outcomes.rows,
        resamples=ctx.suite.resamples,
        shared=ctx.resamples(dataset),
        row_ids=ctx.row_ids(dataset, check),
        seed=ctx.seed(check, dataset),
    )
    interval = interval_of(point, drawn, ctx.suite.confidence)
    bounds = _bounds(check)
    verdict = combine_verdicts([bound.verdict(interval) for bound in bounds])
    needed = _decisive_rows(interval, bounds, outcomes.rows)
    threshold = " and ".join(bound.text for bound in bounds)
    return CheckResult(
        id=check.id,
        kind=check.kind,
        verdict=verdict,
        message=f"{name} {_interval_text(interval, outcomes.rows)}; needs {threshold}: "
        + _verdict_note(verdict, needed),
        value=point,
        interval=interval,
        threshold=threshold,
        rows=outcomes.rows,
        rows_to_decide=needed,
        dataset=dataset.ref,
        evidence={} if verdict == PASS else _worst_rows(outcomes, ctx.mask(dataset, check)),
    )


def _worst_rows(outcomes: Outcomes, keep: np.ndarray | None) -> dict:
    """The rows behind a metric that did not pass: the misclassified ones, or the
    largest errors of a regressor (dataset row numbers, worst first)."""
    rows = np.arange(outcomes.rows) if keep is None else np.flatnonzero(keep)
    if outcomes.task == "classification":
        wrong = np.flatnonzero(outcomes.predicted != outcomes.y_true)[:EVIDENCE_ROWS]
        names = outcomes.class_names

        def name(index: int) -> str:
            return names[index] if 0 <= index < len(names) else str(index)

        return {
            "rows": [
                {"row": int(rows[i]), "actual": name(int(outcomes.y_true[i])),
                 "predicted": name(int(outcomes.predicted[i]))}
                for i in wrong
            ]
        }  # fmt: skip
    error = np.asarray(outcomes.predicted, dtype=np.float64) - outcomes.y_true
    worst = np.argsort(-np.abs(error), kind="stable")[:EVIDENCE_ROWS]
    return {
        "rows": [
            {"row": int(rows[i]), "actual": float(outcomes.y_true[i]),
             "predicted": float(outcomes.predicted[i]), "error": float(error[i])}
            for i in worst
        ]
    }  # fmt: skip


def slice_masks(values: np.ndarray, *, bins: int, min_rows: int) -> list[tuple[str, np.ndarray]]:
    """(description, rows) of each slice of a column: quantile bins or categories."""
    if values.dtype.kind == "f":
        finite = np.isfinite(values)
        if not finite.any():
            return []
        edges = np.unique(quantiles(values[finite], np.linspace(0, 1, bins + 1).tolist()))
        found = []
        for index in range(len(edges) - 1):
            low, high = edges[index], edges[index + 1]
            last = index == len(edges) - 2
            inside = finite & (values >= low) & ((values <= high) if last else (values < high))
            found.append((f"[{low:.4g}, {high:.4g}{']' if last else ')'}", inside))
        return [(text, mask) for text, mask in found if mask.sum() >= min_rows]
    labels = np.array(["(missing)" if value is None else str(value) for value in values])
    categories, counts = np.unique(labels, return_counts=True)
    chosen = categories[np.argsort(-counts, kind="stable")][:MAX_CATEGORIES]
    return [(f"= {c}", labels == c) for c in chosen if (labels == c).sum() >= min_rows]


def _slices_of(ctx: RunContext, check: Check, column: str, dataset, keep) -> list:
    values = ctx.column(dataset, column)
    if keep is not None:
        values = values[keep]
    found = slice_masks(
        values,
        bins=int(check.get("bins", DEFAULT_BINS)),
        min_rows=int(check.get("min_rows", DEFAULT_MIN_ROWS)),
    )
    if not found:
        raise BadInputError(
            f"check {check.id!r}: column {column!r} of {dataset.ref} has no slice of at least "
            f"{check.get('min_rows', DEFAULT_MIN_ROWS)} rows"
        )
    return found


def _row_ids(keep: np.ndarray | None, inside: np.ndarray) -> list[int]:
    rows = np.flatnonzero(inside)
    if keep is not None:
        rows = np.flatnonzero(keep)[rows]
    return [int(row) for row in rows[:EVIDENCE_ROWS]]


def _holm_verdict(p_pass: list[float], p_fail: list[float], alpha: float) -> str:
    """Every slice shown to hold -> PASS; one shown to miss -> FAIL; else INCONCLUSIVE."""
    if holm_any_rejected(p_fail, alpha):
        return FAIL
    if holm_all_rejected(p_pass, alpha):
        return PASS
    return INCONCLUSIVE


def check_slices(ctx: RunContext, check: Check) -> CheckResult:
    """``slices``: the metric must hold in every slice of ``column`` (Holm-corrected)."""
    dataset = ctx.dataset(check)
    outcomes = ctx.outcomes(ctx.model, dataset, check)
    keep = ctx.mask(dataset, check)
    name, column = check.get("metric"), check.get("column")
    (bound,) = _bounds(check)[:1]
    statistic(name, outcomes, where=f"check {check.id!r}")  # refuse a bad metric first
    alpha = 1 - ctx.suite.confidence
    kept = ctx.row_ids(dataset, check)
    rows, p_pass, p_fail = [], [], []
    for description, inside in _slices_of(ctx, check, column, dataset, keep):
        part = outcomes.subset(inside)
        seed = derive_seed(str(ctx.seed(check, dataset)), description)
        point, drawn = bootstrap_draws(
            statistic(name, part),
            part.rows,
            resamples=ctx.suite.resamples,
            shared=ctx.resamples(dataset),
            row_ids=kept[inside],
            seed=seed,
        )
        # H0 "the slice misses" is rejected by draws on the right side, and vice versa.
        p_pass.append(share_beyond(drawn, bound.threshold, below=bound.at_least))
        p_fail.append(share_beyond(drawn, bound.threshold, below=not bound.at_least))
        interval = interval_of(point, drawn, 1 - alpha / max(1, len(p_pass)))
        rows.append((description, part.rows, interval, inside))
    verdict = _holm_verdict(p_pass, p_fail, alpha)
    worst = min(rows, key=lambda r: r[2].value if bound.at_least else -r[2].value)
    failing = [
        {"slice": d, "rows": n, "value": iv.value, "row_ids": _row_ids(keep, inside)}
        for d, n, iv, inside in rows
        if bound.verdict(iv) != PASS
    ]
    return CheckResult(
        id=check.id,
        kind=check.kind,
        verdict=verdict,
        message=f"{len(rows)} slices of {column}; worst {worst[0]}: {name} "
        f"{_interval_text(worst[2], worst[1])}; every slice needs {bound.text}: {verdict}",
        value=worst[2].value,
        interval=worst[2],
        threshold=bound.text,
        rows=sum(r[1] for r in rows),
        dataset=dataset.ref,
        evidence={
            "slices": [{"slice": d, "rows": n, **iv.to_dict()} for d, n, iv, _ in rows],
            "failing": failing,
        },
    )


def _paired(name: str, candidate: Outcomes, baseline: Outcomes) -> Statistic:
    """How much better the candidate is than the baseline, on the same resampled rows."""
    sign = 1.0 if higher_is_better(name) else -1.0
    return paired(statistic(name, candidate), statistic(name, baseline), sign)


def check_champion(ctx: RunContext, check: Check) -> CheckResult:
    """``champion``: no worse than the baseline by more than ``margin`` (paired bootstrap)."""
    dataset = ctx.dataset(check)
    baseline = ctx.baseline(check.get("baseline"), check)
    candidate = ctx.outcomes(ctx.model, dataset, check)
    reference = ctx.outcomes(baseline, dataset, check)
    name, margin = check.get("metric"), float(check.get("margin"))
    statistic(name, candidate, where=f"check {check.id!r}")
    if not np.array_equal(candidate.y_true, reference.y_true):
        raise BadInputError(
            f"check {check.id!r}: {ctx.model.ref} and {baseline.ref} read the labels of "
            f"{dataset.ref} differently (different classes); they cannot be compared"
        )
    seed = ctx.seed(check, dataset)
    compute = _paired(name, candidate, reference)
    point, drawn = bootstrap_draws(
        compute,
        candidate.rows,
        resamples=ctx.suite.resamples,
        shared=ctx.resamples(dataset),
        row_ids=ctx.row_ids(dataset, check),
        seed=seed,
    )
    interval = interval_of(point, drawn, ctx.suite.confidence)
    verdict = verdict_at_least(interval, -margin)
    needed = rows_to_decide(interval, -margin, candidate.rows) if verdict == INCONCLUSIVE else None
    keep = ctx.mask(dataset, check)
    disagree = candidate.predicted != reference.predicted
    evidence: dict = {
        "baseline": baseline.ref,
        "disagreeing_rows": _row_ids(keep, disagree),
        "disagreements": int(disagree.sum()),
    }
    if name == "accuracy":
        right, old_right = (
            candidate.y_true == candidate.predicted,
            reference.y_true == reference.predicted,
        )
        only_new, only_old = int((right & ~old_right).sum()), int((~right & old_right).sum())
        evidence["mcnemar"] = {
            "only_candidate_right": only_new,
            "only_baseline_right": only_old,
            "p_value": mcnemar_exact(only_new, only_old),
        }
    verdicts = [verdict]
    if check.get("per_slice_column"):
        slice_verdict, per_slice = _champion_slices(ctx, check, dataset, candidate, reference, keep)
        verdicts.append(slice_verdict)
        evidence["slices"] = per_slice
    verdict = combine_verdicts(verdicts)
    better = "better" if higher_is_better(name) else "lower"
    return CheckResult(
        id=check.id,
        kind=check.kind,
        verdict=verdict,
        message=f"{name} change vs {baseline.ref} ({better} is positive) "
        f"{_interval_text(interval, candidate.rows)}; needs >= {-margin:g}: "
        + _verdict_note(verdict, needed),
        value=point,
        interval=interval,
        threshold=f">= {-margin:g} (margin {margin:g})",
        rows=candidate.rows,
        rows_to_decide=needed,
        dataset=dataset.ref,
        evidence=evidence,
    )


def _champion_slices(ctx, check, dataset, candidate, reference, keep) -> tuple[str, list]:
    name, margin = check.get("metric"), float(check.get("margin"))
    alpha = 1 - ctx.suite.confidence
    p_pass, p_fail, found = [], [], []
    kept = ctx.row_ids(dataset, check)
    for description, inside in _slices_of(ctx, check, check.get("per_slice_column"), dataset, keep):
        seed = derive_seed(str(ctx.seed(check, dataset)), description)
        compute = _paired(name, candidate.subset(inside), reference.subset(inside))
        point, drawn = bootstrap_draws(
            compute,
            int(inside.sum()),
            resamples=ctx.suite.resamples,
            shared=ctx.resamples(dataset),
            row_ids=kept[inside],
            seed=seed,
        )
        p_pass.append(share_beyond(drawn, -margin, below=True))
        p_fail.append(share_beyond(drawn, -margin, below=False))
        interval = interval_of(point, drawn, ctx.suite.confidence)
        found.append({"slice": description, "rows": int(inside.sum()), **interval.to_dict()})
    return _holm_verdict(p_pass, p_fail, alpha), found
