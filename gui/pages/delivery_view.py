"""The delivery dashboard, the catalog's first page.

The five DORA figures with their bands and trend per model, the deployments of each
target over the window, where the lead time goes, and what waits for a decision. The
board is computed on the worker pool (it reads the whole record and evaluates the
waiting releases' gates); the GUI thread only draws the result. Any point, bar or row
that stands for a release opens it.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from modeldesk.gui.context import AppContext
from modeldesk.gui.widgets.delivery_charts import (
    FigureCard,
    StageBars,
    TimelineChart,
    model_colour,
)
from modeldesk.gui.widgets.table import DataTable, RowStyle

__all__ = ["DeliveryView", "board_job"]

ALL = "All"
WINDOWS = (("Last 30 days", 30), ("Last 90 days", 90), ("Last 180 days", 180), ("Last year", 365))
DEFAULT_WINDOW = 1  # 90 days, as `modeldesk delivery`
FAILING_BACKGROUND = "#fdecea"


def board_job(catalog: Any, *, model: str | None, target: str | None, days: int) -> dict[str, Any]:
    """The dashboard's board over the ``days`` up to now (on the worker pool)."""
    from modeldesk.delivery import default_window
    from modeldesk.delivery_board import delivery_board
    from modeldesk.delivery_text import figure_texts

    since, until = default_window(catalog, None, None)
    since = until - dt.timedelta(days=days)
    board = delivery_board(catalog, model=model, target=target, since=since, until=until)
    board["texts"] = figure_texts(board["figures"])
    return board


class DeliveryView(QWidget):
    """The delivery dashboard of the open catalog."""

    release_requested = Signal(int)  # a release id to open

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.board: dict[str, Any] | None = None
        self.drawn = False  # True once every part of the board is drawn
        self.job: Any = None
        self.model_filter = QComboBox(self)
        self.target_filter = QComboBox(self)
        self.window_filter = QComboBox(self)
        for label, days in WINDOWS:
            self.window_filter.addItem(label, days)
        self.window_filter.setCurrentIndex(DEFAULT_WINDOW)
        for combo in (self.model_filter, self.target_filter):
            combo.addItem(ALL)
            combo.setMinimumContentsLength(14)
        for combo in (self.model_filter, self.target_filter, self.window_filter):
            combo.activated.connect(lambda _index: self.reload())
        refresh = QPushButton("Refresh", self)
        refresh.clicked.connect(self.reload)
        self.heading = QLabel(self)
        self.heading.setWordWrap(True)
        self.legend = QLabel(self)
        self.legend.setWordWrap(True)

        self.cards = [FigureCard(self) for _ in range(5)]
        self.timeline = TimelineChart(self)
        self.timeline.release_clicked.connect(self.release_requested)
        self.stages = StageBars(self)
        self.waiting = DataTable(
            ["release", "version", "state", "why", "created"], self, filter_hint="Filter waiting"
        )
        self.waiting.row_activated.connect(self._open_waiting)
        self.source = QLabel(self)
        self.source.setWordWrap(True)

        filters = QHBoxLayout()
        for label, combo in (
            ("Model", self.model_filter),
            ("Target", self.target_filter),
            ("Window", self.window_filter),
        ):
            filters.addWidget(QLabel(label, self))
            filters.addWidget(combo)
        filters.addStretch(1)
        filters.addWidget(refresh)
        cards = QGridLayout()
        for index, card in enumerate(self.cards):
            cards.addWidget(card, 0, index)
            cards.setColumnStretch(index, 1)
        waiting = QWidget(self)
        waiting_layout = QVBoxLayout(waiting)
        waiting_layout.setContentsMargins(0, 0, 0, 0)
        waiting_layout.addWidget(QLabel("<b>Waiting</b> — candidates and failing gates", self))
        waiting_layout.addWidget(self.waiting, 1)
        bottom = QSplitter(Qt.Orientation.Horizontal, self)
        bottom.addWidget(self.stages)
        bottom.addWidget(waiting)
        bottom.setSizes([500, 600])

        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.addLayout(filters)
        layout.addWidget(self.heading)
        layout.addWidget(self.legend)
        layout.addLayout(cards)
        layout.addWidget(self.timeline, 2)
        layout.addWidget(bottom, 2)
        layout.addWidget(self.source)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self.heading.setText("Reading the deployment record…")

    # -- reading ----------------------------------------------------------------------------
    def reload(self) -> Any:
        """Compute the board for the chosen filters on the worker pool."""
        model = self.model_filter.currentText()
        target = self.target_filter.currentText()
        self.heading.setText("Reading the deployment record…")
        self.job = self.context.run(
            "computing delivery figures",
            board_job,
            model=None if model == ALL else model,
            target=None if target == ALL else target,
            days=self.window_filter.currentData(),
            on_done=self.show_board,
            on_error=lambda error: self.heading.setText(html.escape(error.message)),
            key="delivery-board",
        )
        return self.job

    # -- drawing -----------------------------------------------------------------------------
    def show_board(self, board: dict[str, Any]) -> None:
        """Draw a computed board."""
        self.board, self.job = board, None
        self._refill(self.model_filter, board["all_models"])
        self._refill(self.target_filter, board["all_targets"])
        figures = board["figures"]
        models = board["all_models"]
        window = board["window"]
        count = figures["deployments"]
        scope = " of " + html.escape(figures["model"]) if figures["model"] else ""
        where = " on " + html.escape(figures["target"]) if figures["target"] else ""
        heading = (
            f"<h2>Delivery{scope}{where}</h2>{window['since'][:10]} to {window['until'][:10]}: "
            f"<b>{count}</b> deployment(s), {figures['failed']} failed, "
            f"{figures['hotfixes']} hotfix(es)."
        )
        if not board["timeline"] and not board["all_targets"]:
            heading += (
                " No deployment is recorded yet: record one from a release's <b>Deploy…</b> "
                "button or with <code>modeldesk release deploy ID --target PROFILE</code>."
            )
        if board["not_drawn"]:
            heading += f" The timeline draws the newest {len(board['timeline']):,}."
        self.heading.setText(heading)
        trend_models = list(board["trends"])
        self.legend.setText(
            "Trend per model (each point: the figure over the window ending that month): "
            + "  ".join(
                f"<span style='color:{model_colour(models, m)}'>■</span> {html.escape(m)}"
                for m in trend_models
            )
        )
        # Drawn in steps, each its own turn of the event loop, so no step holds the GUI
        # thread for long: the cards, the timeline, the stages and the waiting list.
        steps = [
            lambda card=card, text=text: card.set_figure(
                text,
                board["months"],
                {m: board["trends"][m][text.key] for m in trend_models},
                models,
            )
            for card, text in zip(self.cards, board["texts"], strict=True)
        ]
        steps += [
            lambda: self.timeline.set_timeline(
                board["timeline"], board["start"], board["end"], models
            ),
            lambda: self.stages.set_stages(board["stages"]),
            lambda: self._show_waiting(board),
        ]
        self.drawn = False
        self._draw_steps(board, steps)

    def _draw_steps(self, board: dict[str, Any], steps: list[Any]) -> None:
        if board is not self.board:
            return  # a newer board replaced this one
        if not steps:
            self.drawn = True
            return
        steps[0]()
        # With the view as context, a pending step dies with the view.
        QTimer.singleShot(0, self, lambda: self._draw_steps(board, steps[1:]))

    def _show_waiting(self, board: dict[str, Any]) -> None:
        figures = board["figures"]
        rows, styles = [], []
        for item in board["waiting"]:
            failing = item["state"] == "gate fails"
            rows.append(
                [
                    f"#{item['release']}",
                    item["ref"],
                    ("✘ " if failing else "… ") + item["state"],
                    item["why"],
                    item["created"][:16].replace("T", " "),
                ]
            )
            styles.append(
                RowStyle(background=FAILING_BACKGROUND if failing else None, tooltip=item["why"])
            )
        self.waiting.set_rows(rows, styles)
        self.source.setText(f"<small>Bands: {html.escape(figures['bands']['source'])}</small>")

    @staticmethod
    def _refill(combo: QComboBox, names: list[str]) -> None:
        chosen = combo.currentText()
        wanted = [ALL, *names]
        if [combo.itemText(i) for i in range(combo.count())] == wanted:
            return
        combo.clear()
        combo.addItems(wanted)
        combo.setCurrentText(chosen if chosen in wanted else ALL)

    def _open_waiting(self, row: int) -> None:
        if self.board is not None:
            self.release_requested.emit(self.board["waiting"][row]["release"])
