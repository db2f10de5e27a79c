"""Drift of field captures against the training data: the measures agree with scipy and
with their definitions computed here, the reading follows the sample size, images are
compared by per-image statistics, and a model without training data is refused."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest
from scipy import stats as scipy_stats

from modeldesk.field import drift_stats
from modeldesk.field.drift import drift_against, interpret
from modeldesk.field.reference import build_reference
from modeldesk.resources import resources_dir

DEMO = resources_dir() / "demo"


def _csv(name: str) -> pa.Table:
    return pa_csv.read_csv(DEMO / "data" / name)


def _capture(tmp_path, table: pa.Table, lab_columns: dict[str, np.ndarray]) -> str:
    columns = {name: table.column(name) for name in table.column_names if name != "sample_id"}
    columns |= lab_columns
    columns["timestamp"] = np.arange(table.num_rows, dtype=np.float64) + 1.8e9
    path = tmp_path / "field.csv"
    pa_csv.write_csv(pa.table(columns), path)
    return str(path)


def test_drift_measures_agree_with_scipy_and_their_definitions(demo, run_cli, tmp_path):
    import onnxruntime as ort

    train = _csv("breast-cancer-train-v2.csv")  # what breast-cancer@2 was trained on
    field = _csv("breast-cancer-test.csv")
    shifted = pa.array(field.column("mean radius").to_numpy() + 5.0)  # a miscalibrated sensor
    field = field.set_column(field.column_names.index("mean radius"), "mean radius", shifted)
    features = [n for n in field.column_names if n not in ("sample_id", "diagnosis")]
    matrix = np.column_stack([field.column(n).to_numpy() for n in features]).astype(np.float32)
    session = ort.InferenceSession(str(DEMO / "models" / "breast-cancer-v2.onnx"))
    label, probabilities = session.run(None, {"X": matrix})
    path = _capture(tmp_path, field.drop_columns(["diagnosis"]), {
        "output:label": label, "output:probabilities[0]": probabilities[:, 0],
        "output:probabilities[1]": probabilities[:, 1]})  # fmt: skip
    imported = run_cli("--catalog", demo.path, "field", "import", path, "--model",
                       "breast-cancer@2", "--json")  # fmt: skip
    assert imported.code == 0, imported.err
    capture = json.loads(imported.out)["id"]
    shown = run_cli("--catalog", demo.path, "field", "drift", str(capture), "--json")
    assert shown.code == 0, shown.err
    found = json.loads(shown.out)
    assert found["reference"] == "breast-cancer-train@2" and found["rows"] == field.num_rows
    assert found["reference_sample_rows"] == train.num_rows  # under 10,000: the sample is all
    by_name = {item["feature"]: item for item in found["features"]}
    assert set(by_name) == set(features)
    for name in ("mean radius", "mean texture", "worst area"):
        item, lab, ref = by_name[name], field.column(name).to_numpy(), train.column(name).to_numpy()
        expected = scipy_stats.ks_2samp(lab, ref)
        assert item["ks"]["statistic"] == pytest.approx(expected.statistic, abs=1e-12)
        asymptotic = scipy_stats.ks_2samp(lab, ref, method="asymp").pvalue
        assert item["ks"]["p_value"] == pytest.approx(asymptotic, abs=0.02)
        assert item["wasserstein"] == pytest.approx(
            scipy_stats.wasserstein_distance(lab, ref), rel=0.02
        )
        # PSI over the training deciles, from its definition.
        edges = np.unique(np.quantile(ref, np.linspace(0, 1, 11)[1:-1]))
        expected_share = np.bincount(np.searchsorted(edges, ref, "right"), minlength=len(edges) + 1)
        actual_share = np.bincount(np.searchsorted(edges, lab, "right"), minlength=len(edges) + 1)
        e = (expected_share / len(ref) + 1e-4) / (1 + 1e-4 * len(expected_share))
        a = (actual_share / len(lab) + 1e-4) / (1 + 1e-4 * len(actual_share))
        assert item["psi"] == pytest.approx(float(np.sum((a - e) * np.log(a / e))))
    radius = by_name["mean radius"]
    assert radius["direction"] == "higher" and radius["interpretation"] == "large drift"
    assert radius["outside_dictionary_range"] > 0  # +5 pushes some past the training maximum
    assert by_name["mean texture"]["interpretation"] != "large drift"
    ranks = [item["score"] for item in found["features"]]
    assert ranks == sorted(ranks, reverse=True)
    assert found["weights"].startswith("equal weights")  # no explanation of @2 is stored
    text = run_cli("--catalog", demo.path, "field", "drift", str(capture), "--top", "3")
    assert "mean radius" in text.out and "large drift" in text.out


def test_categories_are_tested_with_chi_squared():
    rng = np.random.default_rng(3)
    reference = pa.table({"colour": rng.choice(["red", "green", "blue"], 5000, p=[0.5, 0.3, 0.2])})
    profile = build_reference(reference, ["colour"], image=False, dataset="t@1", ranges={})
    field = pa.table({"colour": rng.choice(["red", "green", "blue", "mauve"], 4000,
                                           p=[.3, .3, .3, .1])})  # fmt: skip
    (item,) = drift_against(profile, field.to_batches(max_chunksize=1000), {"colour": 1.0},
                            total_rows=field.num_rows)  # fmt: skip
    observed = [[profile["features"]["colour"]["categories"][c] for c in ("red", "green", "blue")]
                + [0]]  # fmt: skip
    counts = dict(zip(*np.unique(field.column("colour").to_numpy(zero_copy_only=False),
                                 return_counts=True), strict=True))  # fmt: skip
    observed.append([counts["red"], counts["green"], counts["blue"], counts["mauve"]])
    chi2, p_value, _, _ = scipy_stats.chi2_contingency(np.array(observed), correction=False)
    assert item["chi_squared"]["statistic"] == pytest.approx(chi2)
    assert item["chi_squared"]["p_value"] == pytest.approx(p_value, rel=1e-6, abs=1e-300)
    assert item["unseen_categories"] == ["mauve"] and item["interpretation"] == "large drift"


def test_the_reading_weighs_effect_against_evidence():
    reference = np.random.default_rng(1).normal(size=100_000)
    profile = build_reference(pa.table({"x": reference}), ["x"], image=False, dataset="r@1",
                              ranges={})  # fmt: skip
    rng = np.random.default_rng(2)
    many = pa.table({"x": rng.normal(0.03, 1.0, 1_000_000)})  # a tiny shift, a million rows
    (tiny,) = drift_against(profile, many.to_batches(max_chunksize=131_072), {"x": 1.0},
                            total_rows=many.num_rows)  # fmt: skip
    assert tiny["ks"]["p_value"] < 0.05 and tiny["psi"] < 0.1
    assert tiny["interpretation"] == "significant but tiny"
    # Five rows, all above the median: a large effect the capture is too short to prove.
    few = pa.table({"x": np.quantile(reference, [0.55, 0.65, 0.75, 0.85, 0.95])})
    (uncertain,) = drift_against(profile, few.to_batches(), {"x": 1.0}, total_rows=5)
    assert uncertain["psi_noise"] == pytest.approx(9 * (1 / 5 + 1 / 100_000))
    assert uncertain["psi"] > uncertain["psi_noise"] and uncertain["ks"]["p_value"] > 0.05
    assert uncertain["interpretation"] == "large but uncertain"
    assert interpret({"psi": 0.5, "psi_noise": 0.01, "ks": {"p_value": 0.3}}) == (
        "large but uncertain"
    )


def test_p_values_agree_with_scipy():
    for statistic, n, m in ((0.05, 1000, 800), (0.2, 50, 10_000), (0.01, 10**6, 10**4)):
        en = np.sqrt(n * m / (n + m))
        corrected = (en + 0.12 + 0.11 / en) * statistic
        assert drift_stats.ks_p_value(statistic, n, m) == pytest.approx(
            scipy_stats.kstwobign.sf(corrected), abs=1e-9
        )
    for statistic, dof in ((3.2, 1), (40.0, 7), (0.5, 12), (200.0, 49)):
        assert drift_stats._upper_gamma(dof / 2, statistic / 2) == pytest.approx(
            scipy_stats.chi2.sf(statistic, dof), rel=1e-9
        )


def test_images_drift_by_per_image_statistics(demo, run_cli, tmp_path):
    import onnxruntime as ort

    field = _csv("digits-test.csv")
    pixels = [n for n in field.column_names if n.startswith("pixel_")]
    darker = {n: pa.array(field.column(n).to_numpy() * 0.5) for n in pixels}  # a dim camera
    table = pa.table({n: darker.get(n, field.column(n)) for n in field.column_names})
    matrix = np.column_stack([table.column(n).to_numpy() for n in pixels]).astype(np.float32)
    session = ort.InferenceSession(str(DEMO / "models" / "digits-v2.onnx"))
    label, probabilities = session.run(None, {"X": matrix})
    outputs = {"output:label": label} | {
        f"output:probabilities[{j}]": probabilities[:, j] for j in range(10)
    }
    path = _capture(tmp_path, table.drop_columns(["label"]) if "label" in table.column_names
                    else table, outputs)  # fmt: skip
    imported = run_cli("--catalog", demo.path, "field", "import", path, "--model", "digits@2",
                       "--json")  # fmt: skip
    assert imported.code == 0, imported.err
    found = json.loads(
        run_cli(
            "--catalog", demo.path, "field", "drift", str(json.loads(imported.out)["id"]), "--json"
        ).out
    )
    assert found["image_statistics"] is True
    by_name = {item["feature"]: item for item in found["features"]}
    assert set(by_name) == {"mean", "std", "brightness"}
    assert by_name["brightness"]["direction"] == "lower"
    assert by_name["brightness"]["interpretation"] == "large drift"


def test_a_model_without_training_data_is_refused(demo, run_cli, tmp_path):
    from modeldesk.models.importer import import_model

    model = import_model(demo, DEMO / "models" / "breast-cancer-v2.onnx", name="orphan").version
    field = _csv("breast-cancer-test.csv")
    session_outputs = {"output:label": np.zeros(field.num_rows, dtype=np.int64)}
    path = _capture(tmp_path, field.drop_columns(["diagnosis"]), session_outputs)
    imported = run_cli("--catalog", demo.path, "field", "import", path, "--model", model.ref,
                       "--json")  # fmt: skip
    assert imported.code == 0, imported.err
    refused = run_cli("--catalog", demo.path, "field", "drift",
                      str(json.loads(imported.out)["id"]))  # fmt: skip
    assert refused.code == 2
    assert "names no training dataset version" in refused.err
    assert len(refused.err.strip().splitlines()) == 1


def test_estimated_accuracy_from_probabilities_and_realised_with_labels(demo, run_cli, tmp_path):
    import onnxruntime as ort

    field = _csv("breast-cancer-test.csv")
    features = [n for n in field.column_names if n not in ("sample_id", "diagnosis")]
    matrix = np.column_stack([field.column(n).to_numpy() for n in features]).astype(np.float32)
    session = ort.InferenceSession(str(DEMO / "models" / "breast-cancer-v2.onnx"))
    label, probabilities = session.run(None, {"X": matrix})
    truth = field.column("diagnosis").to_numpy()
    table = field.drop_columns(["diagnosis"]).append_column("label", pa.array(truth))
    path = _capture(tmp_path, table, {"output:label": label,
                    "output:probabilities[0]": probabilities[:, 0],
                    "output:probabilities[1]": probabilities[:, 1]})  # fmt: skip
    imported = run_cli("--catalog", demo.path, "field", "import", path, "--model",
                       "breast-cancer@2", "--json")  # fmt: skip
    capture = str(json.loads(imported.out)["id"])
    shown = run_cli("--catalog", demo.path, "field", "estimate", capture, "--json")
    assert shown.code == 0, shown.err
    found = json.loads(shown.out)
    confidence = probabilities.max(axis=1).astype(np.float64)
    expected = confidence.mean()
    spread = 1.959963984540054 * np.sqrt(np.sum(confidence * (1 - confidence))) / len(truth)
    assert found["estimated"]["accuracy"] == pytest.approx(expected, rel=1e-6)
    assert found["estimated"]["interval"] == pytest.approx([expected - spread, expected + spread])
    positive = probabilities[:, 1].astype(np.float64)
    chosen = positive >= 0.5
    tp, fp = positive[chosen].sum(), (1 - positive[chosen]).sum()
    assert found["estimated"]["precision"] == pytest.approx(tp / (tp + fp), rel=1e-6)
    realised = found["realised"]
    assert realised["accuracy"] == pytest.approx(np.mean(probabilities.argmax(1) == truth))
    assert realised["rows"] == len(truth) and realised["labelled_share"] == 1.0
    train = _csv("breast-cancer-train-v2.csv")
    train_matrix = np.column_stack([train.column(n).to_numpy() for n in features])
    _, train_probabilities = session.run(None, {"X": train_matrix.astype(np.float32)})
    check = found["calibration_check"]
    assert check["dataset"] == "breast-cancer-train@2"
    assert check["estimated"]["accuracy"] == pytest.approx(
        train_probabilities.max(axis=1).mean(), rel=1e-5
    )
    assert check["realised"]["accuracy"] == pytest.approx(
        np.mean(train_probabilities.argmax(1) == train.column("diagnosis").to_numpy())
    )
    # Rows beyond the training range are warned about: the estimate was never calibrated there.
    outside = float(np.mean(np.any((matrix < train_matrix.min(0)) | (matrix > train_matrix.max(0)),
                                   axis=1)))  # fmt: skip
    assert found["outside_training_range"] == pytest.approx(outside)
    assert bool(found["warnings"]) == (outside > 0.05)
    text = run_cli("--catalog", demo.path, "field", "estimate", capture)
    assert "estimated accuracy:" in text.out and "realised accuracy:" in text.out


def test_a_regressor_has_nothing_to_estimate(demo, run_cli, tmp_path):
    import onnxruntime as ort

    field = _csv("diabetes-test.csv")
    features = [n for n in field.column_names if n not in ("sample_id", "progression")]
    model = DEMO / "models" / "diabetes-v1.onnx"
    session = ort.InferenceSession(str(model))
    width = session.get_inputs()[0].shape[1]
    matrix = np.column_stack([field.column(n).to_numpy() for n in features[:width]])
    (value,) = session.run(None, {"X": matrix.astype(np.float32)})
    table = pa.table({n: field.column(n) for n in features[:width]})
    path = _capture(tmp_path, table, {"output:variable": value[:, 0]})
    imported = run_cli("--catalog", demo.path, "field", "import", path, "--model", "diabetes@1",
                       "--json")  # fmt: skip
    assert imported.code == 0, imported.err
    refused = run_cli("--catalog", demo.path, "field", "estimate",
                      str(json.loads(imported.out)["id"]))  # fmt: skip
    assert refused.code == 2 and "gives no class probabilities" in refused.err
