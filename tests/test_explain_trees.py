"""TreeSHAP from ONNX tree ensembles equals shap's TreeExplainer on the native models.

Each family is trained here, converted with skl2onnx / onnxmltools, read back from the
ONNX graph alone, and explained; shap explains the native model with the same rows and
background. Nothing is hard-coded: the native model is the reference.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from modeldesk.explain.margin import margin_session
from modeldesk.explain.tree_shap import tree_shap_values
from modeldesk.explain.trees import TreeNotApplicable, find_tree_ensemble

sklearn = pytest.importorskip("sklearn")
shap = pytest.importorskip("shap")

from sklearn.datasets import make_classification, make_regression  # noqa: E402
from sklearn.ensemble import (  # noqa: E402
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
)
from sklearn.tree import DecisionTreeClassifier  # noqa: E402


def _data(task: str) -> tuple[np.ndarray, np.ndarray]:
    if task == "regression":
        x, y = make_regression(400, 8, noise=5.0, random_state=2)
    elif task == "binary":
        x, y = make_classification(400, 8, random_state=1)
    else:
        x, y = make_classification(400, 8, n_informative=5, n_classes=3, random_state=0)
    return x.astype(np.float32), y


def _native(family: str, task: str):
    import lightgbm
    import xgboost

    classifier = task != "regression"
    return {
        "decision-tree": lambda: DecisionTreeClassifier(max_depth=5, random_state=0),
        # bootstrap=False: native covers are then counts of the training rows, as ours are.
        "random-forest": lambda: RandomForestClassifier(
            12, max_depth=5, bootstrap=False, random_state=0
        ),
        "extra-trees": lambda: ExtraTreesRegressor(12, max_depth=6, random_state=0),
        "gradient-boosting": lambda: (
            GradientBoostingClassifier(n_estimators=15, random_state=0)
            if classifier
            else GradientBoostingRegressor(n_estimators=15, random_state=0)
        ),
        "lightgbm": lambda: (
            lightgbm.LGBMClassifier(n_estimators=25, verbose=-1)
            if classifier
            else lightgbm.LGBMRegressor(n_estimators=25, verbose=-1)
        ),
        "xgboost": lambda: (
            xgboost.XGBClassifier(n_estimators=25, max_depth=4)
            if classifier
            else xgboost.XGBRegressor(n_estimators=25, max_depth=4)
        ),
    }[family]()


def _to_onnx(model, width: int):
    import lightgbm
    import xgboost
    from onnxmltools import convert_lightgbm, convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType
    from skl2onnx import to_onnx

    types = [("X", FloatTensorType([None, width]))]
    if isinstance(model, lightgbm.LGBMModel):
        return convert_lightgbm(model, initial_types=types, zipmap=False)
    if isinstance(model, xgboost.XGBModel):
        return convert_xgboost(model, initial_types=types)
    options = {"zipmap": False} if hasattr(model, "predict_proba") else None
    return to_onnx(model, np.zeros((1, width), np.float32), options=options)


CASES = [
    ("decision-tree", "multiclass"),
    ("random-forest", "binary"),
    ("extra-trees", "regression"),
    ("gradient-boosting", "binary"),
    ("gradient-boosting", "regression"),
    ("lightgbm", "binary"),
    ("lightgbm", "multiclass"),
    ("lightgbm", "regression"),
    ("xgboost", "binary"),
    ("xgboost", "multiclass"),
    ("xgboost", "regression"),
]


def _native_values(model, rows, background, perturbation) -> np.ndarray:
    if perturbation == "interventional":
        masker = shap.maskers.Independent(background, max_samples=len(background))
        explainer = shap.TreeExplainer(model, masker, feature_perturbation="interventional")
    else:
        explainer = shap.TreeExplainer(model, feature_perturbation="tree_path_dependent")
    values = np.asarray(explainer.shap_values(rows, check_additivity=False))
    return values.reshape(len(rows), rows.shape[1], -1)


@pytest.mark.parametrize("perturbation", ["interventional", "tree_path_dependent"])
@pytest.mark.parametrize(("family", "task"), CASES)
def test_values_equal_shap_on_the_native_model(family, task, perturbation):
    if perturbation == "tree_path_dependent" and family == "xgboost" and task != "regression":
        pytest.skip(
            "XGBoost's covers are hessian sums, not row counts: for a logistic loss "
            "path-dependent values differ by design (regression's hessian is 1)"
        )
    x, y = _data(task)
    native = _native(family, task).fit(x, y)
    ensemble = find_tree_ensemble(_to_onnx(native, x.shape[1]))
    rows, background = x[200:260], x[:150]
    interventional = perturbation == "interventional"
    covers = ensemble.covers(background if interventional else x)
    ours, base, _ = tree_shap_values(
        ensemble.shap_model(covers),
        rows,
        perturbation=perturbation,
        background=background if interventional else None,
        workers=1,
    )
    reference = _native_values(native, rows, background, perturbation)
    if reference.shape[2] == 2 and ours.shape[2] == 1:
        reference = reference[:, :, 1:]  # binary ONNX keeps the positive class's margin only
    margin = margin_session(ensemble).run(None, {"X": rows})[0].astype(np.float64)
    scale = max(float(np.abs(margin).max()), 1.0)
    assert ours.shape == reference.shape
    assert np.abs(ours - reference).max() <= 1e-5 * scale
    # Additivity against ONNX Runtime's own margin: base + sum of values.
    assert np.abs(base + ours.sum(axis=1) - margin).max() <= 1e-5 * scale


@pytest.mark.parametrize(
    ("family", "task"), [("gradient-boosting", "binary"), ("lightgbm", "multiclass")]
)
def test_the_margin_is_what_the_model_turns_into_probabilities(family, task):
    x, y = _data(task)
    proto = _to_onnx(_native(family, task).fit(x, y), x.shape[1])
    ensemble = find_tree_ensemble(proto)
    margin = margin_session(ensemble).run(None, {"X": x})[0].astype(np.float64)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    probabilities = next(o for o in session.run(None, {"X": x}) if np.ndim(o) == 2)
    if ensemble.post_transform == "LOGISTIC":
        expected = 1 / (1 + np.exp(-margin[:, 0]))
        assert np.allclose(probabilities[:, 1], expected, atol=1e-5)
    else:
        exp = np.exp(margin - margin.max(axis=1, keepdims=True))
        assert np.allclose(probabilities, exp / exp.sum(axis=1, keepdims=True), atol=1e-5)


MODES = ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ"]


def _hand_built(mode: str, tracks_missing: int) -> onnx.ModelProto:
    """Two trees by hand: root split in ``mode`` on feature 0 at 0.5, then LEQ splits."""
    nodes = dict(
        nodes_treeids=[0, 0, 0, 0, 0, 1, 1, 1],
        nodes_nodeids=[0, 1, 2, 3, 4, 0, 1, 2],
        nodes_featureids=[0, 1, 0, 0, 0, 2, 0, 0],
        nodes_values=[0.5, 1.25, 0, 0, 0, -0.75, 0, 0],
        nodes_modes=[mode, "BRANCH_LEQ", "LEAF", "LEAF", "LEAF", "BRANCH_LT", "LEAF", "LEAF"],
        nodes_truenodeids=[1, 2, 0, 0, 0, 1, 0, 0],
        nodes_falsenodeids=[4, 3, 0, 0, 0, 2, 0, 0],
        nodes_missing_value_tracks_true=[tracks_missing, 0, 0, 0, 0, 1, 0, 0],
        target_treeids=[0, 0, 0, 1, 1],
        target_nodeids=[2, 3, 4, 1, 2],
        target_ids=[0, 0, 0, 0, 0],
        target_weights=[1.0, 2.5, -3.0, 0.25, 4.0],
        base_values=[0.125],
        n_targets=1,
        post_transform="NONE",
    )
    node = helper.make_node("TreeEnsembleRegressor", ["X"], ["Y"], domain="ai.onnx.ml", **nodes)
    graph = helper.make_graph(
        [node],
        "modes",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 1])],
    )
    return helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 1)],
        ir_version=8,
    )


@pytest.mark.parametrize("tracks_missing", [0, 1])
@pytest.mark.parametrize("mode", MODES)
def test_every_node_mode_and_missing_value_routes_as_onnx_runtime_does(mode, tracks_missing):
    proto = _hand_built(mode, tracks_missing)
    rng = np.random.default_rng(7)
    x = rng.choice([0.5, np.nextafter(np.float32(0.5), 0), 0.75, -1, 1.25, -0.75, np.nan], (300, 3))
    x = x.astype(np.float32)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    expected = session.run(None, {"X": x})[0][:, 0]
    ensemble = find_tree_ensemble(proto)
    assert np.array_equal(ensemble.margin(x)[:, 0].astype(np.float32), expected)
    values, base, _ = tree_shap_values(
        ensemble.shap_model(ensemble.covers(x)),
        x[:40],
        perturbation="interventional",
        background=x[40:140],
        workers=1,
    )
    assert np.allclose(base + values.sum(axis=1)[:, 0], expected[:40], atol=1e-6)


def test_a_model_whose_trees_read_scaled_features_is_not_a_tree_model():
    x, y = _data("binary")
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipeline = make_pipeline(StandardScaler(), DecisionTreeClassifier(max_depth=3)).fit(x, y)
    with pytest.raises(TreeNotApplicable, match="made by Scaler"):
        find_tree_ensemble(_to_onnx(pipeline, x.shape[1]))


def test_the_process_pool_gives_the_same_values_as_one_process(monkeypatch):
    import modeldesk.explain.tree_shap as tree_shap

    x, y = _data("regression")
    ensemble = find_tree_ensemble(_to_onnx(_native("lightgbm", "regression").fit(x, y), 8))
    model = ensemble.shap_model(ensemble.covers(x))
    alone = tree_shap_values(
        model, x, perturbation="tree_path_dependent", background=None, workers=1
    )
    assert alone.workers == 0
    # Use the pool however small the job, in many chunks, whatever the machine's speed.
    monkeypatch.setenv(tree_shap.POOL_MIN_SECONDS_ENV, "0")
    monkeypatch.setattr(tree_shap, "CHUNK_S", 0.001)
    pooled = tree_shap_values(
        ensemble.shap_model(ensemble.covers(x)),
        x,
        perturbation="tree_path_dependent",
        background=None,
        workers=2,
    )
    assert pooled.workers == 2
    assert np.array_equal(alone.values, pooled.values)


def test_zipmap_outputs_and_a_cast_input_around_the_trees():
    from skl2onnx import to_onnx

    x, y = _data("multiclass")
    native = RandomForestClassifier(8, max_depth=4, random_state=0).fit(x, y)
    # skl2onnx's defaults: a ZipMap of probabilities after the ensemble.
    proto = to_onnx(native, x[:1])
    assert "ZipMap" in {node.op_type for node in proto.graph.node}
    ensemble = find_tree_ensemble(proto)
    assert ensemble.output_names == ["0", "1", "2"] and ensemble.n_outputs == 3
    # A double input cast to float before the trees still names the graph input.
    tree = next(n for n in proto.graph.node if n.op_type == "TreeEnsembleClassifier")
    tree.input[0] = "X_float"
    proto.graph.node.insert(0, helper.make_node("Cast", ["X_double"], ["X_float"], to=1))
    proto.graph.input[0].name = "X_double"
    proto.graph.input[0].type.tensor_type.elem_type = TensorProto.DOUBLE
    ensemble = find_tree_ensemble(proto)
    assert ensemble.input_name == "X_double"
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    zipped = session.run(None, {"X_double": x[:50].astype(np.float64)})[1]
    probabilities = np.array([[row[k] for k in sorted(row)] for row in zipped])
    assert np.allclose(ensemble.margin(x[:50]), probabilities, atol=1e-6)
