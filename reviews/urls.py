"""Pages of the Article 22 workflow (the subject's portal and the caseworker's workspace) and its
API, which config/urls.py mounts under /api/v1/.

The subject's decision page itself is `access/<token>/` in config/urls.py; its sub-pages are here.
"""

from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.i18n import set_language

from . import case_api, caseworker_views, notice_views, portal_views, subject_api

app_name = "reviews"
urlpatterns: list = [
    # The subject's portal (token in the path: the link in the decision notice).
    path("access/<str:token>/correct/", portal_views.subject_rectify, name="subject-rectify"),
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
    # The public notice of a decision system, linked from the controller's privacy notice.
    path("models/<slug:name>/", notice_views.model_notice, name="model-notice"),
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
    path("cases/<str:reference>/rectify/", caseworker_views.rectify, name="rectify"),
    path("cases/<str:reference>/ask/", caseworker_views.ask, name="ask"),
    path("cases/<str:reference>/extend/", caseworker_views.extend, name="extend"),
    path("cases/<str:reference>/access/reissue/", caseworker_views.reissue_access, name="reissue-access"),
]

# Under /api/v1/ (the names are global: the API's names are not namespaced).
api_urlpatterns = [
    path("subject/decision/", subject_api.SubjectDecision.as_view(), name="api-subject-decision"),
    path("subject/requests/", subject_api.SubjectRequests.as_view(), name="api-subject-requests"),
    path(
        "subject/requests/<str:reference>/",
        subject_api.SubjectRequestDetail.as_view(),
        name="api-subject-request",
    ),
    path(
        "subject/requests/<str:reference>/reply/",
        subject_api.SubjectRequestReply.as_view(),
        name="api-subject-request-reply",
    ),
    path("reviews/", case_api.ReviewQueue.as_view(), name="api-reviews"),
    path("reviews/<str:reference>/", case_api.ReviewDetail.as_view(), name="api-review"),
    path("reviews/<str:reference>/take/", case_api.ReviewTake.as_view(), name="api-review-take"),
    path("reviews/<str:reference>/uphold/", case_api.ReviewUphold.as_view(), name="api-review-uphold"),
    path("reviews/<str:reference>/overturn/", case_api.ReviewOverturn.as_view(), name="api-review-overturn"),
    path("reviews/<str:reference>/request-information/", case_api.ReviewAsk.as_view(), name="api-review-ask"),
    path("reviews/<str:reference>/extend/", case_api.ReviewExtend.as_view(), name="api-review-extend"),
]
