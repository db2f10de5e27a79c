"""Terminal output for the CLI: JSON, aligned tables, sizes, and a delayed progress bar."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click

from modeldesk.formatting import human_bytes
from modeldesk.progress import ProgressCallback

__all__ = ["echo_json", "echo_table", "human_bytes", "progress_bar"]

# Imports shorter than this show no bar at all.
PROGRESS_DELAY_S = 1.0


def echo_json(value: Any) -> None:
    """Print ``value`` as JSON on stdout: indented for a terminal, compact for a pipe.

    Compact output uses the json module's C encoder, which is several times
    faster on long listings than the indenting pure-Python one.
    """
    indent = 2 if sys.stdout.isatty() else None
    click.echo(json.dumps(value, indent=indent, ensure_ascii=False, default=str))


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print rows as a left-aligned table with a header line."""
    texts = [[("" if cell is None else str(cell)) for cell in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in texts:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]
    line = "  ".join(header.ljust(width) for header, width in zip(headers, widths, strict=True))
    click.echo(line.rstrip())
    for row in texts:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@contextmanager
def progress_bar(label: str) -> Iterator[ProgressCallback]:
    """A progress callback drawing a bar on stderr once the work passes one second.

    Nothing is drawn when stderr is not a terminal (pipelines, CI logs).
    """
    started = time.monotonic()
    state: dict[str, Any] = {"bar": None, "shown": 0}
    interactive = sys.stderr.isatty()

    def report(done: float, total: float, message: str) -> None:
        if not interactive or time.monotonic() - started < PROGRESS_DELAY_S:
            return
        if state["bar"] is None:
            bar: Any = click.progressbar(length=1000, label=label, file=sys.stderr)
            bar.__enter__()
            state["bar"] = bar
        permille = int(1000 * done / total) if total else 0
        step = permille - state["shown"]
        if step > 0:
            state["bar"].update(step)
            state["shown"] = permille

    try:
        yield report
    finally:
        if state["bar"] is not None:
            state["bar"].__exit__(None, None, None)
