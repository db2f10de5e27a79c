"""The Graph tab's context menu and status line, shaped from a drawn scene."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QMenu, QWidget

from modeldesk.graph.scene import group_key
from modeldesk.gui.pages.graph_jobs import Drawn

__all__ = ["item_menu", "status_text"]

Relayout = Callable[..., None]


def item_menu(
    parent: QWidget,
    drawn: Drawn,
    key: str,
    relayout: Relayout,
    open_body: Callable[[int, str], None],
) -> QMenu | None:
    """The right-click menu of the box ``key``: unfold a group, open a node's bodies,
    fold any unfolded scope around a node. None when there is nothing to offer."""
    item = drawn.scene.items.get(key)
    if item is None:
        return None
    menu = QMenu(parent)
    if item.path is not None:
        path = item.path
        menu.addAction("Unfold", lambda: relayout(drawn.unfolded | {path}))
    if item.node is not None:
        node = drawn.model.nodes[item.node]
        for body in node["subgraphs"]:
            menu.addAction(f"Open {body}", lambda b=body: open_body(node["id"], b))
        around = sorted(drawn.model.ancestors(item.node), key=len)
        for scope in reversed(around):
            if scope in drawn.unfolded:
                menu.addAction(
                    f"Fold {'/'.join(scope)}",
                    lambda s=scope: relayout(
                        {u for u in drawn.unfolded if u[: len(s)] != s}, group_key(s)
                    ),
                )
    return None if menu.isEmpty() else menu


def status_text(drawn: Drawn) -> str:
    """What the status line says about a drawn graph: sizes, then any problems found."""
    problems = drawn.scene.problems + [
        f"a cycle: {len(drawn.layout.reversed_edges)} edge(s) drawn reversed, in red"
    ] * bool(drawn.layout.reversed_edges)
    shown = sum(1 for item in drawn.scene.items.values() if item.kind in ("node", "group"))
    text = (
        f"{len(drawn.model.nodes):,} nodes, {shown:,} boxes shown "
        f"({len(drawn.unfolded):,} groups unfolded). Double-click a group to unfold it."
    )
    if problems:
        text += " Problems: " + "; ".join(problems)
    return text
