"""The data subject's pages: reached with the access link sent with the decision, no account.

Every page works without JavaScript, is sent `no-store` with no referrer (the link is a secret
and may be on a shared computer). An expired or revoked link gets 410 and a page saying whom to ask
for a new one; any other link the same 404, whether or not it ever existed (a re-issued link's old
token is no longer stored). Failed attempts are counted per client address
(decisions.subject_access) and answered 429 past a limit.
"""

from __future__ import annotations

from functools import wraps

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from audit.models import Action
from audit.services import Actor, audit_record
from config.errors import ApplicationError, add_service_errors
from decisions.models import Decision
from decisions.registry import schema_for_language, schema_of
from decisions.selectors import effective_decision
from decisions.subject_access import (
    BAD_TOKEN_WINDOW_SECONDS,
    OPEN,
    REVOKED,
    access_lookup,
    client_address,
    token_attempt_failed,
    token_attempts_blocked,
)

from .access_log import decision_accesses
from .forms import REQUEST_FORMS, RectifyRequestForm, ReplyForm
from .models import ReviewRequest
from .presentation import decision_presentation
from .rectification import before_after
from .selectors import review_request_of_decision, review_requests_of_decision
from .services.requests import review_request_create, review_subject_reply
from .status_links import review_request_from_status_link


def private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


def _refused(request, status: int) -> HttpResponse:
    template = "reviews/subject_throttled.html" if status == 429 else "reviews/subject_not_found.html"
    response = render(request, template, status=status)
    if status == 429:
        response["Retry-After"] = str(BAD_TOKEN_WINDOW_SECONDS)
    return private(response)


def _ended(request, decision: Decision, *, revoked: bool) -> HttpResponse:
    """A link that worked once: say it ended and whom to ask for a new one, nothing of the decision."""
    context = {"version": decision.model_version, "revoked": revoked}
    return private(render(request, "reviews/subject_link_expired.html", context, status=410))


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
        state, decision = access_lookup(token)
        if state != OPEN:
            token_attempt_failed(address)
            if decision is None:
                return _refused(request, 404)
            return _ended(request, decision, revoked=state == REVOKED)
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


def decision_reading(decision: Decision) -> dict | None:
    """For a decision that reads something rather than grants or refuses it (an image model
    choosing among classes none of which is favourable: a digit on a form), what was read and
    how sure the model was, so the pages say "read as 1, with 97% confidence", not "Outcome: 1",
    and requests speak of checking the reading, not of an application. None for other decisions."""
    version = decision.model_version
    output = version.output
    if output["type"] != "multiclass" or output.get("favourable_label") is not None:
        return None
    image = next((f for f in schema_of(version).features if f.type == "image"), None)
    if image is None:
        return None
    return {"label": image.label, "outcome": decision.outcome, "confidence": decision.score}


# ---------------------------------------------------------------------------- pages
@subject_page
def subject_decision(request, decision: Decision, token: str):
    """The decision, why, the data used, what would change it, and the person's requests."""
    _record_view(decision, "decision")
    context = decision_presentation(decision)
    current = effective_decision(decision)
    context.update(
        token=token,
        current=current if current.pk != decision.pk else None,
        requests=list(review_requests_of_decision(decision)),
        kinds=ReviewRequest.Kind,
        reading=decision_reading(decision),
        accesses=decision_accesses(decision),
        before_after=before_after(decision),
    )
    return render(request, "reviews/subject_decision.html", context)


@subject_page
@require_http_methods(["GET", "POST"])
def subject_request_new(request, decision: Decision, token: str, kind: str):
    """Express my view, contest, or ask for a person: a form, then a confirmation page."""
    if kind not in REQUEST_FORMS:
        return _refused(request, 404)
    reading = decision_reading(decision)
    form = REQUEST_FORMS[kind](request.POST or None, reading=reading is not None)
    if request.method == "POST" and form.is_valid():
        try:
            created = review_request_create(
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
            url = reverse("reviews:subject-request", kwargs={"token": token, "reference": created.reference})
            return redirect(url + "?new=1")
    return render(
        request,
        "reviews/subject_request_form.html",
        {
            "decision": decision,
            "version": decision.model_version,
            "token": token,
            "kind": kind,
            "form": form,
            "reading": reading,
        },
        status=400 if request.method == "POST" else 200,
    )


@subject_page
@require_http_methods(["GET", "POST"])
def subject_rectify(request, decision: Decision, token: str):
    """Some of my data is wrong: the fields to correct and their values, then a confirmation."""
    if decision.personal_data_erased_at is not None:
        return _refused(request, 404)
    form = RectifyRequestForm(
        request.POST if request.method == "POST" else None,
        schema=schema_for_language(decision.model_version, get_language()),
        features=decision.features,
    )
    if request.method == "POST" and form.is_valid():
        try:
            created = review_request_create(
                decision=decision,
                kind=ReviewRequest.Kind.RECTIFY,
                corrections=form.corrections(),
                statement=form.cleaned_data["statement"],
                contact_email=form.cleaned_data["contact_email"],
                access_token=token,
                language=get_language(),
            )
        except ApplicationError as exc:
            corrections = exc.fields.get("corrections")
            if isinstance(corrections, dict):
                form.add_correction_errors(corrections)
            else:
                add_service_errors(form, exc)
        else:
            url = reverse("reviews:subject-request", kwargs={"token": token, "reference": created.reference})
            return redirect(url + "?new=1")
    context = {"decision": decision, "version": decision.model_version, "token": token, "form": form}
    status = 400 if request.method == "POST" else 200
    return render(request, "reviews/subject_rectify_form.html", context, status=status)


@subject_page
def subject_request(request, decision: Decision, token: str, reference: str):
    """One request: its reference, due date, status, questions asked and the outcome."""
    found = review_request_of_decision(decision, reference)
    if found is None:  # another decision's request, or none: the same answer as a bad link
        return _refused(request, 404)
    _record_view(decision, "request", reference=found.reference)
    return render(
        request,
        "reviews/subject_request.html",
        _request_context(found, token=token, new="new" in request.GET),
    )


@subject_page
@require_http_methods(["POST"])
def subject_request_reply(request, decision: Decision, token: str, reference: str):
    found = review_request_of_decision(decision, reference)
    if found is None:
        return _refused(request, 404)
    form = ReplyForm(request.POST)
    if form.is_valid():
        try:
            review_subject_reply(request=found, statement=form.cleaned_data["statement"])
        except ApplicationError as exc:
            add_service_errors(form, exc)
        else:
            return redirect("reviews:subject-request", token=token, reference=reference)
    context = _request_context(found, token=token)
    context["reply_form"] = form
    return render(request, "reviews/subject_request.html", context, status=400)


def subject_request_status(request, signed: str):
    """The page the follow-up e-mails link to: one request, opened by a signed link."""
    address = client_address(request)
    if token_attempts_blocked(address):
        return _refused(request, 429)
    found = review_request_from_status_link(signed)
    if found is None:
        token_attempt_failed(address)
        return _refused(request, 404)
    _record_view(found.decision, "request-status", reference=found.reference)
    return private(render(request, "reviews/subject_request.html", _request_context(found, token=None)))


def _request_context(found: ReviewRequest, *, token: str | None, new: bool = False) -> dict:
    decision = found.decision
    return {
        "decision": decision,
        "version": decision.model_version,
        "req": found,
        "token": token,
        "new": new,
        "reading": decision_reading(decision),
        "actions": [a for a in found.actions.all() if a.kind != "taken"],
        "reply_form": ReplyForm() if found.status == ReviewRequest.Status.INFO_REQUESTED and token else None,
    }
