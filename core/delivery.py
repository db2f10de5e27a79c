"""The five delivery figures (DORA) of models, computed from the deployment record.

Per model and target, a deployment's history is its deploy events in time order; each
supersedes the one before. Over a window [since, until]:

- change lead time: from a model version's registration to its first deployment on the
  target (when that falls in the window); median and p90, and the median of each stage
  (registered -> release created -> approved -> packaged -> deployed);
- deployment frequency: deployments in the window per week;
- change fail rate: the share of deployments in the window marked failed before the
  next deployment to that target (per deployment, never per incident);
- failed deployment recovery time: from a failure in the window to the next deployment
  on that target not itself marked failed (a rollback counts); median; a failure not yet
  recovered is listed as open;
- deployment rework rate: the share of deployments that were of hotfix releases.

Each is a sample: rates carry a Wilson interval, frequencies a Poisson (Garwood) one,
medians a distribution-free order-statistic one, all at 95 %. A figure's band is the
2024 cluster its whole interval falls in, else INCONCLUSIVE with the bands it spans.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from modeldesk.catalog.store import Catalog
from modeldesk.delivery_stats import (
    CONFIDENCE,
    poisson_rate_interval,
    quantile,
    quantile_interval,
    wilson_interval,
)
from modeldesk.release.deployments import FAIL, format_time, parse_time

__all__ = [
    "BANDS_SOURCE",
    "Deployment",
    "default_window",
    "delivery_figures",
    "deployment_history",
    "figures_from",
]

DEFAULT_WINDOW_DAYS = 90
HOUR, WEEK_HOURS = 3600.0, 168.0
INCONCLUSIVE = "INCONCLUSIVE"
BANDS_SOURCE = (
    "DORA, Accelerate State of DevOps Report 2024, software delivery performance clusters "
    "(elite, high, medium, low). Where the clusters overlap or leave gaps (recovery: high "
    "and medium both under a day; change fail rate: medium 10 % below high 20 %), a value "
    "takes the nearest cluster's band. Rework rate has no bands."
)
# Upper limits of each band, best first (the last band takes the rest).
_LEAD_HOURS = (("elite", 24.0), ("high", 168.0), ("medium", 720.0), ("low", math.inf))
_RECOVERY_HOURS = (("elite", 1.0), ("high", 24.0), ("medium", 168.0), ("low", math.inf))
# Change fail rate: the clusters' values 5 %, 10 % (medium), 20 % (high), 40 % (low);
# the limits lie halfway between neighbours.
_FAIL_RATE = (("elite", 0.075), ("medium", 0.15), ("high", 0.30), ("low", math.inf))
# Deployment frequency, per week, lower limits best first: more than daily, weekly, monthly.
_PER_WEEK = (("elite", 7.0), ("high", 1.0), ("medium", 7.0 / 30.4375), ("low", 0.0))


def _epoch(seconds: float) -> str:
    return format_time(dt.datetime.fromtimestamp(seconds, dt.UTC))


@dataclass
class Deployment:
    """One deployment of a release on a target, with what became of it. Times are
    seconds since the epoch (the record holds tens of thousands: floats are cheap)."""

    event_id: int
    release_id: int
    model: str
    version: int
    target: str
    at: float
    rollback_of: int | None
    hotfix: bool
    registered: float | None
    created: float | None
    approved: float | None
    packaged: float | None
    failed_at: float | None = None
    superseded_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (times in the catalog's form)."""
        return {
            "event": self.event_id,
            "release": self.release_id,
            "model": self.model,
            "version": self.version,
            "target": self.target,
            "at": _epoch(self.at),
            "rollback_of": self.rollback_of,
            "hotfix": self.hotfix,
            "failed_at": _epoch(self.failed_at) if self.failed_at is not None else None,
            "superseded_at": _epoch(self.superseded_at) if self.superseded_at is not None else None,
        }


# SQLite reads the catalog's ISO 8601 times (with their Z) itself: epoch seconds.
_SECONDS = "(julianday({}) - 2440587.5) * 86400.0"


def deployment_history(
    catalog: Catalog, *, model: str | None = None, target: str | None = None
) -> list[Deployment]:
    """Every deployment (of ``model``, on ``target``) in time order, each with when it
    failed and when the next deployment on its target superseded it."""
    times = ", ".join(
        f"{_SECONDS.format(column)} AS {name}"
        for column, name in (
            ("e.at", "at_s"),
            ("v.created_at", "registered"),
            ("r.created_at", "created"),
            ("r.approved_at", "approved"),
            ("r.packaged_at", "packaged"),
        )
    )
    sql = (
        f"SELECT e.id, e.kind, e.release_id, e.target, e.rollback_of, m.name AS model,"
        f" v.version AS version, r.fixes_id, {times}"
        " FROM deployment_event e JOIN release r ON r.id = e.release_id"
        " JOIN model_version v ON v.id = r.model_version_id JOIN model m ON m.id = v.model_id"
        " WHERE (? IS NULL OR m.name = ?) AND (? IS NULL OR e.target = ?)"
        " ORDER BY e.at, e.id"
    )
    live: dict[tuple[str, str], Deployment] = {}
    history: list[Deployment] = []
    for row in catalog.conn.execute(sql, (model, model, target, target)):
        (
            event_id,
            kind,
            release_id,
            where,
            rollback_of,
            name,
            version,
            fixes,
            at,
            registered,
            created,
            approved,
            packaged,
        ) = row
        place = (name, where)
        if kind == FAIL:
            if place in live and live[place].failed_at is None:
                live[place].failed_at = at
            continue
        deployment = Deployment(
            event_id,
            release_id,
            name,
            version,
            where,
            at,
            rollback_of,
            fixes is not None,
            registered,
            created,
            approved,
            packaged,
        )
        if place in live:
            live[place].superseded_at = at
        live[place] = deployment
        history.append(deployment)
    return history


def _band_below(value: float, limits: tuple[tuple[str, float], ...]) -> str:
    return next(name for name, limit in limits if value < limit)


def _band_above(value: float, limits: tuple[tuple[str, float], ...]) -> str:
    return next(name for name, limit in limits if value >= limit)


def _band(interval: list[float] | None, which, limits) -> dict[str, Any]:
    if interval is None:
        return {"band": INCONCLUSIVE, "between": None, "why": "too few events to decide"}
    ends = [which(interval[0], limits), which(interval[1], limits)]
    if ends[0] == ends[1]:
        return {"band": ends[0], "between": None}
    names = [name for name, _ in limits]
    span = names[min(map(names.index, ends)) : max(map(names.index, ends)) + 1]
    return {"band": INCONCLUSIVE, "between": span, "why": "the interval spans these bands"}


def _hours(later: float | None, earlier: float | None) -> float | None:
    if later is None or earlier is None:
        return None
    return (later - earlier) / HOUR


def _lead_times(history: list[Deployment], since: float, until: float) -> dict:
    first: dict[tuple[str, int, str], Deployment] = {}
    for deployment in history:
        first.setdefault((deployment.model, deployment.version, deployment.target), deployment)
    chosen = [d for d in first.values() if since <= d.at <= until]
    totals = [_hours(d.at, d.registered) for d in chosen]
    lead = [t for t in totals if t is not None]
    steps = (
        ("registered", "created"),
        ("created", "approved"),
        ("approved", "packaged"),
        ("packaged", "deployed"),
    )
    stages = {}
    for start, end in steps:
        spans = [
            _hours(getattr(d, "at" if end == "deployed" else end), getattr(d, start))
            for d in chosen
        ]
        stages[f"{start}_to_{end}"] = quantile([s for s in spans if s is not None], 0.5)
    return {
        "median": quantile(lead, 0.5),
        "p90": quantile(lead, 0.9),
        "interval": quantile_interval(lead, 0.5),
        "p90_interval": quantile_interval(lead, 0.9),
        "versions": len(lead),
        "stages": stages,
    }


def _recoveries(history: list[Deployment], since: float, until: float) -> dict:
    by_place: dict[tuple[str, str], list[Deployment]] = {}
    for deployment in history:
        by_place.setdefault((deployment.model, deployment.target), []).append(deployment)
    recovered, still_open = [], []
    for place in by_place.values():
        for index, deployment in enumerate(place):
            failed = deployment.failed_at
            if failed is None or not since <= failed <= until:
                continue
            recovery = next(
                (place[j] for j in range(index + 1, len(place)) if place[j].failed_at is None),
                None,
            )  # the deployments after it on its target, in time order, follow the failure
            if recovery is None or recovery.at > until:
                still_open.append(
                    {
                        "release": deployment.release_id,
                        "target": deployment.target,
                        "failed_at": _epoch(failed),
                        "hours_so_far": _hours(until, failed),
                    }
                )
            else:
                recovered.append(_hours(recovery.at, failed) or 0.0)
    still_open.sort(key=lambda item: str(item["failed_at"]))
    return {
        "median": quantile(recovered, 0.5),
        "interval": quantile_interval(recovered, 0.5),
        "recovered": len(recovered),
        "open": still_open,
    }


def delivery_figures(
    catalog: Catalog,
    *,
    model: str | None = None,
    target: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> dict[str, Any]:
    """The five figures of ``model`` on ``target`` (all if not given) over the window
    (default: the 90 days up to now), with intervals and bands: the JSON ``modeldesk
    delivery --json`` prints."""
    since, until = default_window(catalog, since, until)
    history = deployment_history(catalog, model=model, target=target)
    return figures_from(history, since, until, model=model, target=target)


def default_window(
    catalog: Catalog, since: dt.datetime | None, until: dt.datetime | None
) -> tuple[dt.datetime, dt.datetime]:
    """The window asked for, filled in: up to now, the 90 days before ``until``."""
    until = until or parse_time(catalog.clock())
    return since or until - dt.timedelta(days=DEFAULT_WINDOW_DAYS), until


def figures_from(
    history: list[Deployment],
    since: dt.datetime,
    until: dt.datetime,
    *,
    model: str | None = None,
    target: str | None = None,
) -> dict[str, Any]:
    """The five figures over ``since``..``until`` of a history read by
    :func:`deployment_history` (``model`` and ``target`` only label the result)."""
    weeks = (until - since).total_seconds() / HOUR / WEEK_HOURS
    start, end = since.timestamp(), until.timestamp()
    inside = [d for d in history if start <= d.at <= end]
    failed = sum(
        d.failed_at is not None and (d.superseded_at is None or d.failed_at < d.superseded_at)
        for d in inside
    )
    hotfixes = sum(d.hotfix for d in inside)
    count = len(inside)
    lead = _lead_times(history, start, end)
    recovery = _recoveries(history, start, end)
    rates = {
        "deploys_per_week": (
            count / weeks if weeks > 0 else None,
            poisson_rate_interval(count, weeks),
        ),
        "change_fail_rate": (failed / count if count else None, wilson_interval(failed, count)),
        "rework_rate": (hotfixes / count if count else None, wilson_interval(hotfixes, count)),
    }
    bands = {
        "lead_time": _band(lead["interval"], _band_below, _LEAD_HOURS),
        "deploy_frequency": _band(rates["deploys_per_week"][1], _band_above, _PER_WEEK),
        "change_fail_rate": _band(rates["change_fail_rate"][1], _band_below, _FAIL_RATE),
        "recovery_time": _band(recovery["interval"], _band_below, _RECOVERY_HOURS),
        "source": BANDS_SOURCE,
    }
    return {
        "model": model,
        "target": target,
        "window": {"since": format_time(since), "until": format_time(until), "weeks": weeks},
        "deployments": count,
        "failed": failed,
        "hotfixes": hotfixes,
        "lead_time_hours": lead,
        **{name: value for name, (value, _) in rates.items()},
        "intervals": {name: interval for name, (_, interval) in rates.items()},
        "recovery_time_hours": recovery,
        "bands": bands,
        "confidence": CONFIDENCE,
    }
