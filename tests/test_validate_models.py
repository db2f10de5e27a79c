"""Validation on the model families people ship, with no wrapper code: an XGBoost
classifier from onnxmltools, a multi-input skl2onnx pipeline with a text input, and a
regressor. (The skl2onnx ``label``/``probabilities`` classifier and the LightGBM
classifier and regressor are the demo's models, run in test_validate_run.py.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modeldesk.datasets.importer import import_dataset
from modeldesk.datasets.registry import get_dataset_version
from modeldesk.models.importer import import_model
from modeldesk.validate.registry import add_suite
from modeldesk.validate.run import run_suite
from modeldesk.validate.stats import FAIL, INCONCLUSIVE, PASS


def _outcome(run, check_id: str):
    return next(result for result in run.results if result.id == check_id)


def test_an_xgboost_classifier_from_onnxmltools(demo, tmp_path):
    import pandas as pd
    import xgboost
    from onnxmltools import convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType

    from modeldesk.resources import resources_dir

    train = pd.read_csv(resources_dir() / "demo" / "data" / "breast-cancer-train-v2.csv")
    x = train.drop(columns=["sample_id", "diagnosis"]).to_numpy(np.float32)
    y = train["diagnosis"].to_numpy(int)
    native = xgboost.XGBClassifier(n_estimators=40, max_depth=3, random_state=0).fit(x, y)
    onnx_model = convert_xgboost(native, initial_types=[("input", FloatTensorType([None, 30]))])
    path = tmp_path / "xgb.onnx"
    path.write_bytes(onnx_model.SerializeToString())
    test = get_dataset_version(demo, "breast-cancer-test@1")
    imported = import_model(
        demo, path, name="breast-cancer-xgb", label="diagnosis", classes=["malignant", "benign"]
    )
    suite = f"""[suite]
name = "xgb-gate"
model = "breast-cancer-xgb"
dataset = "breast-cancer-test@1"

[[check]]
id = "accuracy"
kind = "metric"
metric = "accuracy"
min = 0.85

[[check]]
id = "auc"
kind = "metric"
metric = "roc_auc"
min = 0.9

[[check]]
id = "slices"
kind = "slices"
column = "mean radius"
metric = "accuracy"
min = 0.6
bins = 3
min_rows = 20

[[check]]
id = "not-worse-than-lightgbm"
kind = "champion"
baseline = "breast-cancer@2"
metric = "accuracy"
margin = 0.1

[[check]]
id = "texture-noise"
kind = "invariance"
columns = ["mean texture"]
perturbation = "noise"
scale = 0.05
max_flip_rate = 0.1

[[check]]
id = "parity-with-itself"
kind = "parity"
reference = "{imported.version.ref}"
atol = 1e-6
max_flip_rate = 0.0
"""
    stored, _ = add_suite(demo, suite)
    run = run_suite(demo, stored, imported.version.ref)
    verdicts = {result.id: result.verdict for result in run.results}
    assert verdicts["accuracy"] == PASS, _outcome(run, "accuracy").message
    assert verdicts["auc"] == PASS, _outcome(run, "auc").message
    assert verdicts["parity-with-itself"] == PASS
    assert 0.85 < _outcome(run, "accuracy").value <= 1.0
    assert _outcome(run, "not-worse-than-lightgbm").evidence["baseline"] == "breast-cancer@2"
    perturbed = _outcome(run, "texture-noise").rows
    # The candidate and the champion each predict the test rows once; noise adds its rows.
    assert run.rows_predicted == 2 * test.rows + perturbed


MIXED_ROWS = 400


def _mixed_csv(path: Path) -> Path:
    """Customers with two numbers and a text region; churn depends on age and income."""
    rng = np.random.default_rng(7)
    age = rng.integers(18, 90, MIXED_ROWS)
    income = rng.normal(50, 15, MIXED_ROWS).round(2)
    region = rng.choice(["north", "south", "east"], MIXED_ROWS)
    score = 0.08 * (age - 50) - 0.1 * (income - 50) + rng.normal(0, 0.5, MIXED_ROWS)
    churn = np.where(score > 0, "yes", "no")
    lines = ["age,income,region,churn"] + [
        f"{a},{i},{r},{c}" for a, i, r, c in zip(age, income, region, churn, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _multi_input_pipeline(csv: Path, out: Path) -> Path:
    """A standard skl2onnx pipeline with one input per column, one of them text."""
    import pandas as pd
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = pd.read_csv(csv)
    frame[["age", "income"]] = frame[["age", "income"]].astype(np.float32)
    pipeline = Pipeline(
        [
            (
                "columns",
                ColumnTransformer(
                    [
                        ("numbers", StandardScaler(), ["age", "income"]),
                        ("region", OneHotEncoder(handle_unknown="ignore"), ["region"]),
                    ]
                ),
            ),
            ("classifier", LogisticRegression(max_iter=500)),
        ]
    ).fit(frame[["age", "income", "region"]], frame["churn"])
    types = [
        ("age", FloatTensorType([None, 1])),
        ("income", FloatTensorType([None, 1])),
        ("region", StringTensorType([None, 1])),
    ]
    onnx_model = to_onnx(pipeline, initial_types=types, options={"zipmap": False})
    out.write_bytes(onnx_model.SerializeToString())
    return out


@pytest.fixture
def churn(catalog, tmp_path):
    """A catalog with the customers and two versions of a multi-input churn model."""
    csv = _mixed_csv(tmp_path / "customers.csv")
    import_dataset(catalog, csv, name="customers", label="churn")
    model_path = _multi_input_pipeline(csv, tmp_path / "churn.onnx")
    import_model(catalog, model_path, name="churn", label="churn", trained_on="customers@1")
    return catalog


def test_a_multi_input_pipeline_with_a_text_input(churn):
    suite = """[suite]
name = "churn-gate"
model = "churn"
dataset = "customers@1"

[[check]]
id = "accuracy"
kind = "metric"
metric = "accuracy"
min = 0.7

[[check]]
id = "older-north"
kind = "metric"
metric = "accuracy"
min = 0.5
where = 'age >= 65 and region == "north"'

[[check]]
id = "regions"
kind = "slices"
column = "region"
metric = "accuracy"
min = 0.6
min_rows = 30

[[check]]
id = "region-swap"
kind = "invariance"
columns = ["region"]
perturbation = "swap"
max_flip_rate = 0.5

[[check]]
id = "income-lowers-churn"
kind = "direction"
column = "income"
step = 5.0
expect = "decrease"
output = "yes"
min_share = 0.9

[[check]]
id = "known-regions"
kind = "data"
allowed = { region = ["north", "south", "east"] }
ranges = { age = [18, 90] }
"""
    stored, _ = add_suite(churn, suite)
    run = run_suite(churn, stored, "churn@1")
    verdicts = {result.id: result.verdict for result in run.results}
    # A small slice: the older northerners may be too few to decide, never a failure.
    assert verdicts.pop("older-north") in (PASS, INCONCLUSIVE)
    assert verdicts == {
        "accuracy": PASS,
        "regions": PASS,
        "region-swap": PASS,
        "income-lowers-churn": PASS,
        "known-regions": PASS,
    }, [r.message for r in run.results]
    older = _outcome(run, "older-north")
    assert 0 < older.rows < MIXED_ROWS  # the filter kept the older northerners only
    slices = _outcome(run, "regions").evidence["slices"]
    assert sorted(s["slice"] for s in slices) == ["= east", "= north", "= south"]
    perturbed = _outcome(run, "region-swap").rows + _outcome(run, "income-lowers-churn").rows
    assert run.rows_predicted == MIXED_ROWS + perturbed


def test_a_wrong_expectation_on_the_multi_input_model_fails_with_its_rows(churn):
    suite = """[suite]
name = "churn-wrong"
model = "churn"
dataset = "customers@1"

[[check]]
id = "income-raises-churn"
kind = "direction"
column = "income"
step = 5.0
expect = "increase"
output = "yes"
min_share = 0.9
"""
    stored, _ = add_suite(churn, suite)
    result = run_suite(churn, stored, "churn@1").results[0]
    assert result.verdict == FAIL
    breaking = result.evidence["rows"]
    assert breaking and all(row["after"] < row["before"] for row in breaking)


def test_a_regressor_from_the_demo_with_error_bounds(demo):
    suite = """[suite]
name = "diabetes-bounds"
model = "diabetes"
dataset = "diabetes-test@1"

[[check]]
id = "mae"
kind = "metric"
metric = "mae"
max = 80

[[check]]
id = "r2-impossible"
kind = "metric"
metric = "r2"
min = 0.99

[[check]]
id = "bmi-noise"
kind = "invariance"
columns = ["bmi"]
perturbation = "noise"
scale = 0.01
max_abs_change = 30
"""
    stored, _ = add_suite(demo, suite)
    run = run_suite(demo, stored, "diabetes@1")
    verdicts = {result.id: result.verdict for result in run.results}
    assert verdicts == {"mae": PASS, "r2-impossible": FAIL, "bmi-noise": PASS}, [
        r.message for r in run.results
    ]
    interval = _outcome(run, "mae").interval
    assert interval.low < _outcome(run, "mae").value < interval.high
