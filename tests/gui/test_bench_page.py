"""The Bench tab: the versions x profiles matrix, runs as jobs, a run's details, cancel."""

from __future__ import annotations

import psutil

from modeldesk.bench.profiles import Profile, add_profile
from modeldesk.bench.run import list_runs
from modeldesk.gui.navigator import Selection


def _bench_tab(window):
    window.open_selection(Selection("model", "digits", 2))
    page = window.model_version_page
    page.tabs.setCurrentWidget(page.bench)
    return page


def test_a_cell_runs_as_a_job_and_shows_its_figures(window, qtbot):
    add_profile(window.context.catalog, Profile("quick", intra_threads=1, iterations=30,
                                                warmup=2, budget_ms=1000.0))  # fmt: skip
    page = _bench_tab(window)
    bench = page.bench
    bench.set_model("digits", "digits@2")
    assert bench.versions == ["digits@2", "digits@1"]
    assert bench.profiles[-1] == "quick" and bench.matrix.item(0, 0).text() == "—"
    column = bench.profiles.index("quick")
    bench.matrix.setCurrentCell(0, column)
    assert bench.selected_cells() == [("digits@2", "quick")]
    bench.run_selected()
    assert bench.matrix.item(0, column).text() == "running…"
    qtbot.waitUntil(lambda: not bench.pending and bench.shown is not None, timeout=60_000)
    assert (
        bench.matrix.item(0, column).text().startswith("p95 ")
        and "✓" in bench.matrix.item(0, column).text()
    )
    assert "PASS" in bench.badge.text() and "onnxruntime_perf_test" in bench.badge.text()
    assert bench.ops.model.rows and {row[0] for row in bench.ops.model.rows} >= {"MatMul"}
    assert all(row[3] == "CPUExecutionProvider" for row in bench.nodes.model.rows)
    assert bench.distribution.title.text().endswith("30 iterations</b>")
    # The Operators tab gains the time of each op type from the newest run.
    page.show_version("digits", 2)
    times = {row[0]: row[2] for row in page.op_table.model.rows}
    assert isinstance(times["MatMul"], int) and times["MatMul"] >= 0
    assert list_runs(window.context.catalog, "digits@2")[0].profile == "quick"


def test_a_failed_run_shows_as_failed_and_cancel_stores_nothing(window, qtbot):
    catalog = window.context.catalog
    add_profile(catalog, Profile("tiny-memory", memory_mb=1, iterations=3, warmup=0))
    add_profile(
        catalog, Profile("long", intra_threads=1, iterations=20_000, warmup=0, batch_sizes=(512,))
    )
    page = _bench_tab(window)
    bench = page.bench
    bench.set_model("digits", "digits@2")
    bench.matrix.setCurrentCell(0, bench.profiles.index("tiny-memory"))
    bench.run_selected()
    qtbot.waitUntil(lambda: not bench.pending, timeout=60_000)
    assert bench.matrix.item(0, bench.profiles.index("tiny-memory")).text() == "over-budget"
    assert "over-budget" in bench.badge.text()
    before = len(list_runs(catalog))
    bench.matrix.setCurrentCell(1, bench.profiles.index("long"))
    bench.run_selected()
    qtbot.waitUntil(lambda: bool(window.runner.active), timeout=60_000)
    # Wait until an agent has spent real CPU time: it is inside its measured loop.
    qtbot.waitUntil(lambda: _busy_agent() is not None, timeout=120_000)
    for job in list(window.runner.active):
        job.cancel()
    qtbot.waitUntil(lambda: not window.runner.active, timeout=30_000)
    assert len(list_runs(catalog)) == before
    qtbot.waitUntil(lambda: not bench.pending, timeout=60_000)
    assert bench.matrix.item(1, bench.profiles.index("long")).text() == "—"


def _busy_agent() -> psutil.Process | None:
    """A benchmark agent started by this process that has used a second of CPU, if any."""
    for child in psutil.Process().children(recursive=True):
        try:
            if "agent" in " ".join(child.cmdline()) and sum(child.cpu_times()[:2]) >= 1.0:
                return child
        except psutil.Error:
            continue  # it ended while we looked
    return None


def test_profiles_are_added_edited_and_removed_from_the_tab(window, qtbot, demo_path):
    from modeldesk.bench.profiles import get_profile

    from helpers import catalog_snapshot

    page = _bench_tab(window)
    bench = page.bench
    bench.set_model("digits", "digits@2")
    # A built-in profile opens as a copy to save under a new name.
    bench.matrix.setCurrentCell(0, 0)
    editor = bench.open_editor(bench.current_profile())
    assert editor.name.text() == "local-1-thread-copy" and not editor.editing
    editor.name.setText("pi4")
    editor.threads.setValue(4)
    editor.budget.setValue(12.5)
    editor.dims.setText("sequence=64 image:2=32")
    editor.accept()
    qtbot.waitUntil(lambda: "pi4" in bench.profiles, timeout=60_000)
    saved = get_profile(window.context.catalog, "pi4")
    assert (saved.intra_threads, saved.budget_ms, saved.cores) == (4, 12.5, (0,))
    assert saved.dims == {"sequence": 64} and saved.axis_dims == {"image:2": 32}
    # Editing keeps the name and changes the fields.
    bench.matrix.setCurrentCell(0, bench.profiles.index("pi4"))
    editor = bench.open_editor("pi4")
    assert editor.editing and editor.name.isReadOnly()
    editor.iterations.setValue(7)
    editor.accept()
    qtbot.waitUntil(
        lambda: get_profile(window.context.catalog, "pi4").iterations == 7, timeout=60_000
    )
    # A bad field is a one-line error and changes nothing.
    before = catalog_snapshot(demo_path)
    editor = bench.open_editor("pi4")
    editor.batches.setText("1,x")
    editor.accept()
    qtbot.waitUntil(lambda: bool(window.error_boxes), timeout=60_000)
    assert "comma-separated" in window.error_boxes[-1].text()
    assert catalog_snapshot(demo_path) == before
    bench.remove_current_profile()
    qtbot.waitUntil(lambda: "pi4" not in bench.profiles, timeout=60_000)


def test_unsized_dynamic_dims_are_asked_for_before_a_run(window, qtbot, model_file):
    from modeldesk.models.importer import import_model

    import_model(window.context.catalog, model_file("multi_io"), name="multi")
    window.open_selection(Selection("model", "multi", 1))
    page = window.model_version_page
    bench = page.bench
    asked = []

    def answer(label: str) -> int:
        # The page's ask_dim() is the seam: a modal input box cannot be typed into offscreen.
        asked.append(label)
        return 4

    bench.ask_dim = answer
    bench.matrix.setCurrentCell(0, bench.profiles.index("local-1-thread"))
    bench.run_selected()
    assert [label.split(": ", 1)[1] for label in asked] == [
        "size of dim 'sequence' (tokens:1)",
        "size of positions:1",
        "size of image:2",
        "size of image:3",
    ]
    qtbot.waitUntil(lambda: not bench.pending, timeout=60_000)
    assert bench.shown is not None and bench.shown.status == "ok"
    assert bench.shown.settings["dims"] == {"sequence": 4}
    # Declining leaves the cell alone.
    bench.dims.clear()
    bench.axis_dims.clear()
    bench.ask_dim = lambda label: None
    bench.run_selected()
    assert "not run" in bench.status.text() and not bench.pending
