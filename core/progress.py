"""Progress and cancellation plumbing shared by every long core operation.

A long operation takes ``progress`` — a callable ``(done, total, message)`` —
and ``cancel`` — a ``threading.Event``. Both faces drive the same functions:
the CLI draws a progress bar, the GUI forwards to a queued Qt signal.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from modeldesk.errors import Cancelled

__all__ = ["ProgressCallback", "Stage", "check_cancel", "no_progress"]

ProgressCallback = Callable[[float, float, str], None]


def no_progress(done: float, total: float, message: str) -> None:
    """A progress callback that ignores every report."""


def check_cancel(cancel: threading.Event | None, what: str) -> None:
    """Raise ``Cancelled`` naming ``what`` if ``cancel`` is set."""
    if cancel is not None and cancel.is_set():
        raise Cancelled(f"{what}: cancelled")


class Stage:
    """Maps one stage of a job onto its share ``[start, end]`` of the whole bar.

    Like Orange's ``wrap_callback``: a job made of several stages reports
    0..1 overall, each stage reporting its own ``done/total``.
    """

    def __init__(self, progress: ProgressCallback, start: float, end: float) -> None:
        self._progress = progress
        self._start = start
        self._end = end

    def __call__(self, done: float, total: float, message: str) -> None:
        fraction = done / total if total else 0.0
        fraction = min(max(fraction, 0.0), 1.0)
        self._progress(self._start + (self._end - self._start) * fraction, 1.0, message)
