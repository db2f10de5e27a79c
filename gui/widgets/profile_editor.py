"""A dialog to add or edit a hardware profile; it builds a ``Profile`` and nothing else."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from modeldesk.bench.profiles import KINDS, OPT_LEVELS, Profile, parse_dims

__all__ = ["ProfileDialog"]


def _numbers(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.replace(" ", "").split(",") if part)


class ProfileDialog(QDialog):
    """Fields of a profile; ``profile()`` returns what they say (core validates it)."""

    def __init__(self, base: Profile | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        base = base or Profile("new-profile")
        self.setWindowTitle("Edit profile" if base.name != "new-profile" else "New profile")
        self.editing = base.name != "new-profile" and not base.builtin
        self.name = QLineEdit(base.name if not base.builtin else f"{base.name}-copy", self)
        self.name.setReadOnly(self.editing)
        self.kind = QComboBox(self)
        self.kind.addItems(KINDS)
        self.kind.setCurrentText(base.kind)
        self.threads = self._spin(base.intra_threads, 0, 256, "0: ONNX Runtime's default")
        self.inter_threads = self._spin(base.inter_threads, 0, 256)
        self.cores = QLineEdit(",".join(map(str, base.cores)), self)
        self.cores.setPlaceholderText("any (e.g. 0,1)")
        self.providers = QLineEdit(",".join(base.providers), self)
        self.opt_level = QComboBox(self)
        self.opt_level.addItems(OPT_LEVELS)
        self.opt_level.setCurrentText(base.opt_level)
        self.memory = self._spin(base.memory_mb, 0, 1 << 20, "0: no budget (MB)")
        self.batches = QLineEdit(",".join(map(str, base.batch_sizes)), self)
        dims = [f"{k}={v}" for k, v in {**base.dims, **base.axis_dims}.items()]
        self.dims = QLineEdit(" ".join(dims), self)
        self.dims.setPlaceholderText("sequence=128 image:2=224")
        self.warmup = self._spin(base.warmup, 0, 100_000)
        self.iterations = self._spin(base.iterations, 1, 20_000)
        self.budget = QDoubleSpinBox(self)
        self.budget.setRange(0, 1e6)
        self.budget.setDecimals(3)
        self.budget.setValue(base.budget_ms)
        self.budget.setSuffix(" ms")
        self.percentile = QComboBox(self)
        self.percentile.addItems(["50", "90", "95", "99"])
        self.percentile.setCurrentText(str(base.percentile))
        self.host = QLineEdit(base.host, self)
        self.port = self._spin(base.port, 1, 65535)
        self.user = QLineEdit(base.user, self)
        self.python = QLineEdit(base.python, self)
        self.identity = QLineEdit(base.identity, self)
        self.description = QLineEdit(base.description, self)
        form = QFormLayout(self)
        for label, widget in (
            ("Name", self.name), ("Kind", self.kind), ("Intra-op threads", self.threads),
            ("Inter-op threads", self.inter_threads), ("Cores", self.cores),
            ("Execution providers", self.providers), ("Optimisation", self.opt_level),
            ("Memory budget (MB)", self.memory), ("Batch sizes", self.batches),
            ("Dynamic dims", self.dims), ("Warm-up runs", self.warmup),
            ("Measured runs", self.iterations), ("Latency budget", self.budget),
            ("Budget percentile", self.percentile), ("SSH host", self.host),
            ("SSH port", self.port), ("SSH user", self.user), ("Device Python", self.python),
            ("Identity file", self.identity), ("Description", self.description),
        ):  # fmt: skip
            form.addRow(label, widget)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.base = base

    def _spin(self, value: int, low: int, high: int, tip: str = "") -> QSpinBox:
        spin = QSpinBox(self)
        spin.setRange(low, high)
        spin.setValue(value)
        spin.setToolTip(tip)
        return spin

    def profile(self) -> Profile:
        """The profile the fields describe (raises ``BadInputError`` on a bad field)."""
        from modeldesk.errors import BadInputError

        try:
            cores, batches = _numbers(self.cores.text()), _numbers(self.batches.text())
        except ValueError:
            raise BadInputError("cores and batch sizes are comma-separated numbers") from None
        dims, axis_dims = parse_dims(self.dims.text().split())
        return replace(
            self.base,
            name=self.name.text().strip(),
            kind=self.kind.currentText(),
            intra_threads=self.threads.value(),
            inter_threads=self.inter_threads.value(),
            cores=cores,
            providers=tuple(p.strip() for p in self.providers.text().split(",") if p.strip()),
            opt_level=self.opt_level.currentText(),
            memory_mb=self.memory.value(),
            batch_sizes=batches,
            dims=dims,
            axis_dims=axis_dims,
            warmup=self.warmup.value(),
            iterations=self.iterations.value(),
            budget_ms=self.budget.value(),
            percentile=int(self.percentile.currentText()),
            host=self.host.text().strip(),
            port=self.port.value(),
            user=self.user.text().strip(),
            python=self.python.text().strip() or "python3",
            identity=self.identity.text().strip(),
            description=self.description.text().strip(),
            builtin=False,
        )
