"""The Keys dialog: your signing key, and the keys this catalog trusts.

Create your key (optionally with a passphrase), see its fingerprint, export it for a
release manager; trust a key file with a name and roles, revoke a key with a reason.
Trusting and revoking are signed by your key; what your key may not do is refused by
core with the reason, which the dialog shows as it is.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from modeldesk.catalog.store import Catalog, current_actor
from modeldesk.errors import ModelDeskError
from modeldesk.gui.widgets.table import DataTable

__all__ = ["KeysDialog", "ask", "own_fingerprint", "signing_key"]


def signing_key(parent: QWidget):
    """Your signing key, asking for its passphrase if it is encrypted; None if you have
    none or cancel (the reason shown)."""
    from modeldesk.release.keys import SigningKeyError, load_signing_key

    try:
        return load_signing_key()
    except SigningKeyError as error:
        if "encrypted" not in str(error):
            QMessageBox.information(parent, "No signing key", str(error))
            return None
    secret, ok = QInputDialog.getText(
        parent, "Passphrase", "Your signing key's passphrase:", QLineEdit.EchoMode.Password
    )
    if not ok:
        return None
    try:
        return load_signing_key(secret.encode("utf-8"))
    except SigningKeyError as error:
        QMessageBox.warning(parent, "Signing key", str(error))
        return None


def ask(form: QDialog, fields: QFormLayout) -> bool:
    """Add OK and Cancel under ``fields`` and run the form; whether it was accepted."""
    buttons = QDialogButtonBox(
        QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, form
    )
    buttons.accepted.connect(form.accept)
    buttons.rejected.connect(form.reject)
    fields.addRow(buttons)
    return form.exec() == QDialog.DialogCode.Accepted


def own_fingerprint() -> str | None:
    """Your public key's fingerprint (read without the passphrase), or None."""
    from modeldesk.release.keys import SigningKeyError, own_public_key

    try:
        return own_public_key().fingerprint
    except SigningKeyError:
        return None


class KeysDialog(QDialog):
    """Your key and the catalog's trusted keys."""

    def __init__(self, catalog: Catalog, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.setWindowTitle("Signing keys")
        self.resize(820, 460)
        self.mine = QLabel(self)
        self.mine.setWordWrap(True)
        self.create_button = QPushButton("Create your key…", self)
        self.create_button.clicked.connect(self.create_key)
        self.export_button = QPushButton("Export your public key…", self)
        self.export_button.clicked.connect(self.export_key)
        self.table = DataTable(
            ["name", "fingerprint", "roles", "trusted", "revoked"], self, filter_hint="Filter keys"
        )
        self.trust_button = QPushButton("Trust a key file…", self)
        self.trust_button.clicked.connect(self.trust_file)
        self.revoke_button = QPushButton("Revoke selected…", self)
        self.revoke_button.clicked.connect(self.revoke_selected)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        own = QHBoxLayout()
        own.addWidget(self.create_button)
        own.addWidget(self.export_button)
        own.addStretch(1)
        actions = QHBoxLayout()
        actions.addWidget(self.trust_button)
        actions.addWidget(self.revoke_button)
        actions.addStretch(1)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<b>Your key</b>", self))
        layout.addWidget(self.mine)
        layout.addLayout(own)
        layout.addWidget(QLabel("<b>Keys this catalog trusts</b>", self))
        layout.addWidget(self.table, 1)
        layout.addLayout(actions)
        layout.addWidget(self.status)
        layout.addWidget(close)
        self.keys: list = []
        self.refresh()

    def refresh(self) -> None:
        """Show your key and the trusted keys as they are now."""
        from modeldesk.release.trust import trusted_keys

        fingerprint = own_fingerprint()
        self.create_button.setEnabled(fingerprint is None)
        self.create_button.setToolTip("" if fingerprint is None else "You have a key already")
        self.export_button.setEnabled(fingerprint is not None)
        try:
            self.keys = list(trusted_keys(self.catalog).values())
        except ModelDeskError as error:
            self.keys = []
            self.status.setText(f"The catalog's key records do not verify: {error}")
        known = {key.fingerprint: key for key in self.keys}
        if fingerprint is None:
            self.mine.setText(
                "You have no signing key yet. Identities are keys, not login "
                "names: create one to approve, release or trust."
            )
        else:
            held = known.get(fingerprint)
            where = (
                f"trusted here as {held.name} ({', '.join(held.roles)})"
                + (" — revoked" if held.revoked else "")
                if held
                else "not trusted in this catalog yet"
            )
            self.mine.setText(f"Fingerprint <code>{fingerprint}</code> — {where}.")
        self.table.set_rows(
            [
                [
                    key.name,
                    key.public.short,
                    ", ".join(key.roles),
                    key.trusted_at[:19],
                    f"{key.revoked_at[:19]}: {key.revoke_reason}" if key.revoked_at else "—",
                ]
                for key in self.keys
            ]
        )

    def _report(self, action, done: str) -> None:
        try:
            action()
        except ModelDeskError as error:
            self.status.setText(str(error))
            return
        self.status.setText(done)
        self.refresh()

    def create_key(self) -> None:
        """Ask for a name (and an optional passphrase) and make your key pair."""
        from modeldesk.release.keys import init_key

        form = QDialog(self)
        form.setWindowTitle("Create your signing key")
        name = QLineEdit(current_actor(), form)
        secret = QLineEdit(form)
        secret.setEchoMode(QLineEdit.EchoMode.Password)
        encrypt = QCheckBox("Encrypt it with this passphrase", form)
        fields = QFormLayout(form)
        fields.addRow("Your name", name)
        fields.addRow("Passphrase", secret)
        fields.addRow("", encrypt)
        if not ask(form, fields):
            return
        passphrase = secret.text().encode("utf-8") if encrypt.isChecked() else None
        self._report(
            lambda: init_key(name.text(), passphrase=passphrase),
            "Created your key. Export it and give it to a release manager to trust.",
        )

    def export_key(self) -> None:
        """Save your public key (PEM) for a release manager to trust."""
        from modeldesk.release.keys import own_public_key

        path, _ = QFileDialog.getSaveFileName(self, "Export your public key", "my-key.pub.pem")
        if path:
            self._report(
                lambda: Path(path).write_text(own_public_key().pem, encoding="ascii"),
                f"Wrote your public key to {path}.",
            )

    def trust_file(self) -> None:
        """Trust a public key file with a name and roles, signed by your key."""
        from modeldesk.release.keys import read_public_key
        from modeldesk.release.trust import trust_key

        path, _ = QFileDialog.getOpenFileName(
            self, "Trust a public key", "", "PEM (*.pem);;All (*)"
        )
        if not path:
            return
        form = QDialog(self)
        form.setWindowTitle("Trust a key")
        name = QLineEdit(Path(path).stem.split(".")[0], form)
        engineer = QCheckBox("engineer", form)
        manager = QCheckBox("release-manager", form)
        engineer.setChecked(True)
        fields = QFormLayout(form)
        fields.addRow("Whose key", name)
        fields.addRow("Roles", engineer)
        fields.addRow("", manager)
        if not ask(form, fields):
            return
        roles = tuple(box.text() for box in (engineer, manager) if box.isChecked())
        signer = signing_key(self)
        if signer is not None:
            self._report(
                lambda: trust_key(
                    self.catalog, signer, read_public_key(Path(path)), name=name.text(), roles=roles
                ),
                f"Trusted {name.text()} as {', '.join(roles)}.",
            )

    def revoke_selected(self) -> None:
        """Revoke the selected key, with a reason, signed by your key."""
        from modeldesk.release.trust import revoke_key

        rows = self.table.selected_source_rows()
        if not rows:
            self.status.setText("Select the key to revoke first.")
            return
        key = self.keys[rows[0]]
        reason, ok = QInputDialog.getText(self, "Revoke a key", f"Why revoke {key.label}?")
        if not ok:
            return
        signer = signing_key(self)
        if signer is not None:
            self._report(
                lambda: revoke_key(self.catalog, signer, key.fingerprint, reason=reason),
                f"Revoked {key.label}.",
            )
