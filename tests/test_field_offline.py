"""The field commands work with no network at all: run inside a network namespace of
their own (``unshare -n``), under an audit hook that records any socket connect or name
lookup. Skipped, with the kernel's reason, where namespaces cannot be made."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest

from modeldesk.resources import resources_dir

DEMO = resources_dir() / "demo"

# Runs in the namespace: proves there is no network, then runs each command through the
# CLI's own entry point with the hook installed, and reports exit codes and events.
CHILD = textwrap.dedent(
    """
    import json, socket, sys
    from modeldesk.cli import main

    try:
        socket.create_connection(("192.0.2.1", 80), timeout=2).close()
        reachable = True
    except OSError:
        reachable = False
    events = []

    def hook(event, args):
        if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname",
                     "socket.gethostbyaddr", "socket.sendto", "socket.sendmsg"):
            events.append(event)
            raise RuntimeError(f"network use: {event}")

    sys.addaudithook(hook)
    catalog, path = sys.argv[1], sys.argv[2]
    codes = {"import": main(["--catalog", catalog, "field", "import", path,
                             "--model", "breast-cancer@2"])}
    for command in ("parity", "which", "drift", "estimate", "triage"):
        codes[command] = main(["--catalog", catalog, "field", command, "1", "--json"])
    codes["report"] = main(["--catalog", catalog, "field", "report", "1", "--out",
                            path + ".report.html"])
    print(json.dumps({"reachable": reachable, "events": events, "codes": codes}))
    """
)


def _namespace_command() -> list[str]:
    """``unshare -n`` (as root) or ``unshare -rn`` (a user namespace), whichever works."""
    reasons = []
    for command in (["unshare", "-n"], ["unshare", "-rn"]):
        try:
            probe = subprocess.run([*command, "true"], capture_output=True, text=True)
        except FileNotFoundError:
            pytest.skip("unshare (util-linux) is not installed")
        if probe.returncode == 0:
            return command
        reasons.append(probe.stderr.strip() or f"exit {probe.returncode}")
    pytest.skip(f"the kernel refuses a network namespace here: {'; '.join(reasons)}")


def test_import_and_every_analysis_run_without_a_network(demo, tmp_path):
    import onnxruntime as ort

    namespace = _namespace_command()
    table = pa_csv.read_csv(DEMO / "data" / "breast-cancer-test.csv")
    features = [n for n in table.column_names if n not in ("sample_id", "diagnosis")]
    matrix = np.column_stack([table.column(n).to_numpy() for n in features]).astype(np.float32)
    session = ort.InferenceSession(str(DEMO / "models" / "breast-cancer-v2.onnx"))
    label, probabilities = session.run(None, {"X": matrix})
    columns = {n: table.column(n) for n in features}
    columns |= {"output:label": label, "output:probabilities[0]": probabilities[:, 0],
                "output:probabilities[1]": probabilities[:, 1],
                "timestamp": np.arange(len(label), dtype=np.float64) + 1.8e9,
                "label": table.column("diagnosis")}  # fmt: skip
    path = tmp_path / "field.csv"
    pa_csv.write_csv(pa.table(columns), path)
    demo.close()
    done = subprocess.run(
        [*namespace, sys.executable, "-c", CHILD, str(demo.path), str(path)],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["reachable"] is False  # the namespace really has no network
    assert report["events"] == []
    assert "<h2>Parity: " in (tmp_path / "field.csv.report.html").read_text()
    # Parity is exact (the capture holds the lab's own outputs), so each command succeeds;
    # which exits 1 only when the model is not the one named.
    assert report["codes"] == {
        "import": 0,
        "parity": 0,
        "which": 0,
        "drift": 0,
        "estimate": 0,
        "triage": 0,
        "report": 0,
    }
