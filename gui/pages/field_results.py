"""The Field tab's results: one analysed capture (what ``field report`` gathers) shown as
parity, which model, drift, estimate and triage. It shapes the report for widgets and
computes nothing of its own."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from modeldesk.explain.views import waterfall_of
from modeldesk.gui.widgets.field_charts import ErrorHistogram, ErrorOverTime, OverlayHistogram
from modeldesk.gui.widgets.shap_plots import WaterfallPlot
from modeldesk.gui.widgets.table import DataTable, RowStyle
from modeldesk.gui.widgets.verdicts import VERDICT_COLOURS

__all__ = ["FieldResults"]

WARN = RowStyle(background="#fff3e0")


def _g(value: Any) -> str:
    return "-" if value is None else f"{value:.3g}"


def _verdict(verdict: str) -> str:
    colour = VERDICT_COLOURS.get(verdict, "#757575")
    return f'<b style="color:{colour}">{html.escape(verdict)}</b>'


def _share(check: dict[str, Any]) -> str:
    low, high = check["interval"]
    return (f"{check['count']:,} of {check['rows']:,} rows ({check['share']:.2%}; 95 % "
            f"interval {low:.2%} .. {high:.2%}; limit {check['limit']:.2%})")  # fmt: skip


def _note(parent: QWidget) -> QLabel:
    label = QLabel(parent)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    return label


class FieldResults(QTabWidget):
    """Parity, which model, drift, estimate and triage of one analysed capture."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.report: dict[str, Any] | None = None
        # Parity: the verdict, errors per decade and over time, the worst rows.
        parity = QWidget(self)
        self.parity_summary = _note(parity)
        self.output_choice = QComboBox(parity)
        self.output_choice.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.output_choice.currentTextChanged.connect(self._output_chosen)
        self.errors = ErrorHistogram()
        self.over_time = ErrorOverTime()
        self.worst = DataTable(["row", "time", "max |error|", "× tolerance", "beyond", "flipped"],
                               parity, filter_hint="Filter rows")  # fmt: skip
        charts = QHBoxLayout()
        charts.addWidget(self.errors, 1)
        charts.addWidget(self.over_time, 1)
        layout = QVBoxLayout(parity)
        layout.addWidget(self.parity_summary)
        chooser = QHBoxLayout()
        chooser.addWidget(QLabel("Output:", parity))
        chooser.addWidget(self.output_choice)
        chooser.addStretch(1)
        layout.addLayout(chooser)
        layout.addLayout(charts, 3)
        layout.addWidget(self.worst, 2)
        self.addTab(parity, "Parity")
        # Which model the device really ran.
        which = QWidget(self)
        self.which_summary = _note(which)
        self.candidates = DataTable(
            [
                "model",
                "beyond tolerance",
                "flips",
                "mean |error|",
                "max |error|",
                "share beyond (95 % interval)",
            ],
            which,
        )
        layout = QVBoxLayout(which)
        layout.addWidget(self.which_summary)
        layout.addWidget(self.candidates, 1)
        self.addTab(which, "Which model")
        # Drift: every feature, and the selected one's histograms.
        drift = QSplitter(Qt.Orientation.Horizontal, self)
        left = QWidget(drift)
        self.drift_summary = _note(left)
        self.features = DataTable(["feature", "PSI", "JS", "KS D / V", "p", "shift", "reading",
                                   "weight"], left, filter_hint="Filter features")  # fmt: skip
        self.features.selection_changed.connect(self._feature_chosen)
        layout = QVBoxLayout(left)
        layout.addWidget(self.drift_summary)
        layout.addWidget(self.features, 1)
        self.overlay = OverlayHistogram()
        drift.addWidget(left)
        drift.addWidget(self.overlay)
        drift.setStretchFactor(0, 3)
        drift.setStretchFactor(1, 2)
        self.addTab(drift, "Drift")
        # Estimated performance without labels.
        self.estimate = _note(self)
        self.addTab(self.estimate, "Estimate")
        # Triage: the rows to look at first, each beside its nearest training row.
        triage = QWidget(self)
        self.triage_note = _note(triage)
        self.rows = DataTable(["row", "score", "why", "nearest training row"], triage,
                              filter_hint="Filter rows")  # fmt: skip
        self.rows.selection_changed.connect(self._row_chosen)
        self.field_waterfall, self.nearest_waterfall = WaterfallPlot(), WaterfallPlot()
        pair = QHBoxLayout()
        pair.addWidget(self.field_waterfall, 1)
        pair.addWidget(self.nearest_waterfall, 1)
        layout = QVBoxLayout(triage)
        layout.addWidget(self.triage_note)
        layout.addWidget(self.rows, 2)
        layout.addLayout(pair, 3)
        self.addTab(triage, "Triage")

    # -- showing a report ------------------------------------------------------------
    def show_report(self, report: dict[str, Any]) -> None:
        """Show every part of an analysed capture (a part that was skipped says why)."""
        self.report = report
        skipped = report.get("skipped", {})
        self._show_parity(report.get("parity"), skipped.get("parity"))
        self._show_which(report.get("which"), skipped.get("which"))
        self._show_drift(report.get("drift"), skipped.get("drift"))
        self._show_estimate(report.get("estimate"), skipped.get("estimate"))
        self._show_triage(report.get("triage"), skipped.get("triage"))

    def _show_parity(self, found: dict | None, why: str | None) -> None:
        self.output_choice.blockSignals(True)
        self.output_choice.clear()
        if found is None:
            self.parity_summary.setText(f"Parity could not run: {html.escape(why or '')}")
            self.worst.set_rows([])
            self.output_choice.blockSignals(False)
            return
        limits, checks = found["tolerances"], found["checks"]
        self.parity_summary.setText(
            f"{_verdict(found['verdict'])} — {found['rows']:,} rows replayed through "
            f"{html.escape(found['model'])}.<br>Beyond tolerance: "
            f"{_share(checks['beyond_tolerance'])}<br>Flipped decisions: "
            f"{_share(checks['flips'])}<br>Tolerances: atol {limits['atol']:g}, rtol "
            f"{limits['rtol']:g}, from {html.escape(limits['source'])}"
        )
        # The output that parts from the lab most is the one to look at first.
        names = sorted(found["outputs"], key=lambda n: -found["outputs"][n]["beyond_tolerance"])
        self.output_choice.addItems(names)
        self.output_choice.blockSignals(False)
        self._output_chosen(self.output_choice.currentText())
        self.over_time.show_windows(found["by_window"], limits["max_flip_rate"])
        self.worst.set_rows(
            [[r["row"], _clock(r["timestamp"]), _g(r["max_abs_error"]),
              _g(r["tolerance_ratio"]), "yes" if r["beyond"] else "", "yes" if r["flipped"] else ""]
             for r in found["worst_rows"]],
            [WARN if r["beyond"] else None for r in found["worst_rows"]],
        )  # fmt: skip

    def _output_chosen(self, name: str) -> None:
        found = (self.report or {}).get("parity")
        if not name or not found or name not in found["outputs"]:
            return
        self.errors.show_errors(name, found["outputs"][name]["abs_error_histogram"],
                                found["tolerances"]["atol"])  # fmt: skip

    def _show_which(self, found: dict | None, why: str | None) -> None:
        if found is None:
            self.which_summary.setText(f"Which model could not run: {html.escape(why or '')}")
            self.candidates.set_rows([])
            return
        best = found.get("best")
        declared = "is" if found.get("matches_declared") else "is <b>not</b>"
        self.which_summary.setText(
            f"Best match: <b>{html.escape(str(best))}</b> "
            f"({'clear' if found.get('clear') else 'not clear of the runner-up'}); it "
            f"{declared} {html.escape(found['declared'])}, the model the capture names."
            if best
            else _no_match(found.get("candidates", []))
        )
        rows = found.get("candidates", [])
        self.candidates.set_rows(
            [[c["model"], c["beyond_tolerance"], c["flips"], _g(c["mean_abs_error"]),
              _g(c["max_abs_error"]), _interval(c.get("interval"))] for c in rows],
            [RowStyle(bold=True) if c["model"] == best else None for c in rows],
        )  # fmt: skip

    def _show_drift(self, found: dict | None, why: str | None) -> None:
        if found is None:
            self.drift_summary.setText(f"Drift could not run: {html.escape(why or '')}")
            self.features.set_rows([])
            return
        self.drift_summary.setText(
            f"{found['rows']:,} field rows against {html.escape(found['reference_source'])} "
            f"({found['reference_rows']:,} rows); ranked by PSI × {html.escape(found['weights'])}."
        )
        self._drift_items = found["features"]
        rows = []
        for item in self._drift_items:
            test = item.get("ks") or item.get("chi_squared") or {}
            effect = item["ks"]["statistic"] if "ks" in item else test.get("cramers_v")
            rows.append([item["feature"], _g(item["psi"]), _g(item.get("js_distance")),
                         _g(effect), _g(test.get("p_value")), item.get("direction", "-"),
                         item["interpretation"], _g(item.get("weight"))])  # fmt: skip
        styles = [WARN if "drift" in item["interpretation"] and "no evidence" not in
                  item["interpretation"] else None for item in self._drift_items]  # fmt: skip
        self.features.set_rows(rows, styles)
        if self._drift_items:
            self.overlay.show_feature(self._drift_items[0])

    def _feature_chosen(self, rows: list[int]) -> None:
        if rows and getattr(self, "_drift_items", None):
            self.overlay.show_feature(self._drift_items[rows[0]])

    def _show_estimate(self, found: dict | None, why: str | None) -> None:
        if found is None:
            self.estimate.setText(f"Nothing to estimate: {html.escape(why or '')}")
            return
        parts = [f"<p>Estimated accuracy of {html.escape(found['model'])} on "
                 f"{found['rows']:,} field rows: <b>{_span(found['estimated'])}</b> "
                 "(confidence-based, from the model's own probabilities)</p>"]  # fmt: skip
        if found.get("realised"):
            parts.append(f"<p>Realised on the labelled rows: <b>{_span(found['realised'])}</b></p>")
        check = found.get("calibration_check")
        if check:
            parts.append(
                f"<p>Calibration check on {html.escape(check['dataset'])}: estimated "
                f"{_span(check['estimated'])}, realised {_span(check['realised'])}</p>"
            )
        parts += [f"<p>⚠ {html.escape(w)}</p>" for w in found.get("warnings", [])]
        parts.append(f"<p>{found['outside_training_range']:.1%} of rows have a feature outside "
                     "the training range.</p>")  # fmt: skip
        self.estimate.setText("".join(parts))

    def _show_triage(self, found: dict | None, why: str | None) -> None:
        self._triage = found
        if found is None:
            self.triage_note.setText(f"Triage could not run: {html.escape(why or '')}")
            self.rows.set_rows([])
            return
        missing = found.get("explanations_missing")
        self.triage_note.setText(
            "Rows beyond parity tolerance first, then by parity error, out-of-range values "
            "and doubt. Select a row to read its waterfall beside its nearest training row's."
            + (f"<br>No explanations: {html.escape(missing)}" if missing else "")
        )
        self.rows.set_rows([[r["row"], f"{r['score']:.3f}", "; ".join(r["reasons"]),
                             f"{r['nearest_training_row']['dataset']} row "
                             f"{r['nearest_training_row']['row']} "
                             f"({r['nearest_training_row']['distance_in_std']:.2f} std away)"]
                            for r in found["triage"]])  # fmt: skip
        self.field_waterfall.plot.clear()
        self.nearest_waterfall.plot.clear()
        if found["triage"]:
            self._row_chosen([0])

    def _row_chosen(self, rows: list[int]) -> None:
        found = getattr(self, "_triage", None)
        if not rows or not found or "shap" not in found["triage"][rows[0]]:
            return
        item, names = found["triage"][rows[0]], found["features"]
        shap = item["shap"]
        near = item["nearest_training_row"]
        field = waterfall_of(shap["field"], names, [item["values"][n] for n in names],
                             shap["field_base"], item["row"])  # fmt: skip
        order = [names.index(label.split(" = ")[0]) for label in field.labels
                 if " = " in label]  # fmt: skip
        rest = [i for i in range(len(names)) if i not in order]
        nearest = waterfall_of(shap["nearest"], names, [near["values"][n] for n in names],
                               shap["nearest_base"], near["row"], order=order + rest)  # fmt: skip
        space = f"SHAP value ({shap['space']})"
        self.field_waterfall.show_waterfall(field, shap["output"], space)
        self.field_waterfall.set_title(f"Field row {item['row']}: base {field.base:.4g} → "
                                       f"{field.output:.4g}")  # fmt: skip
        self.nearest_waterfall.show_waterfall(nearest, shap["output"], space)
        self.nearest_waterfall.set_title(f"Nearest training row {near['row']}: base "
                                         f"{nearest.base:.4g} → {nearest.output:.4g}")  # fmt: skip


def _no_match(candidates: list[dict[str, Any]]) -> str:
    if not candidates:
        return "No model in this catalog can be fed this capture."
    closest = candidates[0]
    return (
        "No candidate matches the device's outputs within tolerance: the closest, "
        f"<b>{html.escape(closest['model'])}</b>, is beyond it on "
        f"{closest['share_beyond']:.1%} of the rows. The device computes something else."
    )


def _span(figures: dict[str, Any]) -> str:
    low, high = figures["interval"]
    return f"{figures['accuracy']:.1%} (95 % interval {low:.1%} .. {high:.1%})"


def _interval(interval: Any) -> str:
    if not interval:
        return "-"
    return f"{interval[0]:.2%} .. {interval[1]:.2%}"


def _clock(seconds: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat(timespec="seconds")[:19]
