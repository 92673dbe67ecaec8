"""The single sign-on round trip (mozilla-django-oidc's views): absent unless OIDC_RP_CLIENT_ID is
set, and a refused sign-in ends on a page saying why instead of a bare redirect.

Role: anyone, before signing in; the provider and decisions.sso decide who gets in.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import LoginView
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from .sso import REFUSED_NO_ROLE


def sso_enabled() -> bool:
    return bool(settings.OIDC_RP_CLIENT_ID)


class StaffSignIn(LoginView):
    """The local sign-in form, with "Sign in with <provider>" beside it where single sign-on is on.

    Role: anyone."""

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            "sso": sso_enabled(),
            "sso_name": settings.OIDC_PROVIDER_NAME,
        }


class SsoOnly:
    """404 while single sign-on is off: the library's views need its settings."""

    def dispatch(self, request, *args, **kwargs):
        if not sso_enabled():
            raise Http404("single sign-on is not configured")
        return never_cache(super().dispatch)(request, *args, **kwargs)


class StaffAuthenticate(SsoOnly, OIDCAuthenticationRequestView):
    """Sends the browser to the provider, remembering a safe `next`."""


class StaffCallback(SsoOnly, OIDCAuthenticationCallbackView):
    """The provider's answer: signed in, or a 403 page saying why not."""

    def login_failure(self):
        reason = getattr(self.request, "sso_refusal", "")
        return render(
            self.request,
            "registration/sso_refused.html",
            {"no_role": reason == REFUSED_NO_ROLE, "provider": settings.OIDC_PROVIDER_NAME},
            status=403,
        )
