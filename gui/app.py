"""Starting the desktop app: pick the catalog, build the demo on first start, show the window."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtGui import QIcon

__all__ = ["app_icon", "demo_catalog_path", "display_problem", "pick_catalog", "run_app"]


def demo_catalog_path() -> Path:
    """Where the demo catalog lives (built there on first start)."""
    from modeldesk.catalog.location import default_demo_path

    return default_demo_path()


HEADLESS_HINT = "or run headless with QT_QPA_PLATFORM=offscreen"


def display_problem() -> str | None:
    """Why Qt cannot show a window here, or None if it can.

    Qt aborts the process (SIGABRT, a core dump) when its platform plugin cannot
    start, so the usual causes are checked first and told in one line.
    """
    requested = os.environ.get("QT_QPA_PLATFORM", "")
    if requested:
        return _missing_platform_plugin(requested)
    if not sys.platform.startswith("linux"):
        return None
    if os.environ.get("WAYLAND_DISPLAY"):
        return None
    display = os.environ.get("DISPLAY", "")
    if not display:
        return f"no display: set DISPLAY (X11) or WAYLAND_DISPLAY, {HEADLESS_HINT}"
    if display.startswith(":"):
        # A local X display is a socket; a missing socket means no X server is running.
        number = display[1:].split(".")[0]
        if not Path(f"/tmp/.X11-unix/X{number}").exists():
            return (
                f"no X server at DISPLAY={display} (no /tmp/.X11-unix/X{number}); {HEADLESS_HINT}"
            )
    return None


def _missing_platform_plugin(requested: str) -> str | None:
    """A message if none of the platforms in QT_QPA_PLATFORM has a plugin here."""
    from PySide6.QtCore import QLibraryInfo

    folder = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms"
    if not folder.is_dir():
        return None  # an unusual Qt layout: let Qt itself decide
    available = sorted(
        path.stem.removeprefix("lib").removeprefix("q")
        for path in folder.iterdir()
        if path.suffix in (".so", ".dll", ".dylib")
    )
    # QT_QPA_PLATFORM may list fallbacks ("wayland;xcb") and carry options ("offscreen:x=y").
    wanted = [entry.split(":")[0] for entry in requested.split(";") if entry]
    if any(name in available for name in wanted):
        return None
    return (
        f"QT_QPA_PLATFORM={requested}: no such Qt platform plugin here "
        f"(available: {', '.join(available)})"
    )


def pick_catalog(explicit: Path | None, use_demo: bool) -> Path:
    """``--catalog`` if given, else the last catalog, else the demo catalog."""
    from modeldesk.gui.settings import last_catalog

    if use_demo:
        return demo_catalog_path()
    if explicit is not None:
        return explicit
    return last_catalog() or demo_catalog_path()


def run_app(
    catalog_path: Path | None,
    use_demo: bool,
    *,
    self_test: Path | None = None,
    exit_when_shown: bool = False,
) -> int:
    """Run the desktop app until its window closes; return the exit code.

    ``self_test``: tour every page, save screenshots there and exit (see
    ``modeldesk.gui.self_test``). ``exit_when_shown``: quit as soon as the main window is
    shown, to time cold starts.
    """
    problem = display_problem()
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    from PySide6.QtWidgets import QApplication

    from modeldesk.gui.theme import apply_theme

    app = QApplication.instance()
    if app is None:
        _drop_known_qt_noise()
        app = QApplication(sys.argv[:1])
    app.setApplicationName("ModelDesk")
    app.setOrganizationName("ModelDesk")
    app.setWindowIcon(app_icon())
    apply_theme(app)
    path = pick_catalog(catalog_path, use_demo)
    if self_test is not None:
        from modeldesk.gui.self_test import run_self_test

        if use_demo:
            _ensure_demo(path)
        return run_self_test(path, self_test)
    launcher = Launcher(path)
    if not launcher.start():
        return 2
    if exit_when_shown:
        app.processEvents()
        return 0 if launcher.window is not None and launcher.window.isVisible() else 1
    return app.exec()


# Qt warnings that say nothing to a user: the offscreen platform (headless runs, the
# self-test) cannot pass size hints to a window manager it does not have.
QT_NOISE = frozenset({"This plugin does not support propagateSizeHints()"})


def _drop_known_qt_noise() -> None:
    """Print Qt's messages as Qt would, minus ``QT_NOISE``."""
    from PySide6.QtCore import qInstallMessageHandler

    def handler(_mode: object, _context: object, message: str) -> None:
        if message not in QT_NOISE:
            print(message, file=sys.stderr)

    qInstallMessageHandler(handler)


def app_icon() -> QIcon:
    """The application's icon (``resources/icons``), or an empty icon if it is missing."""
    from PySide6.QtGui import QIcon

    from modeldesk.resources import resources_dir

    icon = QIcon()
    for path in sorted((resources_dir() / "icons").glob("modeldesk-*.png")):
        icon.addFile(str(path))
    return icon


def _ensure_demo(path: Path) -> None:
    """Build the demo catalog at ``path`` unless it is there (the self-test has no dialog)."""
    from modeldesk.catalog.store import DB_NAME
    from modeldesk.demo import build_demo_catalog

    if not (path / DB_NAME).is_file():
        print(f"building the demo catalog in {path}", file=sys.stderr)
        build_demo_catalog(path)


class Launcher:
    """Opens the main window on a catalog, building the demo first when it is missing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.window = None
        self.progress = None

    def start(self) -> bool:
        """Show the window (or the demo build's progress); False if the catalog cannot open."""
        from modeldesk.catalog.store import DB_NAME

        if not (self.path / DB_NAME).is_file() and self.path == demo_catalog_path():
            self._build_demo()
            return True
        return self._open()

    def _open(self) -> bool:
        from modeldesk.catalog.store import Catalog
        from modeldesk.errors import ModelDeskError
        from modeldesk.gui.main_window import MainWindow

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

        from modeldesk.demo import build_demo_catalog
        from modeldesk.gui.jobs import JobRunner

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
            on_progress=lambda fraction, _m: self.progress.setValue(int(fraction * 1000)),
            out=self.path,
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
