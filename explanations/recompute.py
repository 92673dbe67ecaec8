"""An auditor's check of a stored explanation: computed again here, compared, and the comparison
itself recorded in the audit log. The stored record is left untouched."""

from __future__ import annotations

import numpy as np

from audit.models import Action
from audit.services import Actor, audit_record
from config.errors import ApplicationError
from decisions.models import ModelVersion

from .compute import explanation_compute
from .models import Explanation


def explanation_recompute(*, explanation: Explanation, actor: Actor) -> dict:
    """Recompute one explanation in this process and compare it with the stored result. Trees
    are exact and deterministic, so the comparison is bit for bit."""
    if explanation.status != Explanation.Status.DONE:
        raise ApplicationError(
            "nothing to compare", fields={"status": f"explanation is {explanation.status}, not done"}
        )
    version = ModelVersion.objects.select_related("model").get(pk=explanation.model_version_id)
    if version.framework == ModelVersion.Framework.EXTERNAL:
        raise ApplicationError(
            "nothing to recompute",
            fields={"method": "supplied by the controller's external scorer, which Rationale cannot run"},
            status_code=409,
        )
    _, result, _ = explanation_compute(version=version, features=[explanation.decision.features])
    new_raw = [float(v) for v in result.values[0]]
    identical = (
        new_raw == list(explanation.raw_values) and float(result.base_values[0]) == explanation.base_value
    )
    max_diff = float(np.max(np.abs(np.asarray(new_raw) - np.asarray(explanation.raw_values))))
    audit_record(
        actor=actor,
        action=Action.EXPLANATION_RECOMPUTED,
        object_type="explanation",
        object_id=explanation.pk,
        data={"identical": identical, "max_abs_difference": repr(max_diff)},
    )
    return {
        "identical": identical,
        "max_abs_difference": max_diff,
        "method": result.method,
        "base_value": float(result.base_values[0]),
        "raw_values": new_raw,
        "device": result.device,
        "versions": result.versions,
    }
