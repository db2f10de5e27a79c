"""``field report``: every analysis of a capture in one file to attach to an incident.

The HTML is self-contained (inline CSS and SVG charts, no script, no external resource)
and every text from the capture or the catalog is escaped: a device name is untrusted.
The Markdown holds the same figures as tables. Both end with the command that records
the failure the delivery figures read, when the capture names a release and a target.
"""

from __future__ import annotations

import datetime as dt
import html
import threading
from pathlib import Path
from typing import Any

from modeldesk.catalog.store import Catalog
from modeldesk.progress import ProgressCallback, Stage, no_progress

__all__ = ["build_report", "render_html", "render_markdown", "write_report"]

TOP_FEATURES = 8
TRIAGE_ROWS = 10


def build_report(
    catalog: Catalog,
    capture_id: int,
    *,
    bundle: Path | None = None,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """Run parity, which, drift, estimate (classifiers) and triage on one capture (the
    last three against release bundle ``bundle``'s reference, when given)."""
    from modeldesk.errors import BadInputError
    from modeldesk.field.estimate import estimate_performance
    from modeldesk.field.passes import parity_and_drift
    from modeldesk.field.registry import get_capture
    from modeldesk.field.triage import triage
    from modeldesk.field.which import which_model

    capture = get_capture(catalog, capture_id)
    if bundle is not None:  # a bundle that does not verify stops the report, not one step
        from modeldesk.field.bundled import bundle_reference

        bundle_reference(catalog, bundle, capture.model)
    steps: list[tuple[str, Any]] = [
        ("which", which_model), ("estimate", estimate_performance), ("triage", triage),
    ]  # fmt: skip
    report: dict[str, Any] = {"capture": capture.to_dict(), "skipped": {}}
    share = 2 / (len(steps) + 2)  # parity and drift share one pass, worth two steps
    try:
        report["parity"], report["drift"], why = parity_and_drift(
            catalog, capture_id, bundle=bundle, progress=Stage(progress, 0.0, share),
            cancel=cancel,
        )  # fmt: skip
        if why:
            report["skipped"]["drift"] = why
    except BadInputError as error:
        report["parity"] = report["drift"] = None
        report["skipped"]["parity"] = report["skipped"]["drift"] = str(error)
    for index, (name, analysis) in enumerate(steps):
        stage = Stage(progress, share + (1 - share) * index / len(steps),
                      share + (1 - share) * (index + 1) / len(steps))  # fmt: skip
        try:
            extra = {"bundle": bundle} if name in ("estimate", "triage") else {}
            report[name] = analysis(catalog, capture_id, progress=stage, cancel=cancel, **extra)
        except BadInputError as error:  # e.g. no probabilities to estimate from
            report[name] = None
            report["skipped"][name] = str(error)
    report["created_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    release, profile = capture.release_id, capture.profile
    report["mark_failed"] = (
        f'modeldesk release fail {release} --target {profile} --reason "field capture '
        f'#{capture.id}: parity {report["parity"]["verdict"] if report["parity"] else "?"}"'
        if release is not None and profile
        else None
    )
    return report


def _bars(counts: list[list[float]], labels: list[str], colours: list[str]) -> str:
    """A small inline SVG of histograms drawn over each other (shares, not counts)."""
    width, height, pad = 320, 90, 4
    bins = len(counts[0])
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 16}" '
           f'role="img" aria-label="{html.escape(" vs ".join(labels))}">']  # fmt: skip
    shares = [[c / (sum(series) or 1) for c in series] for series in counts]
    top = max(max(series) for series in shares) or 1
    step = (width - 2 * pad) / bins
    for series, colour in zip(shares, colours, strict=True):
        for i, share in enumerate(series):
            h = share / top * height
            svg.append(f'<rect x="{pad + i * step:.1f}" y="{height - h:.1f}" '
                       f'width="{max(step - 1, 1):.1f}" height="{h:.1f}" fill="{colour}" '
                       'fill-opacity="0.55"/>')  # fmt: skip
    for i, (label, colour) in enumerate(zip(labels, colours, strict=True)):
        svg.append(f'<text x="{pad + i * 120}" y="{height + 13}" font-size="11" '
                   f'fill="{colour}">■ {html.escape(label)}</text>')  # fmt: skip
    return "".join(svg) + "</svg>"


def _number(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_number(cell))}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _sections(report: dict[str, Any]) -> list[tuple[str, list[str], list[list[Any]]]]:
    """Each section's title, headers and rows: what both renderings show."""
    capture = report["capture"]
    sections = [("Capture", ["what", "value"], [
        ["model", capture["model"]], ["release", capture["release"]],
        ["device", capture["device"]], ["profile", capture["profile"]],
        ["rows", capture["rows"]], ["from", capture["first_at"]], ["to", capture["last_at"]],
    ])]  # fmt: skip
    parity = report.get("parity")
    if parity:
        checks = parity["checks"]
        sections.append((f"Parity: {parity['verdict']}",
                         ["check", "count", "share", "95 % interval", "limit", "verdict"],
                         [[name, c["count"], c["share"],
                           f"{c['interval'][0]:.4f} .. {c['interval'][1]:.4f}", c["limit"],
                           c["verdict"]] for name, c in checks.items()]))  # fmt: skip
    which = report.get("which")
    if which:
        sections.append((f"Which model: best {which['best'] or 'none'} (named {which['declared']})",
                         ["model", "beyond tolerance", "flips", "mean abs error"],
                         [[c["model"], c["beyond_tolerance"], c["flips"], c["mean_abs_error"]]
                          for c in which["candidates"]]))  # fmt: skip
    drift = report.get("drift")
    if drift:
        sections.append((f"Drift against {drift['reference']}",
                         ["feature", "PSI", "JS", "p-value", "shift", "reading"],
                         [[f["feature"], f["psi"], f.get("js_distance"),
                           (f.get("ks") or f.get("chi_squared") or {}).get("p_value"),
                           f.get("direction", "-"), f["interpretation"]]
                          for f in drift["features"][:TOP_FEATURES]]))  # fmt: skip
    estimate = report.get("estimate")
    if estimate:
        rows = [["estimated accuracy", estimate["estimated"]["accuracy"]]]
        if estimate["realised"]:
            rows.append(["realised accuracy", estimate["realised"]["accuracy"]])
        rows += [["warning", warning] for warning in estimate["warnings"]]
        sections.append(("Estimated performance", ["what", "value"], rows))
    triaged = report.get("triage")
    if triaged:
        sections.append(("Rows to look at first", ["row", "score", "why", "nearest training row"],
                         [[t["row"], t["score"], "; ".join(t["reasons"]),
                           f"{t['nearest_training_row']['row']} "
                           f"({t['nearest_training_row']['distance_in_std']:.2f} std)"]
                          for t in triaged["triage"][:TRIAGE_ROWS]]))  # fmt: skip
    return sections


STYLE = (
    "body{font:14px system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;"
    "margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}"
    "th{background:#f3f3f3}code{background:#f3f3f3;padding:2px 4px}.charts{display:flex;"
    "flex-wrap:wrap;gap:1em}"
)


def render_html(report: dict[str, Any]) -> str:
    """One self-contained HTML page (no script, no external resource)."""
    capture = report["capture"]
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>Field report: capture #{capture['id']}</title><style>{STYLE}</style></head><body>",
        f"<h1>Field report: capture #{capture['id']} of {html.escape(capture['model'])}</h1>",
        f"<p>Made {html.escape(report['created_at'])} by ModelDesk, offline.</p>",
    ]
    for title, headers, rows in _sections(report):
        parts.append(f"<h2>{html.escape(title)}</h2>{_table(headers, rows)}")
        if title.startswith("Drift") and report.get("drift"):
            charts = [
                f"<figure><figcaption>{html.escape(f['feature'])}</figcaption>"
                + _bars([f["histogram"]["reference"], f["histogram"]["field"]],
                        ["training", "field"], ["#0072B2", "#E69F00"]) + "</figure>"
                for f in report["drift"]["features"][:TOP_FEATURES] if "histogram" in f
            ]  # fmt: skip
            parts.append(f"<div class='charts'>{''.join(charts)}</div>")
    for name, why in report["skipped"].items():
        parts.append(f"<p><b>{html.escape(name)}</b> not run: {html.escape(why)}</p>")
    if report["mark_failed"]:
        parts.append("<h2>Record the failure</h2><p>If this deployment failed, record it so "
                     "the delivery figures count it:</p>"
                     f"<p><code>{html.escape(report['mark_failed'])}</code></p>")  # fmt: skip
    return "".join(parts) + "</body></html>\n"


def _cell(value: Any) -> str:
    return _number(value).replace("|", "\\|").replace("\n", " ")


def render_markdown(report: dict[str, Any]) -> str:
    """The same figures as Markdown tables."""
    capture = report["capture"]
    lines = [f"# Field report: capture #{capture['id']} of {capture['model']}", "",
             f"Made {report['created_at']} by ModelDesk, offline.", ""]  # fmt: skip
    for title, headers, rows in _sections(report):
        lines += [f"## {title}", "", "| " + " | ".join(headers) + " |",
                  "|" + "---|" * len(headers)]  # fmt: skip
        lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows]
        lines.append("")
    for name, why in report["skipped"].items():
        lines += [f"**{name}** not run: {why}", ""]
    if report["mark_failed"]:
        lines += ["## Record the failure", "", f"    {report['mark_failed']}", ""]
    return "\n".join(lines)


def write_report(report: dict[str, Any], path: Path) -> Path:
    """Write ``report`` to ``path``: Markdown for ``.md``, else self-contained HTML;
    through a ``.part`` file renamed when whole, so a reader never sees half of one."""
    text = render_markdown(report) if path.suffix.lower() == ".md" else render_html(report)
    partial = path.with_name(path.name + ".part")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
    return path
