"""The five delivery figures as text: names, values with units, intervals and bands.

One reading for every face: ``modeldesk delivery`` prints these rows and the app's
dashboard shows the same words on its figure cards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["FigureText", "band_text", "figure_texts", "number", "span"]


def number(value: float | None, unit: str = "", percent: bool = False) -> str:
    """``value`` with its unit (``-`` when it is undefined)."""
    if value is None:
        return "-"
    return f"{value * 100:.1f} %" if percent else f"{value:.2f}{unit}"


def span(interval: list[float] | None, unit: str = "", percent: bool = False) -> str:
    """An interval as ``low .. high`` (``-`` when there is none)."""
    if interval is None:
        return "-"
    return f"{number(interval[0], unit, percent)} .. {number(interval[1], unit, percent)}"


def band_text(band: dict | None) -> str:
    """A band, or INCONCLUSIVE with the bands its interval spans (or why)."""
    if band is None:
        return "(no bands)"
    if band["band"] == "INCONCLUSIVE":
        return f"INCONCLUSIVE ({' - '.join(band['between']) if band['between'] else band['why']})"
    return band["band"]


@dataclass(frozen=True)
class FigureText:
    """One figure, read for people."""

    key: str  # the figure's name in the JSON's ``bands`` and the board's trends
    title: str  # DORA's name
    value: str
    interval: str
    band: str
    note: str  # what the one number hides: p90, open failures, counts
    unit: str  # of the trend line's axis


def figure_texts(figures: dict[str, Any]) -> list[FigureText]:
    """The five figures of :func:`modeldesk.delivery.delivery_figures`, in DORA's order."""
    lead, recovery, bands = (
        figures["lead_time_hours"],
        figures["recovery_time_hours"],
        figures["bands"],
    )
    intervals = figures["intervals"]
    count = figures["deployments"]
    return [
        FigureText(
            "lead_time",
            "Change lead time (median)",
            number(lead["median"], " h"),
            span(lead["interval"], " h"),
            band_text(bands["lead_time"]),
            f"p90 {number(lead['p90'], ' h')} over {lead['versions']} version(s)",
            "hours",
        ),
        FigureText(
            "deploy_frequency",
            "Deployment frequency",
            number(figures["deploys_per_week"], " / week"),
            span(intervals["deploys_per_week"]),
            band_text(bands["deploy_frequency"]),
            f"{count} deployment(s)",
            "per week",
        ),
        FigureText(
            "change_fail_rate",
            "Change fail rate",
            number(figures["change_fail_rate"], percent=True),
            span(intervals["change_fail_rate"], percent=True),
            band_text(bands["change_fail_rate"]),
            f"{figures['failed']} of {count} deployment(s) failed",
            "share",
        ),
        FigureText(
            "recovery_time",
            "Failed deployment recovery time (median)",
            number(recovery["median"], " h"),
            span(recovery["interval"], " h"),
            band_text(bands["recovery_time"]),
            f"{recovery['recovered']} recovered, {len(recovery['open'])} still open",
            "hours",
        ),
        FigureText(
            "rework_rate",
            "Deployment rework rate",
            number(figures["rework_rate"], percent=True),
            span(intervals["rework_rate"], percent=True),
            band_text(None),
            f"{figures['hotfixes']} hotfix deployment(s)",
            "share",
        ),
    ]
