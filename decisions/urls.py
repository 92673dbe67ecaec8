"""Pages of the Article 22 workflow: the subject's portal and the caseworker's workspace.

The subject's decision page itself is `access/<token>/` in config/urls.py; its sub-pages are here.
"""

from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.i18n import set_language

from . import caseworker_views, portal_views

app_name = "decisions"
urlpatterns: list = [
    # The subject's portal (token in the path: the link in the decision notice).
    path("access/<str:token>/ask/<str:kind>/", portal_views.subject_request_new, name="subject-request-new"),
    path(
        "access/<str:token>/requests/<str:reference>/", portal_views.subject_request, name="subject-request"
    ),
    path(
        "access/<str:token>/requests/<str:reference>/reply/",
        portal_views.subject_request_reply,
        name="subject-request-reply",
    ),
    path("request-status/<str:signed>/", portal_views.subject_request_status, name="subject-request-status"),
    # Exempt: the subject's pages send no referrer, so their forms arrive with `Origin: null`;
    # forging someone's language choice gains nothing.
    path("language/", csrf_exempt(set_language), name="set-language"),
    # The caseworker's workspace.
    path("cases/", caseworker_views.queue, name="queue"),
    path("cases/signals/", caseworker_views.signals, name="signals"),
    path("cases/<str:reference>/", caseworker_views.case, name="case"),
    path("cases/<str:reference>/take/", caseworker_views.take, name="take"),
    path("cases/<str:reference>/uphold/", caseworker_views.uphold, name="uphold"),
    path("cases/<str:reference>/overturn/", caseworker_views.overturn, name="overturn"),
    path("cases/<str:reference>/ask/", caseworker_views.ask, name="ask"),
    path("cases/<str:reference>/extend/", caseworker_views.extend, name="extend"),
]
