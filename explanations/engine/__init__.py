"""Rationale's explanation engine: SHAP explainers behind one interface.

Plain Python: nothing here imports Django, and importing the package imports neither shap,
xgboost nor TensorFlow; each explainer imports what it needs when it is built.
"""

from .base import Explainer, Explanation, ExplanationError
from .deep import DeepExplainer
from .devices import detect_devices, library_versions
from .factory import METHODS, MODEL_AGNOSTIC_METHODS, auto_method, make_explainer
from .gradient import GradientExplainer
from .grouping import group_contributions
from .kernel import KernelExplainer
from .tree import TreeExplainer

__all__ = [
    "METHODS",
    "MODEL_AGNOSTIC_METHODS",
    "DeepExplainer",
    "Explainer",
    "Explanation",
    "ExplanationError",
    "GradientExplainer",
    "KernelExplainer",
    "TreeExplainer",
    "auto_method",
    "detect_devices",
    "group_contributions",
    "library_versions",
    "make_explainer",
]
