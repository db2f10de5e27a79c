"""Charts and tables of benchmark runs: latency histogram, trend across versions, profile."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg

from modeldesk.gui.widgets.plots import ChartFrame

__all__ = ["profile_tables", "show_histogram", "show_trend"]

COLOURS = ["#3b7dd8", "#e07b00", "#2e7d32", "#8e24aa", "#c62828", "#00838f"]


def show_histogram(frame: ChartFrame, latencies_ms: list[float], title: str) -> None:
    """Bars of how many iterations took how long."""
    values = np.asarray(latencies_ms, dtype=float)
    counts, edges = np.histogram(values, bins=min(40, max(5, len(values) // 5)))
    frame.plot.clear()
    frame.plot.addItem(
        pg.BarGraphItem(
            x0=edges[:-1],
            width=np.diff(edges),
            height=counts,
            brush=pg.mkBrush(COLOURS[0]),
            pen=None,
        )
    )
    frame.set_title(title)


def show_trend(frame: ChartFrame, lines: dict[str, list[tuple[int, float]]]) -> None:
    """One line per profile: the budget percentile at each model version."""
    plot = frame.plot
    plot.clear()
    versions = sorted({version for points in lines.values() for version, _ in points})
    highest = max((value for points in lines.values() for _, value in points), default=1.0)
    plot.getAxis("bottom").setTicks([[(v, f"v{v}") for v in versions]])
    plot.setXRange(min(versions, default=1) - 0.5, max(versions, default=1) + 0.5)
    plot.setYRange(0, highest * 1.15)
    for index, (profile, points) in enumerate(lines.items()):
        xs, ys = zip(*points, strict=True)
        colour = COLOURS[index % len(COLOURS)]
        plot.plot(list(xs), list(ys), pen=pg.mkPen(colour, width=2), symbol="o",
                  symbolSize=7, symbolBrush=colour, name=profile)  # fmt: skip


SLOWEST_NODES = 20  # a run keeps every node's time; the Bench tab lists the slowest


def profile_tables(profile: dict[str, Any]) -> tuple[list[list[Any]], list[list[Any]]]:
    """Rows for the op-type table and the slowest-node table of a run's ORT profile."""
    total = max(profile.get("total_us", 0), 1)
    ops = [
        [op["op"], op["nodes"], op["us"], f"{op['us'] / total:.0%}", ", ".join(op["providers"])]
        for op in profile.get("ops", [])
    ]
    slowest = profile.get("nodes", [])[:SLOWEST_NODES]
    nodes = [[n["node"], n["op"], n["us"], n["provider"]] for n in slowest]
    return ops, nodes
