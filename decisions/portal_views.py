"""The data subject's pages: reached with the access link sent with the decision, no account.

Every page works without JavaScript, is sent `no-store` with no referrer (the link is a secret
and may be on a shared computer), and refuses wrong, expired and revoked links with the same 404.
Failed attempts are counted per client address in Django's cache and answered 429 past a limit.
With the default LocMemCache that count is per process: several web processes each allow the
limit; a shared cache (Redis, memcached) in CACHES makes it global.
"""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from audit.models import Action
from audit.services import Actor, audit_record
from config.errors import ApplicationError
from explanations.reasons import principal_reasons
from explanations.selectors import explanation_current

from . import reviews
from .forms import REQUEST_FORMS, ReplyForm, add_service_errors
from .models import Decision, ReviewRequest
from .predictors import schema_of
from .selectors import decision_for_token

BAD_TOKEN_LIMIT = getattr(settings, "SUBJECT_BAD_TOKEN_LIMIT", 20)
BAD_TOKEN_WINDOW_SECONDS = getattr(settings, "SUBJECT_BAD_TOKEN_WINDOW_SECONDS", 600)
PENDING_REFRESH_SECONDS = 5


# ---------------------------------------------------------------------------- throttle
def client_address(request) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is whatever the client says unless a trusted proxy sets it.
    return request.META.get("REMOTE_ADDR", "unknown")


def _throttle_key(address: str) -> str:
    return f"subject-bad-token:{address}"


def token_attempts_blocked(address: str) -> bool:
    return (cache.get(_throttle_key(address)) or 0) >= BAD_TOKEN_LIMIT


def token_attempt_failed(address: str) -> None:
    key = _throttle_key(address)
    # add() starts the window only once; incr() keeps its expiry.
    if not cache.add(key, 1, timeout=BAD_TOKEN_WINDOW_SECONDS):
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=BAD_TOKEN_WINDOW_SECONDS)


def private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


def _refused(request, status: int) -> HttpResponse:
    template = "decisions/subject_throttled.html" if status == 429 else "decisions/subject_not_found.html"
    response = render(request, template, status=status)
    if status == 429:
        response["Retry-After"] = str(BAD_TOKEN_WINDOW_SECONDS)
    return private(response)


def subject_page(view):
    """Resolve the access token to its decision (or refuse), then call view(request, decision, token).

    CSRF: these pages are sent with `Referrer-Policy: no-referrer`, so browsers send `Origin: null`
    with their forms, which Django's CSRF origin check refuses. The forms need no CSRF token: the
    access token in the URL is a 192-bit secret a forging site cannot know, which is exactly what a
    CSRF token is. Without the token nothing here acts on anything.
    """

    @csrf_exempt
    @wraps(view)
    def wrapped(request, token: str, *args, **kwargs):
        address = client_address(request)
        if token_attempts_blocked(address):
            return _refused(request, 429)
        decision = decision_for_token(token)
        if decision is None:
            token_attempt_failed(address)
            return _refused(request, 404)
        return private(view(request, decision, token, *args, **kwargs))

    return wrapped


def _record_view(decision: Decision, page: str, **data) -> None:
    audit_record(
        actor=Actor.subject(decision.pk),
        action=Action.DECISION_VIEWED,
        object_type="decision",
        object_id=decision.pk,
        data={"page": page, **data} if page != "decision" else {},
    )


# ---------------------------------------------------------------------------- presentation
def data_rows(decision: Decision) -> list[dict]:
    """Every input with its label and the person's value, so they can spot an error."""
    if decision.personal_data_erased_at is not None:
        return []
    schema = schema_of(decision.model_version)
    return [
        {
            "name": f.name,
            "label": f.label,
            "description": f.description,
            "value": f.display_value(decision.features.get(f.name)),
            "is_image": f.type == "image",
            "mutable": f.mutable,
            "protected": f.protected,
        }
        for f in schema.features
    ]


def decision_presentation(decision: Decision) -> dict:
    """What the subject's page and the case page show of a decision and its explanation."""
    from explanations.render import image_svgs, runner_up_classes, waterfall_svg

    explanation = explanation_current(decision.pk)
    context: dict = {
        "decision": decision,
        "version": decision.model_version,
        "explanation": explanation,
        "reasons": [],
        "chart": None,
        "image": None,
        "runner_up": [],
        "counterfactuals": None,
        "data_rows": data_rows(decision),
        "pending": explanation is not None and explanation.status in ("pending", "running"),
        "refresh_seconds": PENDING_REFRESH_SECONDS,
    }
    if explanation is not None and explanation.status == "done" and decision.personal_data_erased_at is None:
        context["reasons"] = principal_reasons(explanation, decision)
        if schema_of(decision.model_version).is_image:
            context["image"] = image_svgs(explanation, decision)
            context["runner_up"] = runner_up_classes(decision)
        else:
            context["chart"] = waterfall_svg(explanation, decision)
        cf = explanation.counterfactuals
        context["counterfactuals"] = cf if isinstance(cf, dict) else None
        context["counterfactuals_pending"] = cf is None
    return context


# ---------------------------------------------------------------------------- pages
@subject_page
def subject_decision(request, decision: Decision, token: str):
    """The decision, why, the data used, what would change it, and the person's requests."""
    _record_view(decision, "decision")
    context = decision_presentation(decision)
    current = reviews.effective_decision(decision)
    context.update(
        token=token,
        current=current if current.pk != decision.pk else None,
        requests=list(reviews.review_requests_of_decision(decision)),
        kinds=ReviewRequest.Kind,
    )
    return render(request, "decisions/subject_decision.html", context)


@subject_page
@require_http_methods(["GET", "POST"])
def subject_request_new(request, decision: Decision, token: str, kind: str):
    """Express my view, contest, or ask for a person: a form, then a confirmation page."""
    if kind not in REQUEST_FORMS:
        return _refused(request, 404)
    form_class = REQUEST_FORMS[kind]
    form = form_class(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            created = reviews.review_request_create(
                decision=decision,
                kind=kind,
                statement=form.cleaned_data.get("statement", ""),
                grounds=form.cleaned_data.get("grounds", ""),
                contact_email=form.cleaned_data.get("contact_email", ""),
                access_token=token,
                language=get_language(),
            )
        except ApplicationError as exc:
            add_service_errors(form, exc)
        else:
            url = reverse(
                "decisions:subject-request", kwargs={"token": token, "reference": created.reference}
            )
            return redirect(url + "?new=1")
    return render(
        request,
        "decisions/subject_request_form.html",
        {"decision": decision, "version": decision.model_version, "token": token, "kind": kind, "form": form},
        status=400 if request.method == "POST" else 200,
    )


@subject_page
def subject_request(request, decision: Decision, token: str, reference: str):
    """One request: its reference, due date, status, questions asked and the outcome."""
    found = reviews.review_request_of_decision(decision, reference)
    if found is None:  # another decision's request, or none: the same answer as a bad link
        return _refused(request, 404)
    _record_view(decision, "request", reference=found.reference)
    return render(
        request,
        "decisions/subject_request.html",
        _request_context(found, token=token, new="new" in request.GET),
    )


@subject_page
@require_http_methods(["POST"])
def subject_request_reply(request, decision: Decision, token: str, reference: str):
    found = reviews.review_request_of_decision(decision, reference)
    if found is None:
        return _refused(request, 404)
    form = ReplyForm(request.POST)
    if form.is_valid():
        try:
            reviews.review_subject_reply(request=found, statement=form.cleaned_data["statement"])
        except ApplicationError as exc:
            add_service_errors(form, exc)
        else:
            return redirect("decisions:subject-request", token=token, reference=reference)
    context = _request_context(found, token=token)
    context["reply_form"] = form
    return render(request, "decisions/subject_request.html", context, status=400)


def subject_request_status(request, signed: str):
    """The page the follow-up e-mails link to: one request, opened by a signed link."""
    address = client_address(request)
    if token_attempts_blocked(address):
        return _refused(request, 429)
    found = reviews.review_request_from_status_link(signed)
    if found is None:
        token_attempt_failed(address)
        return _refused(request, 404)
    _record_view(found.decision, "request-status", reference=found.reference)
    return private(render(request, "decisions/subject_request.html", _request_context(found, token=None)))


def _request_context(found: ReviewRequest, *, token: str | None, new: bool = False) -> dict:
    decision = found.decision
    return {
        "decision": decision,
        "version": decision.model_version,
        "req": found,
        "token": token,
        "new": new,
        "actions": [a for a in found.actions.all() if a.kind != "taken"],
        "reply_form": ReplyForm() if found.status == ReviewRequest.Status.INFO_REQUESTED and token else None,
    }
