"""The delivery dashboard on a long record never blocks the GUI thread.

    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/perf/bench_dashboard.py [--repeats 5]

The record of bench_delivery.py (10,000 releases, 30,000 events over seven years) is
opened in the dashboard with its one-year window, so the board reads every event and
draws thousands of deployments. A 10 ms heartbeat timer runs on the GUI thread from the
reload until the board is drawn; the longest gap between two beats is the longest the
window could not answer. Baseline: the same heartbeat on an idle event loop for as long,
in the same run. Target: the longest gap under 50 ms (median over the repeats).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_delivery import build  # beside this script
from targets import Targets

GAP_TARGET_S = 0.050
YEAR_WINDOW = 3  # "Last year" in the dashboard's window filter


def heartbeat_gaps(app, until) -> tuple[float, float]:
    """Run the event loop with a 10 ms heartbeat until ``until()``; (longest gap, seconds)."""
    from PySide6.QtCore import QTimer

    beats: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: beats.append(time.perf_counter()))
    started = time.perf_counter()
    beats.append(started)
    timer.start()
    while not until():
        app.processEvents()
        time.sleep(0.001)
    app.processEvents()
    timer.stop()
    beats.append(time.perf_counter())
    gaps = [later - earlier for earlier, later in itertools.pairwise(beats)]
    return max(gaps), beats[-1] - started


def main() -> None:
    """Measure the dashboard's longest GUI-thread stall against an idle loop."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--releases", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from modeldesk.catalog.store import Catalog
    from modeldesk.gui.context import AppContext
    from modeldesk.gui.jobs import JobRunner
    from modeldesk.gui.pages.delivery_view import DeliveryView

    targets = Targets()
    with tempfile.TemporaryDirectory(prefix="modeldesk-bench-") as scratch:
        path = build(Path(scratch), options.releases)
        catalog = Catalog.open(path)
        runner = JobRunner()
        view = DeliveryView(AppContext(catalog, runner))
        view.resize(1400, 1000)
        view.show()
        view.window_filter.setCurrentIndex(YEAR_WINDOW)
        stalls, idle, spent = [], [], []
        for _ in range(options.repeats + 1):  # the first round pays Qt's one-time set-up
            view.board = None
            view.reload()
            gap, seconds = heartbeat_gaps(app, lambda: view.board is not None and view.drawn)
            stalls.append(gap)
            spent.append(seconds)
            began = time.perf_counter()
            wait = seconds
            idle.append(heartbeat_gaps(app, lambda b=began, w=wait: time.perf_counter() - b > w)[0])
        drawn = len(view.board["timeline"])
        runner.shutdown()
        catalog.close()
    stall, baseline = statistics.median(stalls[1:]), statistics.median(idle[1:])
    took = statistics.median(spent[1:])
    print(f"board: {drawn:,} deployments drawn over the last year, median {took:.3f} s to drawn")
    print(f"idle event loop, longest heartbeat gap: median {baseline * 1000:.1f} ms")
    print(
        f"dashboard reload, longest heartbeat gap: median {stall * 1000:.1f} ms "
        f"({stall / baseline:.2f}x idle) target < {GAP_TARGET_S * 1000:.0f} ms "
        f"{targets.check('dashboard heartbeat', stall < GAP_TARGET_S)}"
    )
    targets.finish()


if __name__ == "__main__":
    main()
