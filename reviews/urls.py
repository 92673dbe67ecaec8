"""Pages of the Article 22 workflow (the subject's portal and the caseworker's workspace) and its
API, which config/urls.py mounts under /api/v1/.

The subject's link itself is `access/<token>/` in config/urls.py: it binds the session to the
decision and redirects to `access/decision/<id>/` here, where every page needs that session.
"""

from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.i18n import set_language

from config import converters  # noqa: F401 - registers <text:...>, before the patterns below

from . import case_api, caseworker_views, notice_views, portal_views, referral_views, subject_api

app_name = "reviews"
urlpatterns: list = [
    # The subject's portal: authorised by the session their access link bound to the decision
    # (portal_views.subject_link), so no token in these paths.
    path("access/decision/<uuid:decision_id>/", portal_views.subject_decision, name="subject-decision"),
    path("access/decision/<uuid:decision_id>/correct/", portal_views.subject_rectify, name="subject-rectify"),
    path(
        "access/decision/<uuid:decision_id>/ask/<text:kind>/",
        portal_views.subject_request_new,
        name="subject-request-new",
    ),
    path(
        "access/decision/<uuid:decision_id>/requests/<text:reference>/",
        portal_views.subject_request,
        name="subject-request",
    ),
    path(
        "access/decision/<uuid:decision_id>/requests/<text:reference>/reply/",
        portal_views.subject_request_reply,
        name="subject-request-reply",
    ),
    path("request-status/<text:signed>/", portal_views.subject_request_status, name="subject-request-status"),
    # The public notice of a decision system, linked from the controller's privacy notice.
    path("models/<slug:name>/", notice_views.model_notice, name="model-notice"),
    # Exempt: the subject's status and refusal pages send no referrer, so their forms arrive
    # with `Origin: null`; forging someone's language choice gains nothing.
    path("language/", csrf_exempt(set_language), name="set-language"),
    # The caseworker's workspace.
    path("cases/", caseworker_views.queue, name="queue"),
    path("cases/signals/", caseworker_views.signals, name="signals"),
    path("cases/referred/<uuid:decision_id>/take/", referral_views.take_referral, name="take-referral"),
    path("decisions/<uuid:decision_id>/open-review/", referral_views.open_review, name="open-review"),
    path("cases/<text:reference>/", caseworker_views.case, name="case"),
    path("cases/<text:reference>/take/", caseworker_views.take, name="take"),
    path("cases/<text:reference>/uphold/", caseworker_views.uphold, name="uphold"),
    path("cases/<text:reference>/overturn/", caseworker_views.overturn, name="overturn"),
    path("cases/<text:reference>/rectify/", caseworker_views.rectify, name="rectify"),
    path("cases/<text:reference>/ask/", caseworker_views.ask, name="ask"),
    path("cases/<text:reference>/extend/", caseworker_views.extend, name="extend"),
    path("cases/<text:reference>/access/reissue/", caseworker_views.reissue_access, name="reissue-access"),
]

# Under /api/v1/ (the names are global: the API's names are not namespaced).
api_urlpatterns = [
    path("subject/decision/", subject_api.SubjectDecision.as_view(), name="api-subject-decision"),
    path("subject/requests/", subject_api.SubjectRequests.as_view(), name="api-subject-requests"),
    path(
        "subject/requests/<text:reference>/",
        subject_api.SubjectRequestDetail.as_view(),
        name="api-subject-request",
    ),
    path(
        "subject/requests/<text:reference>/reply/",
        subject_api.SubjectRequestReply.as_view(),
        name="api-subject-request-reply",
    ),
    path(
        "decisions/<uuid:pk>/reviews/", case_api.DecisionReviewOpen.as_view(), name="api-decision-review-open"
    ),
    path(
        "decisions/<uuid:pk>/referral/take/",
        case_api.DecisionReferralTake.as_view(),
        name="api-decision-referral-take",
    ),
    path("reviews/", case_api.ReviewQueue.as_view(), name="api-reviews"),
    path("reviews/<text:reference>/", case_api.ReviewDetail.as_view(), name="api-review"),
    path("reviews/<text:reference>/take/", case_api.ReviewTake.as_view(), name="api-review-take"),
    path("reviews/<text:reference>/uphold/", case_api.ReviewUphold.as_view(), name="api-review-uphold"),
    path("reviews/<text:reference>/overturn/", case_api.ReviewOverturn.as_view(), name="api-review-overturn"),
    path(
        "reviews/<text:reference>/request-information/", case_api.ReviewAsk.as_view(), name="api-review-ask"
    ),
    path("reviews/<text:reference>/extend/", case_api.ReviewExtend.as_view(), name="api-review-extend"),
]
