"""What the delivery dashboard shows, computed in one pass over the record.

The five figures over the window (as ``modeldesk delivery`` gives them), each figure's
trend per model by month, every deployment in the window with what became of it, the
lead-time stages per model, and what is waiting: candidates awaiting approval and
releases whose gates fail. Headless: the app's dashboard only draws this.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from modeldesk.catalog.store import Catalog
from modeldesk.delivery import Deployment, default_window, deployment_history, figures_from
from modeldesk.release.deployments import format_time

__all__ = ["LIVE", "OUTCOMES", "delivery_board", "deployment_options"]

LIVE, FAILED, ROLLED_BACK, SUPERSEDED = "live", "failed", "rolled back", "superseded"
OUTCOMES = (LIVE, FAILED, ROLLED_BACK, SUPERSEDED)
TREND_MONTHS = 12  # trend points, a month apart
MONTH = dt.timedelta(days=30.4375)
MAX_TIMELINE = 1000  # newest deployments drawn (the rest are counted): more is unreadable
MAX_WAITING = 50  # newest candidates whose gates are read

# A figure's trend value from the figures of one window (None where it is undefined:
# no deployments, no failures recovered).
TREND_FIGURES = {
    "lead_time": lambda f: f["lead_time_hours"]["median"],
    "deploy_frequency": lambda f: f["deploys_per_week"],
    "change_fail_rate": lambda f: f["change_fail_rate"],
    "recovery_time": lambda f: f["recovery_time_hours"]["median"],
    "rework_rate": lambda f: f["rework_rate"],
}


def _outcome(deployment: Deployment, rolled_back: set[tuple[str, str, float]]) -> str:
    ended = deployment.superseded_at
    if deployment.failed_at is not None and (ended is None or deployment.failed_at < ended):
        return FAILED
    if ended is None:
        return LIVE
    if (deployment.model, deployment.target, ended) in rolled_back:
        return ROLLED_BACK
    return SUPERSEDED


def _timeline(history: list[Deployment], start: float, end: float) -> tuple[list[dict], int]:
    # A deployment superseded by a rollback was rolled back: the rollback's start is its end.
    rolled_back = {(d.model, d.target, d.at) for d in history if d.rollback_of is not None}
    shown = [
        d for d in history if d.at <= end and (d.superseded_at is None or d.superseded_at >= start)
    ]
    drawn = shown[-MAX_TIMELINE:]
    points = [
        {
            "release": d.release_id,
            "model": d.model,
            "version": d.version,
            "target": d.target,
            "at": d.at,
            "until": min(d.superseded_at or end, end),
            "failed_at": d.failed_at,
            "outcome": _outcome(d, rolled_back),
            "rollback": d.rollback_of is not None,
            "hotfix": d.hotfix,
        }
        for d in drawn
    ]
    return points, len(shown) - len(drawn)


def _trends(
    by_model: dict[str, list[Deployment]], since: dt.datetime, until: dt.datetime
) -> tuple[list[float], dict[str, dict[str, list[float | None]]]]:
    # Each point is the figure as it read at the end of a month, over a window as long as
    # the board's: the last point is the headline figure, and the line is smooth.
    span = until - since
    ends = [until - MONTH * (TREND_MONTHS - 1 - index) for index in range(TREND_MONTHS)]
    first = min((part[0].at for part in by_model.values()), default=until.timestamp())
    ends = [end for end in ends if end.timestamp() >= first] or [until]  # none before the record
    trends: dict[str, dict[str, list[float | None]]] = {}
    for model, history in by_model.items():
        figures = [figures_from(history, end - span, end) for end in ends]
        trends[model] = {name: [read(f) for f in figures] for name, read in TREND_FIGURES.items()}
    return [end.timestamp() for end in ends], trends


def _waiting(catalog: Catalog, model: str | None) -> list[dict[str, Any]]:
    from modeldesk.release.gates import evaluate_gates
    from modeldesk.release.records import get_release

    rows = catalog.query(
        "SELECT r.id FROM release r JOIN model_version v ON v.id = r.model_version_id"
        " JOIN model m ON m.id = v.model_id WHERE r.state IN ('candidate', 'approved')"
        " AND (? IS NULL OR m.name = ?) ORDER BY r.id DESC LIMIT ?",
        (model, model, MAX_WAITING),
    )
    waiting = []
    for row in rows:
        release = get_release(catalog, row["id"])
        # Blobs are hashed when the release is opened; the list reads the record only.
        report = evaluate_gates(catalog, release, hash_blobs=False)
        failing = report.failing(except_approvals=True)
        if failing:
            why = "; ".join(f"{gate.id}: {gate.message}" for gate in failing)
            state = "gate fails"
        elif release.state == "candidate":
            why, state = (
                "its gates hold; it needs a release manager's approval",
                "awaiting approval",
            )
        else:
            why, state = "approved; it needs packaging", "awaiting packaging"
        waiting.append(
            {
                "release": release.id,
                "model": release.model.name,
                "version": release.model.version,
                "ref": release.model.ref,
                "state": state,
                "why": why,
                "created": release.created_at,
            }
        )
    return waiting


def delivery_board(
    catalog: Catalog,
    *,
    model: str | None = None,
    target: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> dict[str, Any]:
    """Everything the delivery dashboard draws for ``model`` on ``target`` (all if not
    given) over the window (default: the 90 days up to now)."""
    since, until = default_window(catalog, since, until)
    history = deployment_history(catalog, model=model, target=target)
    start, end = since.timestamp(), until.timestamp()
    by_model: dict[str, list[Deployment]] = {}
    for deployment in history:
        by_model.setdefault(deployment.model, []).append(deployment)
    months, trends = _trends(by_model, since, until)
    timeline, not_drawn = _timeline(history, start, end)
    stages = {
        name: figures_from(part, since, until)["lead_time_hours"]["stages"]
        for name, part in sorted(by_model.items())
    }
    models = [r["name"] for r in catalog.query("SELECT name FROM model ORDER BY name")]
    targets = sorted(
        {r["target"] for r in catalog.query("SELECT DISTINCT target FROM deployment_event")}
    )
    return {
        "figures": figures_from(history, since, until, model=model, target=target),
        "window": {"since": format_time(since), "until": format_time(until)},
        "start": start,
        "end": end,
        "months": months,
        "trends": trends,
        "timeline": timeline,
        "not_drawn": not_drawn,
        "targets": sorted(
            {point["target"] for point in timeline} | ({target} if target else set())
        ),
        "stages": stages,
        "waiting": _waiting(catalog, model),
        "all_models": models,
        "all_targets": targets,
    }


def deployment_options(catalog: Catalog, release: Any) -> dict[str, dict[str, Any]]:
    """Per target of ``release``: the release of its model live there now (None if none)
    and the earlier releases that were live there (what a rollback may go back to)."""
    history = deployment_history(catalog, model=release.model.name)
    options: dict[str, dict[str, Any]] = {}
    for target in release.targets:
        here = [d for d in history if d.target == target]
        live = here[-1].release_id if here else None
        earlier: list[int] = []
        for deployment in reversed(here[:-1]):
            if deployment.release_id not in (live, *earlier):
                earlier.append(deployment.release_id)
        options[target] = {"live": live, "earlier": earlier}
    return options
