"""E-mails to a data subject about their request: receipt, a question, an extension, the outcome.

Sent after commit through Django's mail backend (the console in development). Only subjects with
an address on file get e-mails: the one they gave with the request or, failing that, with another
request about the same decision (so a change of outcome on any request reaches them), in the
language they used for the request. A failure to send is logged and never undoes the action: the
subject's page always shows the same information.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from decisions.registry import schema_for_language
from decisions.translations import version_texts

from .history import outcome_history
from .models import ReviewRequest
from .selectors import contact_of

logger = logging.getLogger(__name__)


def _send(*, request_id: int, template: str, subject: str, link: str, context_for=None) -> bool:
    request = ReviewRequest.objects.select_related("decision__model_version").filter(pk=request_id).first()
    contact = contact_of(request) if request is not None else None
    if contact is None:
        return False
    with translation.override(request.language or settings.LANGUAGE_CODE):
        context = {
            "request": request,
            "decision": request.decision,
            "controller": version_texts(request.decision.model_version, translation.get_language())[
                "controller"
            ],
            "link": link,
            **(context_for(request) if context_for is not None else {}),
        }
        body = render_to_string(f"reviews/email/{template}.txt", context)
        subject_line = f"{_(subject)} ({request.reference})"
    try:
        send_mail(subject_line, body, settings.DEFAULT_FROM_EMAIL, [contact.contact_email])
    except Exception:  # noqa: BLE001 - any transport failure: logged, the page still tells them
        logger.exception("could not e-mail the subject of request %s", request.reference)
        return False
    return True


def _outcome_context(request: ReviewRequest) -> dict:
    """What this review decided (`step`: from `previous` to `outcome`, or confirmed, with the
    reviewer's role and reasons) and the outcome that holds now (`in_force`), which a later review
    may since have changed again (`later`: the steps after this one)."""
    history = outcome_history(request.decision)
    steps = history["history"]
    mine = [i for i, s in enumerate(steps) if s["request"] == request.reference]
    step = steps[mine[-1]] if mine else None
    return {
        "step": step,
        "in_force": history["in_force"],
        "later": steps[mine[-1] + 1 :] if mine else [],
    }


# Marked for translation here, translated when sent (in the subject's language).
RECEIPT = gettext_noop("We received your request")
INFO_REQUEST = gettext_noop("We need information from you")
EXTENSION = gettext_noop("We need more time for your request")
OUTCOME = gettext_noop("The outcome of your request")


def send_receipt(*, request_id: int, link: str) -> bool:
    return _send(request_id=request_id, template="receipt", subject=RECEIPT, link=link)


def send_info_request(*, request_id: int, link: str) -> bool:
    return _send(request_id=request_id, template="info_request", subject=INFO_REQUEST, link=link)


def send_extension(*, request_id: int, link: str) -> bool:
    return _send(request_id=request_id, template="extension", subject=EXTENSION, link=link)


def send_outcome(*, request_id: int, link: str) -> bool:
    return _send(
        request_id=request_id, template="outcome", subject=OUTCOME, link=link, context_for=_outcome_context
    )


def _rectification_context(request: ReviewRequest) -> dict:
    """The fields accepted and rejected, and the outcome decided again on the corrected data."""
    closing = request.actions.filter(kind__in=["rectified", "rectification_rejected"]).last()
    step = dict(closing.data) if closing is not None else {}
    schema = schema_for_language(request.decision.model_version, translation.get_language())
    labels = {f.name: f.label for f in schema.features}
    for side in ("accepted", "rejected"):
        step[side] = [labels.get(name, name) for name in step.get(side, [])]
    return {"step": step, "redecided": request.human_decision}


def send_rectification(*, request_id: int, link: str) -> bool:
    return _send(
        request_id=request_id,
        template="rectification",
        subject=OUTCOME,
        link=link,
        context_for=_rectification_context,
    )
