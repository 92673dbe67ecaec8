"""Signed links to one request's status page, for the e-mails after the first.

The subject's access token is stored only as a hash, so later e-mails cannot carry it. This link
is signed (not stored), opens this one request only, and stops working when the decision's
access expires or is revoked.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from .models import ReviewRequest
from .selectors import review_requests_with_history

STATUS_LINK_SALT = "rationale.review-status"


def status_link(request: ReviewRequest) -> str:
    signed = signing.dumps({"r": request.pk}, salt=STATUS_LINK_SALT, compress=True)
    path = reverse("reviews:subject-request-status", kwargs={"signed": signed})
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def review_request_from_status_link(signed: str) -> ReviewRequest | None:
    """The request a signed status link opens, or None when forged, or its decision's access ended."""
    try:
        payload = signing.loads(signed, salt=STATUS_LINK_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("r"), int):
        return None
    request = review_requests_with_history().filter(pk=payload["r"]).first()
    if request is None:
        return None
    decision = request.decision
    if decision.access_revoked_at is not None or decision.access_expires_at <= timezone.now():
        return None
    return request
