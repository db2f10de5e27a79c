"""``explain`` on a real catalog: methods, cache, exports, cancel and bad input."""

from __future__ import annotations

import json
import threading

import numpy as np
import onnxruntime as ort
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from modeldesk.catalog.maintenance import check_catalog
from modeldesk.datasets.importer import import_dataset
from modeldesk.datasets.registry import get_dataset_version
from modeldesk.errors import BadInputError, Cancelled
from modeldesk.explain.compare import compare_importance
from modeldesk.explain.plan import plan_explanation
from modeldesk.explain.run import estimate, explain
from modeldesk.models.importer import import_model
from modeldesk.resources import resources_dir

from helpers import catalog_snapshot

DEMO = resources_dir() / "demo"


def _ort(model_file: str, x: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(str(DEMO / model_file), providers=["CPUExecutionProvider"])
    return session.run(None, {"X": x.astype(np.float32)})


def test_auto_picks_exact_tree_shap_and_asking_twice_reads_the_cache(demo):
    first = explain(demo, "breast-cancer@3", "breast-cancer-test@1", rows="10:60")
    assert (first.method, first.space, first.cached) == ("tree", "margin (log-odds)", False)
    assert first.values.shape == (50, 30, 1) and list(first.rows) == list(range(10, 60))
    # The values add up to the margin whose sigmoid is ONNX Runtime's probability.
    probability = _ort("models/breast-cancer-v3.onnx", first.data)[1][:, 1]
    margin = first.predictions()[:, 0]
    assert np.allclose(1 / (1 + np.exp(-margin)), probability, atol=1e-5)
    rows = demo.query("SELECT kind, sha256 FROM derived WHERE kind = 'explanation'")
    assert len(rows) == 1 and demo.blobs.exists(rows[0]["sha256"])
    again = explain(demo, "breast-cancer@3", "breast-cancer-test@1", rows="10:60")
    assert again.cached and np.array_equal(again.values, first.values)
    assert np.array_equal(again.data, first.data)
    assert check_catalog(demo).ok


def test_path_dependent_covers_come_from_the_training_dataset(demo):
    result = explain(demo, "diabetes@2", "diabetes-test@1", rows=20, perturbation="path-dependent")
    assert result.perturbation == "path-dependent"
    assert "diabetes-train@1" in result.notes[0]
    value = _ort("models/diabetes-v2.onnx", result.data)[0][:, 0]
    assert np.allclose(result.predictions()[:, 0], value, atol=1e-3)


def test_the_background_size_and_seed_are_part_of_the_key(demo):
    small = explain(demo, "diabetes@3", "diabetes-test@1", rows=10, background=20, seed=1)
    other_seed = explain(demo, "diabetes@3", "diabetes-test@1", rows=10, background=20, seed=2)
    every = explain(demo, "diabetes@3", "diabetes-test@1", rows=10, background="all")
    assert not other_seed.cached and not every.cached
    assert not np.allclose(small.base_values, other_seed.base_values)
    assert every.background_rows == get_dataset_version(demo, "diabetes-train@1").rows
    assert len(demo.query("SELECT key FROM derived WHERE kind = 'explanation'")) == 3


def test_permutation_over_onnx_runtime_is_additive(demo):
    result = explain(demo, "diabetes@1", "diabetes-test@1", rows=6, background=30)
    assert result.method == "permutation" and result.space == "model output"
    value = _ort("models/diabetes-v1.onnx", result.data)[0][:, 0]
    assert np.allclose(result.predictions()[:, 0], value, atol=1e-4)


def test_kernel_over_onnx_runtime_is_additive(demo):
    result = explain(
        demo, "breast-cancer@1", "breast-cancer-test@1", rows=3, method="kernel", background=20
    )
    assert result.values.shape == (3, 30, 2) and result.space == "probability"
    probabilities = _ort("models/breast-cancer-v1.onnx", result.data)[1]
    assert np.allclose(result.predictions(), probabilities, atol=1e-4)


def test_image_rows_get_the_partition_explainer(demo):
    result = explain(demo, "digits@2", "digits-test@1", rows=2, background=50)
    assert result.method == "partition" and result.values.shape == (2, 64, 10)
    probabilities = _ort("models/digits-v2.onnx", result.data)[1]
    assert np.allclose(result.predictions(), probabilities, atol=1e-4)


def test_the_cost_is_estimated_before_a_model_agnostic_run(demo):
    plan = plan_explanation(demo, "breast-cancer@1", "breast-cancer-test@1", rows=100)
    cost = estimate(demo, plan)
    assert cost.model_rows == 100 * 500 * 100 and cost.seconds > 0
    assert "model evaluations" in cost.describe()
    assert estimate(demo, plan_explanation(demo, "breast-cancer@3", "breast-cancer-test@1")) is None


def test_out_writes_a_column_per_feature_and_class_plus_base_values(demo, run_cli, tmp_path):
    out = tmp_path / "values.parquet"
    result = run_cli(
        "--catalog", demo.path, "explain", "digits@1", "digits-test@1",
        "--rows", "0:2", "--method", "permutation", "--background", "20", "--out", out, "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    summary = json.loads(result.out)
    assert summary["method"] == "permutation" and summary["rows"] == 2
    assert result.err.startswith("estimate: permutation: about 20,000 model evaluations")
    table = pq.read_table(out)
    assert table.num_rows == 2
    assert "pixel_0_0[0]" in table.column_names and "pixel_7_7[9]" in table.column_names
    assert "base_value[3]" in table.column_names and len(table.column_names) == 64 * 10 + 10
    single = tmp_path / "single.csv"
    code = run_cli("--catalog", demo.path, "explain", "diabetes@3", "diabetes-test@1",
                   "--rows", "5", "--out", single).code  # fmt: skip
    header = pa_csv.read_csv(single).column_names
    assert code == 0 and header[:2] == ["age", "sex"] and header[-1] == "base_value"


def test_version_compare_puts_two_models_side_by_side(demo):
    compared = compare_importance(
        demo, "breast-cancer@2", "breast-cancer@3", "breast-cancer-test@1", rows=40
    )
    rows = compared.rows
    assert len(rows) == 30 and max(rows[0][1:]) >= max(rows[-1][1:])
    assert all(a >= 0 and b >= 0 for _, a, b in rows)
    assert compared.same_space and compared.spaces[0] == "margin (log-odds)"
    mixed = compare_importance(
        demo, "breast-cancer@1", "breast-cancer@3", "breast-cancer-test@1", rows=3, background=10
    )
    assert mixed.spaces == ("probability", "margin (log-odds)") and not mixed.same_space


def test_a_cancelled_run_stores_nothing(demo):
    before = catalog_snapshot(demo.path)
    cancel = threading.Event()

    def progress(done: float, total: float, message: str) -> None:
        if done > 0.1:
            cancel.set()

    with pytest.raises(Cancelled):
        explain(demo, "diabetes@1", "diabetes-test@1", rows=40, progress=progress, cancel=cancel)
    assert catalog_snapshot(demo.path) == before


@pytest.mark.parametrize(
    ("model", "rows", "method", "message"),
    [
        ("diabetes@3", "100:500", "auto", r"row range 100:500 is outside dataset diabetes-test@1"),
        ("diabetes@3", "ten", "auto", "give a row count N or a range a:b"),
        ("diabetes@1", None, "tree", "tree method does not apply.*no TreeEnsemble"),
        ("diabetes@1", None, "partition", "needs image rows"),
        ("breast-cancer@1", None, "auto", "lacks column.*'mean radius'.* and 24 more"),
    ],
)  # fmt: skip
def test_bad_requests_are_refused_and_change_nothing(demo, model, rows, method, message):
    before = catalog_snapshot(demo.path)
    with pytest.raises(BadInputError, match=message):
        explain(demo, model, "diabetes-test@1", rows=rows, method=method)
    assert catalog_snapshot(demo.path) == before


def test_an_image_model_with_a_tabular_dataset(demo, model_file):
    path = model_file("image_classifier")
    import_model(demo, path, name="imager")
    with pytest.raises(BadInputError, match="takes images.*diabetes-test@1"):
        explain(demo, "imager@1", "diabetes-test@1")


def test_rows_a_model_cannot_take_are_counted_and_located(demo, tmp_path):
    lines = (DEMO / "data/diabetes-test.csv").read_text().splitlines()
    for row in (2, 5):
        cells = lines[row].split(",")
        cells[2] = ""
        lines[row] = ",".join(cells)
    (tmp_path / "holes.csv").write_text("\n".join(lines) + "\n")
    import_dataset(demo, tmp_path / "holes.csv", name="holes", label="progression")
    before = catalog_snapshot(demo.path)
    with pytest.raises(
        BadInputError, match=r"2 of the rows to explain in holes@1 \(first: row 1\)"
    ):
        explain(demo, "diabetes@1", "holes@1", rows=10)
    assert catalog_snapshot(demo.path) == before
