"""The main window: navigator on the left, the selected page on the right."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QMainWindow,
    QMenu,
    QSplitter,
    QStackedWidget,
    QToolBar,
    QWidget,
)

from modeldesk.catalog.browse import list_records, list_versions
from modeldesk.catalog.store import Catalog
from modeldesk.errors import ModelDeskError
from modeldesk.gui.context import AppContext
from modeldesk.gui.errors import show_error
from modeldesk.gui.import_dialog import kind_of
from modeldesk.gui.importer import ImportController
from modeldesk.gui.jobs import JobError, JobRunner
from modeldesk.gui.navigator import CatalogTreeModel, NavigatorWidget, Selection
from modeldesk.gui.pages.overview import CatalogPage, DatasetPage
from modeldesk.gui.preload import ChartModules, chart_modules
from modeldesk.gui.settings import app_settings, recent_catalogs, remember_catalog
from modeldesk.gui.status import JobStatus, Notifications

if TYPE_CHECKING:
    from modeldesk.gui.pages.dataset_version import DatasetVersionPage
    from modeldesk.gui.pages.model import ModelPage
    from modeldesk.gui.pages.model_version import ModelVersionPage

__all__ = ["MainWindow"]

# After this long the first frame is on screen and the chart modules start loading.
CHART_PRELOAD_DELAY_MS = 250


class MainWindow(QMainWindow):
    """ModelDesk's window over one open catalog."""

    def __init__(self, catalog: Catalog, runner: JobRunner | None = None) -> None:
        super().__init__()
        self.runner = runner or JobRunner(self)
        self.catalog = catalog
        self.context = AppContext(catalog, self.runner, self)
        self.context.navigate.connect(self.open_selection)
        self.context.catalog_changed.connect(self.refresh)
        self.context.warning.connect(self.notify)
        self.context.error.connect(self.report_error)
        self.runner.failed.connect(self.report_error)
        self.error_boxes: list[Any] = []

        self.navigator = NavigatorWidget(self._tree_model(), self)
        self.navigator.selected.connect(self.open_selection)
        self.pages = QStackedWidget(self)
        self._pages: dict[str, QWidget] = {}
        self.pages.addWidget(self.catalog_page)
        self.catalog_page.release_requested.connect(self.open_release)
        self.context.graph_diff.connect(self.open_graph_diff)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(self.navigator)
        self.splitter.addWidget(self.pages)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([300, 1000])
        self.setCentralWidget(self.splitter)

        self.importer = ImportController(self.context, self)
        self.importer.imported.connect(
            lambda kind, name, v: self.open_selection(Selection(kind, name, v))
        )
        self.job_status = JobStatus(self.runner, self)
        self.notifications = Notifications(self)
        self.statusBar().addPermanentWidget(self.job_status)
        self.statusBar().addPermanentWidget(self.notifications)
        self._build_actions()
        self.setAcceptDrops(True)
        self._show_catalog()
        self._pending: Selection | None = None
        self.settled = False  # True once start-up's deferred work (chart pages) is done
        self.charts: ChartModules | None = None
        # The chart modules load once the window has painted, so they do not slow its start.
        QTimer.singleShot(CHART_PRELOAD_DELAY_MS, self._load_charts)
        self._restore_state()

    # -- pages (built on first use: the chart pages load pyqtgraph and numpy) --------------
    def _page(self, key: str, factory: Any) -> Any:
        if key not in self._pages:
            page = factory(self.context, self)
            self._pages[key] = page
            self.pages.addWidget(page)
        return self._pages[key]

    @property
    def catalog_page(self) -> CatalogPage:
        """The catalog overview page."""
        return self._page("catalog", CatalogPage)

    @property
    def model_page(self) -> ModelPage:
        """The page listing a model's versions."""
        from modeldesk.gui.pages.model import ModelPage

        return self._page("model", ModelPage)

    @property
    def model_version_page(self) -> ModelVersionPage:
        """The page of one model version."""
        from modeldesk.gui.pages.model_version import ModelVersionPage

        return self._page("model_version", ModelVersionPage)

    @property
    def dataset_page(self) -> DatasetPage:
        """The page listing a dataset's versions."""
        return self._page("dataset", DatasetPage)

    @property
    def dataset_version_page(self) -> DatasetVersionPage:
        """The page of one dataset version."""
        from modeldesk.gui.pages.dataset_version import DatasetVersionPage

        return self._page("dataset_version", DatasetVersionPage)

    # -- catalog ----------------------------------------------------------------------
    def _tree_model(self) -> CatalogTreeModel:
        return CatalogTreeModel(
            lambda kind: list_records(self.catalog, kind),
            lambda kind, name: list_versions(self.catalog, kind, name),
            self,
        )

    def _show_catalog(self) -> None:
        self.setWindowTitle(f"ModelDesk — {self.catalog.path.name}")
        remember_catalog(self.catalog.path)
        self.catalog_page.show_catalog()
        self.pages.setCurrentWidget(self.catalog_page)
        self._rebuild_recent_menu()

    def switch_catalog(self, catalog: Catalog) -> None:
        """Close the open catalog (stopping its jobs) and show ``catalog``."""
        self.runner.shutdown()
        old = self.catalog
        self.catalog = catalog
        self.context.catalog = catalog
        self.navigator.set_model(self._tree_model())
        old.close()
        self._show_catalog()

    def open_catalog_at(self, path: Path, *, create: bool = False) -> None:
        """Open (or with ``create`` make) the catalog at ``path``; errors go to a dialog."""
        try:
            catalog = Catalog.init(path) if create else Catalog.open(path)
        except ModelDeskError as error:
            self.report_error(JobError(str(error), "", True, type(error).__name__))
            return
        self.switch_catalog(catalog)

    def refresh(self) -> None:
        """Re-read the navigator and the overview after the catalog changed."""
        self.navigator.reload()
        if self.pages.currentWidget() is self.catalog_page:
            self.catalog_page.refresh()

    # -- navigation ---------------------------------------------------------------------
    def open_selection(self, selection: Selection) -> None:
        """Show the page for a group, record or version, and select it in the tree."""
        if selection.version is not None and not (self.charts and self.charts.is_ready()):
            # Version pages hold charts; open this one when their modules are in.
            self._pending = selection
            self.statusBar().showMessage("Loading charts…")
            return
        if self.navigator.current() != selection:
            self.navigator.select(selection)  # re-enters through `selected`
            if self.navigator.current() == selection:
                return
        try:
            if selection.name is None:
                self.catalog_page.show_catalog(selection.kind)
                page: QWidget = self.catalog_page
            elif selection.kind == "model" and selection.version is None:
                self.model_page.show_model(selection.name)
                page = self.model_page
            elif selection.kind == "model":
                self.model_version_page.show_version(selection.name, selection.version)
                page = self.model_version_page
            elif selection.version is None:
                self.dataset_page.show_dataset(selection.name)
                page = self.dataset_page
            else:
                self.dataset_version_page.show_version(selection.name, selection.version)
                page = self.dataset_version_page
        except ModelDeskError as error:
            self.report_error(JobError(str(error), "", True, type(error).__name__))
            return
        self.pages.setCurrentWidget(page)
        app_settings().setValue("window/selection", _selection_text(selection))

    def open_graph_diff(self, old_ref: str, new_ref: str) -> None:
        """Show ``new_ref``'s Graph tab with the changes since ``old_ref``."""
        name, _, number = new_ref.rpartition("@")
        self.open_selection(Selection("model", name, int(number)))
        page = self.model_version_page
        if self.pages.currentWidget() is page:
            page.show_graph_diff(old_ref)

    def open_release(self, release_id: int) -> None:
        """Show release ``release_id`` on its version's Release tab."""
        from modeldesk.release.records import get_release

        try:
            release = get_release(self.catalog, release_id)
        except ModelDeskError as error:
            self.report_error(JobError(str(error), "", True, type(error).__name__))
            return
        self.open_selection(Selection("model", release.model.name, release.model.version))
        page = self.model_version_page
        if self.pages.currentWidget() is page:
            page.tabs.setCurrentWidget(page.release)
            page.release.reload(select=release_id)

    def _load_charts(self) -> None:
        self.charts = chart_modules()
        self.charts.ready.connect(self._charts_ready)
        if self.charts.is_ready():  # loaded for an earlier window: no signal will come
            QTimer.singleShot(0, self._charts_ready)

    def _charts_ready(self) -> None:
        import gc

        if self.settled:
            return
        if self.charts.error is not None:
            # Without the chart modules the model and dataset version pages cannot open;
            # say why once, rather than fail on every click.
            message, details = self.charts.error
            message = f"the chart pages could not load: {message}"
            self.report_error(JobError(message, details, False))
            return
        # Everything loaded so far (Qt, pyqtgraph, numpy, the catalog) lives as long as
        # the app: freeze it so the cyclic collector stops rescanning it. Full
        # collections otherwise pause whichever thread triggers them, the GUI thread
        # included, for tens of milliseconds.
        gc.collect()
        gc.freeze()
        self.statusBar().clearMessage()
        # Build the chart pages now, while the app is idle after start-up, rather than
        # in the middle of the first click (or import) that needs one.
        QTimer.singleShot(0, self._build_chart_pages)

    def _build_chart_pages(self) -> None:
        self.model_version_page, self.dataset_version_page  # noqa: B018  (built on access)
        self.catalog_page.attach_dashboard()
        self.settled = True
        pending, self._pending = self._pending, None
        if pending is not None:
            self.open_selection(pending)

    # -- reporting ------------------------------------------------------------------------
    def report_error(self, error: JobError) -> None:
        """A blob failing its hash check is a warning; anything else, a dialog."""
        if error.kind == "IntegrityError":
            from modeldesk.gui.errors import log_error

            log_error(error)
            self.notify(error.message)
            self.statusBar().showMessage(error.message, 10_000)
            return
        box = show_error(self, error)
        self.error_boxes.append(box)
        box.finished.connect(
            lambda *_: self.error_boxes.remove(box) if box in self.error_boxes else None
        )

    def notify(self, message: str) -> None:
        """Add a warning to the notification area."""
        self.notifications.add(message)

    # -- actions and menus ---------------------------------------------------------------
    def _build_actions(self) -> None:
        def action(text: str, slot: Any, shortcut: Any = None, tip: str = "") -> QAction:
            created = QAction(text, self)
            if shortcut is not None:
                created.setShortcut(QKeySequence(shortcut))
            created.setStatusTip(tip)
            created.triggered.connect(slot)
            return created

        self.new_action = action(
            "&New catalog…", self._ask_new_catalog, QKeySequence.StandardKey.New
        )
        self.open_action = action(
            "&Open catalog…", self._ask_open_catalog, QKeySequence.StandardKey.Open
        )
        self.import_model_action = action(
            "Import &model…",
            lambda: self._ask_import("ONNX models (*.onnx)"),
            "Ctrl+I",
            "Import an ONNX file as a new model version",
        )
        self.import_data_action = action(
            "Import &dataset…",
            lambda: self._ask_import("Data (*.csv *.parquet *.pq)"),
            "Ctrl+Shift+I",
            "Import a CSV or Parquet file as a new dataset version",
        )
        self.refresh_action = action("&Refresh", self.refresh, QKeySequence.StandardKey.Refresh)
        self.filter_action = action(
            "&Find…", lambda: self.navigator.filter.setFocus(), QKeySequence.StandardKey.Find
        )
        self.cancel_action = action("&Cancel job", self.job_status.cancel_current, "Esc")
        self.quit_action = action("&Quit", self.close, "Ctrl+Q")

        menu = self.menuBar().addMenu("&File")
        menu.addActions([self.new_action, self.open_action])
        self.recent_menu = QMenu("Open &recent", self)
        menu.addMenu(self.recent_menu)
        menu.addSeparator()
        menu.addActions([self.import_model_action, self.import_data_action])
        menu.addSeparator()
        menu.addAction(self.quit_action)
        view = self.menuBar().addMenu("&View")
        view.addActions([self.refresh_action, self.filter_action, self.cancel_action])
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction("&About ModelDesk", self._about)

        toolbar = QToolBar("Main", self)
        toolbar.setObjectName("main-toolbar")
        toolbar.setMovable(False)
        toolbar.addActions([self.import_model_action, self.import_data_action, self.refresh_action])
        self.addToolBar(toolbar)

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        for path in recent_catalogs():
            self.recent_menu.addAction(str(path), lambda p=path: self.open_catalog_at(p))
        self.recent_menu.setEnabled(not self.recent_menu.isEmpty())

    def _ask_new_catalog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for the new catalog")
        if folder:
            self.open_catalog_at(Path(folder), create=True)

    def _ask_open_catalog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a catalog folder")
        if folder:
            self.open_catalog_at(Path(folder))

    def _ask_import(self, file_filter: str) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Import", "", file_filter)
        self.importer.ask([Path(file) for file in files])

    def _about(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        from modeldesk import __version__

        QMessageBox.about(
            self,
            "About ModelDesk",
            f"<h3>ModelDesk {__version__}</h3><p>Continuous delivery for ML models, on one "
            f"workstation, offline.</p><p>Catalog: {self.catalog.path}</p>",
        )

    # -- drag and drop ----------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(kind_of(Path(url.toLocalFile())) for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            # Open the dialogs after the drop returns, so the drag source is released.
            QTimer.singleShot(0, lambda: self.importer.ask(paths))

    # -- window state -----------------------------------------------------------------------
    def _restore_state(self) -> None:
        settings = app_settings()
        geometry = settings.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 880)
        splitter = settings.value("window/splitter")
        if isinstance(splitter, QByteArray):
            self.splitter.restoreState(splitter)
        selection = _selection_from_text(settings.value("window/selection", "", type=str))
        if selection is not None:
            self.navigator.select(selection)

    def closeEvent(self, event: QCloseEvent) -> None:
        settings = app_settings()
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/splitter", self.splitter.saveState())
        self.runner.shutdown()
        self.catalog.close()
        super().closeEvent(event)


def _selection_text(selection: Selection) -> str:
    return "\t".join([selection.kind, selection.name or "", str(selection.version or "")])


def _selection_from_text(text: str) -> Selection | None:
    parts = text.split("\t")
    if len(parts) != 3 or parts[0] not in ("model", "dataset"):
        return None
    kind, name, version = parts
    return Selection(kind, name or None, int(version) if version.isdigit() else None)
