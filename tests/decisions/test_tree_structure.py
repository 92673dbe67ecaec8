"""Crafted tree models are refused before XGBoost or scikit-learn predicts with them: real small
models trained here, their node arrays then edited as an attacker would. Loading one is an
ArtifactError naming the tree and the fault, in this process, which survives (before the checks
several of these crashed it). Registration rejects them with that reason."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import skops.io
import xgboost as xgb
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.tree import DecisionTreeClassifier

from decisions.predictors import ArtifactError, load_predictor
from decisions.predictors.tree_structure import MAX_TREE_DEPTH, xgboost_checked
from decisions.predictors.ubjson import ubjson_loads
from tests.frameworks.bring import bring, identifiers

OUTPUT = {
    "type": "binary",
    "class_labels": ["malignant", "benign"],
    "favourable_label": "benign",
    "threshold": 0.5,
}


@pytest.fixture(scope="module")
def tumours():
    data = load_breast_cancer()
    return identifiers(data.feature_names[:8]), data.data[:, :8], data.target


@pytest.fixture(scope="module")
def booster(tumours):
    _, X, y = tumours
    return xgb.train({"objective": "binary:logistic", "max_depth": 4, "seed": 0}, xgb.DMatrix(X, y), 4)


def edited_json(booster, edit, tree: int = 1) -> bytes:
    document = json.loads(bytes(booster.save_raw("json")))
    edit(document["learner"]["gradient_booster"]["model"]["trees"][tree])
    return json.dumps(document).encode()


def refusal(framework: str, artifact: bytes) -> str:
    with pytest.raises(ArtifactError) as caught:
        load_predictor(framework, artifact)
    return str(caught.value)


def _set(key: str, index: int, value):
    return lambda tree: tree[key].__setitem__(index, value)


def _leaf(tree: dict) -> int:
    return tree["left_children"].index(-1)


def test_the_models_xgboost_saves_load_and_predict_as_before(booster, tumours):
    _, X, _ = tumours
    for kind in ("json", "ubj"):
        predictor = load_predictor("xgboost", bytes(booster.save_raw(kind)))
        assert np.array_equal(predictor.predict_proba(X)[:, 1].astype(np.float32), booster.inplace_predict(X))


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (
            _set("left_children", 0, 1_000_003),
            "tree 1 of the XGBoost model is malformed: a child index points outside the tree",
        ),
        (_set("right_children", 2, -1), "tree 1 of the XGBoost model is malformed: a node has one child"),
        # node 3's left child becomes node 1, its own parent: a cycle
        (
            _set("left_children", 3, 1),
            "tree 1 of the XGBoost model is malformed: a node is the child of two nodes (its nodes do not form a tree)",
        ),
        (
            _set("split_indices", 0, 8),
            "tree 1 of the XGBoost model is malformed: a split uses a column the model does not have (it has 8)",
        ),
        (
            _set("split_indices", 0, -1),
            "tree 1 of the XGBoost model is malformed: a split uses a column the model does not have (it has 8)",
        ),
        (
            lambda tree: tree["base_weights"].pop(),
            "tree 1 of the XGBoost model is malformed: base_weights does not hold one number per node ({n} nodes)",
        ),
        (
            lambda tree: tree["split_conditions"].append(0.5),
            "tree 1 of the XGBoost model is malformed: split_conditions does not hold one number per node ({n} nodes)",
        ),
        (
            _set("parents", 4, 0),
            "tree 1 of the XGBoost model is malformed: its parents do not match its children",
        ),
        (
            lambda tree: tree["tree_param"].update(num_nodes="40"),
            "tree 1 of the XGBoost model is malformed: left_children does not hold one number per node (40 nodes)",
        ),
    ],
)
def test_corrupted_xgboost_trees_are_refused_with_the_fault_named(booster, edit, reason):
    tree = json.loads(bytes(booster.save_raw("json")))["learner"]["gradient_booster"]["model"]["trees"][1]
    assert refusal("xgboost", edited_json(booster, edit)) == reason.format(n=len(tree["left_children"]))


def test_a_nan_leaf_in_ubjson_is_refused(booster):
    # Typed float arrays are stored raw in UBJSON: swap one leaf value's bytes for a NaN's.
    tree = json.loads(bytes(booster.save_raw("json")))["learner"]["gradient_booster"]["model"]["trees"][2]
    leaf_value = np.float32(tree["split_conditions"][_leaf(tree)])
    artifact = bytes(booster.save_raw("ubj"))
    assert artifact.count(struct.pack(">f", leaf_value)) == 2  # the leaf's condition and base weight
    crafted = artifact.replace(struct.pack(">f", leaf_value), struct.pack(">f", float("nan")))
    assert (
        refusal("xgboost", crafted)
        == "tree 2 of the XGBoost model is malformed: split_conditions holds NaN or infinity"
    )


def test_a_tree_count_that_does_not_match_is_refused(booster):
    document = json.loads(bytes(booster.save_raw("json")))
    document["learner"]["gradient_booster"]["model"]["gbtree_model_param"]["num_trees"] = "9"
    assert refusal("xgboost", json.dumps(document).encode()) == (
        "the XGBoost model says it has 9 trees but holds 4 with 4 tree_info entries"
    )


def test_a_chain_deeper_than_the_limit_is_refused(booster):
    n = 2 * (MAX_TREE_DEPTH + 1) + 1
    chain = {}
    # Node 2k splits into 2k+1 (a leaf) and 2k+2: a chain MAX_TREE_DEPTH + 1 splits deep.
    chain["left_children"] = [i + 1 if i % 2 == 0 and i < n - 1 else -1 for i in range(n)]
    chain["right_children"] = [i + 2 if i % 2 == 0 and i < n - 1 else -1 for i in range(n)]
    parents = [2147483647] + [i - 1 if i % 2 else i - 2 for i in range(1, n)]

    def edit(tree):
        tree.update(chain, parents=parents, tree_param={**tree["tree_param"], "num_nodes": str(n)})
        for key in (
            "split_indices",
            "split_conditions",
            "default_left",
            "split_type",
            "base_weights",
            "loss_changes",
            "sum_hessian",
        ):
            tree[key] = [tree[key][0]] * n

    assert refusal("xgboost", edited_json(booster, edit)) == (
        f"tree 1 of the XGBoost model is malformed: it is deeper than {MAX_TREE_DEPTH} levels"
    )


def test_formats_that_cannot_be_checked_are_refused():
    assert refusal("xgboost", b"binf" + bytes(200)).startswith(
        "not a loadable XGBoost model: only the JSON and UBJSON formats are accepted"
    )
    assert refusal("xgboost", b"{L\x00\x00\x00\x00\x7f\xff\xff\xff").startswith(
        "not a loadable XGBoost model: its UBJSON is malformed (a length exceeds the bytes that follow)"
    )


def test_xgboost_reads_the_checked_document_as_it_would_the_upload(booster):
    # A JSON upload is handed to XGBoost re-serialised from the document that was checked: the
    # model XGBoost ends up with is the one it would have loaded from the upload, to the bit.
    loaded = xgb.Booster()
    loaded.load_model(bytearray(xgboost_checked(bytes(booster.save_raw("json")))))
    assert bytes(loaded.save_raw("ubj")) == bytes(booster.save_raw("ubj"))
    # The strict UBJSON reader reads what XGBoost writes, value for value.
    document = ubjson_loads(bytes(booster.save_raw("ubj")))
    assert json.loads(json.dumps(document, default=lambda a: a.tolist())) == json.loads(
        json.dumps(json.loads(bytes(booster.save_raw("json"))), default=float),
        parse_float=lambda t: float(np.float32(t)),
    )


# ---------------------------------------------------------------------------- scikit-learn
def _first_tree(model):
    if hasattr(model, "tree_"):
        return model.tree_
    return (
        model.estimators_.ravel()[0].tree_
        if hasattr(model.estimators_, "ravel")
        else model.estimators_[0].tree_
    )


def crafted_skops(model, edit) -> bytes:
    """The fitted model with its first tree's node arrays edited in place (they are views of
    the tree's memory), saved as skops saves any model."""
    edit(_first_tree(model))
    return skops.io.dumps(model)


@pytest.fixture(params=["tree", "forest", "boosting"])
def fitted(request, tumours):
    _, X, y = tumours
    model = {
        "tree": DecisionTreeClassifier(max_depth=4, random_state=0),
        "forest": RandomForestClassifier(n_estimators=3, max_depth=4, random_state=0),
        "boosting": GradientBoostingClassifier(n_estimators=3, max_depth=3, random_state=0),
    }[request.param]
    return model.fit(X, y)


@pytest.mark.parametrize(
    ("edit", "fault"),
    [
        (lambda t: t.children_left.__setitem__(0, 1_000_003), "a child index points outside the tree"),
        (lambda t: t.children_left.__setitem__(1, 0), "a child index points outside the tree"),
        (
            lambda t: t.children_right.__setitem__(t.children_left[0], 0 + t.children_left[0]),
            "a node is the child of two nodes (its nodes do not form a tree)",
        ),
        (lambda t: t.feature.__setitem__(0, 8), "a split uses a column the model does not have (it has 8)"),
        (lambda t: t.threshold.__setitem__(0, np.nan), "a threshold is NaN or infinite"),
    ],
)
def test_corrupted_scikit_learn_trees_are_refused(fitted, edit, fault):
    assert (
        refusal("sklearn", crafted_skops(fitted, edit))
        == f"tree 0 of the scikit-learn model is malformed: {fault}"
    )


def test_untouched_scikit_learn_trees_load(fitted, tumours):
    _, X, _ = tumours
    predictor = load_predictor("sklearn", skops.io.dumps(fitted))
    assert np.array_equal(predictor.predict_proba(X), fitted.predict_proba(X))


@pytest.mark.parametrize(
    ("field", "value", "fault"),
    [
        ("left", 1_000_003, "a child index points outside the tree"),
        ("feature_idx", 8, "a split uses a column the model does not have (it has 8)"),
        ("num_threshold", np.nan, "a threshold or value is NaN or infinite"),
        ("left", 0, "a child index points outside the tree"),
    ],
)
def test_corrupted_hist_gradient_boosting_predictors_are_refused(tumours, field, value, fault):
    _, X, y = tumours
    model = HistGradientBoostingClassifier(max_iter=3, random_state=0).fit(X, y)
    model._predictors[0][0].nodes[field][0] = value
    assert refusal("sklearn", skops.io.dumps(model)) == (
        f"tree 0 of the HistGradientBoosting model is malformed: {fault}"
    )


# ---------------------------------------------------------------------------- registration
def unreached_branch_corrupted(booster, X_background: np.ndarray, fault: str) -> bytes:
    """The "bad only where the background does not go" model: a leaf of the first tree that no
    background row reaches is given children far outside the tree, or its parent a split on a
    column past the end of a row (the background still reads a value there, and the checks that
    only predict and explain the background passed it; a row sent down that branch reads memory
    that is not its own)."""
    reached = set(booster.predict(xgb.DMatrix(X_background), pred_leaf=True)[:, 0].astype(int).tolist())
    document = json.loads(bytes(booster.save_raw("json")))
    tree = document["learner"]["gradient_booster"]["model"]["trees"][0]
    leaf = next(i for i, c in enumerate(tree["left_children"]) if c == -1 and i not in reached)
    if fault == "children":
        tree["left_children"][leaf] = tree["right_children"][leaf] = 1_000_003
    else:
        tree["split_indices"][tree["parents"][leaf]] = 40
    return json.dumps(document).encode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("children", "a child index points outside the tree"),
        ("feature", "a split uses a column the model does not have (it has 8)"),
    ],
)
def test_registration_rejects_a_model_broken_only_where_the_background_does_not_go(
    tumours, booster, fault, reason
):
    names, X, _ = tumours
    artifact = unreached_branch_corrupted(booster, X[:20], fault)
    version = bring("tumours", "xgboost", artifact, names=names, X=X, output=OUTPUT, background_rows=20)
    assert version.status == "rejected"
    assert version.checks["reasons"] == [f"artifact: tree 0 of the XGBoost model is malformed: {reason}"]


@pytest.mark.django_db
def test_registration_rejects_a_corrupted_forest_with_the_fault_named(tumours):
    names, X, y = tumours
    forest = RandomForestClassifier(n_estimators=3, max_depth=4, random_state=0).fit(X, y)
    artifact = crafted_skops(forest, lambda t: t.feature.__setitem__(0, 10**9))
    version = bring("tumours", "sklearn", artifact, names=names, X=X, output=OUTPUT)
    assert version.status == "rejected"
    assert version.checks["reasons"] == [
        "artifact: tree 0 of the scikit-learn model is malformed: a split uses a column the model does not have (it has 8)"
    ]


def test_hist_gradient_boosting_categorical_splits_are_refused(tumours):
    # A fitted model with categorical features holds types outside the trusted list; a split
    # marked categorical in a numeric model would read category maps nothing checks.
    _, X, y = tumours
    model = HistGradientBoostingClassifier(max_iter=3, random_state=0).fit(X, y)
    model._predictors[1][0].nodes["is_categorical"][0] = 1
    assert refusal("sklearn", skops.io.dumps(model)) == (
        "tree 1 of the HistGradientBoosting model is malformed: categorical splits are not supported: "
        "the schema encodes categories as columns"
    )
