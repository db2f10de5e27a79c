"""Checks that need no new prediction: ``contract``, ``data`` and ``latency``.

The contract and the data checks read the whole record (a census, not a sample), so
their verdicts are PASS or FAIL. A latency check reads the newest benchmark of this
exact model content and bootstraps the percentile from its measured latencies.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from modeldesk.errors import BadInputError
from modeldesk.validate.context import RunContext
from modeldesk.validate.result import ERROR, CheckResult
from modeldesk.validate.stats import (
    FAIL,
    INCONCLUSIVE,
    PASS,
    bootstrap,
    rows_to_decide,
    verdict_at_most,
)
from modeldesk.validate.suite import Check
from modeldesk.validate.weighted import WeightedPercentile

__all__ = ["check_contract", "check_data", "check_latency"]

EVIDENCE_ROWS = 50


def check_contract(ctx: RunContext, check: Check) -> CheckResult:
    """``contract``: the I/O contract must be compatible with the baseline's."""
    from modeldesk.models.contract import diff_contract

    baseline = ctx.baseline(check.get("baseline"), check)
    changes = diff_contract(baseline.facts, ctx.model.facts)
    breaking = [change for change in changes if change.breaking]
    verdict = FAIL if breaking else PASS
    summary = "; ".join(f"{c.side} {c.name}: {c.reason}" for c in breaking[:3])
    return CheckResult(
        id=check.id,
        kind=check.kind,
        verdict=verdict,
        message=(
            f"{len(breaking)} breaking change(s) from {baseline.ref}: {summary}"
            if breaking
            else f"compatible with {baseline.ref} ({len(changes)} compatible change(s))"
        ),
        value=float(len(breaking)),
        threshold="no breaking change",
        evidence={"baseline": baseline.ref, "changes": [c.to_dict() for c in changes]},
    )


def _row_list(mask: np.ndarray) -> list[int]:
    return [int(row) for row in np.flatnonzero(mask)[:EVIDENCE_ROWS]]


def _as_shown(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each value as the text an ``allowed`` list is compared with, and whether it is there
    (not None or NaN). A number column has few distinct values: each is formatted once."""
    if values.dtype.kind == "f":
        distinct, inverse = np.unique(values, return_inverse=True)
        return np.array([f"{v:g}" for v in distinct])[inverse], ~np.isnan(values)
    shown = ["" if v is None else (f"{v:g}" if isinstance(v, float) else str(v)) for v in values]
    present = [v is not None and not (isinstance(v, float) and math.isnan(v)) for v in values]
    return np.array(shown), np.array(present, dtype=bool)


def check_data(ctx: RunContext, check: Check) -> CheckResult:
    """``data``: required columns, value ranges, allowed values and missing shares."""
    dataset = ctx.dataset(check)
    names = {column.name for column in dataset.columns}
    problems: list[str] = []
    evidence: dict[str, Any] = {}
    missing_columns = [c for c in check.get("required_columns", []) if c not in names]
    if missing_columns:
        problems.append(f"missing column(s) {', '.join(map(repr, missing_columns))}")
        evidence["missing_columns"] = missing_columns
    for column, bounds in check.get("ranges", {}).items():
        if column not in names:
            raise BadInputError(
                f"check {check.id!r}: ranges names no column of {dataset.ref}: {column!r}"
            )
        if not (
            isinstance(bounds, list)
            and len(bounds) == 2
            and all(isinstance(b, int | float) for b in bounds)
        ):
            raise BadInputError(f"check {check.id!r}: ranges.{column} must be [low, high]")
        values = ctx.column(dataset, column)
        if values.dtype.kind != "f":
            raise BadInputError(
                f"check {check.id!r}: column {column!r} is text; a range needs numbers"
            )
        outside = np.isfinite(values) & ((values < bounds[0]) | (values > bounds[1]))
        if outside.any():
            problems.append(
                f"{int(outside.sum())} row(s) of {column!r} outside [{bounds[0]:g}, {bounds[1]:g}]"
            )
            evidence.setdefault("outside", {})[column] = _row_list(outside)
    for column, allowed in check.get("allowed", {}).items():
        if column not in names:
            raise BadInputError(
                f"check {check.id!r}: allowed names no column of {dataset.ref}: {column!r}"
            )
        if not isinstance(allowed, list):
            raise BadInputError(f"check {check.id!r}: allowed.{column} must be a list")
        values = ctx.column(dataset, column)
        accepted = {str(value) for value in allowed}
        shown, present = _as_shown(values)
        other = present & ~np.isin(shown, list(accepted))
        if other.any():
            examples = sorted(set(shown[other]))[:5]
            problems.append(
                f"{int(other.sum())} row(s) of {column!r} hold other values ({', '.join(examples)})"
            )
            evidence.setdefault("not_allowed", {})[column] = _row_list(other)
    limit = check.get("max_missing")
    if limit is not None:
        for column in dataset.columns:
            if column.role == "ignore":
                continue
            share = (column.stats.get("missing", 0) + column.stats.get("nan", 0)) / max(
                1, dataset.rows
            )
            if share > limit:
                problems.append(f"{column.name!r} is {share:.1%} missing (max {limit:.1%})")
                evidence.setdefault("missing_share", {})[column.name] = share
    verdict = FAIL if problems else PASS
    return CheckResult(
        id=check.id,
        kind=check.kind,
        verdict=verdict,
        message="; ".join(problems)
        if problems
        else f"{dataset.ref}: every data rule holds ({dataset.rows} rows)",
        value=float(len(problems)),
        threshold="every rule holds",
        rows=dataset.rows,
        dataset=dataset.ref,
        evidence=evidence,
    )


def check_latency(ctx: RunContext, check: Check) -> CheckResult:
    """``latency``: the profile's percentile of the newest benchmark within ``budget_ms``."""
    from modeldesk.bench.profiles import get_profile
    from modeldesk.bench.run import bench_profile, latest_run_of_content

    profile_name, budget = check.get("profile"), float(check.get("budget_ms"))
    percentile = float(check.get("percentile", 95))
    profile = get_profile(ctx.catalog, profile_name)
    run = latest_run_of_content(ctx.catalog, ctx.model.sha256, profile.name)
    if run is None and check.get("run_if_missing", False):
        bench_profile(ctx.catalog, ctx.model.ref, profile, cancel=ctx.cancel)
        run = latest_run_of_content(ctx.catalog, ctx.model.sha256, profile.name)
    if run is None or not run.results:
        return CheckResult(
            id=check.id,
            kind=check.kind,
            verdict=ERROR,
            message=f"no benchmark of {ctx.model.ref} on {profile.name}: run "
            f"'modeldesk bench {ctx.model.ref} --profile {profile.name}' or set run_if_missing",
            threshold=f"<= {budget:g} ms",
        )
    latencies = np.asarray(run.results["batches"][0]["latencies_ms"], dtype=np.float64)
    # The percentile as onnxruntime_perf_test takes it, of the resampled latencies.
    interval = bootstrap(
        WeightedPercentile(latencies, percentile / 100),
        len(latencies),
        resamples=ctx.suite.resamples,
        shared=ctx.resamples(None),
        confidence=ctx.suite.confidence,
        seed=ctx.seed(check),
    )
    verdict = verdict_at_most(interval, budget)
    needed = rows_to_decide(interval, budget, len(latencies)) if verdict == INCONCLUSIVE else None
    return CheckResult(
        id=check.id,
        kind=check.kind,
        verdict=verdict,
        message=f"p{percentile:g} {interval.value:.3f} ms "
        f"[{interval.low:.3f}, {interval.high:.3f}] over {len(latencies)} runs "
        f"(bench run {run.id}, {run.created_at[:19]}) on {profile.name}; "
        f"needs <= {budget:g} ms: {verdict}"
        + (f" (about {needed:,} iterations would decide it)" if needed else ""),
        value=interval.value,
        interval=interval,
        threshold=f"<= {budget:g} ms",
        rows=len(latencies),
        rows_to_decide=needed,
        evidence={
            "bench_run": run.id,
            "profile": profile.name,
            "batch": run.results["batches"][0]["batch"],
        },
    )
