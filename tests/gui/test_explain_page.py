"""The Explain tab: plots of real explanations, linked clicks, exports, bad input, cancel."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq

from modeldesk.catalog.derived import list_derived
from modeldesk.gui.navigator import Selection
from modeldesk.models.registry import get_model_version

from helpers import catalog_snapshot, hold_mid_job


def _explain(window, qtbot, name: str, version: int, **settings):
    window.open_selection(Selection("model", name, version))
    page = window.model_version_page
    page.tabs.setCurrentWidget(page.explain)
    view = page.explain
    for field, value in settings.items():
        widget = getattr(view, field)
        if hasattr(widget, "setCurrentText"):
            widget.setCurrentText(value)
        else:
            widget.setText(value)
    view.view = None
    view.run()
    qtbot.waitUntil(lambda: view.view is not None, timeout=120_000)
    return view


def test_a_tree_model_is_explained_exactly_and_points_open_their_waterfall(window, qtbot):
    view = _explain(window, qtbot, "breast-cancer", 3, rows="0:80")
    result = view.view.explanation
    assert result.method == "tree" and "margin (log-odds)" in view.status.text()
    assert view.importance.bar_count == 20
    assert view.importance.labels[0] == view.view.importance[0][0]
    assert view.beeswarm.point_count == 80 * 20
    assert view.dependence.point_count == 80
    assert not view.output.isEnabled()  # binary: one margin, for "benign"
    # A click on a beeswarm point shows that row's waterfall.
    x, y = view.beeswarm.x[137], view.beeswarm.y[137]
    row = view.beeswarm.point_near(x, y)
    assert row == view.beeswarm.ids[137]
    view.beeswarm.on_point(row)
    assert view.waterfall.title.text().startswith(f"<b>Row {row}:")
    # The waterfall ends at the row's margin: base + contributions.
    expected = result.base_values[row, 0] + result.values[row, :, 0].sum()
    assert f"output {expected:.4g}" in view.waterfall.title.text()


def test_the_class_selector_and_the_dependence_feature_relayout(window, qtbot):
    view = _explain(window, qtbot, "digits", 1, rows="0:4", method="permutation", background="20")
    result = view.view.explanation
    assert result.values.shape == (4, 64, 10) and view.output.isEnabled()
    view.output.setCurrentIndex(7)
    view._output_changed(7)
    qtbot.waitUntil(lambda: view.view.output == 7, timeout=30_000)
    assert view.view.importance[0][1] == result.mean_abs(7).max()
    name = view.view.importance[5][0]
    view.feature.setCurrentText(name)
    view._feature_changed(view.feature.currentIndex())
    qtbot.waitUntil(lambda: view.view.dependence.feature == name, timeout=30_000)
    assert "Dependence on " + name in view.dependence.title.text()


def test_a_worst_row_in_the_debug_tab_opens_its_explanation(window, qtbot):
    window.open_selection(Selection("model", "diabetes", 3))
    page = window.model_version_page
    page.debug.run()
    qtbot.waitUntil(lambda: page.debug.report is not None, timeout=30_000)
    worst = page.debug.shown_rows[0]
    page.debug._row_activated(0)
    assert page.tabs.currentWidget() is page.explain
    qtbot.waitUntil(lambda: page.explain.view is not None, timeout=60_000)
    assert list(page.explain.view.explanation.rows) == [worst]
    assert page.explain.waterfall.title.text().startswith(f"<b>Row {worst}:")


def test_exports_of_plots_and_values(window, qtbot, tmp_path):
    view = _explain(window, qtbot, "diabetes", 2, rows="10")
    for chart in (view.beeswarm, view.dependence, view.waterfall, view.importance):
        chart.export(str(tmp_path / "chart.png"))
        chart.export(str(tmp_path / "chart.svg"))
        assert (tmp_path / "chart.png").stat().st_size > 1000
        assert "<svg" in (tmp_path / "chart.svg").read_text()
    view.export_values(str(tmp_path / "values.parquet"))
    # Wait for the job to report it wrote the file (not for the file to appear).
    qtbot.waitUntil(lambda: view.status.text().startswith("wrote "), timeout=60_000)
    table = pq.read_table(tmp_path / "values.parquet")
    assert table.num_rows == 10 and table.column_names[-1] == "base_value"
    assert np.allclose(table.column("bmi").to_numpy(), view.view.explanation.values[:, 2, 0])


def test_version_compare_shows_both_versions(window, qtbot):
    view = _explain(window, qtbot, "breast-cancer", 3, rows="30")
    assert view.compare_with.currentText() in ("breast-cancer@1", "breast-cancer@2")
    view.compare_with.setCurrentText("breast-cancer@2")
    view.compare()
    qtbot.waitUntil(lambda: bool(view.comparison.rows), timeout=60_000)
    assert len(view.comparison.rows) == 20
    assert view.left.currentWidget() is view.comparison
    legend = [label.text for _, label in view.comparison.legend.items]
    assert legend == ["breast-cancer@2 (margin (log-odds))", "breast-cancer@3 (margin (log-odds))"]


def test_a_bad_row_range_is_an_error_and_stores_nothing(window, qtbot, demo_path):
    before = catalog_snapshot(demo_path)
    window.open_selection(Selection("model", "diabetes", 3))
    view = window.model_version_page.explain
    view.rows.setText("100:900")
    view.run()
    qtbot.waitUntil(lambda: bool(window.error_boxes), timeout=30_000)
    assert "row range 100:900 is outside dataset" in window.error_boxes[-1].text()
    assert view.explain_button.isEnabled()
    assert catalog_snapshot(demo_path) == before


def test_a_long_run_asks_first_and_declining_runs_nothing(window, qtbot, monkeypatch):
    import modeldesk.gui.pages.explain_view as explain_view

    window.open_selection(Selection("model", "breast-cancer", 1))
    view = window.model_version_page.explain
    monkeypatch.setattr(explain_view, "CONFIRM_ABOVE_S", 0.0)
    asked = []
    # A modal QMessageBox cannot be answered offscreen without a nested event loop;
    # the page's confirm() is the seam, and the test answers "no" through it.
    monkeypatch.setattr(view, "confirm", lambda question: asked.append(question) or False)
    view.run()
    qtbot.waitUntil(lambda: bool(asked), timeout=60_000)
    assert "model evaluations" in asked[0]
    qtbot.waitUntil(lambda: view.explain_button.isEnabled(), timeout=60_000)
    model = get_model_version(window.context.catalog, "breast-cancer@1")
    assert list_derived(window.context.catalog, "explanation", model.id) == []


def test_cancelling_an_explanation_stores_nothing(window, qtbot, demo_path, monkeypatch):
    import modeldesk.gui.pages.explain_view as explain_view

    held, reached = hold_mid_job(explain_view.explain_view)
    monkeypatch.setattr(explain_view, "explain_view", held)
    window.open_selection(Selection("model", "breast-cancer", 1))
    view = window.model_version_page.explain
    view.rows.setText("0:60")
    view.method.setCurrentText("permutation")
    before = catalog_snapshot(demo_path)
    view.run(confirmed=True)
    qtbot.waitUntil(reached.is_set, timeout=60_000)  # mid-way through, and waiting
    for job in list(window.runner.active):
        job.cancel()
    qtbot.waitUntil(lambda: not window.runner.active, timeout=60_000)
    assert view.view is None
    after = catalog_snapshot(demo_path)
    assert after["derived"] == before["derived"] and after["blobs"] == before["blobs"]
