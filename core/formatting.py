"""Human-readable renderings shared by the CLI and the desktop app."""

from __future__ import annotations

__all__ = ["human_bytes"]


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
