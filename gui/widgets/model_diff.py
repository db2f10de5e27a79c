"""Side-by-side differences between two model versions."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from modeldesk.gui.widgets.long_text import preview, show_whole
from modeldesk.gui.widgets.table import DataTable, RowStyle
from modeldesk.models.compare import ModelDiff

__all__ = ["BREAKING_COLOUR", "ModelDiffView"]

BREAKING_COLOUR = "#f6c6c6"


def _change(before: int, after: int) -> str:
    if before == after:
        return f"{after:,} (unchanged)"
    sign = "+" if after > before else "−"
    percent = f", {sign}{abs(after - before) / before:.0%}" if before else ""
    return f"{before:,} → {after:,} ({sign}{abs(after - before):,}{percent})"


class ModelDiffView(QWidget):
    """I/O contract (breaking rows highlighted), ops, size, parameters and metadata."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.contract = DataTable(
            ["verdict", "side", "name", "change", "before", "after", "why"],
            self,
            filter_hint="Filter contract changes",
        )
        self.ops = DataTable(["op", "before", "after"], self, filter_hint="Filter ops")
        self.metadata = DataTable(["key", "before", "after"], self, filter_hint="Filter metadata")
        self.metadata.row_activated.connect(self._show_whole_metadata)
        self.diff: ModelDiff | None = None
        lower = QSplitter(Qt.Orientation.Horizontal, self)
        lower.addWidget(self.ops)
        lower.addWidget(self.metadata)
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(self.contract)
        splitter.addWidget(lower)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(splitter, 1)

    def show_diff(self, diff: ModelDiff) -> None:
        """Show the differences from ``diff.old`` to ``diff.new``."""
        breaking = sum(1 for change in diff.contract if change.breaking)
        if not diff.contract:
            verdict = "I/O contract unchanged"
        elif breaking:
            verdict = f"<b style='color:#b00020'>{breaking} breaking change(s)</b>"
        else:
            verdict = f"{len(diff.contract)} compatible change(s)"
        self.summary.setText(
            f"<b>{diff.old}</b> → <b>{diff.new}</b>: {verdict}.<br>"
            f"Size {_change(*diff.file_size)} bytes; parameters {_change(*diff.param_count)}."
        )
        self.contract.set_rows(
            [
                [
                    "BREAKING" if change.breaking else "compatible",
                    change.side,
                    change.name,
                    change.change,
                    change.before or "—",
                    change.after or "—",
                    change.reason,
                ]
                for change in diff.contract
            ],
            [
                RowStyle(background=BREAKING_COLOUR, bold=True, tooltip=change.reason)
                if change.breaking
                else None
                for change in diff.contract
            ],
        )
        self.ops.set_rows([[op, before, after] for op, (before, after) in diff.ops.items()])
        self.diff = diff
        self.metadata.set_rows(
            [
                [key, preview(before), preview(after)]
                for key, (before, after) in diff.metadata.items()
            ]
        )

    def _show_whole_metadata(self, row: int) -> None:
        if self.diff is None:
            return
        key = self.metadata.model.rows[row][0]
        before, after = self.diff.metadata[key]
        show_whole(self, f"Metadata: {key}", [(self.diff.old, before), (self.diff.new, after)])
