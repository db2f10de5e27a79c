"""The suite editor: TOML with its problems underlined where they are, as you type.

A pause in typing checks the text (``syntax_problem``, no catalog: fast enough for the
GUI thread); when it parses, ``parsed`` asks the page to check it against the catalog
on the worker pool, whose answer comes back through ``show_problems``.
"""

from __future__ import annotations

import re

from PySide6.QtCore import QRegularExpression, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextCursor,
    QTextFormat,
)
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from modeldesk.validate.lint import ERROR, SuiteProblem, syntax_problem

__all__ = ["SuiteEditor"]

CHECK_DELAY_MS = 250  # a pause in typing this long checks the text
_COLOURS = {ERROR: "#c62828", "warning": "#b26a00"}


class _TomlHighlighter(QSyntaxHighlighter):
    """Tables, keys, strings, numbers and comments in their own colours."""

    def __init__(self, document) -> None:
        super().__init__(document)

        def style(colour: str, bold: bool = False) -> QTextCharFormat:
            text_format = QTextCharFormat()
            text_format.setForeground(QColor(colour))
            if bold:
                text_format.setFontWeight(QFont.Weight.Bold)
            return text_format

        self.rules = [
            (QRegularExpression(r"^\s*\[\[?[^\]]+\]\]?"), style("#5c6bc0", bold=True)),
            (QRegularExpression(r"^\s*[A-Za-z0-9_\-]+(?=\s*=)"), style("#00897b")),
            (QRegularExpression(r"\b-?\d+(\.\d+)?([eE][-+]?\d+)?\b|\btrue\b|\bfalse\b"),
             style("#8e24aa")),
            (QRegularExpression(r"\"([^\"\\\\]|\\\\.)*\"|'[^']*'"), style("#c2185b")),
            (QRegularExpression(r"#.*$"), style("#8a8f98")),
        ]  # fmt: skip

    def highlightBlock(self, text: str) -> None:
        """Colour one line."""
        for pattern, text_format in self.rules:
            matches = pattern.globalMatch(text)
            while matches.hasNext():
                match = matches.next()
                self.setFormat(match.capturedStart(), match.capturedLength(), text_format)


class SuiteEditor(QWidget):
    """A TOML editor with a list of problems; each one underlined on its line."""

    parsed = Signal(str)  # the text parsed: check it against the catalog
    edited = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text_edit = QPlainTextEdit(self)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.text_edit.setFont(font)
        self.text_edit.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text_edit.setTabStopDistance(self.text_edit.fontMetrics().horizontalAdvance(" ") * 4)
        self.text_edit.setPlaceholderText("A suite in TOML: [suite] and one [[check]] per check")
        self.highlighter = _TomlHighlighter(self.text_edit.document())
        self.position = QLabel(self)
        self.problem_list = QListWidget(self)
        self.problem_list.setWordWrap(True)
        self.problem_list.setMaximumHeight(84)
        self.problem_list.itemActivated.connect(self._go_to)
        self.problem_list.itemClicked.connect(self._go_to)
        self.problems: list[SuiteProblem] = []
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(CHECK_DELAY_MS)
        self.timer.timeout.connect(self.check_now)
        self.text_edit.textChanged.connect(self._typed)
        self.text_edit.cursorPositionChanged.connect(self._moved)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text_edit, 1)
        layout.addWidget(self.position)
        layout.addWidget(self.problem_list)
        self._moved()

    def text(self) -> str:
        """The suite's text as it stands."""
        return self.text_edit.toPlainText()

    def set_text(self, text: str) -> None:
        """Replace the text (and check it at once)."""
        self.text_edit.setPlainText(text)
        self.check_now()

    def _typed(self) -> None:
        self.edited.emit()
        self.timer.start()

    def _moved(self) -> None:
        cursor = self.text_edit.textCursor()
        self.position.setText(f"Ln {cursor.blockNumber() + 1}, Col {cursor.positionInBlock() + 1}")

    def check_now(self) -> None:
        """Check the text: a syntax problem shows at once; a parsed suite asks the page."""
        self.timer.stop()
        text = self.text()
        if not text.strip():
            self.show_problems([])
            return
        _, problem = syntax_problem(text)
        if problem is not None:
            self.show_problems([problem])
        else:
            self.parsed.emit(text)

    @property
    def has_errors(self) -> bool:
        """Whether the text shown has an error (a warning does not count)."""
        return any(problem.severity == ERROR for problem in self.problems)

    def show_problems(self, problems: list[SuiteProblem]) -> None:
        """List the problems and underline each on its line (and column, if known)."""
        self.problems = list(problems)
        self.problem_list.clear()
        selections = []
        document = self.text_edit.document()
        for problem in problems:
            # The file name the message starts with says nothing in the editor.
            shown = re.sub(r"^suite(?: line \d+)?: ", "", problem.message)
            item = QListWidgetItem(f"{problem.severity}: {_place(problem)}{shown}")
            item.setForeground(QColor(_COLOURS.get(problem.severity, "#000000")))
            item.setData(Qt.ItemDataRole.UserRole, (problem.line, problem.column))
            self.problem_list.addItem(item)
            if problem.line <= 0 or problem.line > document.blockCount():
                continue
            block = document.findBlockByNumber(problem.line - 1)
            whole = QTextEdit.ExtraSelection()
            whole.cursor = QTextCursor(block)
            line_colour = QColor(_COLOURS.get(problem.severity, "#c62828"))
            line_colour.setAlpha(40)
            whole.format.setBackground(line_colour)
            whole.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
            selections.append(whole)
            underline = QTextEdit.ExtraSelection()
            cursor = QTextCursor(block)
            if problem.column > 0:
                cursor.movePosition(QTextCursor.MoveOperation.Right, n=problem.column - 1)
                cursor.movePosition(QTextCursor.MoveOperation.EndOfWord,
                                    QTextCursor.MoveMode.KeepAnchor)  # fmt: skip
                if not cursor.hasSelection():
                    cursor.movePosition(QTextCursor.MoveOperation.Right,
                                        QTextCursor.MoveMode.KeepAnchor)  # fmt: skip
            else:
                cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock,
                                    QTextCursor.MoveMode.KeepAnchor)  # fmt: skip
            underline.cursor = cursor
            underline.format.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
            underline.format.setUnderlineColor(QColor(_COLOURS.get(problem.severity, "#c62828")))
            selections.append(underline)
        self.text_edit.setExtraSelections(selections)
        if not problems and self.text().strip():
            item = QListWidgetItem("No problems: the suite can run on this model.")
            item.setForeground(QColor("#2e7d32"))
            self.problem_list.addItem(item)

    def underlined(self) -> list[tuple[int, str]]:
        """(line, underlined text) of each underline (for tests and screen readers)."""
        found = []
        for selection in self.text_edit.extraSelections():
            if selection.format.underlineStyle() == QTextCharFormat.UnderlineStyle.WaveUnderline:
                cursor = selection.cursor
                found.append((cursor.blockNumber() + 1, cursor.selectedText()))
        return found

    def _go_to(self, item: QListWidgetItem) -> None:
        place = item.data(Qt.ItemDataRole.UserRole)
        if not place or place[0] <= 0:
            return
        line, column = place
        block = self.text_edit.document().findBlockByNumber(line - 1)
        cursor = QTextCursor(block)
        cursor.movePosition(QTextCursor.MoveOperation.Right, n=max(column - 1, 0))
        self.text_edit.setTextCursor(cursor)
        self.text_edit.setFocus()


def _place(problem: SuiteProblem) -> str:
    if not problem.line:
        return ""
    return f"line {problem.line}" + (f", column {problem.column}: " if problem.column else ": ")
