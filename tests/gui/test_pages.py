"""The window on the demo catalog: navigator, pages, lineage links, edits."""

from __future__ import annotations

from PySide6.QtCore import Qt

from modeldesk.gui.navigator import Selection
from modeldesk.gui.widgets.model_diff import BREAKING_COLOUR
from modeldesk.models.registry import get_model_version


def _names(window, group_row: int) -> list[str]:
    model = window.navigator.model
    group = model.index(group_row, 0)
    return [model.index(row, 0, group).data() for row in range(model.rowCount(group))]


def test_title_and_navigator(window, demo_path):
    assert window.windowTitle() == f"ModelDesk — {demo_path.name}"
    assert _names(window, 0) == ["breast-cancer  (3)", "diabetes  (3)", "digits  (2)"]
    assert len(_names(window, 1)) == 6  # seven versions of six datasets
    assert window.pages.currentWidget() is window.catalog_page


def test_navigator_filter_and_lazy_versions(window):
    window.navigator.filter.setText("digits")
    assert _names(window, 0) == ["digits  (2)"]
    assert _names(window, 1) == ["digits-test  (1)", "digits-train  (1)"]
    window.navigator.filter.clear()
    assert window.navigator.select(Selection("model", "diabetes", 2))
    assert window.navigator.current() == Selection("model", "diabetes", 2)


def test_model_version_page(window, qtbot):
    window.open_selection(Selection("model", "breast-cancer", 1))
    page = window.model_version_page
    assert window.pages.currentWidget() is page
    assert page.io_table.model.rows == [
        ["input", "X", "tensor", "float32", "?×30"],
        ["output", "label", "tensor", "int64", "?"],
        ["output", "probabilities", "tensor", "float32", "?×2"],
    ]
    ops = page.version.facts.ops
    assert page.op_chart.bar_count == len(ops)
    assert page.op_chart.labels == list(ops)
    assert "breast-cancer-train@1" in page.lineage.text()
    assert "algorithm" in [row[0] for row in page.metadata.model.rows]


def test_lineage_links_open_the_parent_and_the_training_data(window):
    window.open_selection(Selection("model", "breast-cancer", 3))
    page = window.model_version_page
    assert "breast-cancer@2" in page.lineage.text()
    page.lineage.linkActivated.emit("model:breast-cancer@2")
    assert page.version.ref == "breast-cancer@2"
    assert window.navigator.current() == Selection("model", "breast-cancer", 2)
    page.lineage.linkActivated.emit("dataset:breast-cancer-train@2")
    assert window.pages.currentWidget() is window.dataset_version_page
    assert window.dataset_version_page.version.ref == "breast-cancer-train@2"


def test_changes_tab_compares_with_the_parent(window):
    window.open_selection(Selection("model", "breast-cancer", 3))
    page = window.model_version_page
    # onnxmltools declares the label output with a fixed size of 1: a compatible change.
    rows = page.contract.contract.model.rows
    assert [row[:4] for row in rows] == [["compatible", "output", "label", "dim"]]
    assert page.breaking_change_count() == 0
    window.open_selection(Selection("model", "breast-cancer", 1))
    assert not page.contract.isEnabled()


def test_breaking_changes_are_highlighted(window, qtbot, model_file):
    from modeldesk.models.importer import import_model

    import_model(window.catalog, model_file(name="a.onnx", features=4), name="m")
    import_model(window.catalog, model_file(name="b.onnx", features=5), name="m", parent=1)
    window.refresh()
    window.open_selection(Selection("model", "m", 2))
    page = window.model_version_page
    assert page.breaking_change_count() == 1
    table = page.contract.contract
    index = table.proxy.index(0, 0)
    assert index.data() == "BREAKING"
    assert index.data(Qt.ItemDataRole.BackgroundRole).color().name() == BREAKING_COLOUR


def test_model_page_lists_versions_and_compares_any_two(window):
    window.open_selection(Selection("model", "diabetes"))
    page = window.model_page
    assert [row[0] for row in page.table.model.rows] == [1, 2, 3]
    assert page.diff.summary.text().startswith("<b>diabetes@2</b> → <b>diabetes@3</b>")
    page.old_choice.setCurrentText("diabetes@1")
    page.new_choice.setCurrentText("diabetes@3")
    page.compare_chosen()
    assert "diabetes@1" in page.diff.summary.text()
    ops = {row[0]: row[1:] for row in page.diff.ops.model.rows}
    assert ops["ai.onnx.ml.TreeEnsembleRegressor"] == [0, 1]


def test_dataset_version_page(window, qtbot):
    window.open_selection(Selection("dataset", "breast-cancer-train", 2))
    page = window.dataset_version_page
    version = page.version
    assert len(page.dictionary.model.rows) == version.column_count == 32
    page.show_column("mean radius")
    stats = next(c for c in version.columns if c.name == "mean radius").stats
    assert page.histogram.bar_count == len(stats["histogram"]["counts"])
    changes = page.changes_note.text()
    assert "breast-cancer-train@1" in changes and "schema unchanged" in changes

    page.tabs.setCurrentIndex(1)  # rows are read on the worker pool
    qtbot.waitUntil(lambda: page.page is not None, timeout=60_000)
    assert len(page.rows_table.model.rows) == 100
    assert page.rows_table.model.headers[0] == "sample_id"
    assert page.rows_table.model.rows[0][0] == 1
    page.next_button.click()
    qtbot.waitUntil(lambda: page.page.offset == 100, timeout=60_000)
    assert page.rows_table.model.rows[0][0] == 101
    assert "rows 101–200 of 398" in page.page_label.text()


def test_editing_tags_and_description_is_saved_through_core(window, qtbot):
    window.open_selection(Selection("model", "digits", 2))
    page = window.model_version_page
    page.tags.saved.emit({"stage": "candidate", "owner": "vision"})
    qtbot.waitUntil(lambda: page.version.tags.get("stage") == "candidate", timeout=60_000)
    page.description.saved.emit("# Digits\n\nA *small* MLP.")
    qtbot.waitUntil(lambda: (page.version.description or "").startswith("# Digits"), timeout=60_000)
    stored = get_model_version(window.catalog, "digits@2")
    assert stored.tags == {"owner": "vision", "stage": "candidate"}
    assert "MLP" in page.description.viewer.toPlainText()


def test_editing_the_data_dictionary(window, qtbot):
    window.open_selection(Selection("dataset", "diabetes-train", 1))
    page = window.dataset_version_page
    table = page.dictionary
    row = next(i for i, r in enumerate(table.model.rows) if r[0] == "bmi")
    table.model.setData(table.model.index(row, 3), "kg/m²")
    qtbot.waitUntil(
        lambda: next(c for c in page.version.columns if c.name == "bmi").unit == "kg/m²",
        timeout=60_000,
    )


def test_debug_tab_runs_the_model_and_links_confusion_cells_to_rows(window, qtbot):
    window.open_selection(Selection("model", "breast-cancer", 3))
    debug = window.model_version_page.debug
    assert debug.dataset.currentText() == "breast-cancer-test@1"  # held-out data first
    debug.run()
    qtbot.waitUntil(lambda: debug.report is not None, timeout=30_000)
    report = debug.report
    assert not debug.warning.text()
    metrics = {row[0]: row[1] for row in debug.metrics.model.rows}
    assert metrics["accuracy"] == report.metrics["accuracy"]
    assert not debug.confusion.isHidden() and debug.residuals.isHidden()
    assert not debug.calibration.isHidden()
    assert debug.calibration_points == report.metrics["calibration"]
    matrix = report.metrics["confusion"]
    assert [int(text.toPlainText()) for text in debug.confusion.texts] == [
        matrix[0][0],
        matrix[0][1],
        matrix[1][0],
        matrix[1][1],
    ]
    # A click on the (malignant, benign) cell lists exactly those rows.
    assert debug.confusion.cell_at(1.5, 1.5) == (0, 1)
    debug.confusion.on_cell(0, 1)
    assert len(debug.rows.model.rows) == matrix[0][1]
    assert {row[2] for row in debug.rows.model.rows} == {"malignant"}
    assert "predicted benign" in debug.rows_title.text()
    # Double-clicking a slice lists exactly its rows, worst first.
    worst = report.slices[0]
    debug.show_slice(0)
    assert sorted(debug.shown_rows) == sorted(int(r) for r in worst.rows)
    losses = [report.losses[r] for r in debug.shown_rows]
    assert losses == sorted(losses, reverse=True)
    assert worst.column in debug.rows_title.text()


def test_debug_tab_warns_on_training_data_and_plots_residuals(window, qtbot):
    window.open_selection(Selection("model", "diabetes", 1))
    debug = window.model_version_page.debug
    debug.dataset.setCurrentText("diabetes-train@1")
    debug.run()
    qtbot.waitUntil(lambda: debug.report is not None, timeout=30_000)
    assert "was trained on" in debug.warning.text()
    assert not debug.residuals.isHidden() and debug.confusion.isHidden()
    assert debug.calibration.isHidden()
    assert {row[0] for row in debug.metrics.model.rows} >= {"mae", "rmse", "r2"}


def test_long_metadata_is_a_short_cell_with_the_whole_value_a_double_click_away(
    window, qtbot, tmp_path
):
    from PySide6.QtGui import QGuiApplication

    from modeldesk.gui.widgets.long_text import LongTextDialog
    from modeldesk.models.importer import import_model

    import onnx_factory

    vocabulary = " ".join(f"token{index}" for index in range(1300))
    path = onnx_factory.save(
        onnx_factory.linear_regressor(vocabulary=vocabulary), tmp_path / "vocab.onnx"
    )
    import_model(window.context.catalog, path, name="vocab")
    window.context.catalog_changed.emit()
    window.open_selection(Selection("model", "vocab", 1))
    page = window.model_version_page
    row = [row[0] for row in page.metadata.model.rows].index("vocabulary")
    cell = page.metadata.model.rows[row][1]
    assert len(cell) < 250 and f"({len(vocabulary):,} characters)" in cell
    assert "double-click" in page.metadata.model.styles[row].tooltip
    page.metadata.row_activated.emit(row)
    qtbot.waitUntil(lambda: any(d.isVisible() for d in page.findChildren(LongTextDialog)))
    dialog = next(d for d in page.findChildren(LongTextDialog) if d.isVisible())
    assert dialog.views[0].toPlainText() == vocabulary
    dialog.copy()
    assert QGuiApplication.clipboard().text() == vocabulary
    dialog.close()
