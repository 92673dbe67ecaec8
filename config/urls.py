from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from decisions import api as decisions_api
from decisions import second_factor_views, sso_views
from decisions import views as decisions_views
from explanations import api as explanations_api
from oversight import api as oversight_api
from oversight import metrics as oversight_metrics
from reviews import controller_api, portal_views
from reviews import urls as reviews_urls
from webhooks import urls as webhooks_urls

from . import (
    converters,  # noqa: F401 - registers <text:...>, before any pattern uses it
    views,
)
from .forms import SignInForm

api_v1 = [
    path("decisions/", explanations_api.DecisionListCreate.as_view(), name="api-decisions"),
    path("decisions/bulk/", explanations_api.DecisionBulkCreate.as_view(), name="api-decisions-bulk"),
    # The integration's read of reviews of its own decisions. Not /reviews/: the caseworkers'
    # queue is there, with a body of another shape (reviews.controller_api says what is left out).
    path("decisions/reviews/", controller_api.ControllerReviewList.as_view(), name="api-integration-reviews"),
    path(
        "decisions/reviews/<text:reference>/",
        controller_api.ControllerReviewDetail.as_view(),
        name="api-integration-review",
    ),
    path("decisions/<uuid:pk>/", explanations_api.DecisionDetail.as_view(), name="api-decision"),
    path(
        "decisions/<uuid:pk>/explanation/",
        explanations_api.ExplanationDetail.as_view(),
        name="api-decision-explanation",
    ),
    path(
        "decisions/<uuid:pk>/explanation/recompute/",
        explanations_api.ExplanationRecompute.as_view(),
        name="api-decision-explanation-recompute",
    ),
    path(
        "decisions/<uuid:pk>/access/revoke/",
        decisions_api.AccessRevoke.as_view(),
        name="api-decision-access-revoke",
    ),
    path(
        "decisions/<uuid:pk>/access/reissue/",
        decisions_api.AccessReissue.as_view(),
        name="api-decision-access-reissue",
    ),
    path("models/", decisions_api.ModelListCreate.as_view(), name="api-models"),
    path(
        "models/<slug:name>/versions/<text:version>/",
        decisions_api.ModelVersionDetail.as_view(),
        name="api-model-version",
    ),
    path(
        "models/<slug:name>/versions/<text:version>/promote/",
        decisions_api.ModelVersionPromote.as_view(),
        name="api-model-version-promote",
    ),
    path(
        "models/<slug:name>/versions/<text:version>/shadow/",
        decisions_api.ModelVersionShadow.as_view(),
        name="api-model-version-shadow",
    ),
    path(
        "models/<slug:name>/versions/<text:version>/referral/",
        decisions_api.ModelVersionReferral.as_view(),
        name="api-model-version-referral",
    ),
    path(
        "models/<slug:name>/versions/<text:version>/shadow-report/",
        explanations_api.ShadowReport.as_view(),
        name="api-model-version-shadow-report",
    ),
    path(
        "models/<slug:name>/versions/<text:version>/importance/",
        explanations_api.GlobalImportance.as_view(),
        name="api-model-version-importance",
    ),
    path("subjects/erasure/", oversight_api.SubjectErasure.as_view(), name="api-subject-erasure"),
    # Auditor workspace
    path("audit/public-key", oversight_api.PublicKey.as_view(), name="api-audit-public-key"),
    path("audit/events/", oversight_api.EventList.as_view(), name="api-audit-events"),
    path("audit/verification/", oversight_api.Verification.as_view(), name="api-audit-verification"),
    path("audit/exports/", oversight_api.ExportListCreate.as_view(), name="api-audit-exports"),
    path("audit/exports/<uuid:pk>/", oversight_api.ExportDetail.as_view(), name="api-audit-export"),
    path(
        "audit/exports/<uuid:pk>/download/",
        oversight_api.ExportDownload.as_view(),
        name="api-audit-export-download",
    ),
    path(
        "audit/exports/<uuid:pk>/manifest/",
        oversight_api.ExportManifest.as_view(),
        name="api-audit-export-manifest",
    ),
    path(
        "audit/statistics/<slug:name>/<text:version>/",
        oversight_api.Statistics.as_view(),
        name="api-audit-statistics",
    ),
]

# Article 22 workflow: the subject's token scope and the caseworkers' review actions.
api_v1 += reviews_urls.api_urlpatterns
# Webhooks: the integration's endpoints, deliveries and replays.
api_v1 += webhooks_urls.api_urlpatterns

urlpatterns = [
    # First: the API takes most of the requests (every recorded decision), and Django tries the
    # patterns in order.
    path("api/v1/", include(api_v1)),
    path("", decisions_views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", oversight_metrics.metrics, name="metrics"),
    # The subject's link: exchanged for a session, then a redirect to a URL without the token.
    path("access/<text:token>/", portal_views.subject_link, name="subject-link"),
    path("", include("reviews.urls")),
    path("audit/", include("oversight.urls")),
    path("accounts/login/", sso_views.StaffSignIn.as_view(authentication_form=SignInForm), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # A local sign-in's second factor, and single sign-on by OpenID Connect (404 while it is off).
    path("accounts/second-factor/", second_factor_views.verify, name="second-factor"),
    path("accounts/second-factor/enrol/", second_factor_views.enrol, name="second-factor-enrol"),
    path(
        "accounts/oidc/authenticate/", sso_views.StaffAuthenticate.as_view(), name="oidc_authentication_init"
    ),
    path("accounts/oidc/callback/", sso_views.StaffCallback.as_view(), name="oidc_authentication_callback"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file, which the CSP allows; its
    # template's small inline <style> needs the one exception.
    path(
        "api/docs/",
        csp_update({"style-src": [UNSAFE_INLINE]})(SpectacularSwaggerSplitView.as_view(url_name="schema")),
        name="swagger-ui",
    ),
]

handler400 = "config.errors.bad_request"
handler403 = "config.views.permission_denied"
handler404 = "config.errors.page_not_found"
handler500 = "config.errors.server_error"
