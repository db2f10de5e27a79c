"""Save a screenshot of every page, to look at what the app shows.

    QT_QPA_PLATFORM=offscreen python -m modeldesk.gui.screenshots OUT_DIR [--catalog PATH]

Without ``--catalog`` the demo catalog is built in a temporary folder. The
README's screenshot (``resources/screenshot.png``) is the model version page
taken by this script:

    QT_QPA_PLATFORM=offscreen python -m modeldesk.gui.screenshots /tmp/shots \
        --readme resources/screenshot.png
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["TourError", "take_screenshots"]

SIZE = (1400, 880)
README_SHOT = "model_version_explain"  # exact TreeSHAP of the newest breast-cancer model


class TourError(RuntimeError):
    """The tour could not finish: a page showed an error or work did not end in time."""


def take_screenshots(
    catalog_path: Path,
    out: Path,
    *,
    timeout_s: float = 600.0,
    isolate_settings: bool = True,
    notes: list[str] | None = None,
) -> list[Path]:
    """Open the window on ``catalog_path``, visit each page, save PNGs in ``out``.

    Debugging, one explanation and one local benchmark run on the way, as a user would
    run them; ``notes`` (if given) collects a line on what each produced. Raises
    ``TourError`` when a page reports an error or a job outlasts ``timeout_s``; the
    self-test (``modeldesk gui --self-test``) relies on that.
    """
    from PySide6.QtCore import QEventLoop, QSettings
    from PySide6.QtWidgets import QApplication

    from modeldesk.catalog.store import Catalog
    from modeldesk.gui.main_window import MainWindow
    from modeldesk.gui.navigator import Selection
    from modeldesk.gui.theme import apply_theme

    app = QApplication.instance() or QApplication(sys.argv[:1])
    if isolate_settings:
        # Screenshots must not depend on (or change) the user's remembered window state.
        settings_dir = tempfile.mkdtemp(prefix="modeldesk-shots-settings-")
        QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, settings_dir)
    apply_theme(app)
    out.mkdir(parents=True, exist_ok=True)
    window = MainWindow(Catalog.open(catalog_path))
    window.resize(*SIZE)
    window.show()
    deadline = time.monotonic() + timeout_s
    saved: list[Path] = []

    def wait(done: Callable[[], bool], what: str) -> None:
        while not done():
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            problems = _problems(window)
            if problems:
                raise TourError(f"{what}: {problems[0]}")
            if time.monotonic() > deadline:
                raise TourError(f"{what}: not done after {timeout_s:.0f} s")

    def shoot(name: str) -> None:
        for _ in range(5):
            app.processEvents()
        problems = _problems(window)
        if problems:
            raise TourError(f"{name}: {problems[0]}")
        path = out / f"{name}.png"
        if not window.grab().save(str(path)):
            raise TourError(f"{path}: the screenshot could not be saved")
        saved.append(path)

    try:
        wait(lambda: window.settled, "opening the main window")
        dashboard = window.catalog_page.delivery
        wait(lambda: dashboard is not None and dashboard.drawn, "drawing the delivery dashboard")
        shoot("catalog")
        models = _records(window, "model")
        datasets = _records(window, "dataset")
        if models:
            _tour_model(window, models[0], wait, shoot, notes if notes is not None else [])
        if datasets:
            name = datasets[0]
            window.open_selection(Selection("dataset", name))
            shoot("dataset")
            window.open_selection(Selection("dataset", name, _latest(window, "dataset", name)))
            page = window.dataset_version_page
            if page.version is not None and page.version.columns:
                numeric = [c.name for c in page.version.columns if "histogram" in c.stats]
                page.show_column(numeric[1] if len(numeric) > 1 else page.version.columns[0].name)
            shoot("dataset_version")
            page.tabs.setCurrentIndex(1)
            wait(lambda: not window.runner.active, "loading the dataset's rows")
            shoot("dataset_version_rows")
            page.tabs.setCurrentIndex(2)
            shoot("dataset_version_changes")
    finally:
        window.runner.cancel_all()
        window.close()
    return saved


def _tour_model(window: Any, name: str, wait: Any, shoot: Any, notes: list[str]) -> None:
    """The model pages: each tab, a debug report, an explanation and a benchmark."""
    from modeldesk.gui.navigator import Selection

    window.open_selection(Selection("model", name))
    shoot("model")
    window.open_selection(Selection("model", name, _latest(window, "model", name)))
    page = window.model_version_page
    graph = page.graph

    def drawn(diff: bool = False) -> bool:
        if graph.failure is not None:
            raise TourError(f"the graph of {graph.ref}: {graph.failure}")
        opened = graph.opened
        return (
            opened is not None
            and (opened.compared is not None) == diff
            and not window.runner.active
            and graph.canvas.complete
        )

    for index, tab in enumerate(["overview", "io", "graph", "operators", "metadata", "changes"]):
        page.tabs.setCurrentIndex(index)
        if tab == "graph":
            wait(drawn, "drawing the graph")
        shoot(f"model_version_{tab}")
    number = page.version.version if page.version is not None else 0
    earlier = sorted((r for r in graph.siblings if int(r.rpartition("@")[2]) < number),
                     key=lambda r: int(r.rpartition("@")[2]))  # fmt: skip
    if earlier:
        page.show_graph_diff(earlier[-1])
        wait(lambda: drawn(diff=True), "diffing two graphs")
        shoot("model_version_graph_diff")
        notes.append(f"graph diff {earlier[-1]} -> {graph.ref}: "
                     f"{graph.opened.compared.diff.summary()}")  # fmt: skip
    page.tabs.setCurrentWidget(page.debug)
    page.debug.run()
    wait(lambda: not window.runner.active and page.debug.report is not None, "debugging")
    shoot("model_version_debug")
    report = page.debug.report
    notes.append(f"debugged {report.model} on {report.dataset}: {len(report.metrics)} metrics")
    page.tabs.setCurrentWidget(page.explain)
    page.explain.run(confirmed=True)
    wait(lambda: not window.runner.active and page.explain.view is not None, "explaining")
    shoot("model_version_explain")
    explanation = page.explain.view.explanation
    notes.append(
        f"explained {explanation.model} on {explanation.dataset}: {explanation.method}, "
        f"{len(explanation.rows)} rows x {len(explanation.feature_names)} features"
    )
    page.tabs.setCurrentWidget(page.bench)
    page.bench.matrix.setCurrentCell(0, 0)
    page.bench.run_selected()
    wait(lambda: not window.runner.active and not page.bench.pending, "benchmarking")
    shoot("model_version_bench")
    run = page.bench.shown
    if run is None or run.status not in ("ok", "over-budget"):
        raise TourError(f"benchmarking: no finished run ({run.error if run else 'none shown'})")
    notes.append(
        f"benchmarked {run.model} on {run.profile}: p50 {run.summary['p50_ms']:.3f} ms, "
        f"peak RSS {run.summary['peak_rss_mb']:.0f} MB"
    )
    page.tabs.setCurrentWidget(page.validate)
    if page.validate.suite_name() is not None:
        page.validate.run()
        wait(lambda: not window.runner.active and page.validate.results.run is not None,
             "validating")  # fmt: skip
        shoot("model_version_validate")
        validated = page.validate.results.run
        notes.append(
            f"validated {validated['model']} against {validated['suite']}: "
            f"{validated['verdict']}, {validated['rows_predicted']} rows predicted"
        )
    page.tabs.setCurrentWidget(page.field)
    wait(lambda: not window.runner.active, "reading field captures")
    if page.field.captures:
        field = page.field
        wait(lambda: not window.runner.active and field.current_report() is not None,
             "analysing a field capture")  # fmt: skip
        for index, tab in enumerate(["parity", "which", "drift", "estimate", "triage"]):
            field.results.setCurrentIndex(index)
            shoot(f"model_version_field_{tab}")
        parity = field.current_report()["parity"]
        notes.append(f"analysed field capture #{field.selected.id}: parity {parity['verdict']}")
    page.tabs.setCurrentIndex(0)


def _problems(window: Any) -> list[str]:
    """Errors the window has shown (dialogs and notifications), as one-line texts."""
    texts = [box.text() for box in window.error_boxes]
    return texts + list(window.notifications.messages)


def _records(window: object, kind: str) -> list[str]:
    from modeldesk.catalog.browse import list_records

    return [record.name for record in list_records(window.catalog, kind)]  # type: ignore[attr-defined]


def _latest(window: object, kind: str, name: str) -> int:
    from modeldesk.catalog.browse import list_versions

    return list_versions(window.catalog, kind, name)[0].version  # type: ignore[attr-defined]


def main() -> int:
    """Command-line entry: build or open a catalog and save the screenshots."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--catalog", type=Path)
    parser.add_argument("--readme", type=Path, help="Also copy the README's screenshot here.")
    options = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    catalog = options.catalog
    if catalog is None:
        from modeldesk.demo import build_demo_catalog

        catalog = build_demo_catalog(Path(tempfile.mkdtemp(prefix="modeldesk-shots-")) / "demo")
    saved = take_screenshots(catalog, options.out)
    for path in saved:
        print(path)
    if options.readme is not None:
        import shutil

        shutil.copyfile(options.out / f"{README_SHOT}.png", options.readme)
        print(f"README screenshot: {options.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
