"""Save a screenshot of every page, to look at what the app shows.

    QT_QPA_PLATFORM=offscreen python -m gui.screenshots OUT_DIR [--catalog PATH]

Without ``--catalog`` the demo catalog is built in a temporary folder. The
README's screenshot (``resources/screenshot.png``) is the model version page
taken by this script:

    QT_QPA_PLATFORM=offscreen python -m gui.screenshots /tmp/shots --readme resources/screenshot.png
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

__all__ = ["take_screenshots"]

SIZE = (1400, 880)
README_SHOT = "model_version_explain"  # exact TreeSHAP of the newest breast-cancer model


def take_screenshots(catalog_path: Path, out: Path) -> list[Path]:
    """Open the window on ``catalog_path``, visit each page, save PNGs in ``out``."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from core.catalog.store import Catalog
    from gui.main_window import MainWindow
    from gui.navigator import Selection
    from gui.theme import apply_theme

    app = QApplication.instance() or QApplication(sys.argv[:1])
    # Screenshots must not depend on (or change) the user's remembered window state.
    settings_dir = tempfile.mkdtemp(prefix="modeldesk-shots-settings-")
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, settings_dir)
    apply_theme(app)
    out.mkdir(parents=True, exist_ok=True)
    window = MainWindow(Catalog.open(catalog_path))
    window.resize(*SIZE)
    window.show()
    while not window.settled:
        app.processEvents()
    saved: list[Path] = []

    def shoot(name: str) -> None:
        for _ in range(5):
            app.processEvents()
        path = out / f"{name}.png"
        window.grab().save(str(path))
        saved.append(path)

    shoot("catalog")
    models = [r for r in _records(window, "model")]
    datasets = [r for r in _records(window, "dataset")]
    if models:
        name = models[0]
        window.open_selection(Selection("model", name))
        shoot("model")
        window.open_selection(Selection("model", name, _latest(window, "model", name)))
        page = window.model_version_page
        for index, tab in enumerate(["overview", "io", "operators", "metadata", "changes"]):
            page.tabs.setCurrentIndex(index)
            shoot(f"model_version_{tab}")
        page.tabs.setCurrentIndex(5)
        page.debug.run()
        while window.runner.active or page.debug.report is None:
            app.processEvents()
        shoot("model_version_debug")
        page.tabs.setCurrentWidget(page.explain)
        page.explain.run(confirmed=True)
        while window.runner.active or page.explain.view is None:
            app.processEvents()
        shoot("model_version_explain")
        page.tabs.setCurrentWidget(page.bench)
        page.bench.matrix.setCurrentCell(0, 0)
        page.bench.run_selected()
        while window.runner.active or page.bench.pending:
            app.processEvents()
        shoot("model_version_bench")
        page.tabs.setCurrentIndex(0)
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
        while window.runner.active:
            app.processEvents()
        shoot("dataset_version_rows")
        page.tabs.setCurrentIndex(2)
        shoot("dataset_version_changes")
    window.close()
    return saved


def _records(window: object, kind: str) -> list[str]:
    from core.catalog.browse import list_records

    return [record.name for record in list_records(window.catalog, kind)]  # type: ignore[attr-defined]


def _latest(window: object, kind: str, name: str) -> int:
    from core.catalog.browse import list_versions

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
        from core.demo import build_demo_catalog

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
