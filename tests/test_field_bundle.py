"""The training data's reference travels in the release bundle: a field laptop's catalog
that holds the model but not its training data measures drift, estimates accuracy and
triages from the bundle alone, with the same figures the lab gets from the data; a
bundle of another model, or one whose reference a trusted key signed malformed, is
refused with one line."""

from __future__ import annotations

import hashlib
import json
import zipfile

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest
from test_release_bundle import _rewrite, shipped  # noqa: F401 - a fixture, used by name

from modeldesk.catalog.store import Catalog
from modeldesk.models.importer import import_model
from modeldesk.resources import resources_dir

DEMO = resources_dir() / "demo"
MODEL = DEMO / "models" / "breast-cancer-v2.onnx"


def _capture(tmp_path) -> str:
    """The demo's test split as a device running bc@1 recorded it, one feature shifted."""
    import onnxruntime as ort

    field = pa_csv.read_csv(DEMO / "data" / "breast-cancer-test.csv")
    shifted = pa.array(field.column("mean radius").to_numpy() + 4.0)
    field = field.set_column(field.column_names.index("mean radius"), "mean radius", shifted)
    features = [n for n in field.column_names if n not in ("sample_id", "diagnosis")]
    matrix = np.column_stack([field.column(n).to_numpy() for n in features]).astype(np.float32)
    label, probabilities = ort.InferenceSession(str(MODEL)).run(None, {"X": matrix})
    columns = {name: field.column(name) for name in features}
    columns |= {"output:label": label, "output:probabilities[0]": probabilities[:, 0],
                "output:probabilities[1]": probabilities[:, 1],
                "timestamp": np.arange(field.num_rows, dtype=np.float64) + 1.8e9}  # fmt: skip
    path = tmp_path / "capture.csv"
    pa_csv.write_csv(pa.table(columns), path)
    return str(path)


def _laptop(tmp_path, cast):
    """A catalog that trusts the release's people and holds bc@1, but no dataset."""
    laptop = Catalog.init(tmp_path / "laptop")
    cast.trust_all(laptop)
    import_model(laptop, MODEL, name="bc", classes=["malignant", "benign"])
    return laptop


def _imported(run_cli, catalog, path) -> str:
    found = run_cli("--catalog", catalog.path, "field", "import", path, "--model", "bc@1",
                    "--json")  # fmt: skip
    assert found.code == 0, found.err
    return str(json.loads(found.out)["id"])


def _json(run_cli, *args):
    found = run_cli(*map(str, args), "--json")
    assert found.code == 0, found.err
    return json.loads(found.out)


def test_a_laptop_without_the_training_data_reads_the_bundles_reference(
    shipped,  # noqa: F811 - the fixture
    run_cli,
    tmp_path,
):
    demo, cast, _, bundle, _ = shipped
    names = zipfile.ZipFile(bundle).namelist()
    assert "reference/profile.json" in names and "reference/sample.parquet" in names
    path = _capture(tmp_path)
    lab = _imported(run_cli, demo, path)
    laptop = _laptop(tmp_path, cast)
    field = _imported(run_cli, laptop, path)

    refused = run_cli("--catalog", laptop.path, "field", "drift", field)
    assert refused.code == 2 and "--bundle" in refused.err
    for command in ("drift", "estimate", "triage"):
        in_lab = _json(run_cli, "--catalog", demo.path, "field", command, lab)
        offline = _json(run_cli, "--catalog", laptop.path, "field", command, field,
                        "--bundle", bundle)  # fmt: skip
        if command == "drift":
            assert offline["reference"] == in_lab["reference"] == "breast-cancer-train@2"
            assert offline["reference_source"].startswith(f"bundle {bundle.name}")
            assert offline["features"] == in_lab["features"]  # the same figures, from the bundle
            assert offline["features"][0]["feature"] == "mean radius"
        elif command == "estimate":
            assert offline["estimated"] == in_lab["estimated"]
            assert offline["calibration_check"] == in_lab["calibration_check"]
            assert offline["calibration_check"]["dataset"] == "breast-cancer-train@2"
            assert offline["outside_training_range"] == in_lab["outside_training_range"]
        else:  # the training split is under 10,000 rows, so the sample is all of it
            lab_rows = [(r["row"], r["nearest_training_row"]["row"]) for r in in_lab["triage"]]
            assert [(r["row"], r["nearest_training_row"]["row"]) for r in offline["triage"]] == (
                lab_rows
            )
            assert (
                "needs" in offline["explanations_missing"]
                or "need" in (offline["explanations_missing"])
            )
    report = tmp_path / "report.md"
    made = run_cli("--catalog", laptop.path, "field", "report", field, "--out", report,
                   "--bundle", bundle)  # fmt: skip
    assert made.code == 0, made.err
    assert "breast-cancer-train@2" in report.read_text()


def _with_profile(bundle, out, edit, signer):
    """The bundle with its reference profile edited and every digest and the attestation
    redone by ``signer``: what a trusted packager's key could sign."""
    import base64

    from modeldesk.release.verify_bundle import PAYLOAD_TYPE, canonical, pae

    with zipfile.ZipFile(bundle) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        envelope = json.loads(archive.read("attestation.dsse.json"))
        profile = json.loads(archive.read("reference/profile.json"))
    edit(profile)
    data = json.dumps(profile).encode()
    digest = hashlib.sha256(data).hexdigest()
    manifest["files"]["reference/profile.json"] = {"sha256": digest, "size": len(data)}
    edited = json.dumps(manifest).encode()
    statement = json.loads(base64.b64decode(envelope["payload"]))
    for subject in statement["subject"]:
        if subject["name"] == "manifest.json":
            subject["digest"]["sha256"] = hashlib.sha256(edited).hexdigest()
        if subject["name"] == "reference/profile.json":
            subject["digest"]["sha256"] = digest
    payload = canonical(statement)
    signature = base64.b64encode(signer.sign(pae(PAYLOAD_TYPE, payload))).decode()
    envelope = {"payloadType": PAYLOAD_TYPE, "payload": base64.b64encode(payload).decode(),
                "signatures": [{"keyid": signer.fingerprint, "sig": signature}]}  # fmt: skip
    replaced = {"manifest.json": edited, "attestation.dsse.json": json.dumps(envelope).encode(),
                "reference/profile.json": data}  # fmt: skip
    return _rewrite(bundle, out, lambda n, d: [(n, replaced.get(n, d))])


def _unsorted_edges(profile):
    profile["features"]["mean radius"]["psi_edges"].reverse()


def _text_counts(profile):
    profile["features"]["mean radius"]["grid_counts"][0] = "many"


def _no_features(profile):
    profile["features"] = []


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (_unsorted_edges, "psi_edges is not in increasing order"),
        (_text_counts, "not a count"),
        (_no_features, "not a reference profile"),
    ],
)
def test_a_malformed_reference_signed_by_a_trusted_key_is_refused(
    shipped,  # noqa: F811 - the fixture
    run_cli,
    tmp_path,
    edit,
    reason,
):
    demo, cast, _, bundle, _ = shipped
    forged = _with_profile(bundle, tmp_path / "forged.mdrel", edit, cast.alice)
    capture = _imported(run_cli, demo, _capture(tmp_path))
    before = demo.query("SELECT COUNT(*) AS n FROM audit")[0]["n"]
    refused = run_cli("--catalog", demo.path, "field", "drift", capture, "--bundle", forged)
    assert refused.code == 2, refused.out
    assert reason in refused.err and "forged.mdrel" in refused.err
    assert len(refused.err.strip().splitlines()) == 1
    assert demo.query("SELECT COUNT(*) AS n FROM audit")[0]["n"] == before


def test_a_bundle_of_another_model_or_a_tampered_one_is_refused(
    shipped,  # noqa: F811 - the fixture
    run_cli,
    tmp_path,
):
    demo, _, _, bundle, _ = shipped
    path = _capture(tmp_path)
    capture = _imported(run_cli, demo, path)
    flipped = _rewrite(bundle, tmp_path / "flipped.mdrel", lambda n, d: [
        (n, d.replace(b'"mean radius"', b'"mean radiux"', 1)
         if n == "reference/profile.json" else d)])  # fmt: skip
    refused = run_cli("--catalog", demo.path, "field", "drift", capture, "--bundle", flipped)
    assert refused.code == 2 and "flipped.mdrel: refused" in refused.err
    assert "reference/profile.json" in refused.err
    older = run_cli("--catalog", demo.path, "field", "import", path, "--model",
                    "breast-cancer@1", "--json")  # fmt: skip
    assert older.code == 0, older.err
    for command in ("drift", "estimate", "triage"):
        refused = run_cli("--catalog", demo.path, "field", command,
                          str(json.loads(older.out)["id"]), "--bundle", bundle)  # fmt: skip
        assert refused.code == 2
        assert "not breast-cancer@1" in refused.err and bundle.name in refused.err
        assert len(refused.err.strip().splitlines()) == 1
