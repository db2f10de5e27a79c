"""How a graph looks: the colour of each op family, of a diff's changes and of the
runtime heat scale. Plain hex colours, shared by the desktop view and the SVG export so
both draw the same picture."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CATEGORY_COLOURS", "STATUS_COLOURS", "Colours", "heat_colour", "item_colours"]

CATEGORY_COLOURS = {
    "convolution": "#33669a",
    "normalisation": "#2e7d6b",
    "activation": "#8c3b34",
    "pooling": "#4f7d32",
    "shape": "#6b5449",
    "arithmetic": "#55606e",
    "control flow": "#7a4f8c",
    "ml": "#8a6d1f",
    "other": "#4a4a4a",
}
STATUS_COLOURS = {"added": "#2e9d4a", "removed": "#c0392b", "changed": "#d68a00"}
UNCHANGED = "#a3abb5"  # a node the diff found equal: grey, so the changes stand out
GROUP = ("#eef1f5", "#8a94a3", "#1f2933")
IO = ("#f7f7f7", "#6b7280", "#1f2933")
PROBLEM = ("#fde8e6", "#c0392b", "#7f1d1d")
NO_TIME = "#c8cdd3"
EDGE = "#7b8794"
CAPTURED_EDGE = "#7a4f8c"
REVERSED_EDGE = "#c0392b"


@dataclass(frozen=True)
class Colours:
    """Fill, outline and text colour of one item."""

    fill: str
    stroke: str
    text: str


def heat_colour(share: float) -> str:
    """A node's share of the slowest node's time as a colour, pale yellow to deep red."""
    share = min(max(share, 0.0), 1.0)
    low, high = (255, 237, 160), (189, 0, 38)
    mixed = [round(a + (b - a) * share**0.5) for a, b in zip(low, high, strict=True)]
    return "#{:02x}{:02x}{:02x}".format(*mixed)


def item_colours(
    kind: str,
    category: str,
    status: str | None = None,
    diff: bool = False,
    heat: float | None = None,
    overlay: bool = False,
) -> Colours:
    """The colours of an item of ``kind`` (node, group, input, ...); in a diff, by its
    status; with the runtime overlay on, by its share of time (None: no time known)."""
    if kind == "missing":
        return Colours(*PROBLEM)
    if kind in ("input", "output", "captured"):
        return Colours(*IO)
    if diff and (status or kind == "node"):
        fill = STATUS_COLOURS.get(status or "", UNCHANGED)
        return Colours(fill, fill, "#ffffff" if status else "#1f2933")
    if kind == "group":
        return Colours(*GROUP)
    if overlay:
        if heat is None:
            return Colours(NO_TIME, NO_TIME, "#1f2933")
        fill = heat_colour(heat)
        return Colours(fill, "#7f1d1d", "#ffffff" if heat > 0.35 else "#1f2933")
    fill = CATEGORY_COLOURS.get(category, CATEGORY_COLOURS["other"])
    return Colours(fill, fill, "#ffffff")
