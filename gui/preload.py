"""Load the chart pages' modules (pyqtgraph, numpy) off the GUI thread.

The window starts without them so it opens fast. They are imported on a
background thread right away; a page that needs them is opened only once
they are in, so the GUI thread never waits on the import lock.
"""

from __future__ import annotations

import threading
import traceback

from PySide6.QtCore import QObject, Signal

__all__ = ["ChartModules", "chart_modules"]


class ChartModules(QObject):
    """Imports the chart pages once; ``ready`` fires (on the GUI thread) when done."""

    ready = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.error: tuple[str, str] | None = None  # (one line, traceback) if the import failed
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._load, name="modeldesk-preload", daemon=True)
        self._thread.start()

    def _load(self) -> None:
        try:
            import modeldesk.gui.pages.dataset_version
            import modeldesk.gui.pages.debug_view
            import modeldesk.gui.pages.model_version  # noqa: F401
        except Exception as error:  # e.g. a frozen app missing a Qt module pyqtgraph needs
            self.error = (f"{type(error).__name__}: {error}", traceback.format_exc())
        finally:
            self._done.set()
            self.ready.emit()  # queued to the GUI thread, where this object lives

    def is_ready(self) -> bool:
        """True once the chart modules are imported."""
        return self._done.is_set()


_instance: ChartModules | None = None


def chart_modules() -> ChartModules:
    """The process's loader, started on first use (call from the GUI thread)."""
    global _instance
    if _instance is None:
        _instance = ChartModules()
    return _instance
