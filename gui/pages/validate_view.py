"""The Validate tab: edit a model's validation suite, run it, read what it found.

The editor checks the suite as you type (syntax at once, then against the catalog on
the worker pool: columns, datasets, baselines, and thresholds finer than the data can
resolve). Run stores edited text as the suite's next version, once it can run, and
validates the version on the pool with progress and cancel; its results, evidence and
the suite's versions x checks history show on the right. Bisect finds the first
version along the lineage where the chosen check fails.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QPushButton,
    QSplitter,
    QWidget,
)

from modeldesk.gui.context import AppContext
from modeldesk.gui.jobs import Job
from modeldesk.gui.pages import validate_jobs as jobs
from modeldesk.gui.pages.debug_view import dataset_choices
from modeldesk.gui.pages.validate_results import ResultsPanel
from modeldesk.gui.widgets.suite_editor import SuiteEditor
from modeldesk.gui.widgets.tool_page import (
    job_progress_bar,
    lay_out_tool_page,
    show_progress,
    start_progress,
)
from modeldesk.validate.registry import list_suites, list_validation_runs, validation_run

__all__ = ["ValidateView"]

NEW_SUITE = "(new suite)"


class ValidateView(QWidget):
    """Suites of one model, its version's runs, and a run's evidence."""

    row_chosen = Signal(str, int)  # dataset ref, row: explain it

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.model_name: str | None = None
        self.model_ref: str | None = None
        self.suite_texts: dict[str, str] = {}  # suite ref -> its stored text
        self.job: Job | None = None
        self.last_bisection: Any = None

        self.suite_choice = QComboBox(self)
        self.suite_choice.setMinimumContentsLength(18)
        self.suite_choice.currentTextChanged.connect(self._suite_chosen)
        self.propose_dataset = QComboBox(self)
        self.propose_dataset.setToolTip("Labelled data to set a proposed suite's thresholds from")
        self.propose_button = QPushButton("Propose…", self)
        self.propose_button.setToolTip(
            "A starter suite this version passes, thresholds at the edge of its intervals"
        )
        self.propose_button.clicked.connect(self.propose)
        self.run_button = QPushButton("Run", self)
        self.run_button.setToolTip("Validate this version (edited text is stored as a new version)")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.every_button = QPushButton("Run on every version", self)
        self.every_button.setToolTip("Validate each version of the model (fills the matrix)")
        self.every_button.clicked.connect(self.run_every_version)
        self.bisect_button = QPushButton("Bisect check", self)
        self.bisect_button.setToolTip(
            "Find the first version along this version's lineage where the selected check fails"
        )
        self.bisect_button.clicked.connect(self.bisect)
        self.inconclusive = QComboBox(self)
        self.inconclusive.addItems(["suite's choice", "fail", "pass", "skip"])
        self.inconclusive.setToolTip("What an INCONCLUSIVE check counts as")
        self.progress = job_progress_bar(self)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.editor = SuiteEditor(self)
        self.editor.parsed.connect(self._check_against_catalog)
        self.editor.edited.connect(self._edited)
        self.results = ResultsPanel(self)
        self.results.row_chosen.connect(self.row_chosen)
        self.results.run_chosen.connect(self.show_recorded_run)
        self.results.explain_disagreements.connect(self._explain_disagreements)

        body = QSplitter(Qt.Orientation.Horizontal, self)
        body.addWidget(self.editor)
        body.addWidget(self.results)
        body.setStretchFactor(0, 2)
        body.setStretchFactor(1, 3)
        tools = (QLabel("Suite:", self), self.suite_choice, self.run_button,
                 self.cancel_button, self.every_button, QLabel("inconclusive counts as", self),
                 self.inconclusive, self.bisect_button, self.propose_button,
                 self.propose_dataset)  # fmt: skip
        lay_out_tool_page(self, tools, self.progress, self.status, body)

    # -- which suite ------------------------------------------------------------------
    def set_model(self, model_name: str, model_ref: str) -> None:
        """Show the suites of ``model_name`` for validating ``model_ref``."""
        catalog = self.context.catalog
        self.model_name, self.model_ref = model_name, model_ref
        suites = list_suites(catalog, model_name)
        self.suite_texts = {stored.ref: stored.suite.text for stored in suites}
        self.propose_dataset.clear()
        self.propose_dataset.addItems(dataset_choices(catalog, model_ref))
        self.suite_choice.blockSignals(True)
        self.suite_choice.clear()
        self.suite_choice.addItems([*self.suite_texts, NEW_SUITE])
        self.suite_choice.blockSignals(False)
        self.status.setText("")
        self._suite_chosen(self.suite_choice.currentText())

    def suite_name(self) -> str | None:
        """The chosen stored suite's name (None for a new one)."""
        ref = self.suite_choice.currentText()
        return ref.rpartition("@")[0] if ref in self.suite_texts else None

    def _suite_chosen(self, ref: str) -> None:
        if not ref or self.model_name is None:
            return
        self.editor.set_text(self.suite_texts.get(ref, ""))
        self.results.run = None
        self.results.results.set_rows([])
        self.results.summary.setText("")
        name = self.suite_name()
        if name is None:
            self.status.setText("Write a suite, or let Propose start one from this version.")
            return
        self._load_history(name)
        runs = [
            r
            for r in list_validation_runs(self.context.catalog, self.model_name, suite_name=name)
            if r["model"] == self.model_ref
        ]
        if runs:
            self.show_recorded_run(runs[0]["id"])
        else:
            self.results.summary.setText(f"{self.model_ref} has no run of {name} yet: press Run.")

    def _load_history(self, suite_name: str) -> None:
        if self.model_name is None:
            return
        current = self.model_ref
        self.context.run(
            f"reading the history of {suite_name}",
            jobs.history,
            on_done=lambda history: self.results.show_history(history, current),
            key=f"validate-history:{id(self)}",
            model_name=self.model_name,
            suite_name=suite_name,
        )

    def show_recorded_run(self, run_id: int) -> None:
        """Show a run the catalog holds."""
        self.results.show_run(validation_run(self.context.catalog, run_id))

    # -- editing ------------------------------------------------------------------------
    def _edited(self) -> None:
        ref = self.suite_choice.currentText()
        changed = self.editor.text() != self.suite_texts.get(ref, "")
        self.run_button.setText("Save && run" if changed else "Run")

    def _check_against_catalog(self, text: str) -> None:
        from modeldesk.validate.lint import suite_problems

        self.context.run(
            "checking the suite",
            suite_problems,
            on_done=lambda problems: self._checked(text, problems),
            on_error=lambda error: self.editor.show_problems([]),
            key=f"validate-lint:{id(self)}",
            text=text,
            model_ref=self.model_ref,
        )

    def _checked(self, text: str, problems: list[Any]) -> None:
        if text == self.editor.text():  # an answer about older text is stale
            self.editor.show_problems(problems)

    # -- running ------------------------------------------------------------------------
    def _on_inconclusive(self) -> str | None:
        choice = self.inconclusive.currentText()
        return None if choice == "suite's choice" else choice

    def _buttons(self, enabled: bool) -> None:
        for button in (self.run_button, self.every_button, self.bisect_button):
            button.setEnabled(enabled)
        self.cancel_button.setEnabled(not enabled)

    def _start(self, title: str, fn: Any, on_done: Any, **kwargs: Any) -> Job:
        self._buttons(False)
        start_progress(self.progress, title)
        # on_finished reads `job` when its queued signal arrives, after it is bound here.
        job = self.context.run(title, fn, on_done=on_done, on_error=self._failed,
                               on_progress=self._progressed,
                               on_finished=lambda: self._ended(job),
                               key=f"validate-run:{id(self)}", **kwargs)  # fmt: skip
        self.job = job
        return job

    def run(self) -> Job | None:
        """Validate this version with the editor's suite (stored first if edited)."""
        if self.model_ref is None:
            return None
        from modeldesk.validate.lint import syntax_problem

        # Only the text is checked here; what the catalog says is checked by the run
        # itself (an answer from the editor's own check may not have come yet).
        _, problem = syntax_problem(self.editor.text())
        if problem is not None:
            self.editor.show_problems([problem])
            self.status.setText("Fix the suite's error first (listed under the editor).")
            return None
        self.status.setText("")
        return self._start(f"validating {self.model_ref}", jobs.validate_text, self._validated,
                           text=self.editor.text(), model_ref=self.model_ref,
                           on_inconclusive=self._on_inconclusive())  # fmt: skip

    def run_every_version(self) -> Job | None:
        """Validate every version of the model with the editor's suite (recording each)."""
        from modeldesk.validate.lint import syntax_problem

        if self.model_ref is None or syntax_problem(self.editor.text())[1] is not None:
            self.status.setText("Fix the suite's error first (listed under the editor).")
            return None
        return self._start(f"validating every version of {self.model_name}",
                           jobs.validate_every_version, self._validated_every,
                           text=self.editor.text(), model_ref=self.model_ref)  # fmt: skip

    def _validated_every(self, outcome: Any) -> None:
        suite_ref, found = outcome
        self._refresh_suites(suite_ref)
        mine = [run for run in found.runs if run.model == self.model_ref]
        if mine:
            self.results.show_run(mine[0].to_dict())
        verdicts = ", ".join(f"{run.model} {run.verdict}" for run in found.runs)
        refused = "; ".join(f"{ref} not run: {why}" for ref, why in found.refused.items())
        self.status.setText(f"Validated {verdicts}." + (f" {refused}" if refused else ""))
        self.results.details.setCurrentIndex(2)
        self.context.catalog_changed.emit()

    def _progressed(self, fraction: float, message: str) -> None:
        show_progress(self.progress, fraction, message)

    def _ended(self, job: Job) -> None:
        if self.job is job:
            self.job = None
            self._buttons(True)
            self.progress.setVisible(False)
            if job.cancelled:
                self.status.setText("Cancelled: no run was recorded.")

    def cancel(self) -> None:
        """Stop the running validation or bisection; it records nothing."""
        if self.job is not None:
            self.job.cancel()

    def _failed(self, error: Any) -> None:
        # A suite that cannot run is the user's to fix: say so here, not in a dialog.
        if getattr(error, "expected", False):
            self.status.setText(f"Not run: {error.message}")
        else:
            self.context.error.emit(error)

    def _validated(self, run: dict[str, Any]) -> None:
        self._refresh_suites(run["suite"])
        self.results.show_run(run)
        self.context.catalog_changed.emit()

    def _refresh_suites(self, chosen_ref: str) -> None:
        """Re-read the suites after a run stored a new version, and choose ``chosen_ref``."""
        suites = list_suites(self.context.catalog, self.model_name)
        self.suite_texts = {stored.ref: stored.suite.text for stored in suites}
        self.suite_choice.blockSignals(True)
        self.suite_choice.clear()
        self.suite_choice.addItems([*self.suite_texts, NEW_SUITE])
        self.suite_choice.setCurrentText(chosen_ref)
        self.suite_choice.blockSignals(False)
        self._edited()
        self._load_history(chosen_ref.rpartition("@")[0])

    # -- bisect, propose, explanations --------------------------------------------------
    def bisect(self) -> Job | None:
        """Bisect the selected check (or the first that did not pass) along the lineage."""
        check = self.results.check
        if self.model_ref is None or check is None:
            self.status.setText("Choose a check in the results to bisect.")
            return None
        return self._start(f"bisecting {check['id']}", jobs.bisect, self._bisected,
                           text=self.editor.text(), model_ref=self.model_ref,
                           check_id=check["id"])  # fmt: skip

    def _bisected(self, found: Any) -> None:
        self.last_bisection = found
        if found.first_failing is None:
            self.status.setText(f"{found.check} does not fail on {found.last_passing}.")
        else:
            after = f" (last passing: {found.last_passing})" if found.last_passing else ""
            looked = ", ".join(f"{ref} {verdict}" for ref, verdict in found.verdicts.items())
            self.status.setText(
                f"{found.check} first fails on {found.first_failing}{after}. Looked at: {looked}."
            )

    def propose(self) -> None:
        """Put a starter suite for this version in the editor (not stored until run)."""
        from modeldesk.validate.propose import propose_suite

        data_ref = self.propose_dataset.currentText()
        if self.model_ref is None or not data_ref:
            return
        self.status.setText(f"proposing a suite from {self.model_ref} on {data_ref}…")
        self.context.run(
            f"proposing a suite for {self.model_ref}",
            propose_suite,
            on_done=self._proposed,
            on_error=self._failed,
            key=f"validate-propose:{id(self)}",
            model_ref=self.model_ref,
            dataset_ref=data_ref,
        )

    def _proposed(self, text: str) -> None:
        self.suite_choice.blockSignals(True)
        self.suite_choice.setCurrentText(NEW_SUITE)
        self.suite_choice.blockSignals(False)
        self.editor.set_text(text)
        self._edited()
        self.status.setText("A proposed suite: edit it, then Save & run stores it.")

    def _explain_disagreements(self, check: dict[str, Any]) -> None:
        from modeldesk.validate.explain_diff import explanation_difference

        run = self.results.run
        if run is None:
            return
        self.context.run(
            f"explaining where {run['model']} and {check['evidence']['baseline']} disagree",
            explanation_difference,
            on_done=self.results.show_difference,
            on_error=lambda error: self.results.difference_failed(error.message),
            key=f"validate-difference:{id(self)}",
            candidate=run["model"],
            baseline=check["evidence"]["baseline"],
            data_ref=check.get("dataset") or run["dataset"],
            rows=check["evidence"]["disagreeing_rows"],
        )
