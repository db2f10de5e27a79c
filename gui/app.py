"""Starting the desktop app: pick the catalog, build the demo on first start, show the window."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["demo_catalog_path", "display_problem", "pick_catalog", "run_app"]


def demo_catalog_path() -> Path:
    """Where the demo catalog lives (built there on first start)."""
    from core.catalog.location import default_demo_path

    return default_demo_path()


def display_problem() -> str | None:
    """Why Qt cannot show a window here, or None if it can."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return None
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return (
            "no display: set DISPLAY (X11) or WAYLAND_DISPLAY, or run headless with "
            "QT_QPA_PLATFORM=offscreen"
        )
    return None


def pick_catalog(explicit: Path | None, use_demo: bool) -> Path:
    """``--catalog`` if given, else the last catalog, else the demo catalog."""
    from gui.settings import last_catalog

    if use_demo:
        return demo_catalog_path()
    if explicit is not None:
        return explicit
    return last_catalog() or demo_catalog_path()


def run_app(catalog_path: Path | None, use_demo: bool) -> int:
    """Run the desktop app until its window closes; return the exit code."""
    problem = display_problem()
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    from PySide6.QtWidgets import QApplication

    from gui.theme import apply_theme

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("ModelDesk")
    app.setOrganizationName("ModelDesk")
    apply_theme(app)
    launcher = Launcher(pick_catalog(catalog_path, use_demo))
    if not launcher.start():
        return 2
    return app.exec()


class Launcher:
    """Opens the main window on a catalog, building the demo first when it is missing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.window = None
        self.progress = None

    def start(self) -> bool:
        """Show the window (or the demo build's progress); False if the catalog cannot open."""
        from core.catalog.store import DB_NAME

        if not (self.path / DB_NAME).is_file() and self.path == demo_catalog_path():
            self._build_demo()
            return True
        return self._open()

    def _open(self) -> bool:
        from core.catalog.store import Catalog
        from core.errors import ModelDeskError
        from gui.main_window import MainWindow

        try:
            catalog = Catalog.open(self.path)
        except ModelDeskError as error:
            print(f"error: {error}", file=sys.stderr)
            return False
        self.window = MainWindow(catalog)
        self.window.show()
        return True

    def _build_demo(self) -> None:
        from PySide6.QtWidgets import QProgressDialog

        from core.demo import build_demo_catalog
        from gui.jobs import JobRunner

        self.runner = JobRunner()
        self.progress = QProgressDialog("Building the demo catalog…", "Cancel", 0, 1000)
        self.progress.setWindowTitle("ModelDesk")
        self.progress.setMinimumDuration(0)
        job = self.runner.start(
            "building the demo catalog",
            build_demo_catalog,
            catalog_path=None,
            on_done=lambda _path: self._demo_ready(),
            on_error=self._demo_failed,
            out=self.path,
        )
        job.signals.progress.connect(
            lambda fraction, _m: self.progress.setValue(int(fraction * 1000))
        )
        self.progress.canceled.connect(job.cancel)
        self.progress.canceled.connect(
            lambda: __import__("PySide6.QtWidgets").QtWidgets.QApplication.quit()
        )
        self.progress.show()

    def _demo_ready(self) -> None:
        if self.progress is not None:
            self.progress.reset()
        if not self._open():
            from PySide6.QtWidgets import QApplication

            QApplication.exit(2)

    def _demo_failed(self, error: object) -> None:
        from PySide6.QtWidgets import QApplication, QMessageBox

        QMessageBox.critical(
            None, "ModelDesk", f"The demo catalog could not be built: {error.message}"
        )
        QApplication.exit(2)
