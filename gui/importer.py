"""Importing files from the window: ask, run on the pool, report, reveal the result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QDialog, QWidget

from modeldesk.datasets.importer import DatasetImport, import_dataset
from modeldesk.gui.context import AppContext
from modeldesk.gui.import_dialog import IMPORTABLE_SUFFIXES, ImportDialog, ImportRequest, kind_of
from modeldesk.gui.jobs import Job, JobError
from modeldesk.models.importer import ModelImport, import_model

__all__ = ["ImportController"]


class ImportController(QObject):
    """Turns files into import jobs; ``imported`` fires with (kind, name, version)."""

    imported = Signal(str, str, int)

    def __init__(self, context: AppContext, window: QWidget) -> None:
        super().__init__(window)
        self.context = context
        self.window = window
        self.dialogs: list[ImportDialog] = []  # open dialogs (tests drive them)

    def ask(self, paths: list[Path]) -> None:
        """Open an import dialog for each importable file; refuse the others."""
        for path in paths:
            if kind_of(path) is None:
                accepted = ", ".join(sorted(IMPORTABLE_SUFFIXES))
                self.context.error.emit(
                    JobError(
                        f"{path.name}: cannot import this kind of file (use {accepted})", "", True
                    )
                )
                continue
            dialog = ImportDialog(self.context.catalog, path, self.window)
            dialog.finished.connect(lambda result, d=dialog: self._dialog_closed(d, result))
            self.dialogs.append(dialog)
            dialog.open()

    def _dialog_closed(self, dialog: ImportDialog, result: int) -> None:
        if dialog in self.dialogs:
            self.dialogs.remove(dialog)
        if result == QDialog.DialogCode.Accepted:
            self.start(dialog.request())
        dialog.deleteLater()

    def start(self, request: ImportRequest) -> Job:
        """Run one import on the worker pool."""
        if request.kind == "model":
            return self.context.run(
                f"importing {request.path.name}",
                import_model,
                on_done=self._model_done,
                file=request.path,
                name=request.name,
                parent=request.parent,
                trained_on=request.trained_on,
                signer=self._unlocked_key(),
            )
        return self.context.run(
            f"importing {request.path.name}",
            import_dataset,
            on_done=self._dataset_done,
            file=request.path,
            name=request.name,
            label=request.label,
        )

    def _unlocked_key(self) -> Any:
        """Your signing key when it needs its passphrase (asked here, on the GUI thread),
        so the version is signed as yours; None otherwise (core opens a plain key itself).
        """
        from modeldesk.gui.widgets.keys_dialog import signing_key
        from modeldesk.release.keys import SigningKeyError, load_signing_key

        try:
            load_signing_key()
        except SigningKeyError as error:
            if "encrypted" in str(error):
                key = signing_key(self.window)
                if key is None:
                    self.context.warning.emit(
                        "imported without your signature: the version records your key but "
                        "cannot be packaged until it is imported signed"
                    )
                return key
        return None

    def _model_done(self, result: ModelImport) -> None:
        version = result.version
        if not result.created:
            self.context.warning.emit(f"{version.ref} already holds these bytes; nothing imported")
        runtime_error = version.facts.runtime_error
        if runtime_error:
            self.context.warning.emit(
                f"{version.ref}: ONNX Runtime cannot load it: {runtime_error}"
            )
        self._done("model", version.name, version.version)

    def _dataset_done(self, result: DatasetImport) -> None:
        version = result.version
        if not result.created:
            self.context.warning.emit(f"{version.ref} already holds this file; nothing imported")
        for note in result.notes:
            self.context.warning.emit(f"{version.ref}: {note}")
        self._done("dataset", version.name, version.version)

    def _done(self, kind: str, name: str, version: int, *_: Any) -> None:
        self.context.catalog_changed.emit()
        self.imported.emit(kind, name, version)
