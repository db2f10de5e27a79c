"""The Field tab: a capture from a device running a packaged release is imported from
the tab, analysed on the worker pool (parity, which model, drift, estimate, triage with
the two waterfalls), exported as a report, and the release marked failed on its target
with a signed event the delivery figures read."""

from __future__ import annotations

import json
import threading

import numpy as np
import onnxruntime as ort
import pyarrow as pa
import pyarrow.csv as pa_csv
from test_release_bundle import ship

from modeldesk.catalog.store import Catalog
from modeldesk.gui.navigator import Selection
from modeldesk.release.deployments import NewEvent, list_events, record_events
from modeldesk.resources import resources_dir

DEMO = resources_dir() / "demo"


def _device_capture(folder, release_id: int) -> str:
    """What a device running bc@1 recorded: the test split, one feature drifted and the
    probabilities of one row in ten computed differently (a broken fp16 kernel, say)."""
    table = pa_csv.read_csv(DEMO / "data" / "breast-cancer-test.csv")
    features = [n for n in table.column_names if n not in ("sample_id", "diagnosis")]
    matrix = np.column_stack([table.column(n).to_numpy() for n in features]).astype(np.float32)
    matrix[:, features.index("mean radius")] += 3.0
    session = ort.InferenceSession(str(DEMO / "models" / "breast-cancer-v2.onnx"))
    label, probabilities = session.run(None, {"X": matrix})
    probabilities = probabilities.copy()
    probabilities[::10] = probabilities[::10, ::-1]
    columns = {name: matrix[:, j] for j, name in enumerate(features)}
    columns |= {"output:label": label, "output:probabilities[0]": probabilities[:, 0],
                "output:probabilities[1]": probabilities[:, 1],
                "timestamp": 1.8e9 + 60.0 * np.arange(len(matrix))}  # fmt: skip
    folder.mkdir()
    pa_csv.write_csv(pa.table(columns), folder / "capture.csv")
    manifest = {"format": 1, "release": release_id, "device": "ward-tablet-07",
                "profile": "edge-roomy"}  # fmt: skip
    (folder / "capture.json").write_text(json.dumps(manifest))
    return str(folder / "capture.csv")


def test_a_capture_is_analysed_exported_and_its_release_marked_failed(
    qtbot, demo_path, tmp_path, monkeypatch
):
    from modeldesk.gui.main_window import MainWindow
    from modeldesk.gui.pages import field_jobs

    gui_thread, seen = threading.get_ident(), {"threads": set(), "progress": 0}
    real_analyse = field_jobs.analyse

    def analyse_watched(catalog, *, progress, cancel, **options):
        seen["threads"].add(threading.get_ident())

        def counted(*args):
            seen["progress"] += 1
            progress(*args)

        if seen.get("hold"):  # the cancel check below: wait until Cancel is pressed
            assert cancel.wait(60)
        return real_analyse(catalog, progress=counted, cancel=cancel, **options)

    monkeypatch.setattr(field_jobs, "analyse", analyse_watched)

    with Catalog.open(demo_path) as catalog:
        _, cast, release_id, _, _ = ship(catalog, tmp_path, monkeypatch)
        record_events(catalog, cast.alice, [NewEvent("deploy", release_id, "edge-roomy")])
    path = _device_capture(tmp_path / "device", release_id)
    window = MainWindow(Catalog.open(demo_path))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.settled, timeout=30_000)
    try:
        window.open_selection(Selection("model", "bc", 1))
        page = window.model_version_page
        page.tabs.setCurrentWidget(page.field)
        view = page.field
        assert not view.fail_button.isEnabled() and "capture.json" in view.fail_button.toolTip()
        view.ask_import(path)
        qtbot.waitUntil(lambda: view.current_report() is not None, timeout=120_000)
        report = view.current_report()
        assert report["capture"]["release"] == release_id
        assert seen["threads"] and gui_thread not in seen["threads"] and seen["progress"] > 3
        results = view.results
        assert "FAIL" in results.parity_summary.text()  # one row in ten flipped
        assert results.errors.counts and sum(results.errors.counts) > 0
        assert results.over_time.windows
        assert "bc@1" in results.which_summary.text()
        assert results.features.visible_rows()[0][0] == "mean radius"  # the drifted one
        assert results.overlay.feature == "mean radius"
        assert "Estimated accuracy" in results.estimate.text()
        assert results.rows.visible_rows()
        assert results.field_waterfall.labels and results.nearest_waterfall.labels
        page.tabs.setCurrentWidget(page.field)
        for index in range(results.count()):
            results.setCurrentIndex(index)
            qtbot.wait(50)
            window.grab().save(str(tmp_path / f"field-{index}.png"))
        # The report as one file.
        out = tmp_path / "incident.html"
        view.ask_export(str(out))
        qtbot.waitUntil(lambda: out.exists(), timeout=30_000)
        assert "bc@1" in out.read_text()
        # Mark the release failed on the capture's target, signed by alice.
        assert view.fail_button.isEnabled()
        assert view.failure_reason() == f"field capture #{report['capture']['id']}: parity FAIL"
        view.mark_failed(view.failure_reason(), signer=cast.alice)
        qtbot.waitUntil(lambda: "Recorded that release" in view.status.text(), timeout=30_000)
        failed = [e for e in list_events(window.context.catalog) if e.kind == "fail"]
        assert [(e.release_id, e.target) for e in failed] == [(release_id, "edge-roomy")]
        assert "parity FAIL" in failed[0].note
        # Analysing again can be cancelled; the shown analysis stays.
        seen["hold"] = True
        job = view.analyse(force=True)
        assert job is not None and view.cancel_button.isEnabled()
        view.cancel()
        qtbot.waitUntil(lambda: view.job is None, timeout=60_000)
        assert view.status.text() == "Cancelled." and view.current_report() is report
    finally:
        window.runner.shutdown()
