"""Importing by drag and drop, errors, cancel, a responsive GUI thread, remembered state."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent

from modeldesk.gui.import_dialog import ImportRequest, default_name
from modeldesk.gui.navigator import Selection

from helpers import catalog_snapshot, hold_mid_job


def _drop(window, *paths: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path)) for path in paths])
    enter = QDragEnterEvent(  # Qt marks this, its only constructor, deprecated
        QPoint(50, 50),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    drop = QDropEvent(
        QPointF(50, 50),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(drop)


def _big_csv(path: Path, rows: int) -> Path:
    with path.open("w") as handle:
        handle.write("a,b,c,d,e,label\n")
        for index in range(rows):
            handle.write(
                f"{index},{index * 0.5},{index % 17},t{index % 11},{index % 3},{index % 2}\n"
            )
    return path


def test_default_import_names():
    assert default_name(Path("churn-v3.onnx")) == "churn"
    assert default_name(Path("digits_2.csv")) == "digits"
    assert default_name(Path("sales.parquet")) == "sales"


def test_drag_and_drop_imports_a_model_and_a_csv(window, qtbot, model_file, csv_file):
    model = model_file("linear_regressor", name="pricing-v1.onnx")
    data = csv_file("x,y,price\n1,2,3\n4,5,6\n", "pricing-data.csv")
    _drop(window, model, data)
    qtbot.waitUntil(lambda: len(window.importer.dialogs) == 2, timeout=60_000)
    model_dialog, data_dialog = window.importer.dialogs
    assert model_dialog.kind == "model" and model_dialog.name.currentText() == "pricing"
    model_dialog.trained_on.setCurrentText("diabetes-train@1")
    assert data_dialog.kind == "dataset"
    data_dialog.label.setCurrentText("price")
    # Training on diabetes-train needs 10 features and this model has 4: a clear error,
    # so import the model untrained and the data with its label.
    model_dialog.trained_on.setCurrentIndex(0)
    model_dialog.accept()
    data_dialog.accept()
    qtbot.waitUntil(lambda: not window.runner.active, timeout=30_000)
    assert window.navigator.model.find(Selection("model", "pricing", 1)).isValid()
    assert window.navigator.model.find(Selection("dataset", "pricing-data", 1)).isValid()
    from modeldesk.datasets.registry import get_dataset_version

    assert get_dataset_version(window.catalog, "pricing-data@1").label == "price"


def test_a_bad_file_dropped_shows_an_error_and_changes_nothing(window, qtbot, tmp_path, demo_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x08\x07\x12\x03abc not a model")
    before = catalog_snapshot(demo_path)
    _drop(window, bad)
    qtbot.waitUntil(lambda: len(window.importer.dialogs) == 1, timeout=60_000)
    window.importer.dialogs[0].accept()
    qtbot.waitUntil(lambda: bool(window.error_boxes), timeout=30_000)
    box = window.error_boxes[-1]
    assert "broken.onnx" in box.text()
    assert "\n" not in box.text()
    assert catalog_snapshot(demo_path) == before
    assert window.isVisible()


def test_an_unsupported_file_is_refused_with_a_message(window, qtbot, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    window.importer.ask([notes])
    assert window.error_boxes and "notes.txt" in window.error_boxes[-1].text()


def test_cancelling_a_running_import_leaves_nothing_behind(
    window, qtbot, tmp_path, demo_path, monkeypatch
):
    import modeldesk.gui.importer

    path = _big_csv(tmp_path / "big.csv", 100_000)
    before = catalog_snapshot(demo_path)
    held, reached = hold_mid_job(modeldesk.gui.importer.import_dataset)
    monkeypatch.setattr(modeldesk.gui.importer, "import_dataset", held)
    window.importer.start(ImportRequest("dataset", path, "big"))
    qtbot.waitUntil(reached.is_set, timeout=60_000)  # the import is mid-way, and waits
    qtbot.waitUntil(window.job_status.isVisible, timeout=60_000)
    window.job_status.cancel_button.click()
    qtbot.waitUntil(lambda: not window.runner.active, timeout=60_000)
    assert catalog_snapshot(demo_path) == before
    assert not window.error_boxes


def test_the_gui_thread_keeps_beating_during_a_long_import(window, qtbot, tmp_path, monkeypatch):
    """The import runs on the pool while the GUI thread goes on running its timers.

    No duration is assumed: each progress report of the real import waits until the GUI
    thread has beaten once more since the previous report. If the import ran on the GUI
    thread (or blocked it), no beat could come and the import would never finish.
    """
    import modeldesk.gui.importer

    path = _big_csv(tmp_path / "long.csv", 100_000)
    beats = [0]
    changed = threading.Condition()
    gui_thread = threading.get_ident()
    seen: dict[str, object] = {"reports": 0, "threads": set(), "stalled": False}
    real_import = modeldesk.gui.importer.import_dataset

    def beat() -> None:
        with changed:
            beats[0] += 1
            changed.notify_all()

    def import_interleaved_with_beats(catalog, *, progress, cancel, **options):
        seen["threads"].add(threading.get_ident())

        def report(done: float, total: float, message: str) -> None:
            with changed:
                before = beats[0]
                if not changed.wait_for(lambda: beats[0] > before, timeout=60):
                    seen["stalled"] = True  # the GUI thread stopped beating for a minute
            seen["reports"] += 1
            progress(done, total, message)

        return real_import(catalog, progress=report, cancel=cancel, **options)

    monkeypatch.setattr(modeldesk.gui.importer, "import_dataset", import_interleaved_with_beats)
    heartbeat = QTimer()
    heartbeat.setInterval(10)
    heartbeat.timeout.connect(beat)
    heartbeat.start()
    window.importer.start(ImportRequest("dataset", path, "long"))
    qtbot.waitUntil(lambda: not window.runner.active, timeout=600_000)
    heartbeat.stop()
    assert not window.error_boxes
    assert window.navigator.model.find(Selection("dataset", "long", 1)).isValid()
    assert gui_thread not in seen["threads"]
    assert not seen["stalled"]
    # Every report waited for a fresh beat: at least that many beats while the job ran.
    assert seen["reports"] >= 5
    assert beats[0] >= seen["reports"]


def test_window_state_and_selection_are_remembered(qtbot, demo_path):
    from modeldesk.catalog.store import Catalog
    from modeldesk.gui.main_window import MainWindow
    from modeldesk.gui.settings import last_catalog, recent_catalogs

    first = MainWindow(Catalog.open(demo_path))
    qtbot.addWidget(first)
    first.show()
    qtbot.waitUntil(lambda: first.settled, timeout=30_000)
    first.open_selection(Selection("dataset", "digits-test", 1))
    first.resize(761, 703)  # within the offscreen screen (800 x 800)
    first.splitter.setSizes([222, 500])
    size, splitter = first.size(), first.splitter.sizes()
    first.close()
    assert last_catalog() == demo_path
    assert recent_catalogs() == [demo_path]

    second = MainWindow(Catalog.open(demo_path))
    qtbot.addWidget(second)
    second.show()
    qtbot.waitUntil(lambda: second.pages.currentWidget() is second.dataset_version_page)
    assert second.navigator.current() == Selection("dataset", "digits-test", 1)
    assert second.pages.currentWidget() is second.dataset_version_page
    assert second.size() == size
    assert second.splitter.sizes() == splitter
    second.close()


def test_switching_catalogs(window, tmp_path):
    window.open_catalog_at(tmp_path / "fresh", create=True)
    assert window.windowTitle() == "ModelDesk — fresh"
    model = window.navigator.model
    assert model.rowCount(model.index(0, 0)) == 0
    window.open_catalog_at(tmp_path / "missing")
    assert "no such catalog folder" in window.error_boxes[-1].text()


def test_a_blob_failing_its_hash_check_goes_to_the_notification_area(window, qtbot):
    window.open_selection(Selection("dataset", "diabetes-test", 1))
    page = window.dataset_version_page
    blob = window.catalog.blobs.path(page.version.sha256)
    blob.write_bytes(blob.read_bytes()[:-10] + b"0123456789")
    page.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: bool(window.notifications.messages), timeout=60_000)
    assert page.version.sha256 in window.notifications.messages[-1]
    assert not window.error_boxes


def test_errors_are_logged_to_a_file(window, qtbot, tmp_path):
    from modeldesk.gui.errors import gui_log_path

    window.importer.ask([tmp_path / "nothing.xyz"])
    assert "nothing.xyz" in gui_log_path().read_text(encoding="utf-8")


def test_common_actions_have_keyboard_shortcuts(window):
    for action in (
        window.new_action,
        window.open_action,
        window.import_model_action,
        window.import_data_action,
        window.refresh_action,
        window.filter_action,
        window.quit_action,
    ):
        assert not action.shortcut().isEmpty(), action.text()
