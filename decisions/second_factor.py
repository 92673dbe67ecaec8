"""A second factor (TOTP, django-otp) for local staff sign-ins: who must give one, enrolment,
verification and removal, each write with its audit event.

Who must: a person signed in with a local password whose role is in OTP_REQUIRED_ROLES. Single
sign-on is left to the provider's policy.
Wrong codes are throttled by django-otp (1, 2, 4 ... seconds after each failure).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import Action
from audit.services import Actor, audit_record

from .auth import AUDITOR, CASEWORKER
from .sso import ADMIN, BACKEND_PATH

DEVICE_NAME = "authenticator app"


@dataclass(frozen=True)
class CodeCheck:
    accepted: bool
    # Set when the code was not even tried: too many wrong codes just before.
    retry_after: datetime | None = None


def staff_roles(user) -> set[str]:
    """The roles OTP_REQUIRED_ROLES names: caseworker and auditor groups, admin for staff rights."""
    roles = set(user.groups.filter(name__in=(CASEWORKER, AUDITOR)).values_list("name", flat=True))
    if user.is_staff or user.is_superuser:
        roles.add(ADMIN)
    return roles


def confirmed_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def signed_in_by_sso(request) -> bool:
    return request.session.get(BACKEND_SESSION_KEY) == BACKEND_PATH


def second_factor_due(user) -> bool:
    """The person's role needs a second factor at a local sign-in (OTP_REQUIRED_ROLES)."""
    return bool(set(settings.OTP_REQUIRED_ROLES) & staff_roles(user))


def second_factor_pending(request) -> bool:
    """Signed in with a password, not yet verified, and the role needs a second factor."""
    # No policy, no query: the pages' query counts stay as they were.
    if not settings.OTP_REQUIRED_ROLES:
        return False
    user = request.user
    if not user.is_authenticated or signed_in_by_sso(request) or user.is_verified():
        return False
    return second_factor_due(user)


def enrolment_device(user) -> TOTPDevice:
    """The unconfirmed device being set up (its secret kept across page loads), made if none."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    return device or TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


def _check(device: TOTPDevice, code: str, *, user) -> CodeCheck:
    """One code against a row-locked device; a refusal is audited (never the code itself)."""
    allowed, why = device.verify_is_allowed()
    if allowed and device.verify_token(code):
        return CodeCheck(accepted=True)
    retry_after = None if allowed else why.get("locked_until")
    audit_record(
        actor=Actor.user(user),
        action=Action.USER_SECOND_FACTOR_FAILED,
        object_type="user",
        object_id=user.pk,
        data={"device": device.pk, "throttled": not allowed, "enrolling": not device.confirmed},
    )
    return CodeCheck(accepted=False, retry_after=retry_after)


@transaction.atomic
def second_factor_enrol(*, user, device_id: int, code: str) -> CodeCheck:
    """Confirm the device being set up with a first code from it."""
    device = TOTPDevice.objects.select_for_update().get(pk=device_id, user=user, confirmed=False)
    check = _check(device, code, user=user)
    if check.accepted:
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        # Only the newest enrolment counts; a half-finished earlier one is dropped.
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        audit_record(
            actor=Actor.user(user),
            action=Action.USER_SECOND_FACTOR_ENROLLED,
            object_type="user",
            object_id=user.pk,
            data={"device": device.pk},
        )
    return check


@transaction.atomic
def second_factor_verify(*, user, device_id: int, code: str) -> CodeCheck:
    device = TOTPDevice.objects.select_for_update().get(pk=device_id, user=user, confirmed=True)
    return _check(device, code, user=user)


@transaction.atomic
def second_factor_remove(*, user, actor: Actor) -> int:
    """Remove every authenticator of `user` (a lost phone); the next sign-in enrols afresh."""
    removed, _ = TOTPDevice.objects.filter(user=user).delete()
    audit_record(
        actor=actor,
        action=Action.USER_SECOND_FACTOR_REMOVED,
        object_type="user",
        object_id=user.pk,
        data={"devices": removed},
    )
    return removed
