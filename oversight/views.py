"""Pages of the auditor's workspace. Read-only for the record: one POST asks for an export, the
other erases a person's data on their request.

Every page is for the `auditor` group: anonymous visitors are sent to sign in, everyone else
(caseworkers, accounts without a role, API keys, which pages do not accept) gets 403.
"""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpResponse, HttpResponseGone, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from audit.chain import verify_chain
from audit.models import AuditEvent
from audit.services import Actor
from config.errors import ApplicationError, add_service_errors
from decisions.auth import AUDITOR, has_role, role_required

from . import charts, drift, erasure, export_files, exports, fairness, referral_stats, selectors
from .event_display import Names, fields_of
from .export_filters import parse_when
from .forms import ErasureForm, ExportForm, TimelineFilterForm
from .manifest import manifest_text
from .models import Export

CONTENT_TYPES = {
    Export.Format.JSONL: "application/jsonl; charset=utf-8",
    Export.Format.CSV: "text/csv; charset=utf-8",
}


EXPLANATION_STATUS = {
    "pending": gettext_lazy("pending"),
    "running": gettext_lazy("running"),
    "done": gettext_lazy("done"),
    "failed": gettext_lazy("failed"),
}
REQUEST_KINDS = {
    "view": gettext_lazy("point of view"),
    "contest": gettext_lazy("contest"),
    "human_intervention": gettext_lazy("a person to decide"),
    "referral": gettext_lazy("referred before effect"),
    "staff": gettext_lazy("opened by staff"),
}

auditor_required = role_required(lambda user: has_role(user, AUDITOR), "auditors only")


def _version_or_404(pk: int):
    version = selectors.model_version_get(pk)
    if version is None:
        raise Http404("no such model version")
    return version


@require_GET
@auditor_required
def index(request):
    return render(request, "oversight/index.html", {"versions": selectors.model_versions()})


@require_GET
@auditor_required
def overview(request, pk: int):
    version = _version_or_404(pk)
    stats = selectors.version_overview(version)
    importance = charts.importance_chart(stats["importance"]["features"], chart_id="importance-chart")
    by_status = stats["explanations"]["by_status"]
    by_kind = (stats["reviews"] or {}).get("by_kind", {})
    return render(
        request,
        "oversight/overview.html",
        {
            "version": version,
            "stats": stats,
            "importance_chart": importance,
            "status_rows": [(str(EXPLANATION_STATUS.get(k, k)), n) for k, n in by_status.items()],
            "kind_rows": [(str(REQUEST_KINDS.get(k, k)), n) for k, n in by_kind.items()],
            "referrals": referral_stats.referral_statistics(version),
        },
    )


@require_GET
@auditor_required
def fairness_page(request, pk: int):
    version = _version_or_404(pk)
    report = fairness.fairness_report(version)
    attributes = [
        (a, charts.fairness_chart(a, four_fifths=report["four_fifths"], chart_id=f"fairness-{a.feature}"))
        for a in report["attributes"]
    ]
    return render(
        request, "oversight/fairness.html", {"version": version, "report": report, "attributes": attributes}
    )


@require_GET
@auditor_required
def drift_page(request, pk: int):
    version = _version_or_404(pk)
    window = request.GET.get("window")
    if window not in drift.WINDOWS:
        window = drift.default_window(version)
    features = drift.drift_features(version)
    chosen = next(
        (f for f in features if f.name == request.GET.get("feature")), features[0] if features else None
    )
    score = drift.score_distribution(version, window=window)
    feature = drift.feature_distribution(version, chosen, window=window) if chosen else None
    return render(
        request,
        "oversight/drift.html",
        {
            "version": version,
            "window": window,
            "window_label": drift.WINDOW_LABELS[window],
            "windows": list(drift.WINDOW_LABELS.items()),
            "features": features,
            "chosen": chosen,
            "score": charts.drift_figure(score, window, chart_id="score-chart"),
            "feature": charts.drift_figure(feature, window, chart_id="feature-chart") if feature else None,
        },
    )


@require_GET
@auditor_required
def timeline(request):
    form = TimelineFilterForm(request.GET or None)
    filters: dict = {}
    before = None
    if form.is_valid():
        data = form.cleaned_data
        before = data.pop("before")
        filters = {k: v for k, v in data.items() if v not in (None, "")}
        if "date_from" in filters:
            filters["date_from"] = parse_when(filters["date_from"].isoformat(), end=False, errors={}, name="")
        if "date_to" in filters:
            filters["date_to"] = parse_when(filters["date_to"].isoformat(), end=True, errors={}, name="")
    page = selectors.event_timeline(**filters, before=before)
    query = request.GET.copy()
    query.pop("before", None)
    older_query = None
    if page.older_than:
        query["before"] = page.older_than
        older_query = query.urlencode()
    return render(
        request,
        "oversight/timeline.html",
        {"form": form, "page": page, "entries": page.entries, "older_query": older_query},
    )


@require_GET
@auditor_required
def verify(request):
    result = verify_chain()
    bad_event = AuditEvent.objects.filter(pk=result.first_bad_event_id).first() if not result.ok else None
    return render(
        request,
        "oversight/verify.html",
        {
            "result": result,
            "bad_event": bad_event,
            "bad_entry": selectors.event_entry(bad_event) if bad_event else None,
            "latest_checkpoint": selectors.latest_checkpoint(),
        },
    )


@require_http_methods(["GET", "POST"])
@auditor_required
def export_list(request):
    form = ExportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            export = exports.export_create(
                user=request.user,
                kind=data["kind"],
                fmt=data["format"],
                mode=data["mode"],
                filters=form.filters(),
            )
        except ApplicationError as exc:
            add_service_errors(form, exc)
        else:
            if export.mode == Export.Mode.STREAM:
                return stream_response(export)
            return redirect("oversight:export", pk=export.pk)
    return render(
        request, "oversight/exports.html", {"form": form, "exports": selectors.export_list(request.user)[:50]}
    )


def stream_response(export: Export) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        exports.export_stream(export=export), content_type=CONTENT_TYPES[export.format]
    )
    response["Content-Disposition"] = f'attachment; filename="{export.file_name}"'
    response["X-Export-Id"] = str(export.pk)
    response["Link"] = f'<{reverse("oversight:export-manifest", args=[export.pk])}>; rel="describedby"'
    return response


@require_GET
@auditor_required
def export_detail(request, pk):
    export = selectors.export_get(pk)
    if export is None:
        raise Http404("no such export")
    refresh = export.status in (Export.Status.PENDING, Export.Status.RUNNING)
    filters = fields_of(export.filters, Names())
    return render(
        request, "oversight/export_detail.html", {"export": export, "refresh": refresh, "filters": filters}
    )


@require_GET
@auditor_required
def export_download(request, pk):
    export = selectors.export_get(pk)
    if export is None or export.status != Export.Status.DONE or export.mode != Export.Mode.FILE:
        raise Http404("this export has no file to download")
    path = exports.export_path(export)
    if export.file_deleted_at is not None or not path.exists():
        return HttpResponseGone(
            export_files.file_gone_message(export), content_type="text/plain; charset=utf-8"
        )
    exports.export_record_download(export=export, user=request.user)
    return FileResponse(
        open(path, "rb"),  # noqa: SIM115 - FileResponse closes it
        as_attachment=True,
        filename=export.file_name,
        content_type=CONTENT_TYPES[export.format],
    )


@require_GET
@auditor_required
def export_manifest(request, pk):
    export = selectors.export_get(pk)
    if export is None or export.manifest is None:
        raise Http404("no manifest: the export has not finished")
    response = HttpResponse(manifest_text(export.manifest), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{export.file_name}.manifest.json"'
    return response


@require_http_methods(["GET", "POST"])
@auditor_required
def erasure_page(request):
    """A person's erasure request: each decision erased or restricted, and what remains, shown once."""
    form = ErasureForm(request.POST or None)
    results = None
    if request.method == "POST" and form.is_valid():
        try:
            results = erasure.subject_erase(
                subject_ref=form.cleaned_data["subject_ref"],
                reason=form.cleaned_data["reason"],
                actor=Actor.user(request.user),
            )
        except ApplicationError as exc:
            add_service_errors(form, exc)
        else:
            form = ErasureForm()
    return render(request, "oversight/erasure.html", {"form": form, "results": results})
