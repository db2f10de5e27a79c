"""Tables sort, filter and copy; plots export; the app picks its catalog; screenshots."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from modeldesk.gui.widgets.plots import BarChart
from modeldesk.gui.widgets.table import DataTable


def test_tables_sort_numbers_as_numbers_filter_and_copy(qtbot, tmp_path):
    table = DataTable(["name", "count"])
    qtbot.addWidget(table)
    table.set_rows([["beta", 10], ["alpha", 9], ["gamma", 100]])
    table.view.sortByColumn(1, Qt.SortOrder.AscendingOrder)
    assert [row[0] for row in table.visible_rows()] == ["alpha", "beta", "gamma"]
    table.view.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    assert [row[0] for row in table.visible_rows()] == ["gamma", "beta", "alpha"]
    table.filter.setText("AL")
    assert table.visible_rows() == [["alpha", "9"]]
    table.filter.clear()
    table.view.selectRow(0)
    table.copy_selection()
    assert QGuiApplication.clipboard().text() == "name\tcount\ngamma\t100"
    table.export_csv(str(tmp_path / "t.csv"))
    assert (tmp_path / "t.csv").read_text().splitlines()[0] == "name,count"


def test_plots_export_png_and_svg(qtbot, tmp_path):
    chart = BarChart("ops")
    qtbot.addWidget(chart)
    chart.resize(600, 400)
    chart.set_bars(["MatMul", "Add", "Relu"], [3, 2, 1], value_axis="nodes")
    assert chart.bar_count == 3
    chart.export(str(tmp_path / "ops.png"))
    chart.export(str(tmp_path / "ops.svg"))
    assert (tmp_path / "ops.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in (tmp_path / "ops.svg").read_text(encoding="utf-8")
    chart.set_bars(["0", "1"], [5, 7], edges=[0.0, 0.5, 1.0])
    assert chart.bar_count == 2


def test_the_catalog_is_chosen_explicit_then_last_then_demo(tmp_path, demo_path):
    from modeldesk.gui.app import demo_catalog_path, pick_catalog
    from modeldesk.gui.settings import remember_catalog

    explicit = tmp_path / "explicit"
    assert pick_catalog(explicit, use_demo=False) == explicit
    assert pick_catalog(None, use_demo=False) == demo_catalog_path()
    remember_catalog(demo_path)
    assert pick_catalog(None, use_demo=False) == demo_path
    assert pick_catalog(explicit, use_demo=True) == demo_catalog_path()


def test_no_display_is_a_clear_error(monkeypatch, capsys):
    from modeldesk.gui.app import run_app

    for variable in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    assert run_app(None, use_demo=False) == 2
    assert "QT_QPA_PLATFORM" in capsys.readouterr().err


def test_screenshots_of_every_page(qtbot, demo_path, tmp_path):
    from modeldesk.gui.screenshots import take_screenshots

    saved = take_screenshots(demo_path, tmp_path / "shots")
    names = {path.stem for path in saved}
    assert {
        "catalog",
        "model",
        "model_version_overview",
        "model_version_io",
        "model_version_graph",
        "model_version_graph_diff",
        "model_version_operators",
        "model_version_changes",
        "dataset",
        "dataset_version",
        "dataset_version_rows",
    } <= names
    for path in saved:
        assert path.stat().st_size > 10_000, path


def test_demo_catalog_contents(demo_path: Path):
    from modeldesk.catalog.maintenance import check_catalog
    from modeldesk.catalog.store import Catalog
    from modeldesk.models.registry import get_model_version, list_model_versions

    with Catalog.open(demo_path) as catalog:
        assert check_catalog(catalog).ok
        refs = [row["ref"] for row in list_model_versions(catalog)]
        assert refs == [
            "breast-cancer@1",
            "breast-cancer@2",
            "breast-cancer@3",
            "diabetes@1",
            "diabetes@2",
            "diabetes@3",
            "digits@1",
            "digits@2",
        ]
        latest = get_model_version(catalog, "breast-cancer@3")
        assert (latest.parent_version, latest.trained_on) == (2, "breast-cancer-train@2")
        assert latest.classes == ["malignant", "benign"]
        assert "ai.onnx.ml.TreeEnsembleClassifier" in latest.facts.ops
        assert get_model_version(catalog, "digits@2").facts.ops.get("MatMul")
        assert len(latest.features) == 30 and latest.label == "diagnosis"


def test_the_palette_follows_the_system_colour_scheme(qapp):
    from PySide6.QtGui import QGuiApplication, QPalette

    from modeldesk.gui.theme import apply_theme

    # The offscreen platform has no colour scheme of its own, so the test sends the
    # change notification a desktop would send.
    hints = QGuiApplication.styleHints()
    apply_theme(qapp)
    hints.colorSchemeChanged.emit(Qt.ColorScheme.Dark)
    assert qapp.palette().color(QPalette.ColorRole.Window).lightness() < 80
    hints.colorSchemeChanged.emit(Qt.ColorScheme.Light)
    assert qapp.palette().color(QPalette.ColorRole.Window).lightness() > 170


def test_first_start_builds_the_demo_catalog_without_blocking(
    qtbot, tmp_path, monkeypatch, built_history_demo
):
    import shutil
    import threading

    import modeldesk.demo
    import modeldesk.gui.app

    # The build itself is covered by the demo fixtures and test_cli; here
    # the job is held until the test has seen the progress dialog and a
    # responsive event loop, then it copies the session's demo, so no wait
    # depends on how fast the machine is.
    release_build = threading.Event()
    build_started = threading.Event()

    def gated_build(out, *, progress, cancel=None):
        build_started.set()
        progress(0.5, 1, "importing the demo models")
        release_build.wait()
        shutil.copytree(built_history_demo, out, dirs_exist_ok=True)
        progress(1, 1, "demo catalog ready")
        return out

    target = tmp_path / "first-start-demo"
    monkeypatch.setattr(modeldesk.gui.app, "demo_catalog_path", lambda: target)
    monkeypatch.setattr(modeldesk.demo, "build_demo_catalog", gated_build)
    launcher = modeldesk.gui.app.Launcher(modeldesk.gui.app.pick_catalog(None, use_demo=True))
    assert launcher.start()
    assert launcher.window is None and launcher.progress.isVisible()
    qtbot.waitUntil(build_started.is_set, timeout=600_000)
    qtbot.waitUntil(lambda: launcher.progress.value() == 500, timeout=600_000)
    assert launcher.window is None  # the GUI thread kept running while the job waits
    release_build.set()
    qtbot.waitUntil(lambda: launcher.window is not None, timeout=600_000)
    qtbot.addWidget(launcher.window)
    assert launcher.window.windowTitle() == "ModelDesk — first-start-demo"
    assert (target / "catalog.db").is_file()
    qtbot.waitUntil(lambda: launcher.window.settled, timeout=600_000)
    launcher.window.close()


def test_jobs_run_below_the_gui_threads_priority(qtbot):
    import os
    import sys
    import threading

    import pytest

    from modeldesk.gui.jobs import JOB_NICENESS, JobRunner

    if not sys.platform.startswith("linux"):
        pytest.skip("per-thread nice values are a Linux feature")
    seen: list[int] = []

    def report_niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    runner = JobRunner()
    for _ in range(2):  # a reused pool thread is not lowered twice
        job = runner.start("nice", report_niceness, catalog_path=None, on_done=seen.append)
        qtbot.waitUntil(lambda job=job: job not in runner.active, timeout=60_000)
    base = os.getpriority(os.PRIO_PROCESS, os.getpid())
    assert seen == [min(base + JOB_NICENESS, 19)] * 2


def test_a_job_that_ends_before_start_returns_still_reports(qtbot, monkeypatch):
    from modeldesk.gui.jobs import JobRunner

    from helpers import finish_before_start_returns

    runner = JobRunner()
    finish_before_start_returns(runner, monkeypatch)
    seen: list[object] = []

    def quick(progress) -> str:
        progress(1, 1, "done")
        return "result"

    job = runner.start(
        "quick",
        quick,
        catalog_path=None,
        on_done=seen.append,
        on_progress=lambda fraction, message: seen.append((fraction, message)),
        on_finished=lambda: seen.append("finished"),
    )
    assert seen == [] and job in runner.active  # it ended; nothing delivered yet
    qtbot.waitUntil(lambda: "finished" in seen, timeout=60_000)
    assert seen == [(1.0, "done"), "result", "finished"]
    assert runner.active == []
