"""Exact TreeSHAP over an ONNX tree ensemble, in chunks, on every core when it pays.

shap's TreeSHAP is one C call that holds the GIL, so threads do not help and a single
call cannot be cancelled. Rows are explained in chunks: the first in this process, to
measure the cost per row; when the rest would take long, the remaining chunks go to a
pool of worker processes (one per core, started with ``spawn`` so a GUI process is never
forked), which is also what lets a cancel stop the work at once.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from modeldesk.progress import ProgressCallback, check_cancel, no_progress

__all__ = ["POOL_MIN_SECONDS_ENV", "TreeShapValues", "pool_worth_seconds", "tree_shap_values"]

# Below this much estimated remaining work, starting worker processes (~0.3 s each,
# as they load shap's compiled part alone) costs more than it saves.
POOL_WORTH_S = 2.0
# Overrides POOL_WORTH_S (seconds; 0 uses the pool for any job larger than its first
# chunk), so a test or a smoke check can force the pool whatever the machine's speed.
POOL_MIN_SECONDS_ENV = "MODELDESK_TREE_POOL_MIN_S"
CHUNK_S = 0.5
FIRST_CHUNK_ROWS = 32
_worker_kernel: dict[str, Any] | None = None


def _explainer(model: dict[str, Any], background: np.ndarray | None, perturbation: str) -> Any:
    import shap

    if perturbation == "interventional":
        assert background is not None, "interventional TreeSHAP needs background rows"
        # TreeExplainer keeps only 100 background rows unless given a masker that says so.
        masker = shap.maskers.Independent(background, max_samples=len(background))
        return shap.TreeExplainer(model, data=masker, feature_perturbation="interventional")
    return shap.TreeExplainer(model, feature_perturbation="tree_path_dependent")


def _kernel(explainer: Any) -> dict[str, Any]:
    """The arrays shap hands its C TreeSHAP, so workers can call it without importing shap.

    Importing shap takes ~3 s (it pulls in scikit-learn); its compiled ``_cext`` alone
    loads in a tenth of that, which is what makes a worker pool pay off.
    """
    from shap.explainers._tree import feature_perturbation_codes, output_transform_codes

    model = explainer.model
    return {
        "arrays": (
            model.children_left,
            model.children_right,
            model.children_default,
            model.features,
            model.thresholds,
            model.threshold_types,
            model.values,
            model.node_sample_weight,
        ),
        "max_depth": model.max_depth,
        "data": explainer.data,
        "data_missing": explainer.data_missing,
        "trees": model.values.shape[0],
        "base_offset": model.base_offset,
        "perturbation": feature_perturbation_codes[explainer.feature_perturbation],
        "transform": output_transform_codes[model.get_transform()],
        "input_dtype": model.input_dtype,
        "outputs": model.num_outputs,
    }


def _load_cext() -> Any:
    """shap's compiled TreeSHAP module, loaded from its file without importing shap."""
    loaded = sys.modules.get("shap._cext")
    if loaded is not None:
        return loaded
    package = importlib.util.find_spec("shap")
    if package is None or not package.submodule_search_locations:
        raise ImportError("shap is not installed")
    folder = Path(next(iter(package.submodule_search_locations)))
    library = next(folder.glob("_cext.*"))
    spec = importlib.util.spec_from_file_location("shap._cext", library)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules["shap._cext"] = module
    return module


def _run_kernel(kernel: dict[str, Any], rows: np.ndarray) -> np.ndarray:
    """SHAP values (rows x features x outputs) from shap's C TreeSHAP."""
    x = np.ascontiguousarray(rows, dtype=kernel["input_dtype"])
    phi = np.zeros((len(x), x.shape[1] + 1, kernel["outputs"]))
    _load_cext().dense_tree_shap(
        *kernel["arrays"],
        kernel["max_depth"],
        x,
        np.isnan(x),
        None,
        kernel["data"],
        kernel["data_missing"],
        kernel["trees"],
        kernel["base_offset"],
        phi,
        kernel["perturbation"],
        kernel["transform"],
        False,
    )
    return phi[:, :-1, :]


def _init_worker(kernel: dict[str, Any]) -> None:
    global _worker_kernel
    _worker_kernel = kernel


def _explain_chunk(rows: np.ndarray) -> np.ndarray:
    assert _worker_kernel is not None, "worker started without its kernel"
    return _run_kernel(_worker_kernel, rows)


class TreeShapValues(NamedTuple):
    """SHAP values (rows x features x outputs), base values (outputs), worker processes used."""

    values: np.ndarray
    base: np.ndarray
    workers: int


def pool_worth_seconds() -> float:
    """Estimated seconds of remaining work above which the worker pool starts."""
    override = os.environ.get(POOL_MIN_SECONDS_ENV, "").strip()
    if override:
        try:
            return max(float(override), 0.0)
        except ValueError:
            pass  # a malformed override is ignored rather than breaking explanations
    return POOL_WORTH_S


def tree_shap_values(
    model: dict[str, Any],
    rows: np.ndarray,
    *,
    perturbation: str,
    background: np.ndarray | None,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
    workers: int | None = None,
) -> TreeShapValues:
    """SHAP values (rows x features x outputs) and base values (outputs) of ``model``.

    ``model`` is a dict from :meth:`TreeEnsemble.shap_model`; ``background`` is needed for
    interventional perturbation. ``workers`` caps the pool (default: the usable cores);
    the result says how many worker processes ran (0: all in this process).
    """
    total = len(rows)
    explainer = _explainer(model, background, perturbation)
    base = np.atleast_1d(np.asarray(explainer.expected_value, dtype=np.float64))
    kernel = _kernel(explainer)
    check_cancel(cancel, "explaining")
    started = time.perf_counter()
    first = min(total, FIRST_CHUNK_ROWS)
    parts = [_run_kernel(kernel, rows[:first])]
    progress(first, total, "explaining rows")
    per_row = (time.perf_counter() - started) / max(first, 1)
    if first == total:
        return TreeShapValues(parts[0], base, 0)
    chunk = max(1, int(CHUNK_S / max(per_row, 1e-9)))
    chunks = [rows[start : start + chunk] for start in range(first, total, chunk)]
    workers = workers or _usable_cores()
    if workers > 1 and per_row * (total - first) >= pool_worth_seconds():
        parts += _pooled(kernel, chunks, workers, first, total, progress, cancel)
    else:
        workers = 0
        done = first
        for part in chunks:
            check_cancel(cancel, "explaining")
            parts.append(_run_kernel(kernel, part))
            done += len(part)
            progress(done, total, "explaining rows")
    return TreeShapValues(np.concatenate(parts), base, workers)


def _usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _pooled(
    kernel: dict[str, Any],
    chunks: list[np.ndarray],
    workers: int,
    done: int,
    total: int,
    progress: ProgressCallback,
    cancel: threading.Event | None,
) -> list[np.ndarray]:
    context = multiprocessing.get_context("spawn")
    pool = context.Pool(workers, initializer=_init_worker, initargs=(kernel,))
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
