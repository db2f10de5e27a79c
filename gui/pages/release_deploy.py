"""The Release tab's field record: deploy, mark failed and roll back the selected
release, and its deployment history. Each event is signed by your key and recorded on
the worker pool; the delivery figures read them."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QLineEdit,
    QPushButton,
    QWidget,
)

from modeldesk.gui.pages import release_jobs as jobs
from modeldesk.gui.widgets.keys_dialog import ask, signing_key
from modeldesk.gui.widgets.table import DataTable

__all__ = ["DeploymentActions"]

DEPLOY, FAIL, ROLLBACK = "deploy", "fail", "rollback"


class DeploymentActions:
    """Mixed into the Release tab: its selection, status line and reload are used."""

    selected: Any
    context: Any
    status: Any
    deploy_state: dict[str, Any] | None

    def reload(self, select: int | None = None) -> None:  # the tab's own
        raise NotImplementedError

    def build_deployment_widgets(self, parent: QWidget) -> list[QWidget]:
        """The three buttons (the history table is ``self.history``)."""
        self.deploy_state = None
        self.deploy_button = QPushButton("Deploy…", parent)
        self.deploy_button.clicked.connect(lambda: self.ask_event(DEPLOY))
        self.fail_button = QPushButton("Mark failed…", parent)
        self.fail_button.clicked.connect(lambda: self.ask_event(FAIL))
        self.rollback_button = QPushButton("Roll back…", parent)
        self.rollback_button.clicked.connect(lambda: self.ask_event(ROLLBACK))
        self.history = DataTable(
            ["event", "target", "at", "release", "note", "by"], parent, filter_hint="Filter events"
        )
        return [self.deploy_button, self.fail_button, self.rollback_button]

    def show_deployments(self, release: Any) -> None:
        """Read ``release``'s deployment history and what each action may do (on the pool)."""
        self.deploy_state = None
        for button in (self.deploy_button, self.fail_button, self.rollback_button):
            button.setEnabled(False)
            button.setToolTip("Select a release first" if release is None else "Reading…")
        if release is None:
            self.history.set_rows([])
            return
        self.context.run(
            "reading deployments",
            jobs.deployments,
            release_id=release.id,
            on_done=self._deployments_read,
            key="release-deployments",
        )

    def _deployments_read(self, found: dict[str, Any]) -> None:
        release = found["release"]
        if self.selected is None or release.id != self.selected.id:
            return
        self.deploy_state = found
        people = found.get("people", {})
        self.history.set_rows(
            [
                [
                    "rollback" if e.rollback_of is not None else e.kind,
                    e.target,
                    e.at[:16].replace("T", " "),
                    f"#{e.release_id}"
                    + (f" (back from #{e.rollback_of})" if e.rollback_of is not None else ""),
                    e.note or "",
                    people.get(e.actor_key, e.actor_key[:16]),
                ]
                for e in found["events"]
            ]
        )
        options = found["options"]
        packaged = release.state == "packaged"
        self.deploy_button.setEnabled(packaged)
        self.deploy_button.setToolTip(
            "Record that this release went live on a target"
            if packaged
            else f"Release #{release.id} is {release.state}: only a packaged release deploys"
        )
        live = [t for t, o in options.items() if o["live"] == release.id]
        self.fail_button.setEnabled(bool(live))
        self.fail_button.setToolTip(
            f"Record that its deployment on {', '.join(live)} failed"
            if live
            else f"Release #{release.id} is live on no target"
        )
        back = [t for t in live if options[t]["earlier"]]
        self.rollback_button.setEnabled(bool(back))
        self.rollback_button.setToolTip(
            f"Put an earlier release back on {', '.join(back)}"
            if back
            else "No target has this release live with an earlier one to go back to"
        )

    def ask_event(self, kind: str) -> None:
        """Ask for the target (and the reason, note or earlier release), then record."""
        if self.deploy_state is None or self.selected is None:
            return
        release, options = self.selected, self.deploy_state["options"]
        form = QDialog(self)  # type: ignore[arg-type]
        form.setWindowTitle(f"{kind.capitalize()}: release #{release.id}")
        target = QComboBox(form)
        if kind == DEPLOY:
            target.addItems(list(release.targets))
        else:
            target.addItems([t for t, o in options.items() if o["live"] == release.id])
        when = QLineEdit(form)
        when.setPlaceholderText("now, or an ISO 8601 time (UTC unless it says)")
        note = QLineEdit(form)
        back_to = QComboBox(form)
        fields = QFormLayout(form)
        fields.addRow("Target", target)
        if kind == ROLLBACK:

            def earlier_for(name: str) -> None:
                back_to.clear()
                for rid in options.get(name, {}).get("earlier", []):
                    back_to.addItem(f"release #{rid}", rid)

            target.currentTextChanged.connect(earlier_for)
            earlier_for(target.currentText())
            fields.addRow("Back to", back_to)
        fields.addRow("When", when)
        fields.addRow("Reason" if kind == FAIL else "Note", note)
        if not ask(form, fields):
            return
        self.record(
            kind,
            target.currentText(),
            at=when.text().strip() or None,
            note=note.text().strip() or None,
            back_to=back_to.currentData() if kind == ROLLBACK else None,
        )

    def record(
        self,
        kind: str,
        target: str,
        *,
        at: str | None = None,
        note: str | None = None,
        back_to: int | None = None,
    ) -> Any:
        """Record ``kind`` for the selected release on ``target`` with your key."""
        from modeldesk.errors import ModelDeskError
        from modeldesk.release.deployments import NewEvent, parse_time

        if self.selected is None:
            return None
        release_id = self.selected.id
        try:
            moment = parse_time(at) if at else None
        except ModelDeskError as error:
            self.status.setText(str(error))
            return None
        if kind == FAIL and not note:
            self.status.setText("Say why the deployment failed (the reason is kept with it).")
            return None
        if kind == ROLLBACK:
            event = NewEvent(DEPLOY, back_to, target, moment, rollback_of=release_id, note=note)
        else:
            event = NewEvent(kind, release_id, target, moment, note=note)
        signer = signing_key(self)  # type: ignore[arg-type]
        if signer is None:
            return None
        return self.context.run(
            "recording a deployment event",
            jobs.record_event,
            signer=signer,
            event=event,
            on_done=lambda recorded: self._event_recorded(recorded, release_id),
            on_error=lambda error: self.status.setText(html.escape(error.message)),
        )

    def _event_recorded(self, event: Any, release_id: int) -> None:
        what = "rollback" if event.rollback_of is not None else event.kind
        self.status.setText(
            f"Recorded the {what} of release #{event.release_id} on {event.target}."
        )
        self.context.catalog_changed.emit()
        self.reload(select=release_id)
