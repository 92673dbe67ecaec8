"""The second-factor steps of a local sign-in: enter a code, or set up an authenticator app first.

Role: a person signed in with a local password whose role needs a second factor
(OTP_REQUIRED_ROLES). Anonymous visitors are sent to sign in; a single sign-on session and anyone
whose role needs none are refused.
"""

from __future__ import annotations

from base64 import b32encode
from functools import wraps
from urllib.parse import urlencode

import django_otp
import segno
from django import forms
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_otp.plugins.otp_totp.models import TOTPDevice

from .second_factor import (
    CodeCheck,
    confirmed_device,
    enrolment_device,
    second_factor_due,
    second_factor_enrol,
    second_factor_verify,
    signed_in_by_sso,
)


class CodeForm(forms.Form):
    code = forms.RegexField(
        regex=r"^\s*\d{6,8}\s*$",
        label=gettext_lazy("Code"),
        help_text=gettext_lazy("The 6-digit code your authenticator app shows now."),
        error_messages={"invalid": gettext_lazy("Enter the 6 digits your authenticator app shows.")},
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True, "size": 8}
        ),
    )


def second_factor_due_here(view):
    """Signed in with a local password, in a role that needs a second factor; never cached (the
    enrolment page shows a secret)."""

    @wraps(view)
    @never_cache
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if signed_in_by_sso(request):
            raise PermissionDenied(_("Your organisation's sign-in already asks for your second factor."))
        if not second_factor_due(request.user):
            raise PermissionDenied(_("Your role does not need a second factor."))
        return view(request, *args, **kwargs)

    return wrapped


def _next(request) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return "/"


def _refused(form: CodeForm, check: CodeCheck) -> None:
    if check.retry_after is not None:
        until = date_format(localtime(check.retry_after), "TIME_FORMAT")
        form.add_error(
            "code", _("Too many wrong codes: wait until %(time)s, then try again.") % {"time": until}
        )
    else:
        form.add_error("code", _("That code is not right, or it has expired. Try the code shown now."))


def _passed(request, device_id: int):
    """The session is verified by this device, under a new session key (as Django does at
    sign-in), and goes on to where it was going."""
    django_otp.login(request, TOTPDevice.objects.get(pk=device_id))
    request.session.cycle_key()
    return redirect(_next(request))


@require_http_methods(["GET", "POST"])
@second_factor_due_here
def verify(request):
    device = confirmed_device(request.user)
    if device is None:
        return redirect(f"{reverse('second-factor-enrol')}?{urlencode({'next': _next(request)})}")
    if request.user.is_verified():
        return redirect(_next(request))
    form = CodeForm(request.POST or None)
    if form.is_valid():
        check = second_factor_verify(
            user=request.user, device_id=device.pk, code=form.cleaned_data["code"].strip()
        )
        if check.accepted:
            return _passed(request, device.pk)
        _refused(form, check)
    return render(request, "registration/second_factor_verify.html", {"form": form, "next": _next(request)})


@require_http_methods(["GET", "POST"])
@second_factor_due_here
def enrol(request):
    if confirmed_device(request.user) is not None:
        # A second authenticator needs the first one (or an administrator's reset): whoever has
        # only the password must not be able to add their own.
        if request.user.is_verified():
            raise PermissionDenied(
                _("You already have an authenticator app. Ask an administrator to reset it.")
            )
        return redirect(f"{reverse('second-factor')}?{urlencode({'next': _next(request)})}")
    device = enrolment_device(request.user)
    form = CodeForm(request.POST or None)
    if form.is_valid():
        check = second_factor_enrol(
            user=request.user, device_id=device.pk, code=form.cleaned_data["code"].strip()
        )
        if check.accepted:
            return _passed(request, device.pk)
        _refused(form, check)
    secret = b32encode(device.bin_key).decode()
    qr = segno.make(device.config_url, error="m")
    context = {
        "form": form,
        "next": _next(request),
        "qr_svg": qr.svg_inline(scale=5, border=2, title=_("QR code for your authenticator app")),
        "secret_groups": [secret[i : i + 4] for i in range(0, len(secret), 4)],
    }
    return render(request, "registration/second_factor_enrol.html", context)
