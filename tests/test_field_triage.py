"""Triage of a field capture: the rows that part from the lab or leave the training range
come first, each with its nearest training row (checked by brute force here) and SHAP
values for both."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pyarrow as pa
import pyarrow.csv as pa_csv

from modeldesk.resources import resources_dir

DEMO = resources_dir() / "demo"
REF = "breast-cancer@3"  # a tree ensemble: exact TreeSHAP explains its rows


def test_the_rows_to_look_at_first_come_with_their_nearest_training_row(demo, run_cli, tmp_path):
    table = pa_csv.read_csv(DEMO / "data" / "breast-cancer-test.csv")
    features = [n for n in table.column_names if n not in ("sample_id", "diagnosis")]
    matrix = np.column_stack([table.column(n).to_numpy() for n in features])
    broken, strange = 7, 11
    far = ["mean area", "worst area", "area error", "mean radius", "worst radius", "mean texture"]
    for name in far:  # far past anything trained on
        matrix[strange, features.index(name)] *= 50
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(DEMO / "models" / "breast-cancer-v3.onnx"), options)
    _label, probabilities = session.run(None, {"X": matrix.astype(np.float32)})
    device = probabilities.copy()
    device[broken] = device[broken][::-1]  # the device answered the other way round
    columns = {n: matrix[:, j] for j, n in enumerate(features)}
    columns |= {"output:probabilities[0]": device[:, 0], "output:probabilities[1]": device[:, 1],
                "timestamp": np.arange(len(matrix)) + 1.8e9}  # fmt: skip
    path = tmp_path / "field.csv"
    pa_csv.write_csv(pa.table(columns), path)
    imported = run_cli("--catalog", demo.path, "field", "import", path, "--model", REF, "--json")
    assert imported.code == 0, imported.err
    capture = str(json.loads(imported.out)["id"])

    rows = str(len(matrix))
    shown = run_cli("--catalog", demo.path, "field", "triage", capture, "--top", rows, "--json")
    assert shown.code == 0, shown.err
    found = json.loads(shown.out)
    ranked = found["triage"]
    assert len(ranked) == len(matrix)
    # The one row beyond parity tolerance comes first, whatever the other signals say.
    assert ranked[0]["row"] == broken
    assert ranked[0]["reasons"][0].startswith("parity error")
    flipped = np.argmax(device[broken]) != np.argmax(probabilities[broken])
    assert ranked[0]["flipped"] == bool(flipped)
    scores = [item["score"] for item in ranked[1:]]
    assert scores == sorted(scores, reverse=True)
    listed = {item["row"]: item for item in ranked}
    assert set(far) <= set(listed[strange]["features_outside"])
    # Outside the range on more features than any other row: in the top tenth.
    assert [item["row"] for item in ranked].index(strange) < len(ranked) / 10
    listed = {row: listed[row] for row in [broken, strange, *(i["row"] for i in ranked[1:4])]}

    train = pa_csv.read_csv(DEMO / "data" / "breast-cancer-train-v2.csv")
    lab = np.column_stack([train.column(n).to_numpy() for n in features])
    scale = lab.std(axis=0)
    for row, item in listed.items():
        distances = np.sqrt((((lab - matrix[row].astype(np.float32)) / scale) ** 2).sum(axis=1))
        nearest = item["nearest_training_row"]
        assert nearest["dataset"] == "breast-cancer-train@2"
        assert nearest["row"] == int(np.argmin(distances))
        assert abs(nearest["distance_in_std"] - distances.min()) < 1e-3 * max(1, distances.min())
        shap = item["shap"]
        assert len(shap["field"]) == len(shap["nearest"]) == len(features)
    assert found["explanations"] == "tree"
    # TreeSHAP adds up: base plus the values is the model's margin for the strange row.
    item = listed[strange]
    margin = item["shap"]["field_base"] + sum(item["shap"]["field"])
    probability = probabilities[strange, 1]
    assert abs(margin - np.log(probability / (1 - probability))) < 1e-3
    text = run_cli("--catalog", demo.path, "field", "triage", capture, "--top", "3")
    assert "nearest training row" in text.out and "std away" in text.out


def test_the_report_is_one_self_contained_file_with_every_analysis(demo, run_cli, tmp_path):
    import re

    table = pa_csv.read_csv(DEMO / "data" / "breast-cancer-test.csv")
    features = [n for n in table.column_names if n not in ("sample_id", "diagnosis")]
    matrix = np.column_stack([table.column(n).to_numpy() for n in features]).astype(np.float32)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(DEMO / "models" / "breast-cancer-v3.onnx"), options)
    _label, probabilities = session.run(None, {"X": matrix})
    columns = {n: matrix[:, j] for j, n in enumerate(features)}
    columns |= {"output:probabilities[0]": probabilities[:, 0],
                "output:probabilities[1]": probabilities[:, 1],
                "timestamp": np.arange(len(matrix)) + 1.8e9}  # fmt: skip
    folder = tmp_path / "device"
    folder.mkdir()
    pa_csv.write_csv(pa.table(columns), folder / "field.csv")
    hostile = "<script>alert('x')</script> tablet"
    (folder / "capture.json").write_text(json.dumps({"profile": "ward-tablet", "device": hostile}))
    imported = run_cli("--catalog", demo.path, "field", "import", folder / "field.csv",
                       "--model", REF, "--json")  # fmt: skip
    assert imported.code == 0, imported.err
    capture = str(json.loads(imported.out)["id"])

    page = tmp_path / "report.html"
    made = run_cli("--catalog", demo.path, "field", "report", capture, "--out", page)
    assert made.code == 0, made.err
    text = page.read_text()
    for title in ("Parity: ", "Which model: best breast-cancer@3", "Drift against",
                  "Estimated performance", "Rows to look at first"):  # fmt: skip
        assert title in text
    assert hostile not in text and html_escaped(hostile) in text
    # Nothing to fetch: no script, no link, no image source; the only URL is SVG's namespace.
    assert not re.search(r"<script|\bsrc=|\bhref=|url\(|@import", text)
    assert set(re.findall(r"https?://[^\s\"'<>]+", text)) == {"http://www.w3.org/2000/svg"}
    assert text.count("<svg") >= 1
    notes = tmp_path / "report.md"
    assert run_cli("--catalog", demo.path, "field", "report", capture, "--out", notes).code == 0
    markdown = notes.read_text()
    assert "## Parity: " in markdown and "| feature | PSI |" in markdown
    wrong = run_cli("--catalog", demo.path, "field", "report", capture, "--out", tmp_path / "r.pdf")
    assert wrong.code == 2 and not (tmp_path / "r.pdf").exists()
    bad = run_cli("--catalog", demo.path, "field", "import", folder / "field.csv", "--model", REF,
                  "--device", "tablet\x1b[2J")  # fmt: skip
    assert bad.code == 2 and "--device must be printable text" in bad.err


def html_escaped(text: str) -> str:
    import html

    return html.escape(text)
