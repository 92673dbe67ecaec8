"""Pages of the auditor's workspace."""

from django.urls import path

from . import views

app_name = "oversight"
urlpatterns = [
    path("", views.index, name="index"),
    path("versions/<int:pk>/", views.overview, name="overview"),
    path("versions/<int:pk>/fairness/", views.fairness_page, name="fairness"),
    path("versions/<int:pk>/drift/", views.drift_page, name="drift"),
    path("events/", views.timeline, name="timeline"),
    path("verify/", views.verify, name="verify"),
    path("erasure/", views.erasure_page, name="erasure"),
    path("exports/", views.export_list, name="exports"),
    path("exports/<uuid:pk>/", views.export_detail, name="export"),
    path("exports/<uuid:pk>/download/", views.export_download, name="export-download"),
    path("exports/<uuid:pk>/manifest/", views.export_manifest, name="export-manifest"),
]
