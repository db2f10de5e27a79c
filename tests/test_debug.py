"""Predictions, metrics, slices and worst rows, checked against ONNX Runtime run directly."""

from __future__ import annotations

import json
from itertools import product

import numpy as np
import onnxruntime as ort
import pyarrow.csv as pa_csv
import pytest

from modeldesk.datasets.importer import import_dataset
from modeldesk.debug import metrics, predict, slices, worst_rows
from modeldesk.errors import BadInputError
from modeldesk.models.registry import get_model_version
from modeldesk.resources import resources_dir

DEMO = resources_dir() / "demo"


def _direct(model_file: str, data_file: str, features: list[str]) -> list[np.ndarray]:
    """Run the committed ONNX file on the committed CSV with ONNX Runtime, no ModelDesk."""
    table = pa_csv.read_csv(DEMO / data_file)
    x = np.column_stack([table.column(name).to_numpy() for name in features]).astype(np.float32)
    session = ort.InferenceSession(str(DEMO / model_file), providers=["CPUExecutionProvider"])
    return session.run(None, {"X": x})


def test_binary_classification_metrics(demo):
    result = predict(demo, "breast-cancer@1", "breast-cancer-test@1")
    version = get_model_version(demo, "breast-cancer@1")
    _, probabilities = _direct(
        "models/breast-cancer-v1.onnx", "data/breast-cancer-test.csv", version.features
    )
    y = pa_csv.read_csv(DEMO / "data/breast-cancer-test.csv").column("diagnosis").to_numpy()
    np.testing.assert_allclose(result.probabilities, probabilities, rtol=0, atol=1e-7)
    scores = metrics(result)
    assert scores["accuracy"] == pytest.approx((probabilities.argmax(axis=1) == y).mean())
    positives, negatives = probabilities[y == 1, 1], probabilities[y == 0, 1]
    pairs = [(p > n) + 0.5 * (p == n) for p, n in product(positives, negatives)]
    assert scores["roc_auc"] == pytest.approx(np.mean(pairs))
    chosen = probabilities[np.arange(len(y)), y]
    assert scores["log_loss"] == pytest.approx(-np.log(np.clip(chosen, 1e-15, 1)).mean())
    assert np.array(scores["confusion"]).sum() == len(y)
    assert scores["classes"] == ["malignant", "benign"]
    assert sum(point["count"] for point in scores["calibration"]) == len(y)
    assert not result.trained_on_this


def test_multiclass_confusion_and_recall(demo):
    result = predict(demo, "digits@2", "digits-test@1")
    scores = metrics(result)
    confusion = np.array(scores["confusion"])
    assert confusion.shape == (10, 10)
    assert confusion.trace() / confusion.sum() == pytest.approx(scores["accuracy"])
    for index, entry in enumerate(scores["per_class"]):
        assert entry["recall"] == pytest.approx(confusion[index, index] / confusion[index].sum())
    assert scores["roc_auc_kind"].startswith("one-vs-rest")


def test_regression_metrics(demo):
    result = predict(demo, "diabetes@3", "diabetes-test@1")
    version = get_model_version(demo, "diabetes@3")
    (values,) = _direct("models/diabetes-v3.onnx", "data/diabetes-test.csv", version.features)
    y = pa_csv.read_csv(DEMO / "data/diabetes-test.csv").column("progression").to_numpy()
    residuals = y - values[:, 0].astype(np.float64)
    scores = metrics(result)
    assert scores["mae"] == pytest.approx(np.abs(residuals).mean())
    assert scores["rmse"] == pytest.approx(np.sqrt((residuals**2).mean()))
    total = ((y - y.mean()) ** 2).sum()
    assert scores["r2"] == pytest.approx(1 - (residuals**2).sum() / total)


def test_slices_are_worst_first_and_worst_rows_have_the_highest_loss(demo):
    result = predict(demo, "breast-cancer@3", "breast-cancer-test@1")
    found = slices(result)
    assert found and [s.metric for s in found] == sorted((s.metric for s in found), reverse=True)
    assert all(s.column not in ("sample_id", "diagnosis") for s in found)
    assert all(s.count >= 5 for s in found)
    # Each slice knows its rows: they are the rows whose value falls in its bin.
    worst = found[0]
    values = np.asarray(result.table.column(worst.column).to_numpy(), dtype=float)
    low, high = (float(x) for x in worst.description.strip("[])").split(", "))
    assert len(worst.rows) == worst.count
    assert np.all(
        (values[worst.rows] >= low - 1e-3 * abs(low)) & (values[worst.rows] <= high * 1.001)
    )
    errors = result.predicted[worst.rows] != result.y_true[worst.rows]
    assert errors.mean() == pytest.approx(worst.metric)
    assert "rows" not in worst.to_dict()
    rows = worst_rows(result, 5)
    losses = [row["loss"] for row in rows]
    assert losses == sorted(losses, reverse=True)
    chosen = result.probabilities[np.arange(len(result.y_true)), result.y_true]
    assert losses[0] == pytest.approx(-np.log(chosen.min()))


def test_scoring_the_training_data_is_flagged(demo, run_cli):
    result = run_cli("--catalog", demo.path, "debug", "diabetes@1", "diabetes-train@1", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert "trained on" in report["warning"]
    assert len(report["worst_slices"]) == 5
    text = run_cli("--catalog", demo.path, "debug", "digits@1", "digits-test@1")
    assert "accuracy" in text.out and text.err == ""


def test_a_dataset_without_the_models_columns(demo, csv_file):
    import_dataset(demo, csv_file("a,b,diagnosis\n1,2,0\n"), name="other", label="diagnosis")
    with pytest.raises(BadInputError, match="lacks column.*'mean radius'"):
        predict(demo, "breast-cancer@1", "other@1")


def test_text_fed_to_a_numeric_input(demo, tmp_path):
    table = pa_csv.read_csv(DEMO / "data/diabetes-test.csv")
    text = table.set_column(3, "bmi", table.column("bmi").cast("string"))
    text = text.set_column(3, "bmi", [[f"bmi {v}" for v in table.column("bmi").to_pylist()]])
    pa_csv.write_csv(text, tmp_path / "text.csv")
    import_dataset(demo, tmp_path / "text.csv", name="texty", label="progression")
    with pytest.raises(BadInputError, match="column 'bmi' of texty@1 is text"):
        predict(demo, "diabetes@1", "texty@1")


def test_missing_values_a_linear_model_cannot_take(demo, tmp_path):
    lines = (DEMO / "data/diabetes-test.csv").read_text().splitlines()
    header = lines[0].split(",")
    column = header.index('"bmi"') if '"bmi"' in header else header.index("bmi")
    for row in (3, 7):
        cells = lines[row].split(",")
        cells[column] = ""
        lines[row] = ",".join(cells)
    (tmp_path / "holes.csv").write_text("\n".join(lines) + "\n")
    import_dataset(demo, tmp_path / "holes.csv", name="holes", label="progression")
    with pytest.raises(BadInputError, match=r"2 row\(s\) of holes@1 \(first: row 2\)"):
        predict(demo, "diabetes@1", "holes@1")


@pytest.mark.parametrize(
    ("value", "shown"), [("2", "label 2 in row 3"), ("", "label None in row 3")]
)
def test_a_label_outside_the_models_classes_is_named_with_its_row(demo, tmp_path, value, shown):
    from modeldesk.datasets.importer import import_dataset
    from modeldesk.resources import resources_dir

    lines = (resources_dir() / "demo" / "data" / "breast-cancer-test.csv").read_text().splitlines()
    header = lines[0].split(",")
    at = header.index('"diagnosis"')
    cells = lines[4].split(",")  # data row 3
    cells[at] = value
    lines[4] = ",".join(cells)
    path = tmp_path / "odd-labels.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    import_dataset(demo, path, name="odd-labels", label="diagnosis")
    with pytest.raises(BadInputError, match=shown):
        predict(demo, "breast-cancer@1", "odd-labels@1")
