"""Exact TreeSHAP over an ONNX tree ensemble, in chunks, on every core when it pays.

shap's TreeSHAP is one C call that holds the GIL, so threads do not help and a single
call cannot be cancelled. Rows are explained in chunks: the first in this process, to
measure the cost per row; when the rest would take long, the remaining chunks go to a
pool of worker processes (one per core, started with ``spawn`` so a GUI process is never
forked), which is also what lets a cancel stop the work at once.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from typing import Any

import numpy as np

from core.progress import ProgressCallback, check_cancel, no_progress

__all__ = ["tree_shap_values"]

# Below this much estimated remaining work, starting worker processes (each imports
# shap, ~3 s) costs more than it saves.
POOL_WORTH_S = 8.0
CHUNK_S = 0.5
FIRST_CHUNK_ROWS = 32

_worker_explainer: Any = None


def _explainer(model: dict[str, Any], background: np.ndarray | None, perturbation: str) -> Any:
    import shap

    if perturbation == "interventional":
        # TreeExplainer keeps only 100 background rows unless given a masker that says so.
        masker = shap.maskers.Independent(background, max_samples=len(background))
        return shap.TreeExplainer(model, data=masker, feature_perturbation="interventional")
    return shap.TreeExplainer(model, feature_perturbation="tree_path_dependent")


def _values(explainer: Any, rows: np.ndarray) -> np.ndarray:
    values = np.asarray(explainer.shap_values(rows, check_additivity=False), dtype=np.float64)
    return values.reshape(len(rows), rows.shape[1], -1)


def _init_worker(model: dict[str, Any], background: np.ndarray | None, perturbation: str) -> None:
    global _worker_explainer
    _worker_explainer = _explainer(model, background, perturbation)


def _explain_chunk(rows: np.ndarray) -> np.ndarray:
    return _values(_worker_explainer, rows)


def tree_shap_values(
    model: dict[str, Any],
    rows: np.ndarray,
    *,
    perturbation: str,
    background: np.ndarray | None,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
    workers: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """SHAP values (rows x features x outputs) and base values (outputs) of ``model``.

    ``model`` is a dict from :meth:`TreeEnsemble.shap_model`; ``background`` is needed for
    interventional perturbation. ``workers`` caps the pool (default: the usable cores).
    """
    total = len(rows)
    explainer = _explainer(model, background, perturbation)
    base = np.atleast_1d(np.asarray(explainer.expected_value, dtype=np.float64))
    check_cancel(cancel, "explaining")
    started = time.perf_counter()
    first = min(total, FIRST_CHUNK_ROWS)
    parts = [_values(explainer, rows[:first])]
    progress(first, total, "explaining rows")
    per_row = (time.perf_counter() - started) / max(first, 1)
    if first == total:
        return parts[0], base
    chunk = max(1, int(CHUNK_S / max(per_row, 1e-9)))
    chunks = [rows[start : start + chunk] for start in range(first, total, chunk)]
    workers = workers or _usable_cores()
    if workers > 1 and per_row * (total - first) > POOL_WORTH_S:
        setup = (model, background, perturbation)
        parts += _pooled(setup, chunks, workers, first, total, progress, cancel)
    else:
        done = first
        for part in chunks:
            check_cancel(cancel, "explaining")
            parts.append(_values(explainer, part))
            done += len(part)
            progress(done, total, "explaining rows")
    return np.concatenate(parts), base


def _usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _pooled(
    setup: tuple[dict[str, Any], np.ndarray | None, str],
    chunks: list[np.ndarray],
    workers: int,
    done: int,
    total: int,
    progress: ProgressCallback,
    cancel: threading.Event | None,
) -> list[np.ndarray]:
    context = multiprocessing.get_context("spawn")
    pool = context.Pool(workers, initializer=_init_worker, initargs=setup)
    try:
        results = []
        for values in pool.imap(_explain_chunk, chunks):
            results.append(values)
            done += len(values)
            progress(done, total, "explaining rows")
            check_cancel(cancel, "explaining")
        pool.close()
        return results
    finally:
        # On cancel or error, stop the workers mid-chunk rather than wait for them.
        pool.terminate()
        pool.join()
