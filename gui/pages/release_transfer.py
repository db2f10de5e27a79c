"""The Release tab's actions across workstations: export a candidate file, review one
from elsewhere, record a bundle packaged elsewhere. Each runs on the worker pool."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QFileDialog

from modeldesk.gui.pages import release_jobs as jobs
from modeldesk.gui.widgets.keys_dialog import signing_key

__all__ = ["TransferActions"]


class TransferActions:
    """Mixed into the Release tab, whose selection, status line and reload these use."""

    selected: Any
    model_name: str | None
    context: Any
    status: Any

    def reload(self, select: int | None = None) -> None:  # the tab's own
        raise NotImplementedError

    def export(self) -> None:
        """Write the selected release as a candidate file you choose."""
        if self.selected is None:
            return
        release = self.selected
        suggested = f"{release.model.name}-{release.model.version}-release{release.id}.mdrc"
        path, _ = QFileDialog.getSaveFileName(
            self, "Export the candidate", suggested, "Release candidates (*.mdrc)"
        )
        signer = signing_key(self) if path else None
        if signer is None:
            return
        if not path.endswith(".mdrc"):
            path += ".mdrc"
        self.context.run(
            "exporting",
            jobs.export,
            release_id=release.id,
            signer=signer,
            out=path,
            on_done=lambda written: self.status.setText(f"Wrote {written}."),
            on_error=lambda error: self.status.setText(error.message),
        )

    def review_file(self) -> None:
        """Bring a candidate file in for your review (with your release manager's key)."""
        path, _ = QFileDialog.getOpenFileName(
            self, "Review a candidate", "", "Release candidates (*.mdrc)"
        )
        signer = signing_key(self) if path else None
        if signer is None:
            return
        self.context.run(
            "reviewing",
            jobs.review,
            candidate=path,
            signer=signer,
            on_done=self._reviewed,
            on_error=lambda error: self.status.setText(error.message),
        )

    def _reviewed(self, review: Any) -> None:
        release = review.release
        same = review.report.evidence_sha256 == review.candidate_evidence
        brought = f"brought in {', '.join(review.adopted)}" if review.adopted else "nothing new"
        self.status.setText(
            f"Release #{release.id} of {release.model.ref} is here ({release.state}): {brought}; "
            f"evidence {'the same as' if same else 'differs from'} the candidate's."
            + (f" Note: {'; '.join(review.notes)}" if review.notes else "")
        )
        self.context.catalog_changed.emit()
        if release.model.name == self.model_name:
            self.reload(select=release.id)

    def record_file(self) -> None:
        """Record a bundle packaged elsewhere against this catalog's release."""
        path, _ = QFileDialog.getOpenFileName(self, "Record a bundle", "", "Bundles (*.mdrel)")
        signer = signing_key(self) if path else None
        if signer is None:
            return
        self.context.run(
            "recording",
            jobs.record_bundle,
            bundle=path,
            signer=signer,
            on_done=self._recorded,
            on_error=lambda error: self.status.setText(error.message),
        )

    def _recorded(self, outcome: tuple[Any, bool]) -> None:
        release, changed = outcome
        done = "Recorded" if changed else "Already recorded:"
        self.status.setText(f"{done} release #{release.id} packaged as r{release.counter}.")
        self.context.catalog_changed.emit()
        if release.model.name == self.model_name:
            self.reload(select=release.id)
