"""Human-readable renderings shared by the CLI and the desktop app."""

from __future__ import annotations

__all__ = ["human_bytes", "shorten"]


def human_bytes(size: int | None) -> str:
    """``1.2 MB`` style sizes (powers of 1000, as file managers show)."""
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def shorten(text: str, limit: int) -> str:
    """``text`` as one line of at most about ``limit`` characters.

    A long value (a 13,000-character vocabulary in model metadata is real) is cut and
    says how long it is, so both faces can show it without a wall of text and offer the
    whole of it one step away (``--full``, an expander).
    """
    if len(text) <= limit and "\n" not in text and "\r" not in text:
        return text
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return f"{flat[:limit].rstrip()}… ({len(text):,} characters)"
