"""The Release tab: a model's releases, and for one of them its gates and decisions.

The list shows every release of the model with its state, channel and targets. For
the selected release: the gates as a checklist (each with why it fails and the
evidence it read), a comment box with Approve and Reject (disabled, with the reason as
the tooltip, when your key may not decide), Package and Verify a bundle file. Gates,
decisions, packaging and verifying run on the worker pool.
"""

from __future__ import annotations

import html
import json
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from modeldesk.errors import ModelDeskError
from modeldesk.gui.context import AppContext
from modeldesk.gui.pages import release_jobs as jobs
from modeldesk.gui.pages.release_deploy import DeploymentActions
from modeldesk.gui.pages.release_transfer import TransferActions
from modeldesk.gui.widgets.flow import FlowLayout
from modeldesk.gui.widgets.keys_dialog import KeysDialog, ask, own_fingerprint, signing_key
from modeldesk.gui.widgets.table import DataTable, RowStyle

__all__ = ["ReleaseView"]

FAILING_BACKGROUND = "#fdecea"  # a failing gate's row (its text says FAIL too)


class ReleaseView(DeploymentActions, TransferActions, QWidget):
    """The releases of one model; gates, decisions, packaging of the selected one."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.model_name: str | None = None
        self.model_ref: str | None = None
        self.releases: list[Any] = []
        self.selected: Any = None
        self.report: Any = None

        self.create_button = QPushButton("New release of this version…", self)
        self.create_button.clicked.connect(self.create)
        self.keys_button = QPushButton("Keys…", self)
        self.keys_button.clicked.connect(self.open_keys)
        self.verify_button = QPushButton("Verify a bundle…", self)
        self.verify_button.clicked.connect(self.verify_file)
        self.review_button = QPushButton("Review a candidate…", self)
        self.review_button.setToolTip("Bring a .mdrc file from another workstation in for review")
        self.review_button.clicked.connect(self.review_file)
        self.record_button = QPushButton("Record a bundle…", self)
        self.record_button.setToolTip("Record a .mdrel packaged elsewhere against its release")
        self.record_button.clicked.connect(self.record_file)
        self.list = DataTable(
            ["id", "version", "state", "channel", "targets", "approvals", "created"],
            self,
            filter_hint="Filter releases",
        )
        self.list.selection_changed.connect(self._chosen)
        self.heading = QLabel(self)
        self.heading.setWordWrap(True)
        self.gates = DataTable(["gate", "verdict", "why"], self, filter_hint="Filter gates")
        self.comment = QPlainTextEdit(self)
        self.comment.setPlaceholderText("Why you approve or reject (kept with your signature)")
        self.comment.setMaximumHeight(70)
        self.approve_button = QPushButton("Approve", self)
        self.approve_button.clicked.connect(lambda: self.decide(approve=True))
        self.reject_button = QPushButton("Reject", self)
        self.reject_button.clicked.connect(lambda: self.decide(approve=False))
        self.package_button = QPushButton("Package…", self)
        self.package_button.clicked.connect(self.package)
        self.export_button = QPushButton("Export candidate…", self)
        self.export_button.clicked.connect(self.export)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        top = FlowLayout()
        for widget in (
            self.create_button,
            self.keys_button,
            self.review_button,
            self.record_button,
            self.verify_button,
        ):
            top.addWidget(widget)
        decisions = FlowLayout()
        for widget in (
            self.approve_button,
            self.reject_button,
            self.package_button,
            self.export_button,
            *self.build_deployment_widgets(self),
        ):
            decisions.addWidget(widget)
        detail = QWidget(self)
        detail_layout = QVBoxLayout(detail)
        detail_layout.setContentsMargins(0, 0, 0, 0)
        detail_layout.addWidget(self.heading)
        sections = QTabWidget(detail)
        sections.addTab(self.gates, "Gates")
        sections.addTab(self.history, "Deployments")
        self.sections = sections
        detail_layout.addWidget(sections, 1)
        detail_layout.addWidget(self.comment)
        detail_layout.addLayout(decisions)
        body = QSplitter(Qt.Orientation.Vertical, self)
        body.addWidget(self.list)
        body.addWidget(detail)
        body.setSizes([200, 420])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(body, 1)
        layout.addWidget(self.status)
        self._show_release(None)

    # -- which model ----------------------------------------------------------------------
    def set_model(self, model_name: str, model_ref: str) -> None:
        """Show the releases of ``model_name``; new ones are of ``model_ref``."""
        self.model_name, self.model_ref = model_name, model_ref
        self.reload()

    def reload(self, select: int | None = None) -> None:
        """Read the model's releases again (on the pool), selecting release ``select``."""
        if self.model_name is None:
            return
        self.context.run(
            "reading releases",
            jobs.releases,
            model_name=self.model_name,
            on_done=lambda found: self._listed(found, select),
            key="release-list",
        )

    def _listed(self, found: list[Any], select: int | None) -> None:
        self.releases = found
        self.list.set_rows(
            [
                [
                    r.id,
                    r.model.version,
                    r.state,
                    r.channel,
                    ", ".join(r.targets),
                    len(r.approvals),
                    r.created_at[:19].replace("T", " "),
                ]
                for r in found
            ]
        )
        chosen = next((r for r in found if r.id == select), found[0] if found else None)
        if chosen is not None:
            self.list.view.selectRow(found.index(chosen))
        self._show_release(chosen)

    def _chosen(self, rows: list[int]) -> None:
        if rows:
            self._show_release(self.releases[rows[0]])

    # -- one release ----------------------------------------------------------------------
    def _show_release(self, release: Any) -> None:
        self.selected, self.report = release, None
        for button in (
            self.approve_button,
            self.reject_button,
            self.package_button,
            self.export_button,
        ):
            button.setEnabled(False)
            button.setToolTip("Select a release first" if release is None else "Reading gates…")
        self.show_deployments(release)
        if release is None:
            self.heading.setText(
                "No release of this model yet: create one from a version "
                "with its evidence (a passing suite run, a benchmark)."
            )
            self.gates.set_rows([])
            return
        self.heading.setText(
            f"<b>Release #{release.id}</b>: {html.escape(release.model.ref)} "
            f"— {release.state}; reading its gates…"
        )
        self.context.run(
            "evaluating gates",
            jobs.gates,
            release_id=release.id,
            fingerprint=own_fingerprint(),
            on_done=self._gated,
            key="release-gates",
        )

    def _gated(self, found: dict[str, Any]) -> None:
        release, report, refusal = found["release"], found["report"], found["refusal"]
        if self.selected is None or release.id != self.selected.id:
            return  # another release was chosen meanwhile
        self.selected, self.report = release, report
        people = found["people"]

        def who(fingerprint: str | None) -> str:
            if not fingerprint:
                return "none recorded (imported without a key)"
            return people.get(fingerprint, fingerprint[:16])

        decided = "; ".join(f"{d.decision} by {who(d.key)}: {d.comment}" for d in release.decisions)
        self.heading.setText(
            f"<b>Release #{release.id}</b>: {html.escape(release.model.ref)} on "
            f"{html.escape(', '.join(release.targets))} ({html.escape(release.channel)}) — "
            f"<b>{release.state}</b>. Author {html.escape(who(release.model.author_key))}, "
            f"created by {html.escape(who(release.creator_key))}."
            + (f"<br>{html.escape(decided)}" if decided else "")
        )
        rows, styles = [], []
        for gate in report.gates:  # a mark and a word, never colour alone
            rows.append([gate.id, "✔ PASS" if gate.passed else "✘ FAIL", gate.message])
            styles.append(
                RowStyle(
                    background=None if gate.passed else FAILING_BACKGROUND,
                    bold=not gate.passed,
                    tooltip=evidence_text(gate),
                )
            )
        self.gates.set_rows(rows, styles)
        failing = [g.id for g in report.failing(except_approvals=True)]
        for button in (self.approve_button, self.reject_button):
            button.setEnabled(refusal is None)
            button.setToolTip(refusal or "")
        if refusal is None and failing:
            self.approve_button.setEnabled(False)
            self.approve_button.setToolTip(f"Gate(s) fail: {', '.join(failing)}")
        packable = release.state in ("approved", "packaged") and report.passed
        why_not = f"Release #{release.id} is {release.state}; gates must all pass"
        if packable and not release.model.author_signature:
            packable = False
            why_not = (
                f"{release.model.ref} carries no author signature (it was imported "
                "without a key): a bundle needs its author's"
            )
        self.package_button.setEnabled(packable)
        self.package_button.setToolTip("" if packable else why_not)
        signed = bool(release.model.author_signature)
        self.export_button.setEnabled(signed)
        self.export_button.setToolTip(
            "Write a candidate file (model, evidence, policy) for a release manager elsewhere"
            if signed
            else f"{release.model.ref} carries no author signature: a candidate needs its author's"
        )

    def decide(self, *, approve: bool) -> None:
        """Approve or reject the selected release with your key and the comment."""
        if self.selected is None:
            return
        signer = signing_key(self)
        if signer is None:
            return
        release_id = self.selected.id
        self.context.run(
            "approving" if approve else "rejecting",
            jobs.decide,
            release_id=release_id,
            signer=signer,
            approve=approve,
            comment=self.comment.toPlainText(),
            on_done=lambda decided: self._decided(decided),
            on_error=lambda error: self.status.setText(error.message),
        )

    def _decided(self, release: Any) -> None:
        self.comment.clear()
        self.status.setText(f"Release #{release.id} is {release.state}.")
        self.context.catalog_changed.emit()
        self.reload(select=release.id)

    def package(self) -> None:
        """Write the selected release's bundle into a folder you choose."""
        if self.selected is None:
            return
        folder = QFileDialog.getExistingDirectory(self, "Write the bundle into")
        signer = signing_key(self) if folder else None
        if signer is None:
            return
        release_id = self.selected.id
        self.context.run(
            "packaging",
            jobs.package,
            release_id=release_id,
            signer=signer,
            out_dir=folder,
            on_done=lambda path: (
                self.status.setText(f"Wrote {path}."),
                self.reload(select=release_id),
            ),
            on_error=lambda error: self.status.setText(error.message),
        )

    def verify_file(self) -> None:
        """Verify a bundle file with the keys this catalog trusts."""
        path, _ = QFileDialog.getOpenFileName(self, "Verify a bundle", "", "Bundles (*.mdrel)")
        if path:
            self.context.run("verifying", jobs.verify, bundle=path, on_done=self._verified)

    def _verified(self, result: dict[str, Any]) -> None:
        if result.get("valid"):
            self.status.setText(
                f"Valid: {result['model']}@{result['version']} r{result['counter']} "
                f"({result['channel']}), author {result['author']}, approved by "
                f"{', '.join(result['approvers'])}."
            )
        else:
            self.status.setText(f"Refused: {result['reason']}")

    # -- dialogs --------------------------------------------------------------------------
    def open_keys(self) -> None:
        """The keys dialog."""
        KeysDialog(self.context.catalog, self).exec()
        self._show_release(self.selected)

    def create(self) -> None:
        """Ask for targets and a channel, then create a release of this version."""
        from modeldesk.bench.profiles import list_profiles
        from modeldesk.release.policy import get_policy
        from modeldesk.release.records import create_release

        if self.model_ref is None or self.model_name is None:
            return
        catalog = self.context.catalog
        policy = get_policy(catalog, self.model_name)
        if policy is None:
            self.status.setText(
                f"{self.model_name} has no release policy: a release manager "
                f"sets one ('modeldesk release policy set {self.model_name} "
                "--file F')."
            )
            return
        allowed = policy.policy.targets or [p.name for p in list_profiles(catalog)]
        form = QDialog(self)
        form.setWindowTitle(f"New release of {self.model_ref}")
        targets = QListWidget(form)
        for name in allowed:
            item = QListWidgetItem(name, targets)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(
                Qt.CheckState.Checked if len(allowed) == 1 else Qt.CheckState.Unchecked
            )
        channel = QLineEdit("stable", form)
        fields = QFormLayout(form)
        fields.addRow("Targets", targets)
        fields.addRow("Channel", channel)
        if not ask(form, fields):
            return
        chosen = [
            targets.item(i).text()
            for i in range(targets.count())
            if targets.item(i).checkState() == Qt.CheckState.Checked
        ]
        signer = signing_key(self)
        if signer is None:
            return
        try:
            created = create_release(
                catalog, signer, self.model_ref, targets=chosen, channel=channel.text()
            )
        except ModelDeskError as error:
            self.status.setText(str(error))
            return
        self.status.setText(f"Created release #{created.id}.")
        self.context.catalog_changed.emit()
        self.reload(select=created.id)


def evidence_text(gate: Any) -> str:
    """A gate's evidence as readable JSON (its row's tooltip: the runs, hashes, files)."""
    return json.dumps(gate.evidence, indent=2, sort_keys=True)
