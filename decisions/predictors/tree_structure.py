"""Structural checks of tree models, in Python, before a native library predicts with them.

XGBoost and scikit-learn trust the trees they are given: a child index outside the tree, a
cycle, or a split on a column the rows do not have makes their C++ or Cython read or write out
of bounds, which kills the process (a web worker, an explanation worker). So every tree is
checked here first, and a model that fails is an ArtifactError naming the tree and the fault:
node arrays of one length, children in range that form a tree from the root (each node
reached once, leaves marked consistently), split columns the model has, finite thresholds and
leaf values, and depth at most MAX_TREE_DEPTH. XGBoost then reads what was checked: the UBJSON
as uploaded (read by a strict reader that allows one reading), a JSON upload re-serialised.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any, Final

import numpy as np

from .base import ArtifactError
from .ubjson import UBJSONError, ubjson_loads

# Deeper than any tree a library grows on real data (a fully grown scikit-learn tree on millions
# of rows is ~60 deep); explainers allocate per path, so a crafted chain must not be unbounded.
MAX_TREE_DEPTH: Final = 256
_XGB_ROOT_PARENT: Final = 2147483647  # what XGBoost saves as the root's parent
_XGB_NODE_ARRAYS: Final = (
    "left_children",
    "right_children",
    "parents",
    "split_indices",
    "split_conditions",
    "default_left",
    "split_type",
    "base_weights",
    "loss_changes",
    "sum_hessian",
)


def tree_problem(
    left: np.ndarray, right: np.ndarray, leaf: np.ndarray, *, unreachable: int = 0
) -> str | None:
    """Why the nodes (children of node i: left[i], right[i]; leaf[i] marks a leaf) do not form a
    tree from node 0 of depth at most MAX_TREE_DEPTH, or None. `unreachable` nodes may be left
    out of it (XGBoost keeps pruned nodes in place)."""
    n = len(leaf)
    if n == 0:
        return "it has no nodes"
    inner = ~leaf
    children = np.concatenate([left[inner], right[inner]]).astype(np.int64)
    if ((children < 1) | (children >= n)).any():
        return "a child index points outside the tree"
    # No node is the child of two nodes and the root of none: walked from the root, each node
    # is then reached at most once, and a cycle cannot be entered.
    if len(np.unique(children)) != len(children):
        return "a node is the child of two nodes (its nodes do not form a tree)"
    reached, frontier, depth = 1, np.zeros(1, dtype=np.int64), 0
    while True:
        frontier = frontier[inner[frontier]]
        if not len(frontier):
            break
        depth += 1
        if depth > MAX_TREE_DEPTH:
            return f"it is deeper than {MAX_TREE_DEPTH} levels"
        frontier = np.concatenate([left[frontier], right[frontier]]).astype(np.int64)
        reached += len(frontier)
    if n - reached != unreachable:
        return "its nodes do not form a tree (some are not reached from the root, or form a cycle)"
    return None


# ---------------------------------------------------------------------------- XGBoost
def xgboost_checked(artifact: bytes) -> bytes:
    """The model for `Booster.load_model`, once every tree is checked; ArtifactError
    otherwise. JSON and UBJSON are read as XGBoost tells them apart (the byte after `{`);
    anything else, such as XGBoost's deprecated binary format, is refused."""
    if artifact[:2] == b'{"':
        try:
            document = json.loads(artifact, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
        except (ValueError, RecursionError) as exc:
            raise ArtifactError(
                f"not a loadable XGBoost model: its JSON is malformed ({_short(exc)})"
            ) from None
    elif artifact[:1] == b"{" and artifact[1:2].isalpha():
        try:
            document = ubjson_loads(artifact)
        except UBJSONError as exc:
            raise ArtifactError(f"not a loadable XGBoost model: its UBJSON is malformed ({exc})") from None
    else:
        raise ArtifactError(
            "not a loadable XGBoost model: only the JSON and UBJSON formats are accepted; "
            "save it with Booster.save_model('model.ubj') or save_raw('ubj')"
        )
    try:
        _check_xgboost(document)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        if isinstance(exc, ArtifactError):
            raise
        raise ArtifactError(f"the XGBoost model is malformed: {_short(exc)}") from None
    if artifact[:2] != b'{"':
        # The reader is strict (ubjson.py): XGBoost reads these bytes as the document checked.
        return artifact
    return json.dumps(document, allow_nan=False, default=_plain).encode()


def _check_xgboost(document: dict) -> None:
    learner = document["learner"]
    params = learner["learner_model_param"]
    n_features = _count(params["num_feature"], "num_feature")
    booster = learner["gradient_booster"]
    name = booster["name"]
    if name == "gblinear":
        weights = _floats(booster["model"]["weights"], "weights")
        if not np.isfinite(weights).all():
            raise ArtifactError("the XGBoost linear model has a weight that is NaN or infinite")
        return
    if name == "dart":
        model = booster["gbtree"]["model"]
        if len(_floats(booster["weight_drop"], "weight_drop")) != len(model["trees"]):
            raise ArtifactError("the XGBoost dart model has not one weight per tree")
    elif name == "gbtree":
        model = booster["model"]
    else:
        raise ArtifactError(f"the XGBoost booster {str(name)[:40]!r} is not supported")
    trees = model["trees"]
    n_trees = _count(model["gbtree_model_param"]["num_trees"], "num_trees")
    tree_info = _ints(model["tree_info"], "tree_info")
    if not isinstance(trees, list) or len(trees) != n_trees or len(tree_info) != n_trees:
        raise ArtifactError(
            f"the XGBoost model says it has {n_trees} trees but holds {len(trees)} with "
            f"{len(tree_info)} tree_info entries"
        )
    n_groups = max(
        _count(params.get("num_class", "0"), "num_class"),
        _count(params.get("num_target", "1"), "num_target"),
        1,
    )
    if n_trees and (tree_info.min() < 0 or tree_info.max() >= n_groups):
        raise ArtifactError("the XGBoost model's tree_info names an output group it does not have")
    indptr = _ints(model.get("iteration_indptr", [0, n_trees]), "iteration_indptr")
    if len(indptr) < 1 or indptr[0] != 0 or indptr[-1] != n_trees or (np.diff(indptr) < 0).any():
        raise ArtifactError("the XGBoost model's iteration_indptr does not match its trees")
    for number, tree in enumerate(trees):
        problem = _xgboost_tree_problem(tree, n_features)
        if problem:
            raise ArtifactError(f"tree {number} of the XGBoost model is malformed: {problem}")


def _xgboost_tree_problem(tree: dict, n_features: int) -> str | None:
    param = tree["tree_param"]
    n = _count(param["num_nodes"], "num_nodes")
    if str(param.get("size_leaf_vector", "1")) not in ("0", "1"):
        return "vector-leaf (multi-output) trees are not supported"
    arrays = {key: np.asarray(tree[key]) for key in _XGB_NODE_ARRAYS}
    for key, array in arrays.items():
        if array.ndim != 1 or len(array) != n or (len(array) and array.dtype.kind not in "iufb"):
            return f"{key} does not hold one number per node ({n} nodes)"
    left, right = arrays["left_children"].astype(np.int64), arrays["right_children"].astype(np.int64)
    leaf = left == -1
    if (leaf != (right == -1)).any():
        return "a node has one child"
    problem = tree_problem(
        left, right, leaf, unreachable=_count(param.get("num_deleted", "0"), "num_deleted")
    )
    if problem:
        return problem
    features = arrays["split_indices"].astype(np.int64)[~leaf]
    if ((features < 0) | (features >= n_features)).any():
        return f"a split uses a column the model does not have (it has {n_features})"
    for key in ("split_conditions", "base_weights"):
        if not np.isfinite(arrays[key].astype(np.float64)).all():
            return f"{key} holds NaN or infinity"
    parents = arrays["parents"].astype(np.int64)
    inner = np.flatnonzero(~leaf)
    if (
        parents[0] != _XGB_ROOT_PARENT
        or (parents[left[inner]] != inner).any()
        or (parents[right[inner]] != inner).any()
    ):
        return "its parents do not match its children"
    if not np.isin(arrays["default_left"], (0, 1)).all():
        return "default_left is not 0 or 1"
    return _xgboost_categories_problem(tree, arrays["split_type"], leaf)


def _xgboost_categories_problem(tree: dict, split_type: np.ndarray, leaf: np.ndarray) -> str | None:
    if not np.isin(split_type, (0, 1)).all():
        return "a split has an unknown split type"
    nodes = _ints(tree.get("categories_nodes", []), "categories_nodes")
    segments = _ints(tree.get("categories_segments", []), "categories_segments")
    sizes = _ints(tree.get("categories_sizes", []), "categories_sizes")
    categories = _ints(tree.get("categories", []), "categories")
    categorical = np.flatnonzero((split_type == 1) & ~leaf)
    if (
        not np.array_equal(np.sort(nodes), categorical)
        or len(segments) != len(nodes)
        or len(sizes) != len(nodes)
    ):
        return "its categorical splits do not match their category lists"
    if ((segments < 0) | (sizes < 0) | (segments + sizes > len(categories))).any():
        return "a categorical split's categories lie outside the category list"
    # XGBoost sizes a bitset by the largest category: a huge one is gigabytes.
    if len(categories) and (categories.min() < 0 or categories.max() >= 1 << 16):
        return "a category is negative or above 65535"
    return None


# ---------------------------------------------------------------------------- scikit-learn
def sklearn_check_trees(model: Any, n_columns: int) -> None:
    """Every fitted tree inside a loaded estimator (decision trees, forests, gradient boosting,
    HistGradientBoosting's predictors, in a Pipeline or not), checked before anything predicts;
    ArtifactError naming the first that fails."""
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    from sklearn.tree._tree import Tree

    trees, predictors = [], []
    for found in _sklearn_objects(model):
        if isinstance(found, Tree):
            trees.append(found)
        elif isinstance(found, TreePredictor):
            predictors.append(found)
    for number, tree in enumerate(trees):
        problem = _sklearn_tree_problem(tree, n_columns)
        if problem:
            raise ArtifactError(f"tree {number} of the scikit-learn model is malformed: {problem}")
    for number, predictor in enumerate(predictors):
        problem = _hist_predictor_problem(predictor, n_columns)
        if problem:
            raise ArtifactError(f"tree {number} of the HistGradientBoosting model is malformed: {problem}")


def _sklearn_objects(model: Any) -> list:
    """The model and every object it holds, in attributes, lists, tuples, dicts and object
    arrays; each once."""
    seen: set[int] = set()
    found, pending = [], deque([model])
    while pending:
        item = pending.popleft()  # in order: trees are numbered as the model holds them
        if id(item) in seen:
            continue
        seen.add(id(item))
        found.append(item)
        if isinstance(item, list | tuple):
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, np.ndarray):
            if item.dtype == object:
                pending.extend(item.ravel().tolist())
        elif hasattr(item, "__dict__"):
            pending.extend(vars(item).values())
    return found


def _sklearn_tree_problem(tree: Any, n_columns: int) -> str | None:
    if int(tree.n_features) != n_columns:
        return f"it is for {int(tree.n_features)} columns, the model takes {n_columns}"
    n = int(tree.node_count)
    left, right = np.asarray(tree.children_left), np.asarray(tree.children_right)
    features, thresholds = np.asarray(tree.feature), np.asarray(tree.threshold)
    values = np.asarray(tree.value)
    if not all(len(a) == n for a in (left, right, features, thresholds, values)):
        return f"its node arrays do not all have {n} nodes"
    leaf = left == -1
    if (leaf != (right == -1)).any():
        return "a node has one child"
    problem = tree_problem(left, right, leaf)
    if problem:
        return problem
    if ((features[~leaf] < 0) | (features[~leaf] >= n_columns)).any():
        return f"a split uses a column the model does not have (it has {n_columns})"
    if not np.isfinite(thresholds[~leaf]).all():
        return "a threshold is NaN or infinite"
    if not np.isfinite(values).all() or not np.isfinite(np.asarray(tree.weighted_n_node_samples)).all():
        return "a node's value is NaN or infinite"
    return None


def _hist_predictor_problem(predictor: Any, n_columns: int) -> str | None:
    nodes = predictor.nodes
    leaf = nodes["is_leaf"].astype(bool)
    left, right = nodes["left"].astype(np.int64), nodes["right"].astype(np.int64)
    problem = tree_problem(left, right, leaf)
    if problem:
        return problem
    inner = nodes[~leaf]
    if (inner["feature_idx"] < 0).any() or (inner["feature_idx"] >= n_columns).any():
        return f"a split uses a column the model does not have (it has {n_columns})"
    if not np.isfinite(nodes["value"]).all() or not np.isfinite(inner["num_threshold"]).all():
        return "a threshold or value is NaN or infinite"
    # A categorical split reads category sets through maps the estimator's bin mapper holds,
    # unchecked by scikit-learn's Cython: the schema encodes categories as columns instead.
    if inner["is_categorical"].any():
        return "categorical splits are not supported: the schema encodes categories as columns"
    return None


# ---------------------------------------------------------------------------- helpers
def _count(value: Any, name: str) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ArtifactError(f"the model's {name} is not a number") from None
    if not 0 <= n < 1 << 31:
        raise ArtifactError(f"the model's {name} is out of range")
    return n


def _ints(value: Any, name: str) -> np.ndarray:
    array = np.asarray(value)
    if array.ndim != 1 or (len(array) and array.dtype.kind not in "iu"):
        raise ArtifactError(f"the model's {name} is not a list of integers")
    return array.astype(np.int64)


def _floats(value: Any, name: str) -> np.ndarray:
    array = np.asarray(value)
    if array.ndim != 1 or (len(array) and array.dtype.kind not in "iuf"):
        raise ArtifactError(f"the model's {name} is not a list of numbers")
    return array.astype(np.float64)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("an object repeats a key")
    return result


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _short(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
