"""The Graph tab's side panel: the model's properties, or the selected node's (type,
attributes, inputs and outputs with shapes, parameters, MACs, activation bytes, weight
statistics on demand), a group's summary, a diff's changes and the runtime's slowest
nodes, as HTML with links the tab follows."""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QTextBrowser, QWidget

from modeldesk.formatting import human_bytes
from modeldesk.graph.costs import node_cost
from modeldesk.graph.overlay import Overlay
from modeldesk.graph.render import format_us
from modeldesk.graph.scene import GraphModel, SceneItem, shape_text
from modeldesk.graph.versions import VersionDiff

__all__ = ["GraphPanel"]

LONG_VALUE = 120  # metadata values longer than this are shortened behind a link
STYLE = (
    "<style>h3{margin:6px 0 2px 0} td{padding:1px 6px 1px 0; vertical-align:top}"
    " .dim{color:#52606d} .bad{color:#c0392b} .add{color:#2e9d4a} .chg{color:#b06f00}</style>"
)


def _e(value: Any) -> str:
    return html.escape(str(value))


def _rows(pairs: list[tuple[str, str]]) -> str:
    return (
        "<table>"
        + "".join(f"<tr><td class='dim'>{k}</td><td>{v}</td></tr>" for k, v in pairs)
        + "</table>"
    )


def _count(value: int | None, unit: str = "") -> str:
    return "unknown" if value is None else f"{value:,}{unit}"


class GraphPanel(QTextBrowser):
    """Properties of whatever is selected; links: ``node:ID``, ``stats:WEIGHT``,
    ``open:ID:BODY``, ``unfold:PATH``, ``more:KEY``."""

    link = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.anchorClicked.connect(lambda url: self.link.emit(url.toString()))
        self.setMinimumWidth(260)
        self.statistics: dict[str, dict[str, Any]] = {}
        self.expanded: set[str] = set()

    # -- what is shown --------------------------------------------------------------
    def show_model(
        self,
        ref: str,
        described: Mapping[str, Any],
        model: GraphModel,
        compared: VersionDiff | None,
        overlay: Overlay | None,
        route: str,
    ) -> None:
        """Nothing selected: the model's properties, the diff and the slowest nodes."""
        parts = [STYLE, f"<h3>{_e(ref)}</h3>"]
        if route != "main":
            parts.append(f"<p class='dim'>Subgraph {_e(route)}</p>")
        graph = model.graph
        parts.append(
            _rows(
                [
                    ("producer", _e(described.get("producer") or "?")),
                    ("IR version", _e(described.get("ir_version"))),
                    (
                        "opsets",
                        "<br>".join(f"{_e(d)} {_e(v)}" for d, v in described["opsets"].items()),
                    ),
                    ("nodes", f"{len(graph['nodes']):,}"),
                    ("inputs", "<br>".join(_e(self._value(model, n)) for n in graph["inputs"])),
                    ("outputs", "<br>".join(_e(self._value(model, n)) for n in graph["outputs"])),
                ]
            )
        )
        if graph.get("problems"):
            parts.append(
                "<h3 class='bad'>Problems</h3>"
                + "<br>".join(f"<span class='bad'>{_e(p)}</span>" for p in graph["problems"])
            )
        if compared is not None:
            parts.append(self._diff(compared, model))
        if overlay is not None:
            parts.append(self._slowest(overlay, model))
        metadata = described.get("metadata") or {}
        if metadata:
            rows = []
            for key, value in metadata.items():
                if len(value) > LONG_VALUE and key not in self.expanded:
                    shown = (
                        f"{_e(value[:LONG_VALUE])}… <a href='more:{_e(key)}'>"
                        f"show all {len(value):,} characters</a>"
                    )
                else:
                    shown = _e(value).replace("\n", "<br>")
                rows.append((_e(key), shown))
            parts.append("<h3>Metadata</h3>" + _rows(rows))
        self.setHtml("".join(parts))

    def show_item(
        self,
        item: SceneItem,
        model: GraphModel,
        overlay: Overlay | None,
        compared: VersionDiff | None,
    ) -> None:
        """A box selected: a node's or a group's properties."""
        if item.node is not None:
            self.setHtml(STYLE + self._node(model.nodes[item.node], model, overlay, compared))
        elif item.path is not None:
            self.setHtml(STYLE + self._group(item, model, overlay))
        else:
            self.setHtml(
                STYLE
                + f"<h3>{_e(item.title)}</h3><p>{_e(item.kind)}: "
                + "<br>".join(_e(line) for line in item.lines)
                + "</p>"
            )

    # -- pieces ---------------------------------------------------------------------
    def _value(self, model: GraphModel, name: str) -> str:
        value = model.graph["values"].get(name) or {}
        shape = shape_text(value.get("shape")) or "?"
        return f"{name}: {value.get('dtype', '?')}[{shape}]"

    def _node(
        self,
        node: Mapping[str, Any],
        model: GraphModel,
        overlay: Overlay | None,
        compared: VersionDiff | None,
    ) -> str:
        graph = model.graph
        cost = node_cost(node, graph)
        status = model.status.get(node["id"])
        parts = [f"<h3>{_e(node['op'])}</h3><p class='dim'>{_e(node['name'])}</p>"]
        rows = [
            ("domain", _e(node["domain"])),
            ("family", _e(node["category"])),
            ("parameters", _count(cost["params"])),
            ("MACs", _count(cost["macs"])),
            (
                "activations",
                "unknown"
                if cost["activation_bytes"] is None
                else human_bytes(cost["activation_bytes"]),
            ),
        ]
        if status:
            css = {"added": "add", "removed": "bad", "changed": "chg"}[status]
            rows.insert(0, ("diff", f"<span class='{css}'>{status}</span>"))
        if overlay is not None and node["name"] in overlay.times:
            provider = overlay.providers.get(node["name"], "?")
            fell = (
                " <span class='bad'>(fell back to the CPU)</span>"
                if overlay.fell_back(node["name"])
                else ""
            )
            rows.append(
                ("time", f"{format_us(overlay.times[node['name']])} on {_e(provider)}{fell}")
            )
        parts.append(_rows(rows))
        if compared is not None and status == "changed":
            parts.append(
                "<h3>Changes</h3>"
                + "<br>".join(_e(line) for line in compared.diff.changes_of(node["id"]))
            )
        if node["attributes"]:
            parts.append(
                "<h3>Attributes</h3>"
                + _rows([(_e(k), _e(v)) for k, v in node["attributes"].items()])
            )
        inputs = []
        for name in node["inputs"]:
            weight = graph["weights"].get(name)
            if weight is None:
                inputs.append(_e(self._value(model, name)) if name else "<i>(omitted)</i>")
                continue
            line = f"{_e(name)}: {_e(weight.get('dtype'))}[{_e(shape_text(weight.get('shape')))}]"
            if "values" in weight:
                line += f" = {_e(weight['values'])}"
            found = self.statistics.get(name)
            if found is not None:
                line += "<br>&nbsp;&nbsp;" + self._statistics(found)
            elif not weight.get("external"):
                line += f" <a href='stats:{_e(name)}'>statistics</a>"
            inputs.append(line)
        parts.append("<h3>Inputs</h3>" + "<br>".join(inputs or ["none"]))
        parts.append(
            "<h3>Outputs</h3>"
            + "<br>".join(_e(self._value(model, name)) for name in node["outputs"] if name)
        )
        if node["subgraphs"]:
            parts.append(
                "<h3>Bodies</h3>"
                + "<br>".join(
                    f"<a href='open:{node['id']}:{_e(key)}'>open {_e(key)}</a> "
                    f"({len(body['nodes'])} nodes)"
                    for key, body in node["subgraphs"].items()
                )
            )
        return "".join(parts)

    def _statistics(self, found: Mapping[str, Any]) -> str:
        if "error" in found:
            return f"<span class='bad'>{_e(found['error'])}</span>"
        if found.get("min") is None:
            return "no numeric values"
        return (
            f"min {found['min']:.4g} · max {found['max']:.4g} · mean {found['mean']:.4g} · "
            f"std {found['std']:.4g} · sparsity {found['sparsity']:.1%}"
        )

    def _group(self, item: SceneItem, model: GraphModel, overlay: Overlay | None) -> str:
        assert item.path is not None
        inside = model.sizes[item.path]
        ops = Counter(model.nodes[n]["op"] for n in inside).most_common(8)
        rows = [
            ("nodes", f"{len(inside):,}"),
            ("ops", ", ".join(f"{_e(op)} ×{count}" for op, count in ops)),
        ]
        group = model.groups[item.path]
        if group.repeat_of is not None:
            rows.append(("repeats", _e("/".join(group.repeat_of))))
        elif group.repeats > 1:
            rows.append(("repeated", f"×{group.repeats} identical blocks"))
        if overlay is not None:
            total = sum(overlay.times.get(model.nodes[n]["name"], 0) for n in inside)
            rows.append(("time", format_us(total)))
        path = "/".join(item.path)
        return (
            f"<h3>{_e(path)}</h3>"
            + _rows(rows)
            + f"<p><a href='unfold:{_e(path)}'>Unfold</a> (or double-click it)</p>"
        )

    def _diff(self, compared: VersionDiff, model: GraphModel) -> str:
        diff = compared.diff
        parts = [
            f"<h3>{_e(compared.old.ref)} → {_e(compared.new.ref)}</h3>",
            f"<p>{_e(diff.summary())}</p>",
        ]
        if compared.contract:
            parts.append(
                "<p><b>I/O contract</b><br>"
                + "<br>".join(
                    f"<span class='{'bad' if c.breaking else 'chg'}'>"
                    f"{'BREAKING' if c.breaking else 'compatible'}</span> {_e(c.side)} "
                    f"{_e(c.name)} {_e(c.change)}: {_e(c.before or '-')} → {_e(c.after or '-')}"
                    for c in compared.contract
                )
                + "</p>"
            )
        else:
            parts.append("<p class='dim'>I/O contract unchanged</p>")
        removed_ids = sorted(i for i, s in model.status.items() if s == "removed")
        for css, title, ids in (
            ("add", "Added", diff.added),
            ("bad", "Removed", removed_ids),
            ("chg", "Changed", sorted(diff.changed)),
        ):
            if ids:
                links = [
                    f"<a href='node:{i}'>{_e(model.nodes[i]['name'])}</a> "
                    f"<span class='dim'>{_e(model.nodes[i]['op'])}</span>"
                    for i in ids[:200]
                ]
                more = f"<br>… {len(ids) - 200} more" if len(ids) > 200 else ""
                heading = f"<p><b class='{css}'>{title} ({len(ids)})</b><br>"
                parts.append(heading + "<br>".join(links) + more + "</p>")
        return "".join(parts)

    def _slowest(self, overlay: Overlay, model: GraphModel) -> str:
        ids = {node["name"]: node["id"] for node in model.graph["nodes"]}
        rows = [
            (
                f"<a href='node:{ids[name]}'>{_e(name)}</a>",
                f"{format_us(us)} <span class='dim'>{_e(provider)}</span>",
            )
            for name, us, provider in overlay.slowest(10)
            if name in ids
        ]
        parts = [
            f"<h3>Slowest on {_e(overlay.profile)}</h3>",
            f"<p class='dim'>run #{overlay.run_id}, {_e(overlay.created_at[:19])}; "
            f"{format_us(overlay.total_us)} in all</p>",
            _rows(rows),
        ]
        if overlay.unmatched:
            parts.append(
                f"<p class='dim'>{len(overlay.unmatched)} profiled node(s) match no "
                "graph node (fused or added by ONNX Runtime)</p>"
            )
        return "".join(parts)
