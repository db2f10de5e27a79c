"""Field captures: recorded on a "device" (the recorder around a real ONNX Runtime
session), imported, replayed through the exact model (parity); bad captures refused
with one line and nothing stored. Expected figures are derived here from the rows."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest

from modeldesk.resources import resources_dir

from helpers import catalog_snapshot

DEMO = resources_dir() / "demo"
MODEL = DEMO / "models" / "breast-cancer-v2.onnx"
REF = "breast-cancer@2"


def _test_rows() -> tuple[list[str], np.ndarray]:
    table = pa_csv.read_csv(DEMO / "data" / "breast-cancer-test.csv")
    features = [name for name in table.column_names if name not in ("sample_id", "diagnosis")]
    return features, np.column_stack([table.column(n).to_numpy() for n in features])


def _recorder():
    # The recorder is the one file a device copies: load it as a device would, by path.
    sys.path.insert(0, str(Path(__file__).parent.parent / "core" / "field"))
    try:
        import capture
    finally:
        sys.path.pop(0)
    return capture


def test_a_recorded_capture_replays_within_tolerance(demo, run_cli, tmp_path):
    import ast

    source = (Path(__file__).parent.parent / "core" / "field" / "capture.py").read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            imported.add((node.module or "").split(".")[0])
    # What a device has: the standard library, numpy and onnxruntime (given the session).
    assert imported - set(sys.stdlib_module_names) == {"numpy"}
    recorder_module = _recorder()

    session = ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])
    _, matrix = _test_rows()
    batch = matrix.astype(np.float32)
    folder = tmp_path / "device"
    recorder = recorder_module.CaptureRecorder(
        session, folder, model_path=MODEL, device="ward-tablet-07", max_rows=4000, max_files=2
    )
    for _ in range(60):  # 60 x 171 rows, 24 batches a file: three files, the newest two kept
        outputs = recorder.run(None, {"X": batch})
    recorder.close()
    assert outputs[1].shape == (len(batch), 2)
    files = sorted(folder.glob("capture-*.npz"))
    assert [f.name for f in files] == ["capture-000002.npz", "capture-000003.npz"]
    manifest = json.loads((folder / "capture.json").read_text())
    assert manifest["device"] == "ward-tablet-07" and manifest["release"] is None

    shown = run_cli("--catalog", demo.path, "field", "import", files[0], "--json")
    assert shown.code == 0, shown.err
    capture = json.loads(shown.out)
    rows = 24 * len(batch)  # a file is written once 4,000 rows are buffered: 24 batches
    assert capture["model"] == REF and capture["rows"] == rows
    assert capture["outputs"] == {"label": 1, "probabilities": 2}
    assert capture["device"] == "ward-tablet-07" and len(capture["features"]) == 30

    replayed = run_cli("--catalog", demo.path, "field", "parity", str(capture["id"]), "--json")
    assert replayed.code == 0, replayed.err
    found = json.loads(replayed.out)
    assert found["outputs"]["label"]["decision"] == "label"
    assert found["outputs"]["probabilities"]["decision"] == "argmax"
    assert found["checks"]["flips"]["count"] == 0 and found["outputs"]["label"]["flips"] == 0
    assert found["checks"]["beyond_tolerance"]["count"] == 0
    # 0 of 4,104 rows: Wilson's upper bound z^2 / (n + z^2) is under the 0.1 % limit.
    z2 = 1.959963984540054**2
    assert found["checks"]["flips"]["interval"][1] == pytest.approx(z2 / (rows + z2))
    assert found["verdict"] == "PASS"
    assert sum(w["rows"] for w in found["by_window"]) == rows
    assert found["by_device"] == [
        {"device": "ward-tablet-07", "rows": rows, "beyond": 0, "flips": 0,
         "max_abs_error": found["by_device"][0]["max_abs_error"]}
    ]  # fmt: skip
    assert run_cli("--catalog", demo.path, "field", "list").out.count(REF) == 1


def _lab(matrix: np.ndarray, model: Path = MODEL) -> tuple[np.ndarray, np.ndarray]:
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    label, probabilities = session.run(None, {"X": matrix.astype(np.float32)})
    return label, probabilities


def _csv_capture(path: Path, features: list[str], matrix: np.ndarray, label, probabilities,
                 times: list[str]) -> Path:  # fmt: skip
    columns = {name: matrix[:, j] for j, name in enumerate(features)}
    columns["output:label"] = label
    columns["output:probabilities[0]"] = probabilities[:, 0]
    columns["output:probabilities[1]"] = probabilities[:, 1]
    columns["timestamp"] = times
    pa_csv.write_csv(pa.table(columns), path)
    return path


def test_a_device_that_parts_from_the_lab_fails_parity(demo, run_cli, tmp_path):
    features, matrix = _test_rows()
    _, probabilities = _lab(matrix)
    rows = len(matrix)
    device = probabilities.astype(np.float64).copy()
    rng = np.random.default_rng(7)
    swapped = rng.choice(rows, size=rows // 5, replace=False)  # a device reading wrong bytes
    device[swapped] = device[swapped][:, ::-1]
    device_label = np.argmax(device, axis=1)
    start = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)
    times = [(start + dt.timedelta(minutes=i)).isoformat() for i in range(rows)]
    times[3], times[4] = times[4], times[3]  # recorded out of order
    path = _csv_capture(tmp_path / "field.csv", features, matrix, device_label, device, times)

    shown = run_cli("--catalog", demo.path, "field", "import", path, "--model", REF, "--json")
    assert shown.code == 0, shown.err
    capture = json.loads(shown.out)
    assert capture["warnings"] == ["timestamps were out of order; rows are sorted by time"]

    replayed = run_cli("--catalog", demo.path, "field", "parity", str(capture["id"]), "--json")
    assert replayed.code == 1
    found = json.loads(replayed.out)
    expected_flips = int(np.sum(np.argmax(device, 1) != np.argmax(probabilities, 1)))
    gap = np.abs(device - probabilities)
    expected_beyond = int(np.sum(np.any(gap > 1e-5 + 1e-4 * np.abs(probabilities), axis=1)))
    assert expected_flips > 0 and found["checks"]["flips"]["count"] == expected_flips
    assert found["checks"]["beyond_tolerance"]["count"] == expected_beyond
    assert found["outputs"]["probabilities"]["abs_error"]["max"] == pytest.approx(gap.max())
    assert found["verdict"] == "FAIL" and found["checks"]["flips"]["verdict"] == "FAIL"
    worst = found["worst_rows"][0]
    # The worst rows are flipped ones: their label output is one class away.
    assert worst["beyond"] and worst["flipped"] and worst["max_abs_error"] == 1.0
    assert found["outputs"]["label"]["flips"] == expected_flips
    text = run_cli("--catalog", demo.path, "field", "parity", str(capture["id"]))
    assert text.code == 1 and "parity: FAIL" in text.out

    # A looser tolerance on the command line changes what counts as beyond it.
    loose = run_cli("--catalog", demo.path, "field", "parity", str(capture["id"]), "--json",
                    "--atol", "1", "--max-flip-rate", "0.5")  # fmt: skip
    figures = json.loads(loose.out)
    assert figures["checks"]["beyond_tolerance"]["count"] == 0
    assert "--atol 1.0" in figures["tolerances"]["source"]


def test_which_names_the_model_a_device_really_runs(demo, run_cli, tmp_path):
    features, matrix = _test_rows()
    times = [f"2026-11-02T08:{i // 60:02d}:{i % 60:02d}Z" for i in range(len(matrix))]
    # The device says it runs breast-cancer@2, but answers as the older @1 does.
    stale = _lab(matrix, DEMO / "models" / "breast-cancer-v1.onnx")
    path = _csv_capture(tmp_path / "stale.csv", features, matrix, *stale, times)
    capture = json.loads(
        run_cli("--catalog", demo.path, "field", "import", path, "--model", REF, "--json").out
    )
    shown = run_cli("--catalog", demo.path, "field", "which", str(capture["id"]), "--json")
    assert shown.code == 1
    found = json.loads(shown.out)
    assert found["declared"] == REF and found["best"] == "breast-cancer@1"
    assert not found["matches_declared"] and found["clear"]
    ranked = [c["model"] for c in found["candidates"]]
    assert ranked[0] == "breast-cancer@1" and set(ranked) == {
        f"breast-cancer@{v}" for v in (1, 2, 3)
    }
    assert found["candidates"][0]["beyond_tolerance"] == 0
    # The declared model's errors are the difference between the two models' answers.
    own = next(c for c in found["candidates"] if c["model"] == REF)
    lab_now = _lab(matrix)[1]
    expected = int(np.sum(np.any(np.abs(stale[1] - lab_now) > 1e-5 + 1e-4 * np.abs(lab_now), 1)
                          | (stale[0] != _lab(matrix)[0])))  # fmt: skip
    assert own["beyond_tolerance"] == expected > 0
    skipped = {s["model"]: s["why"] for s in found["skipped"]}
    assert "gives 10 value(s) per row, the capture 2" in skipped["digits@2"]
    assert "has no output 'label'" in skipped["diabetes@1"]
    text = run_cli("--catalog", demo.path, "field", "which", str(capture["id"]))
    assert "best match, clearly: breast-cancer@1; the capture names breast-cancer@2" in text.out

    faithful = _csv_capture(tmp_path / "ok.csv", features, matrix, *_lab(matrix), times)
    capture = json.loads(
        run_cli("--catalog", demo.path, "field", "import", faithful, "--model", REF, "--json").out
    )
    shown = run_cli("--catalog", demo.path, "field", "which", str(capture["id"]), "--json")
    assert shown.code == 0 and json.loads(shown.out)["best"] == REF


def test_tolerances_follow_the_profiles_precision(demo, run_cli, tmp_path):
    assert run_cli("--catalog", demo.path, "profile", "add", "npu-int8", "--precision",
                   "int8").code == 0  # fmt: skip
    bad = run_cli("--catalog", demo.path, "profile", "add", "odd", "--precision", "fp8")
    assert bad.code == 2
    features, matrix = _test_rows()
    label, probabilities = _lab(matrix)
    (tmp_path / "capture.json").write_text(json.dumps({"profile": "npu-int8"}))
    times = [f"2026-11-02T08:{i // 60:02d}:{i % 60:02d}Z" for i in range(len(matrix))]
    # An int8 target rounds: 0.004 off is within its tolerance, far beyond fp32's.
    path = _csv_capture(tmp_path / "int8.csv", features, matrix, label,
                        np.clip(probabilities + 0.004, 0, 1), times)  # fmt: skip
    capture = json.loads(
        run_cli("--catalog", demo.path, "field", "import", path, "--model", REF, "--json").out
    )
    found = json.loads(
        run_cli("--catalog", demo.path, "field", "parity", str(capture["id"]), "--json").out
    )
    assert found["tolerances"]["atol"] == 1e-2
    assert "npu-int8 (int8)" in found["tolerances"]["source"]
    assert found["checks"]["beyond_tolerance"]["count"] == 0


def _refused(run_cli, demo, *args) -> str:
    before = catalog_snapshot(demo.path)
    result = run_cli("--catalog", demo.path, "field", "import", *map(str, args))
    assert result.code == 2, result.out + result.err
    assert catalog_snapshot(demo.path) == before
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, result.err
    return lines[0]


def test_bad_captures_are_refused_with_one_line_and_nothing_stored(demo, run_cli, tmp_path):
    features, matrix = _test_rows()
    label, probabilities = _lab(matrix)
    times = [f"2026-11-02T08:00:{i % 60:02d}Z" for i in range(len(matrix))]

    def capture(name: str, **change) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        columns = {n: matrix[:, j] for j, n in enumerate(features)}
        columns |= {"output:label": label, "output:probabilities[0]": probabilities[:, 0],
                    "output:probabilities[1]": probabilities[:, 1], "timestamp": times}  # fmt: skip
        for key, value in change.items():
            key = key.replace("__", " ").replace("_o_", ":")
            if value is None:
                columns.pop(key)
            else:
                columns[key] = value
        path = folder / f"{name}.csv"
        pa_csv.write_csv(pa.table(columns), path)
        return path

    missing = _refused(run_cli, demo, capture("missing", mean__radius=None), "--model", REF)
    assert "lacks column(s) 'mean radius'" in missing and "missing.csv" in missing
    wide = capture("wide", **{"output_o_probabilities[2]": probabilities[:, 0]})
    assert "has 3 value(s) per row; model breast-cancer@2 gives 2" in _refused(
        run_cli, demo, wide, "--model", REF
    )
    stranger = capture("stranger", **{"output_o_score": probabilities[:, 0]})
    assert "'score' is not an output of model breast-cancer@2" in _refused(
        run_cli, demo, stranger, "--model", REF
    )
    mixed_values = [str(v) for v in matrix[:, 0]]
    mixed_values[5] = "n/a?"
    mixed = capture("mixed", mean__radius=mixed_values)
    assert "column 'mean radius' mixes numbers and text (row 6: 'n/a?')" in _refused(
        run_cli, demo, mixed, "--model", REF
    )
    nothing = capture("nothing", **{"output_o_label": [None] * len(matrix)})
    assert "0 rows hold both a timestamp and the device's outputs" in _refused(
        run_cli, demo, nothing, "--model", REF
    )
    empty = tmp_path / "empty.csv"
    empty.write_text(",".join([*features, "output:label", "timestamp"]) + "\n")
    assert "no data rows" in _refused(run_cli, demo, empty, "--model", REF)

    unknown_hash = capture("unknown-hash")
    (unknown_hash.parent / "capture.json").write_text(json.dumps({"model_sha256": "ab" * 32}))
    assert "which no model version in this catalog has" in _refused(run_cli, demo, unknown_hash)
    unknown_release = capture("unknown-release")
    (unknown_release.parent / "capture.json").write_text(json.dumps({"release": 999}))
    assert "999" in _refused(run_cli, demo, unknown_release)

    pickled = tmp_path / "objects.npz"
    np.savez(pickled, X=matrix.astype(np.float32), timestamp=np.arange(len(matrix)) * 1.0,
             **{"output:label": np.array([{"a": 1}] * len(matrix), dtype=object)})  # fmt: skip
    assert "holds Python objects; they are not loaded" in _refused(
        run_cli, demo, pickled, "--model", REF
    )
    narrow = tmp_path / "narrow.npz"
    np.savez(narrow, X=matrix[:, :29].astype(np.float32), timestamp=np.arange(len(matrix)) * 1.0,
             **{"output:label": label})  # fmt: skip
    assert "input 'X' holds 29 values per row" in _refused(run_cli, demo, narrow, "--model", REF)
    lines = tmp_path / "mixed.jsonl"
    rows = [{"X": list(map(float, row)), "output:label": int(lab), "timestamp": i}
            for i, (row, lab) in enumerate(zip(matrix, label, strict=True))]  # fmt: skip
    rows[3]["output:label"] = "benign?"
    lines.write_text("\n".join(json.dumps(row) for row in rows))
    assert "column 'output:label' mixes numbers and strings" in _refused(
        run_cli, demo, lines, "--model", REF
    )
    assert run_cli("--catalog", demo.path, "field", "list", "--json").out.strip() == "[]"
