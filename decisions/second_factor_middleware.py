"""Until a due second factor is given, a staff session reaches nothing but the sign-in steps:
pages send the person to the code (or enrolment) page, the API answers 403 saying what to do.
After django_otp's OTPMiddleware, which tells whether the session is verified."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponseRedirect, JsonResponse
from django.urls import reverse

from .second_factor import second_factor_pending

# The sign-in steps themselves (login, logout, second factor, single sign-on), the probes and
# static files.
OPEN_PATHS = ("/accounts/", "/static/", "/healthz", "/readyz", "/metrics", "/language/")
API_KEY_PREFIX = "Api-Key "


class SecondFactorRequired:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if self._held_back(request):
            if request.path.startswith("/api/v1/"):
                return JsonResponse(
                    {
                        "detail": "second factor required: enter the code from your authenticator "
                        f"app at {reverse('second-factor')} before using the API from this session"
                    },
                    status=403,
                )
            return HttpResponseRedirect(
                f"{reverse('second-factor')}?{urlencode({'next': request.get_full_path()})}"
            )
        return self.get_response(request)

    @staticmethod
    def _held_back(request) -> bool:
        # Requests without a session (the integrating systems' API keys, probes, data subjects'
        # first visit) cost nothing here: the session and the user are not loaded.
        if settings.SESSION_COOKIE_NAME not in request.COOKIES or request.path.startswith(OPEN_PATHS):
            return False
        # The API authenticates an API key first and never falls back to the session (a wrong key
        # is a 401), so the key decides there. Pages read only the session: a header must not
        # let a half-signed-in session past them.
        if request.path.startswith("/api/v1/") and request.META.get("HTTP_AUTHORIZATION", "").startswith(
            API_KEY_PREFIX
        ):
            return False
        return second_factor_pending(request)
