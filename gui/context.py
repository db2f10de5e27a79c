"""What every page needs from the window: the catalog, the job runner, navigation.

Pages talk to the rest of the app only through this object: they ask to
navigate, announce that the catalog changed, or post a warning. They are
never wired to each other.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from modeldesk.catalog.store import Catalog
from modeldesk.gui.jobs import Job, JobError, JobRunner
from modeldesk.gui.navigator import Selection

__all__ = ["AppContext"]


class AppContext(QObject):
    """The open catalog and the services pages use."""

    navigate = Signal(object)  # Selection to open
    catalog_changed = Signal()  # records were added or edited
    warning = Signal(str)  # goes to the notification area
    error = Signal(object)  # JobError to show in a dialog
    graph_diff = Signal(str, str)  # old NAME@V, new NAME@V: open the new one's graph diff

    def __init__(self, catalog: Catalog, runner: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.runner = runner

    @property
    def catalog_path(self) -> Path:
        """The open catalog's folder."""
        return self.catalog.path

    def run(
        self,
        title: str,
        fn: Callable[..., Any],
        *,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[JobError], None] | None = None,
        on_progress: Callable[[float, str], None] | None = None,
        on_finished: Callable[[], None] | None = None,
        key: str | None = None,
        **kwargs: Any,
    ) -> Job:
        """Run ``fn(catalog, progress=, cancel=, **kwargs)`` on the worker pool
        (the callbacks as in ``JobRunner.start``)."""
        return self.runner.start(
            title,
            fn,
            catalog_path=self.catalog_path,
            on_done=on_done,
            on_error=on_error if on_error is not None else self.error.emit,
            on_progress=on_progress,
            on_finished=on_finished,
            key=key,
            **kwargs,
        )

    def open(self, kind: str, name: str, version: int | None = None) -> None:
        """Ask the window to show a record or version."""
        self.navigate.emit(Selection(kind, name, version))
