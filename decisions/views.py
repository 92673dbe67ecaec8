"""Pages of the decisions app: the subject's access page and the signed-in home."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from audit.models import Action
from audit.services import Actor, audit_record
from explanations.reasons import principal_reasons
from explanations.selectors import explanation_current

from .selectors import decision_for_token


@never_cache
def subject_decision(request, token: str):
    """The page a data subject reaches from the link sent with their decision (no account)."""
    decision = decision_for_token(token)
    if decision is None:
        raise Http404("This link is not valid. It may have expired or been withdrawn.")
    audit_record(
        actor=Actor.subject(decision.pk),
        action=Action.DECISION_VIEWED,
        object_type="decision",
        object_id=decision.pk,
    )
    explanation = explanation_current(decision.pk)
    reasons = principal_reasons(explanation, decision) if explanation and explanation.status == "done" else []
    response = render(
        request,
        "decisions/subject_decision.html",
        {
            "decision": decision,
            "version": decision.model_version,
            "explanation": explanation,
            "reasons": reasons,
        },
    )
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    return response


@login_required
def home(request):
    return render(request, "decisions/home.html")
