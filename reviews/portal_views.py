"""The data subject's pages: reached with the access link sent with the decision, no account.

The link (`/access/<token>/`) is used once per visit, as Django's password-reset link is: its
token is checked, the session is bound to its decision (decisions.subject_access) and the browser
is sent on to `/access/decision/<id>/`, so that the token is not in the address bar, the history,
a referrer or the access log of any later page. Every page from there is authorised by that
session alone (403 and a page saying to open the link again without it) and protected by Django's
CSRF check like any signed-in form.

Every page works without JavaScript and is sent `no-store` (the computer may be shared). An
expired or revoked link gets 410 and a page saying whom to ask for a new one; any other link the
same 404, whether or not it ever existed (a re-issued link's old token is no longer stored).
Unknown tokens are counted per client address and answered 429 past a limit; a valid token is
always served.
"""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.views.decorators.http import require_http_methods, require_safe

from audit.models import Action
from audit.services import Actor, audit_record
from config.errors import ApplicationError, add_service_errors
from config.proxies import client_address
from decisions.models import Decision
from decisions.registry import schema_for_language, schema_of
from decisions.selectors import effective_decision
from decisions.subject_access import (
    OPEN,
    REVOKED,
    UNKNOWN,
    subject_session_bind,
    subject_session_lookup,
    token_attempt_failed,
    token_attempts_blocked,
    token_refusal,
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
    return response


def _secret_in_path(response: HttpResponse) -> HttpResponse:
    """A response to a URL holding a secret (the access link, a status link): nothing of that URL
    goes on in a referrer."""
    response["Referrer-Policy"] = "no-referrer"
    return private(response)


def _refused(request, status: int) -> HttpResponse:
    template = "reviews/subject_throttled.html" if status == 429 else "reviews/subject_not_found.html"
    response = render(request, template, status=status)
    if status == 429:
        response["Retry-After"] = str(settings.SUBJECT_BAD_TOKEN_WINDOW_SECONDS)
    return _secret_in_path(response)


def _ended(request, decision: Decision, *, revoked: bool) -> HttpResponse:
    """A link that worked once: say it ended and whom to ask for a new one, nothing of the decision."""
    context = {"version": decision.model_version, "revoked": revoked}
    return _secret_in_path(render(request, "reviews/subject_link_expired.html", context, status=410))


@require_safe
def subject_link(request, token: str):
    """The link from the decision notice: check the token, bind the session to its decision and
    send the browser on to the decision's page, whose URL holds no token."""
    state, decision, throttled = token_refusal(request, token)
    if state == UNKNOWN:
        return _refused(request, 429 if throttled else 404)
    if state != OPEN:
        return _ended(request, decision, revoked=state == REVOKED)
    subject_session_bind(request, decision)
    return _secret_in_path(redirect("reviews:subject-decision", decision_id=decision.pk))


def subject_page(view):
    """Resolve the session's binding to the decision in the URL (or refuse), then call
    view(request, decision). Without a binding (another browser, the session ended, the link was
    re-issued since) 403 and a page saying to open the link from the notice again; the same
    whether or not the decision exists, as nothing is looked up without a binding."""

    @wraps(view)
    def wrapped(request, decision_id, *args, **kwargs):
        state, decision = subject_session_lookup(request, decision_id)
        if state == UNKNOWN:
            return private(render(request, "reviews/subject_session_missing.html", status=403))
        if state != OPEN:
            return _ended(request, decision, revoked=state == REVOKED)
        return private(view(request, decision, *args, **kwargs))

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
def subject_decision(request, decision: Decision):
    """The decision, why, the data used, what would change it, and the person's requests."""
    _record_view(decision, "decision")
    context = decision_presentation(decision)
    current = effective_decision(decision)
    context.update(
        decision_id=decision.pk,
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
def subject_request_new(request, decision: Decision, kind: str):
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
                language=get_language(),
            )
        except ApplicationError as exc:
            add_service_errors(form, exc)
        else:
            url = reverse(
                "reviews:subject-request", kwargs={"decision_id": decision.pk, "reference": created.reference}
            )
            return redirect(url + "?new=1")
    return render(
        request,
        "reviews/subject_request_form.html",
        {
            "decision": decision,
            "version": decision.model_version,
            "decision_id": decision.pk,
            "kind": kind,
            "form": form,
            "reading": reading,
        },
        status=400 if request.method == "POST" else 200,
    )


@subject_page
@require_http_methods(["GET", "POST"])
def subject_rectify(request, decision: Decision):
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
                language=get_language(),
            )
        except ApplicationError as exc:
            corrections = exc.fields.get("corrections")
            if isinstance(corrections, dict):
                form.add_correction_errors(corrections)
            else:
                add_service_errors(form, exc)
        else:
            url = reverse(
                "reviews:subject-request", kwargs={"decision_id": decision.pk, "reference": created.reference}
            )
            return redirect(url + "?new=1")
    context = {
        "decision": decision,
        "version": decision.model_version,
        "decision_id": decision.pk,
        "form": form,
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "reviews/subject_rectify_form.html", context, status=status)


@subject_page
def subject_request(request, decision: Decision, reference: str):
    """One request: its reference, due date, status, questions asked and the outcome."""
    found = review_request_of_decision(decision, reference)
    if found is None:  # another decision's request, or none: the same answer as a bad link
        return _refused(request, 404)
    _record_view(decision, "request", reference=found.reference)
    return render(
        request,
        "reviews/subject_request.html",
        _request_context(found, in_session=True, new="new" in request.GET),
    )


@subject_page
@require_http_methods(["POST"])
def subject_request_reply(request, decision: Decision, reference: str):
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
            return redirect("reviews:subject-request", decision_id=decision.pk, reference=reference)
    context = _request_context(found, in_session=True)
    context["reply_form"] = form
    return render(request, "reviews/subject_request.html", context, status=400)


@require_safe
def subject_request_status(request, signed: str):
    """The page the follow-up e-mails link to: one request, read only, opened by a signed link
    (which the access log shows as `/request-status/<token>/`: config.log_filters)."""
    found = review_request_from_status_link(signed)
    if found is None:
        address = client_address(request)
        throttled = token_attempts_blocked(address)
        token_attempt_failed(address)
        return _refused(request, 429 if throttled else 404)
    _record_view(found.decision, "request-status", reference=found.reference)
    return _secret_in_path(
        render(request, "reviews/subject_request.html", _request_context(found, in_session=False))
    )


def _request_context(found: ReviewRequest, *, in_session: bool, new: bool = False) -> dict:
    """`decision_id` (the links back to the decision, the reply form) only for a page opened in
    the session bound to the decision, not for the status link's."""
    decision = found.decision
    return {
        "decision": decision,
        "version": decision.model_version,
        "req": found,
        "decision_id": decision.pk if in_session else None,
        "new": new,
        "reading": decision_reading(decision),
        "actions": [a for a in found.actions.all() if a.kind != "taken"],
        "reply_form": ReplyForm()
        if found.status == ReviewRequest.Status.INFO_REQUESTED and in_session
        else None,
    }
