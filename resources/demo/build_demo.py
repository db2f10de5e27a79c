"""Regenerate the demo catalog's committed artifacts from scikit-learn's datasets.

    pip install -e '.[demo-build]'
    python resources/demo/build_demo.py

Writes ``data/*.csv``, ``models/*.onnx`` and ``manifest.json`` beside this
script. ``modeldesk demo`` builds a catalog from those files alone, without
scikit-learn. Everything is seeded, so a rebuild with the same library
versions gives the same models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
from sklearn import datasets
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

HERE = Path(__file__).resolve().parent
SEED = 0
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}


class _Frame:
    """A small table: an id column, named feature columns and a label."""

    def __init__(self, features: np.ndarray, names: list[str], label: np.ndarray, label_name: str):
        self.features, self.names, self.label, self.label_name = features, names, label, label_name

    def x(self) -> np.ndarray:
        return self.features.astype(np.float32)

    def table(self) -> pa.Table:
        columns = {"sample_id": np.arange(1, len(self.label) + 1)}
        integral = np.all(self.features == np.round(self.features))
        for index, name in enumerate(self.names):
            values = self.features[:, index]
            columns[name] = values.astype(np.int64) if integral else np.round(values, 6)
        columns[self.label_name] = self.label
        return pa.table(columns)


def _frame(features: np.ndarray, names: list[str], label: np.ndarray, label_name: str) -> _Frame:
    return _Frame(features, names, label, label_name)


def _write_csv(frame: _Frame, name: str) -> str:
    relative = f"data/{name}.csv"
    (HERE / "data").mkdir(exist_ok=True)
    pa_csv.write_csv(frame.table(), HERE / relative)
    return relative


def _to_onnx_sklearn(model: Any, n_features: int, name: str, metadata: dict[str, str]) -> str:
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    onnx_model = to_onnx(
        model,
        initial_types=[("X", FloatTensorType([None, n_features]))],
        target_opset=TARGET_OPSET,
        options={id(model): {"zipmap": False}} if hasattr(model, "predict_proba") else None,
    )
    return _save(onnx_model, name, metadata)


def _to_onnx_lightgbm(model: Any, n_features: int, name: str, metadata: dict[str, str]) -> str:
    from onnxmltools import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    onnx_model = convert_lightgbm(
        model,
        initial_types=[("X", FloatTensorType([None, n_features]))],
        target_opset=15,  # the newest onnxmltools converts to
        zipmap=False,
    )
    return _save(onnx_model, name, metadata)


def _save(onnx_model: Any, name: str, metadata: dict[str, str]) -> str:
    import onnx

    onnx_model.graph.name = name  # onnxmltools names graphs with a random uuid
    # Converters emit opset imports in set order; sort them so rebuilds match byte for byte.
    opsets = sorted((o.domain, o.version) for o in onnx_model.opset_import)
    del onnx_model.opset_import[:]
    for domain, version in opsets:
        onnx_model.opset_import.append(onnx.helper.make_opsetid(domain, version))
    for key, value in metadata.items():
        entry = onnx_model.metadata_props.add()
        entry.key, entry.value = key, value
    relative = f"models/{name}.onnx"
    (HERE / "models").mkdir(exist_ok=True)
    onnx.save(onnx_model, HERE / relative)
    return relative


def breast_cancer(manifest: dict[str, list[dict[str, Any]]]) -> None:
    """Binary classification: logistic regression -> gradient boosting -> LightGBM."""
    from lightgbm import LGBMClassifier

    raw = datasets.load_breast_cancer()
    names = [str(name) for name in raw.feature_names]
    classes = [str(name) for name in raw.target_names]  # 0 malignant, 1 benign
    x_train, x_test, y_train, y_test = train_test_split(
        raw.data, raw.target, test_size=0.3, random_state=SEED, stratify=raw.target
    )
    early = len(x_train) * 2 // 3  # the first data collection, before the rest arrived
    train_v1 = _frame(x_train[:early], names, y_train[:early], "diagnosis")
    train_v2 = _frame(x_train, names, y_train, "diagnosis")
    test = _frame(x_test, names, y_test, "diagnosis")
    described = "Wisconsin breast cancer (scikit-learn); diagnosis 0 = malignant, 1 = benign."
    manifest["datasets"] += [
        {
            "name": "breast-cancer-train",
            "file": _write_csv(train_v1, "breast-cancer-train-v1"),
            "label": "diagnosis",
            "description": described + " First collection.",
        },
        {
            "name": "breast-cancer-train",
            "file": _write_csv(train_v2, "breast-cancer-train-v2"),
            "label": "diagnosis",
            "parent": 1,
            "description": described + " All training rows.",
        },
        {
            "name": "breast-cancer-test",
            "file": _write_csv(test, "breast-cancer-test"),
            "label": "diagnosis",
            "description": described + " Held-out test split.",
        },
    ]
    x1, y1 = train_v1.x(), train_v1.label
    x2, y2 = train_v2.x(), train_v2.label
    logistic = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=SEED))
    boosted = GradientBoostingClassifier(n_estimators=60, max_depth=3, random_state=SEED)
    light = LGBMClassifier(
        n_estimators=80, num_leaves=15, random_state=SEED, verbose=-1, deterministic=True, n_jobs=1
    )
    versions = [
        (logistic.fit(x1, y1), _to_onnx_sklearn, "logistic regression", "breast-cancer-train@1"),
        (boosted.fit(x2, y2), _to_onnx_sklearn, "gradient-boosted trees", "breast-cancer-train@2"),
        (light.fit(x2, y2), _to_onnx_lightgbm, "LightGBM trees", "breast-cancer-train@2"),
    ]
    for index, (model, convert, kind, trained_on) in enumerate(versions, start=1):
        file = convert(
            model,
            len(names),
            f"breast-cancer-v{index}",
            {"algorithm": kind, "classes": json.dumps(classes)},
        )
        manifest["models"].append(
            {
                "name": "breast-cancer",
                "file": file,
                "parent": index - 1 or None,
                "trained_on": trained_on,
                "classes": classes,
                "tags": {"algorithm": kind},
                "description": f"**{kind[0].upper() + kind[1:]}** classifier of tumour diagnosis.",
            }
        )


def diabetes(manifest: dict[str, list[dict[str, Any]]]) -> None:
    """Regression: linear regression -> gradient boosting -> LightGBM."""
    from lightgbm import LGBMRegressor

    raw = datasets.load_diabetes(scaled=False)
    names = [str(name) for name in raw.feature_names]
    x_train, x_test, y_train, y_test = train_test_split(
        raw.data, raw.target, test_size=0.25, random_state=SEED
    )
    train = _frame(x_train, names, y_train, "progression")
    test = _frame(x_test, names, y_test, "progression")
    described = "Diabetes progression one year after baseline (scikit-learn)."
    manifest["datasets"] += [
        {
            "name": "diabetes-train",
            "file": _write_csv(train, "diabetes-train"),
            "label": "progression",
            "description": described,
        },
        {
            "name": "diabetes-test",
            "file": _write_csv(test, "diabetes-test"),
            "label": "progression",
            "description": described + " Held-out test split.",
        },
    ]
    x, y = train.x(), train.label
    versions = [
        (LinearRegression().fit(x, y), _to_onnx_sklearn, "linear regression"),
        (
            GradientBoostingRegressor(n_estimators=80, max_depth=3, random_state=SEED).fit(x, y),
            _to_onnx_sklearn,
            "gradient-boosted trees",
        ),
        (
            LGBMRegressor(
                n_estimators=80,
                num_leaves=15,
                random_state=SEED,
                verbose=-1,
                deterministic=True,
                n_jobs=1,
            ).fit(x, y),
            _to_onnx_lightgbm,
            "LightGBM trees",
        ),
    ]
    for index, (model, convert, kind) in enumerate(versions, start=1):
        file = convert(model, len(names), f"diabetes-v{index}", {"algorithm": kind})
        manifest["models"].append(
            {
                "name": "diabetes",
                "file": file,
                "parent": index - 1 or None,
                "trained_on": "diabetes-train@1",
                "tags": {"algorithm": kind},
                "description": f"**{kind[0].upper() + kind[1:]}** of disease progression.",
            }
        )


def digits(manifest: dict[str, list[dict[str, Any]]]) -> None:
    """8x8 images, ten classes: logistic regression -> a small MLP."""
    raw = datasets.load_digits()
    names = [f"pixel_{row}_{col}" for row in range(8) for col in range(8)]
    classes = [str(digit) for digit in range(10)]
    x_train, x_test, y_train, y_test = train_test_split(
        raw.data, raw.target, test_size=0.25, random_state=SEED, stratify=raw.target
    )
    train = _frame(x_train, names, y_train, "digit")
    test = _frame(x_test, names, y_test, "digit")
    described = "Handwritten digits, 8x8 pixels of intensity 0-16 (scikit-learn)."
    manifest["datasets"] += [
        {
            "name": "digits-train",
            "file": _write_csv(train, "digits-train"),
            "label": "digit",
            "description": described,
        },
        {
            "name": "digits-test",
            "file": _write_csv(test, "digits-test"),
            "label": "digit",
            "description": described + " Held-out test split.",
        },
    ]
    x, y = train.x(), train.label
    versions = [
        (
            make_pipeline(
                StandardScaler(), LogisticRegression(max_iter=3000, random_state=SEED)
            ).fit(x, y),
            "logistic regression",
        ),
        (
            make_pipeline(
                StandardScaler(),
                MLPClassifier(hidden_layer_sizes=(64,), max_iter=600, random_state=SEED),
            ).fit(x, y),
            "multi-layer perceptron",
        ),
    ]
    for index, (model, kind) in enumerate(versions, start=1):
        file = _to_onnx_sklearn(
            model,
            len(names),
            f"digits-v{index}",
            {"algorithm": kind, "classes": json.dumps(classes), "image_shape": "8x8"},
        )
        manifest["models"].append(
            {
                "name": "digits",
                "file": file,
                "parent": index - 1 or None,
                "trained_on": "digits-train@1",
                "classes": classes,
                "tags": {"algorithm": kind},
                "description": f"**{kind[0].upper() + kind[1:]}** reading 8x8 handwritten digits.",
            }
        )


def main() -> None:
    """Rebuild every artifact and the manifest."""
    manifest: dict[str, list[dict[str, Any]]] = {"datasets": [], "models": []}
    breast_cancer(manifest)
    diabetes(manifest)
    digits(manifest)
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {len(manifest['datasets'])} datasets and {len(manifest['models'])} models")


if __name__ == "__main__":
    main()
