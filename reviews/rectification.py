"""What the person sees of a rectification: the decision before and after their corrections, side
by side (outcome, principal reasons, chart), once the new decision is explained."""

from __future__ import annotations

from django.utils.translation import get_language

from decisions.models import Decision
from decisions.registry import schema_for_language
from explanations.render import waterfall_svg

from .models import CaseAction, ReviewRequest
from .presentation import decision_presentation


def before_after(decision: Decision) -> dict | None:
    """The latest rectification of `decision` (the original the person's link opens): `request`,
    `changes` (label, value before, value after), `before` and `after` (what decision_presentation
    gives of each), and `pending` while the new decision's explanation is being prepared. None
    when no correction was accepted."""
    request = (
        ReviewRequest.objects.filter(decision=decision, status=ReviewRequest.Status.RECTIFIED)
        .exclude(human_decision=None)
        .select_related("human_decision__model_version__model")
        .order_by("-closed_at", "-id")
        .first()
    )
    if request is None:
        return None
    after = request.human_decision
    before = Decision.objects.select_related("model_version__model").get(pk=after.supersedes_id)
    shown_after = decision_presentation(after)
    explanation = shown_after["explanation"]
    if explanation is None or explanation.status != "done":
        return {"request": request, "pending": explanation is not None and explanation.status != "failed"}
    sides = [("before", before, decision_presentation(before)), ("after", after, shown_after)]
    for key, shown_decision, shown in sides:
        if shown["chart"] is not None:  # drawn again with ids of its own: the page has "why-chart"
            shown["chart"] = waterfall_svg(shown["explanation"], shown_decision, chart_id=f"{key}-chart")
    return {
        "request": request,
        "pending": False,
        "changes": _changes(request, before, after),
        "before": sides[0][2],
        "after": shown_after,
        "sides": [{"key": key, "shown": shown} for key, _, shown in sides],
    }


def _changes(request: ReviewRequest, before: Decision, after: Decision) -> list[dict]:
    closing = next((a for a in request.actions.all() if a.kind == CaseAction.Kind.RECTIFIED), None)
    accepted = closing.data.get("accepted", []) if closing is not None else []
    if after.personal_data_erased_at is not None:
        return []
    schema = schema_for_language(after.model_version, get_language())
    return [
        {
            "label": f.label,
            "before": f.display_value(before.features.get(f.name)),
            "after": f.display_value(after.features.get(f.name)),
        }
        for f in schema.features
        if f.name in accepted
    ]


def proposals(case: ReviewRequest, in_force: Decision) -> list[dict]:
    """A rectification's proposed values as the caseworker weighs them: `name`, `label`, `used`
    (the value in the outcome in force) and `proposed`, in the schema's order."""
    schema = schema_for_language(in_force.model_version, get_language())
    return [
        {
            "name": f.name,
            "label": f.label,
            "used": f.display_value(in_force.features.get(f.name)),
            "proposed": f.display_value(case.corrections[f.name]),
        }
        for f in schema.features
        if f.name in case.corrections
    ]
