"""Cached predictions and explanations are keyed by everything that defines them."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import modeldesk.catalog.derived as derived
from modeldesk.catalog.derived import derived_key, list_derived
from modeldesk.datasets.importer import import_dataset
from modeldesk.debug import predict
from modeldesk.explain.run import explain
from modeldesk.models.importer import import_model
from modeldesk.models.model_facts import StoredFile
from modeldesk.models.registry import get_model_version

import onnx_factory

FEATURES = ["a", "b", "c", "d"]


def _weights(path: Path) -> np.ndarray:
    """W of a saved linear model, read with its external data."""
    model = onnx.load(path)
    return next(numpy_helper.to_array(t) for t in model.graph.initializer if t.name == "W")


@pytest.fixture
def twins(catalog, tmp_path):
    """Versions 1 and 2 of one model: the same .onnx bytes, different external weights."""
    rng = np.random.default_rng(3)
    rows = rng.normal(size=(40, 4))
    csv = tmp_path / "rows.csv"
    csv.write_text(
        "a,b,c,d,y\n" + "".join(",".join(f"{v:.6f}" for v in row) + ",1\n" for row in rows)
    )
    import_dataset(catalog, csv, name="rows", label="y")
    folders, weights = [], []
    for seed in (0, 5):
        path = onnx_factory.save_with_external_data(
            onnx_factory.linear_regressor(features=4, seed=seed),
            tmp_path / f"v{seed}" / "model.onnx",
            "weights.bin",
        )
        folders.append(path)
        weights.append(_weights(path))
    assert folders[0].read_bytes() == folders[1].read_bytes()
    for path in folders:
        imported = import_model(catalog, path, name="twin", trained_on="rows@1", features=FEATURES)
        assert imported.created
    return catalog, rows.astype(np.float32), weights


def test_same_onnx_bytes_with_other_weights_give_their_own_predictions(twins):
    catalog, rows, weights = twins
    first = predict(catalog, "twin@1", "rows@1")
    second = predict(catalog, "twin@2", "rows@1")  # read from the cache before the fix
    for result, w in ((first, weights[0]), (second, weights[1])):
        np.testing.assert_allclose(result.predicted, (rows @ w)[:, 0] + 0.5, rtol=1e-5, atol=1e-5)
    assert not np.allclose(first.predicted, second.predicted)


def test_same_onnx_bytes_with_other_weights_give_their_own_explanations(twins):
    catalog, rows, weights = twins
    options = {"rows": "0:5", "method": "permutation", "background": 20}
    first = explain(catalog, "twin@1", "rows@1", **options)
    second = explain(catalog, "twin@2", "rows@1", **options)
    assert not second.cached
    for result, w in ((first, weights[0]), (second, weights[1])):
        # Each version's values add up to its own predictions, not its twin's.
        assert np.allclose(result.predictions()[:, 0], (rows[:5] @ w)[:, 0] + 0.5, atol=1e-4)
    assert not np.allclose(first.values, second.values)


def test_a_changed_option_or_runtime_misses_the_cache(twins, monkeypatch):
    catalog, _, _ = twins
    model = get_model_version(catalog, "twin@1")
    options = {"rows": "0:5", "method": "permutation", "background": 20}
    explain(catalog, "twin@1", "rows@1", **options)
    assert explain(catalog, "twin@1", "rows@1", **options).cached
    assert not explain(catalog, "twin@1", "rows@1", **options, seed=1).cached
    real_versions = derived.runtime_versions

    def newer_shap(packages):
        found = real_versions(packages)
        return {**found, "shap": found["shap"] + ".post1"} if "shap" in found else found

    monkeypatch.setattr(derived, "runtime_versions", newer_shap)
    assert not explain(catalog, "twin@1", "rows@1", **options).cached
    assert len(list_derived(catalog, "explanation", model.id)) == 3


def test_every_input_of_a_key_changes_it(monkeypatch):
    model = SimpleNamespace(sha256="a" * 64, external_files=[StoredFile("w.bin", "b" * 64, 4)])
    base = {
        "model": model,
        "datasets": {"rows": "c" * 64, "background": "d" * 64},
        "features": ["x", "y"],
        "binding": "axis",
        "runtimes": ["onnxruntime", "shap"],
        "options": {"seed": 0, "rows": [0, 10]},
    }
    variants = {
        "kind": dict(base),
        "onnx": {
            **base,
            "model": SimpleNamespace(sha256="e" * 64, external_files=model.external_files),
        },
        "external file": {
            **base,
            "model": SimpleNamespace(
                sha256=model.sha256, external_files=[StoredFile("w.bin", "f" * 64, 4)]
            ),
        },
        "external path": {
            **base,
            "model": SimpleNamespace(
                sha256=model.sha256, external_files=[StoredFile("v.bin", "b" * 64, 4)]
            ),
        },
        "rows": {**base, "datasets": {"rows": "0" * 64, "background": "d" * 64}},
        "background": {**base, "datasets": {"rows": "c" * 64, "background": "1" * 64}},
        "features": {**base, "features": ["y", "x"]},
        "binding": {**base, "binding": "names"},
        "runtimes": {**base, "runtimes": ["onnxruntime"]},
        "option": {**base, "options": {"seed": 1, "rows": [0, 10]}},
    }
    keys = {"base": derived_key("explanation", **base)}
    for name, inputs in variants.items():
        keys[name] = derived_key("predictions" if name == "kind" else "explanation", **inputs)
    # Another install (versions are read once per process, so the cache goes too).
    monkeypatch.setattr(derived.metadata, "version", lambda package: "0.0-other")
    derived._installed_version.cache_clear()
    keys["runtime version"] = derived_key("explanation", **base)
    monkeypatch.setattr(derived, "FORMAT", derived.FORMAT + 1)
    keys["result format"] = derived_key("explanation", **base)
    assert len(set(keys.values())) == len(keys), keys
    # And the same inputs always give the same key.
    monkeypatch.undo()
    derived._installed_version.cache_clear()
    assert derived_key("explanation", **base) == keys["base"]
