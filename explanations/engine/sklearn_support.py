"""Which exact explainer a scikit-learn model has: Linear SHAP, TreeSHAP, or none.

Models are recognised by their exact class (a subclass may predict differently from what the
explainer reads of it), by name, so this module never imports scikit-learn itself.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = [
    "AFFINE_SCALERS",
    "LINEAR_MODELS",
    "TREE_MODELS",
    "sklearn_method",
    "split_pipeline",
    "tree_problem",
]

# Each column scaled on its own by x * a + c: a linear model after them is linear in the raw
# columns, and a tree model's splits on a scaled column are splits on the raw one.
AFFINE_SCALERS: Final = frozenset({"StandardScaler", "MinMaxScaler", "MaxAbsScaler", "RobustScaler"})
LINEAR_MODELS: Final = frozenset({"LogisticRegression", "LinearRegression", "Ridge", "Lasso", "ElasticNet"})
TREE_MODELS: Final = frozenset(
    f"{family}{kind}"
    for family in ("RandomForest", "ExtraTrees", "GradientBoosting", "HistGradientBoosting", "DecisionTree")
    for kind in ("Classifier", "Regressor")
)


def sklearn_method(model: Any) -> str | None:
    """ "linear" or "tree" when the model (bare, or the last step of a Pipeline of scalers) has
    that exact explainer, else None (the model-agnostic methods apply)."""
    if model is None:
        return None
    try:
        _, final = split_pipeline(model)
    except ValueError:
        return None
    if _sklearn_name(final) in LINEAR_MODELS:
        return "linear"
    if _sklearn_name(final) in TREE_MODELS and tree_problem(final) is None:
        return "tree"
    return None


def split_pipeline(model: Any) -> tuple[list[Any], Any]:
    """(the scalers before the final estimator, the final estimator); ValueError naming the
    step when a Pipeline holds anything but affine scalers before its last step."""
    if _sklearn_name(model) != "Pipeline":
        return [], model
    steps = [step for _, step in model.steps]
    scalers = [step for step in steps[:-1] if step is not None and step != "passthrough"]
    for step in scalers:
        if _sklearn_name(step) not in AFFINE_SCALERS:
            raise ValueError(
                f"a Pipeline step {type(step).__name__} is not one of {', '.join(sorted(AFFINE_SCALERS))}"
            )
        if _sklearn_name(step) == "MinMaxScaler" and getattr(step, "clip", False):
            raise ValueError("a MinMaxScaler with clip=True is not affine")
    return scalers, steps[-1]


def tree_problem(estimator: Any) -> str | None:
    """Why shap's TreeExplainer cannot explain this tree model exactly, or None."""
    name = _sklearn_name(estimator)
    if name not in TREE_MODELS:
        return f"{type(estimator).__name__} is not one of the supported tree models"
    if getattr(estimator, "n_outputs_", 1) != 1:
        return f"{name} predicts several targets at once"
    if name.startswith("GradientBoosting"):
        if getattr(estimator, "init", None) is not None:
            return f"{name} with a custom init estimator"
        if name.endswith("Classifier") and len(getattr(estimator, "classes_", ())) > 2:
            return "shap explains a GradientBoostingClassifier of two classes only"
    return None


def _sklearn_name(obj: Any) -> str | None:
    cls = type(obj)
    return cls.__name__ if cls.__module__.split(".")[0] == "sklearn" else None
