"""The Validate tab: live suite errors, runs with evidence, explanations, history, bisect,
cancel; all on the demo catalog's real models and suites."""

from __future__ import annotations

from modeldesk.gui.navigator import Selection
from modeldesk.gui.widgets.verdicts import IntervalCell
from modeldesk.validate.registry import get_suite, list_validation_runs

from helpers import catalog_snapshot, finish_before_start_returns, hold_mid_job

DIRECTION = "more-concave-points-less-benign"


def _validate_tab(window, version: int = 3):
    window.open_selection(Selection("model", "breast-cancer", version))
    page = window.model_version_page
    page.tabs.setCurrentWidget(page.validate)
    return page


def _type(view, qtbot, text: str) -> None:
    """Replace the editor's text as typing does, and wait for the check after the pause."""
    view.editor.text_edit.setPlainText(text)
    qtbot.waitUntil(lambda: not view.editor.timer.isActive(), timeout=10_000)


def _wait_for_problem(view, qtbot, needle: str) -> str:
    def listed() -> bool:
        return any(needle in str(problem) for problem in view.editor.problems)

    qtbot.waitUntil(listed, timeout=60_000)
    return next(str(p) for p in view.editor.problems if needle in str(p))


def _run(view, qtbot, window) -> dict:
    view.results.run = None
    assert view.run() is not None
    qtbot.waitUntil(lambda: view.results.run is not None and view.job is None, timeout=120_000)
    qtbot.waitUntil(lambda: not window.runner.active, timeout=60_000)
    return view.results.run


def test_the_editor_places_each_error_on_its_line_and_column(window, qtbot):
    view = _validate_tab(window).validate
    stored = view.editor.text()
    assert "[suite]" in stored and view.suite_name() == "breast-cancer-gate"

    misspelt = stored.replace('metric = "accuracy"', 'metrc = "accuracy"', 1)
    _type(view, qtbot, misspelt)
    line = misspelt.splitlines().index('metrc = "accuracy"') + 1
    problem = _wait_for_problem(view, qtbot, "metrc")
    assert problem.startswith(f"line {line}:") and "did you mean 'metric'" in problem
    assert [at for at, _ in view.editor.underlined()] == [line]

    bad_filter = stored.replace(
        "min = 0.88\n", 'min = 0.88\nwhere = "mean radius > and mean texture < 20"\n', 1
    )
    _type(view, qtbot, bad_filter)
    problem = _wait_for_problem(view, qtbot, "where")
    filter_line = bad_filter.splitlines().index('where = "mean radius > and mean texture < 20"')
    column = bad_filter.splitlines()[filter_line].index("and") + 1
    assert problem.startswith(f"line {filter_line + 1}, column {column}:")
    assert view.editor.underlined() == [(filter_line + 1, "and")]

    _type(view, qtbot, stored.replace("[[check]]", "[[check]", 1))
    assert "not valid TOML" in _wait_for_problem(view, qtbot, "TOML")

    # What only the catalog knows, checked on the pool: a column the dataset lacks.
    no_column = stored.replace('column = "worst concave points"', 'column = "worst concavity!"')
    _type(view, qtbot, no_column)
    problem = _wait_for_problem(view, qtbot, "no column")
    assert "worst concavity!" in problem and problem.startswith("line ")
    assert view.editor.has_errors

    # A margin finer than 171 rows can resolve is a warning, not an error.
    _type(view, qtbot, stored.replace('metric = "roc_auc"\nmargin = 0.03', 'metric = "accuracy"'
                                      '\nmargin = 0.001'))  # fmt: skip
    warning = _wait_for_problem(view, qtbot, "cannot be verified")
    assert "171 rows" in warning and not view.editor.has_errors


def test_a_run_shows_verdicts_evidence_and_a_row_opens_its_waterfall(window, qtbot):
    page = _validate_tab(window)
    view = page.validate
    run = _run(view, qtbot, window)
    assert run["model"] == "breast-cancer@3" and run["verdict"] == "FAIL"
    rows = {row[1]: row for row in view.results.results.model.rows}
    assert rows[DIRECTION][0] == "FAIL" and rows["accuracy"][0] == "PASS"
    bar = rows["accuracy"][4]
    assert isinstance(bar, IntervalCell) and bar.low < bar.value < bar.high
    assert bar.limits == (0.88,) and bar.low > 0.88  # the whole interval clears it
    # The failed check is chosen for the user: its rows are listed.
    assert view.results.check["id"] == DIRECTION
    evidence = view.results.evidence
    assert evidence.rows and all(row_id is not None for row_id in evidence.row_ids)
    assert "broke the expectation" in view.results.evidence_note.text()
    # The run is recorded, and the matrix shows it.
    recorded = list_validation_runs(window.context.catalog, "breast-cancer")
    assert recorded[0]["id"] == run["id"] and recorded[0]["model"] == "breast-cancer@3"
    qtbot.waitUntil(
        lambda: view.results.matrix_verdict("breast-cancer@3", DIRECTION) == "FAIL",
        timeout=30_000,
    )
    # Double-clicking an evidence row explains that row.
    first = evidence.row_ids[0]
    view.results._evidence_activated(0)
    assert page.tabs.currentWidget() is page.explain
    qtbot.waitUntil(lambda: page.explain.view is not None, timeout=120_000)
    assert first in page.explain.view.explanation.rows.tolist()


def test_edited_text_is_stored_as_the_next_version_and_champion_rows_are_explained(window, qtbot):
    view = _validate_tab(window).validate
    catalog = window.context.catalog
    _type(view, qtbot, view.editor.text().replace("min = 0.88", "min = 0.9"))
    assert view.run_button.text() == "Save && run"
    run = _run(view, qtbot, window)
    assert run["suite"] == "breast-cancer-gate@2"
    assert view.suite_choice.currentText() == "breast-cancer-gate@2"
    assert "min = 0.9\n" in get_suite(catalog, "breast-cancer-gate@2").suite.text
    assert view.run_button.text() == "Run"

    view.results.select_check("no-worse-than-previous")
    check = view.results.check
    assert check["kind"] == "champion" and check["evidence"]["disagreeing_rows"]
    assert view.results.difference_button.isEnabled()
    view.results.difference_button.click()
    qtbot.waitUntil(lambda: bool(view.results.difference_table.model.rows), timeout=120_000)
    features = view.results.difference_table.model.rows
    assert len(features) == 30
    gaps = [row[3] for row in features]
    assert gaps == sorted(gaps, reverse=True) and gaps[0] > 0
    assert view.results.difference_chart.rows  # the bars are drawn


def test_bisect_finds_the_version_where_the_check_broke(window, qtbot):
    view = _validate_tab(window).validate
    _run(view, qtbot, window)
    view.results.select_check(DIRECTION)
    assert view.bisect() is not None
    qtbot.waitUntil(lambda: view.last_bisection is not None, timeout=120_000)
    assert view.last_bisection.first_failing == "breast-cancer@3"
    assert view.last_bisection.last_passing == "breast-cancer@2"
    assert "first fails on breast-cancer@3" in view.status.text()


RECORDS = ("suite", "suite_version", "validation_run", "audit")


def test_a_suite_that_cannot_run_says_why_and_records_nothing(
    window, qtbot, demo_path, monkeypatch
):
    view = _validate_tab(window).validate
    qtbot.waitUntil(lambda: not window.runner.active, timeout=60_000)
    before = catalog_snapshot(demo_path)
    # The refusal is quick: on a loaded machine it can end before run() returns.
    finish_before_start_returns(window.runner, monkeypatch)
    # Run at once, before the editor's own check of the catalog could answer.
    view.editor.text_edit.setPlainText(
        view.editor.text().replace('baseline = "previous"', 'baseline = "breast-cancer@9"', 1)
    )
    assert view.run() is not None
    qtbot.waitUntil(lambda: view.job is None, timeout=60_000)
    assert view.status.text().startswith("Not run:") and "breast-cancer@9" in view.status.text()
    assert view.results.run is None
    qtbot.waitUntil(lambda: not window.runner.active, timeout=60_000)
    after = catalog_snapshot(demo_path)
    assert {t: after[t] for t in RECORDS} == {t: before[t] for t in RECORDS}


def test_cancelling_a_run_records_no_run(window, qtbot, demo_path, monkeypatch):
    import modeldesk.gui.pages.validate_jobs as validate_jobs

    held, reached = hold_mid_job(validate_jobs.validate_text)
    monkeypatch.setattr(validate_jobs, "validate_text", held)
    view = _validate_tab(window).validate
    qtbot.waitUntil(lambda: not window.runner.active, timeout=60_000)
    before = catalog_snapshot(demo_path)
    assert view.run() is not None
    qtbot.waitUntil(reached.is_set, timeout=60_000)  # mid-way through, and waiting
    assert view.cancel_button.isEnabled() and view.progress.isVisible()
    view.cancel()
    qtbot.waitUntil(lambda: view.job is None, timeout=60_000)
    assert view.results.run is None or view.results.run.get("id") is None
    assert "Cancelled" in view.status.text()
    after = catalog_snapshot(demo_path)
    assert {t: after[t] for t in RECORDS} == {t: before[t] for t in RECORDS}


def test_every_version_fills_the_matrix_and_says_which_it_could_not_run(window, qtbot):
    from modeldesk.models.importer import import_model
    from modeldesk.resources import resources_dir

    # A regressor filed as a fourth version: the classifier's suite cannot run on it.
    regressor = resources_dir() / "demo" / "models" / "diabetes-v1.onnx"
    import_model(window.catalog, regressor, name="breast-cancer")
    view = _validate_tab(window).validate
    assert view.run_every_version() is not None
    qtbot.waitUntil(lambda: view.job is None, timeout=180_000)
    qtbot.waitUntil(lambda: not window.runner.active, timeout=60_000)
    assert "breast-cancer@4 not run" in view.status.text()
    assert "breast-cancer@2 PASS" in view.status.text()
    assert view.results.matrix_verdict("breast-cancer@2", DIRECTION) == "PASS"
    assert view.results.matrix_verdict("breast-cancer@3", DIRECTION) == "FAIL"
    assert view.results.matrix_verdict("breast-cancer@4", DIRECTION) == ""
    # The first version has no previous one for the champion check: skipped, not failed.
    assert view.results.matrix_verdict("breast-cancer@1", "no-worse-than-previous") == "SKIPPED"
    assert "breast-cancer@1 PASS" in view.status.text()
    assert view.results.run["model"] == "breast-cancer@3"
    # A matrix row opens that version's recorded run.
    row = next(
        r for r in range(view.results.matrix.rowCount())
        if view.results.matrix.verticalHeaderItem(r).text().endswith("breast-cancer@2")
    )  # fmt: skip
    view.results._matrix_clicked(row, 0)
    assert view.results.run["model"] == "breast-cancer@2" and view.results.run["verdict"] == "PASS"
