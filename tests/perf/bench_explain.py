"""Explanation speed: ONNX TreeSHAP against shap on the native model and against Permutation.

    .venv/bin/python tests/perf/bench_explain.py [--rows 10000] [--trees 300] [--repeats 1]

Model: LightGBM, 300 trees of depth <= 8 (up to 255 leaves), trained on 10,000 rows x
30 features, converted with onnxmltools. Targets (issue 4), all ratios in this run:

* ModelDesk's TreeSHAP from the ONNX file (reading the trees, counting covers, exact
  path-dependent TreeSHAP) explains at least 0.8x the rows per second of
  ``shap.TreeExplainer`` on the native LightGBM model;
* and at least 50x the rows per second of shap's Permutation explainer run on the same
  ONNX model through ONNX Runtime (timed on a few rows after a warm-up row);
* the model-agnostic path (``explain --method permutation`` on a catalog) spends at
  least 70 % of its wall time inside ONNX Runtime calls (after a warm-up run that
  compiles shap's numba kernels);
* checking that tree values add up to ONNX Runtime's margin (issue 11) costs at most
  10 % of a tree explanation of 500 rows on a catalog.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from targets import Targets


def train(rows: int, trees: int, features: int = 30):
    """The native LightGBM model, its ONNX conversion and the rows."""
    import lightgbm
    from onnxmltools import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, features)).astype(np.float32)
    y = 2 * x[:, 0] + np.sin(3 * x[:, 1]) + x[:, 2] * x[:, 3] + 0.1 * rng.normal(size=rows)
    native = lightgbm.LGBMRegressor(
        n_estimators=trees, max_depth=8, num_leaves=255, min_child_samples=5, verbose=-1
    ).fit(x, y)
    proto = convert_lightgbm(native, initial_types=[("X", FloatTensorType([None, features]))])
    return native, proto, x


def time_native(native, x: np.ndarray) -> float:
    import shap

    started = time.perf_counter()
    shap.TreeExplainer(native).shap_values(x, check_additivity=False)
    return time.perf_counter() - started


def time_ours(proto, x: np.ndarray) -> tuple[float, np.ndarray]:
    from modeldesk.explain.tree_shap import tree_shap_values
    from modeldesk.explain.trees import find_tree_ensemble

    started = time.perf_counter()
    ensemble = find_tree_ensemble(proto)
    model = ensemble.shap_model(ensemble.covers(x))
    values = tree_shap_values(model, x, perturbation="tree_path_dependent", background=None).values
    return time.perf_counter() - started, values


def time_permutation(proto, x: np.ndarray, rows: int) -> float:
    import onnxruntime as ort
    import shap

    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])

    def model(batch: np.ndarray) -> np.ndarray:
        return session.run(None, {"X": batch.astype(np.float32)})[0][:, 0]

    masker = shap.maskers.Independent(x[:100], max_samples=100)
    explainer = shap.PermutationExplainer(model, masker, seed=0)
    explainer(x[:1], silent=True)  # compile shap's kernels outside the timing
    started = time.perf_counter()
    explainer(x[1 : 1 + rows], silent=True)
    return (time.perf_counter() - started) / rows


@contextlib.contextmanager
def lgbm_catalog(proto, x: np.ndarray):
    """A catalog holding the model as ``lgbm@1`` and 2,000 of the rows as ``rows@1``."""
    import onnx
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    from modeldesk.catalog.store import Catalog
    from modeldesk.datasets.importer import import_dataset
    from modeldesk.models.importer import import_model

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        names = [f"f{i}" for i in range(x.shape[1])]
        pa_csv.write_csv(pa.table(dict(zip(names, x[:2000].T, strict=True))), root / "rows.csv")
        onnx.save(proto, root / "model.onnx")
        with Catalog.init(root / "catalog") as catalog:
            import_dataset(catalog, root / "rows.csv", name="rows")
            import_model(catalog, root / "model.onnx", name="lgbm", features=names)
            yield catalog


def ort_share(proto, x: np.ndarray, rows: int) -> tuple[float, float, float]:
    """(wall s, ORT s, share) of ``explain --method permutation`` on a real catalog."""
    from modeldesk.explain.run import explain

    with lgbm_catalog(proto, x) as catalog:
        explain(catalog, "lgbm@1", "rows@1", rows="0:1", method="permutation")  # warm-up
        started = time.perf_counter()
        result = explain(catalog, "lgbm@1", "rows@1", rows=f"1:{1 + rows}", method="permutation")
        wall = time.perf_counter() - started
    return wall, result.model_seconds, result.model_seconds / wall


def additivity_cost(proto, x: np.ndarray, repeats: int) -> tuple[float, float]:
    """Median seconds of a tree ``explain`` of 500 rows with and without the check
    that the values add up to ONNX Runtime's margin (fresh seeds: nothing cached)."""
    import modeldesk.explain.run as run

    checked, unchecked = [], []
    real = run.check_additivity
    with lgbm_catalog(proto, x) as catalog:
        for repeat in range(repeats):
            for check, times in ((real, checked), (lambda *args: None, unchecked)):
                run.check_additivity = check
                started = time.perf_counter()
                run.explain(catalog, "lgbm@1", "rows@1", rows="0:500", method="tree",
                            seed=len(checked) + len(unchecked) + repeat * 10)  # fmt: skip
                times.append(time.perf_counter() - started)
        run.check_additivity = real
    return statistics.median(checked), statistics.median(unchecked)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--trees", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--permutation-rows", type=int, default=5)
    args = parser.parse_args()

    native, proto, x = train(args.rows, args.trees)
    leaves = sum(t.get("num_leaves", 0) for t in native.booster_.dump_model()["tree_info"])
    print(f"model: {args.trees} trees, {leaves} leaves; explaining {len(x):,} rows x 30")
    native_s, ours_s = [], []
    for _ in range(args.repeats):
        native_s.append(time_native(native, x))
        seconds, values = time_ours(proto, x)
        ours_s.append(seconds)
    reference = np.asarray(
        __import__("shap").TreeExplainer(native).shap_values(x[:200], check_additivity=False)
    )
    print(f"  max |ours - native| on 200 rows: {np.abs(values[:200, :, 0] - reference).max():.2e}")
    native_rate = len(x) / statistics.median(native_s)
    ours_rate = len(x) / statistics.median(ours_s)
    print(f"native shap.TreeExplainer (LightGBM): {native_rate:,.0f} rows/s")
    print(f"ModelDesk TreeSHAP from ONNX:          {ours_rate:,.0f} rows/s")
    targets = Targets()
    native_ratio = ours_rate / native_rate
    verdict = targets.check("TreeSHAP vs native shap", native_ratio >= 0.8)
    print(f"  ratio {native_ratio:.2f}x (target >= 0.8x) {verdict}")
    per_row = time_permutation(proto, x, args.permutation_rows)
    print(f"shap Permutation on the ONNX model:    {1 / per_row:,.2f} rows/s")
    verdict = targets.check("TreeSHAP vs Permutation", ours_rate * per_row >= 50)
    print(f"  ratio {ours_rate * per_row:,.0f}x (target >= 50x) {verdict}")
    wall, inside, share = ort_share(proto, x, args.permutation_rows)
    print(
        f"explain --method permutation, {args.permutation_rows} rows: {wall:.2f} s, "
        f"{inside:.2f} s inside ONNX Runtime = {share:.0%} (target >= 70%) "
        + targets.check("time inside ONNX Runtime", share >= 0.7)
    )
    checked, unchecked = additivity_cost(proto, x, max(3, args.repeats))
    verdict = targets.check("additivity check cost", checked / unchecked <= 1.1)
    print(
        f"explain --method tree, 500 rows: {checked:.2f} s with the additivity check, "
        f"{unchecked:.2f} s without -> {checked / unchecked:.3f}x (target <= 1.1x) {verdict}"
    )
    targets.finish()


if __name__ == "__main__":
    main()
