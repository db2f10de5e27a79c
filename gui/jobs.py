"""Long work off the GUI thread: jobs on a QThreadPool, reported by signals.

A job is a plain function ``fn(catalog, progress=..., cancel=...)`` from
``core``. It runs on the pool with its own catalog connection (SQLite
transactions are per connection, so a worker's write never mixes with the
GUI thread's reads), reports progress through a queued signal throttled to
what a progress bar can show, and delivers its result or error back on the
GUI thread. A cancelled job never delivers a result.
"""

from __future__ import annotations

import inspect
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from modeldesk.errors import Cancelled, ModelDeskError

__all__ = ["Job", "JobError", "JobRunner"]

# Progress is re-emitted at most this often, or when it moves by a step.
PROGRESS_INTERVAL_S = 0.05
PROGRESS_STEP = 0.005
# How much lower than the GUI thread a job's threads run (Linux nice steps).
JOB_NICENESS = 5


@dataclass(frozen=True)
class JobError:
    """What went wrong in a job: a one-line message and the details behind it."""

    message: str
    details: str
    expected: bool  # a ModelDeskError (bad input, missing record) rather than a bug
    kind: str = ""


class _JobSignals(QObject):
    progress = Signal(float, str)
    succeeded = Signal(object)
    failed = Signal(object)
    finished = Signal()


class Job(QRunnable):
    """One core call running on the pool."""

    def __init__(
        self,
        title: str,
        fn: Callable[..., Any],
        catalog_path: Path | None,
        kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.title = title
        self.fn = fn
        self.catalog_path = catalog_path
        self.kwargs = dict(kwargs or {})
        self.signals = _JobSignals()
        self.cancel_event = threading.Event()
        self.fraction = 0.0
        self.message = ""
        self._last_emit = 0.0
        self._last_fraction = -1.0

    def cancel(self) -> None:
        """Ask the job to stop; it stops at its next check and delivers nothing."""
        self.cancel_event.set()

    @property
    def cancelled(self) -> bool:
        """True once cancel() was called."""
        return self.cancel_event.is_set()

    def _progress(self, done: float, total: float, message: str) -> None:
        fraction = min(max(done / total if total else 0.0, 0.0), 1.0)
        now = time.monotonic()
        moved = abs(fraction - self._last_fraction) >= PROGRESS_STEP
        if fraction >= 1.0 or (moved and now - self._last_emit >= PROGRESS_INTERVAL_S):
            self._last_emit, self._last_fraction = now, fraction
            self.signals.progress.emit(fraction, message)

    def _call(self, *args: Any) -> Any:
        # Long core operations take progress and cancel; quick ones (an edit) do not.
        parameters = inspect.signature(self.fn).parameters
        extra: dict[str, Any] = {}
        if "progress" in parameters:
            extra["progress"] = self._progress
        if "cancel" in parameters:
            extra["cancel"] = self.cancel_event
        return self.fn(*args, **extra, **self.kwargs)

    def run(self) -> None:  # runs on a pool thread
        """Open a catalog connection, run the function, report the outcome."""
        _lower_this_threads_priority()
        try:
            if self.catalog_path is not None:
                from modeldesk.catalog.store import Catalog

                with Catalog.open(self.catalog_path) as catalog:
                    result = self._call(catalog)
            else:
                result = self._call()
            if not self.cancelled:
                self.signals.succeeded.emit(result)
        except Cancelled:
            pass
        except ModelDeskError as error:
            if not self.cancelled:
                self.signals.failed.emit(
                    JobError(str(error), traceback.format_exc(), True, type(error).__name__)
                )
        except Exception as error:
            self.signals.failed.emit(
                JobError(
                    f"{self.title}: unexpected {type(error).__name__}: {error}",
                    traceback.format_exc(),
                    False,
                    type(error).__name__,
                )
            )
        finally:
            self.signals.finished.emit()


def _lower_this_threads_priority() -> None:
    """Give the GUI thread the CPU first: jobs run at a lower priority.

    On Linux a nice value is per thread and inherited by threads it starts
    (statistics workers, the Parquet writer, hashing), so a job on a
    two-core laptop cannot crowd out painting. Elsewhere this does nothing.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        thread_id = threading.get_native_id()
        # The process's main thread (the GUI thread) carries the process id.
        target = min(os.getpriority(os.PRIO_PROCESS, os.getpid()) + JOB_NICENESS, 19)
        if os.getpriority(os.PRIO_PROCESS, thread_id) < target:  # pool threads are reused
            os.setpriority(os.PRIO_PROCESS, thread_id, target)
    except OSError:
        pass


class JobRunner(QObject):
    """Starts jobs on a thread pool and keeps track of the running ones.

    ``started`` and ``ended`` let a status bar show progress and a cancel
    button; ``failed`` carries every job's error to whoever reports errors.
    Jobs started with the same ``key`` replace each other: the newest
    request for a view cancels the one before it.
    """

    started = Signal(object)
    ended = Signal(object)
    failed = Signal(object)

    def __init__(self, parent: QObject | None = None, *, max_threads: int | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        if max_threads:
            self.pool.setMaxThreadCount(max_threads)
        self.active: list[Job] = []
        self._keyed: dict[str, Job] = {}

    def start(
        self,
        title: str,
        fn: Callable[..., Any],
        *,
        catalog_path: Path | None,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[JobError], None] | None = None,
        on_progress: Callable[[float, str], None] | None = None,
        on_finished: Callable[[], None] | None = None,
        key: str | None = None,
        **kwargs: Any,
    ) -> Job:
        """Run ``fn`` on the pool; the callbacks run on the GUI thread.

        ``on_finished`` runs once the job ends whatever its outcome (cancelled
        included). Every callback is connected here, before the job is queued:
        a queued signal reaches only the slots connected when it was emitted, and
        a quick job can finish on its pool thread before ``start`` returns.
        """
        if key is not None and key in self._keyed:
            self._keyed.pop(key).cancel()
        job = Job(title, fn, catalog_path, kwargs)
        if on_done is not None:
            job.signals.succeeded.connect(on_done)
        job.signals.failed.connect(on_error if on_error is not None else self.failed.emit)
        if on_progress is not None:
            job.signals.progress.connect(on_progress)
        if on_finished is not None:
            job.signals.finished.connect(on_finished)
        job.signals.finished.connect(lambda: self._finished(job, key))
        self.active.append(job)
        if key is not None:
            self._keyed[key] = job
        self.started.emit(job)
        self.pool.start(job)
        return job

    @Slot()
    def _finished(self, job: Job, key: str | None) -> None:
        if job in self.active:
            self.active.remove(job)
        if key is not None and self._keyed.get(key) is job:
            del self._keyed[key]
        self.ended.emit(job)

    def cancel_all(self) -> None:
        """Cancel every running job."""
        for job in list(self.active):
            job.cancel()

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Cancel everything and wait for the pool to drain (on window close)."""
        self.cancel_all()
        self.pool.waitForDone(timeout_ms)
