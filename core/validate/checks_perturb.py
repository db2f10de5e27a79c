"""Checks that compare outputs row by row: ``invariance``, ``direction`` and ``parity``.

Invariance and direction change some columns of the dataset's rows and predict only
those changed rows (the unchanged predictions are the run's shared ones). Parity
compares this version's outputs with a reference version's on the same rows. Shares
and mean changes get bootstrap intervals like every metric.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modeldesk.datasets.registry import DatasetVersion
from modeldesk.debug.predict import Predictions
from modeldesk.errors import BadInputError
from modeldesk.validate.context import RunContext
from modeldesk.validate.result import CheckResult
from modeldesk.validate.stats import (
    FAIL,
    INCONCLUSIVE,
    PASS,
    Interval,
    bootstrap,
    combine_verdicts,
    rows_to_decide,
    verdict_at_least,
    verdict_at_most,
)
from modeldesk.validate.suite import Check
from modeldesk.validate.weighted import LinearStatistic, WeightedPercentile

__all__ = ["check_direction", "check_invariance", "check_parity"]

EVIDENCE_ROWS = 20


def _interval(
    ctx: RunContext, check: Check, dataset: DatasetVersion, row: np.ndarray, row_ids: np.ndarray
) -> Interval:
    """The bootstrap interval of a row quantity's mean over the dataset rows ``row_ids``."""
    return bootstrap(
        LinearStatistic.mean(row),
        len(row),
        resamples=ctx.suite.resamples,
        shared=ctx.resamples(dataset),
        row_ids=row_ids,
        confidence=ctx.suite.confidence,
        seed=ctx.seed(check, dataset),
    )


def _output(result: Predictions, check: Check) -> tuple[np.ndarray, str]:
    """The output a check watches: a class's probability, or the regression value."""
    if result.probabilities is None:
        return result.predicted.astype(np.float64), "value"
    wanted = check.get("output")
    names = result.class_names
    if wanted is None:
        index = result.probabilities.shape[1] - 1  # binary: the positive class
    elif isinstance(wanted, int):
        index = wanted
    elif wanted in names:
        index = names.index(wanted)
    else:
        raise BadInputError(
            f"check {check.id!r}: output {wanted!r} is not a class of the model "
            f"({', '.join(names)})"
        )
    if not 0 <= index < result.probabilities.shape[1]:
        raise BadInputError(f"check {check.id!r}: output {wanted!r} is out of range")
    return result.probabilities[:, index], f"P({names[index]})"


def _rows_and_table(
    ctx: RunContext, check: Check, dataset: DatasetVersion
) -> tuple[np.ndarray, Any]:
    """The rows the check's filter keeps, and those rows of the dataset's table."""
    table = ctx.table(dataset)
    mask = ctx.mask(dataset, check)
    rows = np.arange(table.num_rows) if mask is None else np.flatnonzero(mask)
    if len(rows) == 0:
        raise BadInputError(f"check {check.id!r}: its filter keeps no row of {dataset.ref}")
    if mask is None:
        return rows, table  # every row: no copy
    import pyarrow as pa

    return rows, table.take(pa.array(rows))


def _replace(table: Any, column: str, values: np.ndarray) -> Any:
    import pyarrow as pa

    index = table.column_names.index(column)
    kind = table.schema.field(index).type
    if (
        pa.types.is_integer(kind)
        and values.dtype.kind == "f"
        and not np.all(values == np.round(values))
    ):
        kind = pa.float64()  # noise on an integer column: the model sees the changed value
    return table.set_column(index, column, pa.array(values, type=kind, from_pandas=True))


def _perturb(ctx: RunContext, check: Check, dataset: DatasetVersion, table: Any) -> Any:
    kind = check.get("perturbation")
    generator = np.random.default_rng(ctx.seed(check, dataset))
    for column in check.get("columns"):
        info = next((c for c in dataset.columns if c.name == column), None)
        if info is None:
            raise BadInputError(
                f"check {check.id!r}: dataset {dataset.ref} has no column {column!r}"
            )
        original = np.asarray(
            table.column(column).to_numpy(zero_copy_only=False)
            if info.dtype != "string"
            else np.array(table.column(column).to_pylist(), dtype=object)
        )
        text = original.dtype.kind in "OUS"
        if kind == "noise":
            if text:
                raise BadInputError(
                    f"check {check.id!r}: noise needs a number; column {column!r} is text"
                )
            std = float(info.stats.get("std") or 0.0)
            scale = float(check.get("scale", 0.1))
            changed = original.astype(np.float64) + generator.normal(0, scale * std, len(original))
        elif kind == "set":
            value = check.get("value")
            if text != isinstance(value, str):
                raise BadInputError(
                    f"check {check.id!r}: value {value!r} does not fit column {column!r} "
                    f"({'text' if text else 'numbers'})"
                )
            changed = np.full(len(original), value, dtype=object if text else np.float64)
        else:  # swap: each row takes another of the column's categories
            if not text:
                raise BadInputError(
                    f"check {check.id!r}: swap exchanges categories; {column!r} holds numbers"
                )
            categories = sorted({value for value in original if value is not None})
            if len(categories) < 2:
                raise BadInputError(f"check {check.id!r}: column {column!r} has one category")
            position = {value: i for i, value in enumerate(categories)}
            shift = generator.integers(1, len(categories), len(original))
            changed = np.array(
                [
                    None
                    if value is None
                    else categories[(position[value] + step) % len(categories)]
                    for value, step in zip(original, shift, strict=True)
                ],
                dtype=object,
            )
        table = _replace(table, column, changed)
    return table


def _verdict_line(name: str, interval: Interval, rows: int, threshold: str, verdict: str) -> str:
    return (
        f"{name} {interval.value:.4g} [{interval.low:.4g}, {interval.high:.4g}] "
        f"({interval.confidence * 100:g} %, {rows} rows); needs {threshold}: {verdict}"
    )


def _bounded(
    ctx: RunContext,
    check: Check,
    dataset: DatasetVersion,
    measures: list[tuple[str, np.ndarray, float]],
    row_ids: np.ndarray,
) -> tuple[str, list[str], Interval, int | None, str]:
    """Verdicts of several "mean of a row quantity at most X" bounds, combined."""
    verdicts, lines, first, needed, threshold = [], [], None, None, []
    for name, row, limit in measures:
        interval = _interval(ctx, check, dataset, row, row_ids)
        verdict = verdict_at_most(interval, limit)
        verdicts.append(verdict)
        lines.append(_verdict_line(name, interval, len(row), f"<= {limit:g}", verdict))
        threshold.append(f"{name} <= {limit:g}")
        if verdict == INCONCLUSIVE and needed is None:
            needed = rows_to_decide(interval, limit, len(row))
        first = first or interval
    combined = combine_verdicts(verdicts)
    assert first is not None
    return combined, lines, first, needed, " and ".join(threshold)


def check_invariance(ctx: RunContext, check: Check) -> CheckResult:
    """``invariance``: a change that should not matter must not move the predictions."""
    dataset = ctx.dataset(check)
    base = ctx.predictions(ctx.model, dataset)
    rows, table = _rows_and_table(ctx, check, dataset)
    changed = ctx.predict_perturbed(dataset, _perturb(ctx, check, dataset, table))
    measures = []
    flips = base.predicted[rows] != changed.predicted
    if check.get("max_flip_rate") is not None:
        if base.task != "classification":
            raise BadInputError(
                f"check {check.id!r}: a flip rate needs a classifier; use max_abs_change"
            )
        measures.append(("flip rate", flips.astype(np.float64), float(check.get("max_flip_rate"))))
    before, label = _output(base, check)
    after, _ = _output(changed, check)
    change = after - before[rows]
    if check.get("max_abs_change") is not None:
        measures.append(
            (f"mean |change of {label}|", np.abs(change), float(check.get("max_abs_change")))
        )
    verdict, lines, interval, needed, threshold = _bounded(ctx, check, dataset, measures, rows)
    moved = np.argsort(-np.abs(change), kind="stable")[:EVIDENCE_ROWS]
    return CheckResult(
        id=check.id,
        kind=check.kind,
        verdict=verdict,
        message=f"{check.get('perturbation')} on {', '.join(check.get('columns'))}: "
        + "; ".join(lines),
        value=interval.value,
        interval=interval,
        threshold=threshold,
        rows=len(rows),
        rows_to_decide=needed,
        dataset=dataset.ref,
        evidence={
            "output": label,
            "flips": int(flips.sum()),
            "rows": [
                {
                    "row": int(rows[i]),
                    "before": float(before[rows[i]]),
                    "after": float(after[i]),
                    "flipped": bool(flips[i]),
                }
                for i in moved
            ],
        },
    )


def check_direction(ctx: RunContext, check: Check) -> CheckResult:
    """``direction``: raising ``column`` by ``step`` moves the output the expected way."""
    dataset = ctx.dataset(check)
    base = ctx.predictions(ctx.model, dataset)
    column, step = check.get("column"), float(check.get("step"))
    rows, table = _rows_and_table(ctx, check, dataset)
    original = ctx.column(dataset, column)
    if original.dtype.kind != "f":
        raise BadInputError(f"check {check.id!r}: column {column!r} is text; a step needs numbers")
    changed = ctx.predict_perturbed(dataset, _replace(table, column, original[rows] + step))
    before, label = _output(base, check)
    after, _ = _output(changed, check)
    change = after - before[rows]
    increase = check.get("expect") == "increase"
    obeys = change >= 0 if increase else change <= 0  # unchanged counts as obeying (trees)
    interval = _interval(ctx, check, dataset, obeys.astype(np.float64), rows)
    limit = float(check.get("min_share"))
    verdict = verdict_at_least(interval, limit)
    needed = rows_to_decide(interval, limit, len(rows)) if verdict == INCONCLUSIVE else None
    breaking = np.flatnonzero(~obeys)[:EVIDENCE_ROWS]
    return CheckResult(
        id=check.id,
        kind=check.kind,
        verdict=verdict,
        message=f"{column} {step:+g}: {label} should {check.get('expect')}; "
        + _verdict_line("share obeying", interval, len(rows), f">= {limit:g}", verdict),
        value=interval.value,
        interval=interval,
        threshold=f">= {limit:g}",
        rows=len(rows),
        rows_to_decide=needed,
        dataset=dataset.ref,
        evidence={
            "output": label,
            "rows": [
                {"row": int(rows[i]), "before": float(before[rows[i]]), "after": float(after[i])}
                for i in breaking
            ],
        },
    )


def check_parity(ctx: RunContext, check: Check) -> CheckResult:
    """``parity``: this version's outputs match a reference version's on the same rows."""
    dataset = ctx.dataset(check)
    reference_model = ctx.baseline(check.get("reference"), check)
    mine, theirs = ctx.predictions(ctx.model, dataset), ctx.predictions(reference_model, dataset)
    if (mine.probabilities is None) != (theirs.probabilities is None):
        raise BadInputError(
            f"check {check.id!r}: {ctx.model.ref} and {reference_model.ref} are not the same task"
        )
    if (
        mine.probabilities is not None
        and theirs.probabilities is not None
        and (mine.probabilities.shape != theirs.probabilities.shape)
    ):
        raise BadInputError(f"check {check.id!r}: the two versions have different classes")
    keep = ctx.mask(dataset, check)
    kept = ctx.row_ids(dataset, check)
    a = mine.probabilities if mine.probabilities is not None else mine.predicted[:, None]
    b = theirs.probabilities if theirs.probabilities is not None else theirs.predicted[:, None]
    if keep is not None:
        a, b = a[keep], b[keep]
    abs_diff = np.abs(a - b).max(axis=1)
    atol, rtol = float(check.get("atol", 1e-5)), float(check.get("rtol", 1e-3))
    close = np.all(np.abs(a - b) <= atol + rtol * np.abs(b), axis=1)
    measures: list[tuple[str, np.ndarray, float]] = []
    verdicts, lines, intervals = [], [], []
    if check.get("max_flip_rate") is not None:
        flips = (np.argmax(a, axis=1) != np.argmax(b, axis=1)).astype(np.float64)
        measures.append(("flip rate", flips, float(check.get("max_flip_rate"))))
    if check.get("max_p99_abs_diff") is not None:
        limit = float(check.get("max_p99_abs_diff"))
        interval = bootstrap(
            WeightedPercentile(abs_diff, 0.99), len(abs_diff), resamples=ctx.suite.resamples,
            shared=ctx.resamples(dataset), row_ids=kept,
            confidence=ctx.suite.confidence, seed=ctx.seed(check, dataset),
        )  # fmt: skip
        verdict = verdict_at_most(interval, limit)
        verdicts.append(verdict)
        intervals.append(interval)
        lines.append(
            _verdict_line("p99 |difference|", interval, len(abs_diff), f"<= {limit:g}", verdict)
        )
    needed = None
    if measures:
        verdict, more, interval, needed, _ = _bounded(ctx, check, dataset, measures, kept)
        verdicts.append(verdict)
        intervals.append(interval)
        lines += more
    if not verdicts:  # only tolerances: every row must be within them (a census of the rows)
        verdicts.append(PASS if close.all() else FAIL)
        lines.append(
            f"{int((~close).sum())} of {len(close)} rows outside atol {atol:g} / rtol {rtol:g}"
        )
    verdict = combine_verdicts(verdicts)
    worst = np.argsort(-abs_diff, kind="stable")[:EVIDENCE_ROWS]
    row_ids = np.arange(len(mine.predicted)) if keep is None else np.flatnonzero(keep)
    return CheckResult(
        id=check.id,
        kind=check.kind,
        verdict=verdict,
        message=f"vs {reference_model.ref}: max |difference| {abs_diff.max():.3g}; "
        + "; ".join(lines),
        value=float(abs_diff.max()),
        interval=intervals[0] if intervals else None,
        threshold=", ".join(
            f"{k} <= {check.get(k)}"
            for k in ("max_flip_rate", "max_p99_abs_diff", "atol", "rtol")
            if check.get(k) is not None
        ),
        rows=len(abs_diff),
        rows_to_decide=needed,
        dataset=dataset.ref,
        evidence={
            "reference": reference_model.ref,
            "rows_within_tolerance": int(close.sum()),
            "worst": [{"row": int(row_ids[i]), "abs_diff": float(abs_diff[i])} for i in worst],
        },
    )
