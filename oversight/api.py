"""REST API of the auditor's workspace (group `auditor`; API keys are refused: integrating systems
have no business reading the audit record). The public key is open to anyone: see PublicKey. One
write is the controller's system's, by API key: a subject's erasure request (SubjectErasure)."""

from __future__ import annotations

from django.http import FileResponse, HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from audit import signing
from audit.chain import verify_chain
from audit.events import EVENT_COLUMNS
from audit.models import Action, ActorType, AuditEvent
from config.openapi import refusals
from config.pagination import CursorPagination
from decisions.auth import IsAuditor, IsIntegration, actor_of
from decisions.models import ModelVersion

from . import erasure, export_files, exports, fairness, referral_stats, selectors
from .export_filters import ExportFilters, events_selected
from .manifest import manifest_text
from .models import Export
from .views import CONTENT_TYPES, stream_response


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ["id", *EVENT_COLUMNS]
        read_only_fields = fields  # a response body only: every field is always there


class EventPagination(CursorPagination):
    ordering = "-id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class EventParamsSerializer(serializers.Serializer):
    """The log's filters. A value it cannot read is a 400 naming it, not an empty page."""

    action = serializers.ChoiceField(choices=Action.choices, required=False, allow_blank=True)
    actor_type = serializers.ChoiceField(choices=ActorType.choices, required=False, allow_blank=True)
    object_type = serializers.CharField(required=False, allow_blank=True, max_length=64)
    object_id = serializers.CharField(required=False, allow_blank=True, max_length=64)
    date_from = serializers.CharField(required=False, allow_blank=True, help_text="a date or a date and time")
    date_to = serializers.CharField(required=False, allow_blank=True, help_text="exclusive")


class EventList(ListAPIView):
    """The audit log, newest first; filter by action, actor_type, object_type, object_id, dates."""

    permission_classes = [IsAuditor]
    serializer_class = EventSerializer
    pagination_class = EventPagination

    @extend_schema(operation_id="audit_events_list", parameters=[EventParamsSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = EventParamsSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        filters = ExportFilters.from_raw(
            {
                "actions": [params["action"]] if params.get("action") else [],
                "date_from": params.get("date_from"),
                "date_to": params.get("date_to"),
            }
        )
        qs = events_selected(filters)
        for name in ("actor_type", "object_type", "object_id"):
            if params.get(name):
                qs = qs.filter(**{name: params[name]})
        return qs


class Verification(APIView):
    """Recompute the whole chain now and check every signed checkpoint."""

    permission_classes = [IsAuditor]

    @extend_schema(
        operation_id="audit_chain_verify",
        responses={
            200: inline_serializer(
                "Verification",
                {
                    "ok": serializers.BooleanField(),
                    "checked": serializers.IntegerField(),
                    "head_hash": serializers.CharField(),
                    "first_bad_event_id": serializers.IntegerField(allow_null=True),
                    "reason": serializers.CharField(),
                    "checkpoint": serializers.DictField(allow_null=True),
                },
            )
        },
    )
    def get(self, request):
        result = verify_chain()
        return Response(
            {
                "ok": result.ok,
                "checked": result.checked,
                "head_hash": result.head_hash,
                "first_bad_event_id": result.first_bad_event_id,
                "reason": result.reason,
                "checkpoint": exports.checkpoint_body(result.checkpoint or selectors.latest_checkpoint()),
            }
        )


class ExportCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Export.Kind.choices)
    format = serializers.ChoiceField(choices=Export.Format.choices, default=Export.Format.JSONL)
    mode = serializers.ChoiceField(choices=Export.Mode.choices, default=Export.Mode.FILE)
    filters = serializers.DictField(required=False, default=dict)


class ExportSerializer(serializers.Serializer):
    """What `export_body` returns, for the schema (tests/audit compares the two)."""

    id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=Export.Kind.choices)
    format = serializers.ChoiceField(choices=Export.Format.choices)
    mode = serializers.ChoiceField(choices=Export.Mode.choices)
    filters = serializers.DictField()
    status = serializers.ChoiceField(choices=Export.Status.choices)
    rows_expected = serializers.IntegerField(allow_null=True)
    rows_written = serializers.IntegerField()
    progress_percent = serializers.IntegerField(allow_null=True)
    sha256 = serializers.CharField(allow_null=True, help_text="of the file, once done")
    size_bytes = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    manifest_url = serializers.URLField(allow_null=True, help_text="the signed manifest, once done")
    download_url = serializers.URLField(
        allow_null=True, help_text="the file, once done (file mode only) and until it is deleted"
    )
    file_deleted_at = serializers.DateTimeField(
        allow_null=True,
        help_text="when the file was deleted, EXPORT_FILE_RETENTION_DAYS after it was written",
    )


# A file export's bytes, or a streamed export's.
EXPORT_FILE = {(200, media): OpenApiTypes.BINARY for media in sorted(set(CONTENT_TYPES.values()))}


def export_body(export: Export, request) -> dict:
    body = {
        "id": str(export.pk),
        "kind": export.kind,
        "format": export.format,
        "mode": export.mode,
        "filters": export.filters,
        "status": export.status,
        "rows_expected": export.rows_expected,
        "rows_written": export.rows_written,
        "progress_percent": export.progress_percent,
        "sha256": export.sha256 or None,
        "size_bytes": export.size_bytes,
        "error": export.error or None,
        "created_at": export.created_at.isoformat(),
        "finished_at": export.finished_at.isoformat() if export.finished_at else None,
        "manifest_url": None,
        "download_url": None,
        "file_deleted_at": export.file_deleted_at.isoformat() if export.file_deleted_at else None,
    }
    if export.status == Export.Status.DONE:
        body["manifest_url"] = request.build_absolute_uri(f"/api/v1/audit/exports/{export.pk}/manifest/")
        if export.mode == Export.Mode.FILE and export.file_deleted_at is None:
            body["download_url"] = request.build_absolute_uri(f"/api/v1/audit/exports/{export.pk}/download/")
    return body


class ExportListCreate(APIView):
    """Ask for an export (a worker writes it; poll its status) or list recent ones."""

    permission_classes = [IsAuditor]

    @extend_schema(operation_id="audit_exports_list", responses={200: ExportSerializer(many=True)})
    def get(self, request):
        return Response([export_body(e, request) for e in selectors.export_list(request.user)[:100]])

    @extend_schema(
        operation_id="audit_export_create",
        request=ExportCreateSerializer,
        responses={
            202: OpenApiResponse(ExportSerializer, description="mode `file`: queued; poll its status"),
            **EXPORT_FILE,
        },
    )
    def post(self, request):
        serializer = ExportCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        export = exports.export_create(
            user=request.user,
            kind=data["kind"],
            fmt=data["format"],
            mode=data["mode"],
            filters=data["filters"],
        )
        if export.mode == Export.Mode.STREAM:
            return stream_response(export)
        return Response(export_body(export, request), status=status.HTTP_202_ACCEPTED)


class ExportDetail(APIView):
    permission_classes = [IsAuditor]

    @extend_schema(operation_id="audit_export_read", responses={200: ExportSerializer})
    def get(self, request, pk):
        return Response(export_body(get_object_or_404(Export, pk=pk), request))


class ExportDownload(APIView):
    permission_classes = [IsAuditor]

    @extend_schema(
        operation_id="audit_export_download",
        responses={**EXPORT_FILE, **refusals({410: "the file is no longer on this server"})},
    )
    def get(self, request, pk):
        export = get_object_or_404(Export, pk=pk, status=Export.Status.DONE, mode=Export.Mode.FILE)
        path = exports.export_path(export)
        if export.file_deleted_at is not None or not path.exists():
            return Response({"detail": export_files.file_gone_message(export)}, status=410)
        exports.export_record_download(export=export, user=request.user)
        return FileResponse(
            open(path, "rb"),  # noqa: SIM115 - FileResponse closes it
            as_attachment=True,
            filename=export.file_name,
            content_type=CONTENT_TYPES[export.format],
        )


class ExportManifest(APIView):
    permission_classes = [IsAuditor]

    @extend_schema(
        operation_id="audit_export_manifest_read",
        responses={
            (200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, description="the signed manifest")
        },
    )
    def get(self, request, pk):
        export = get_object_or_404(Export, pk=pk, manifest__isnull=False)
        return HttpResponse(manifest_text(export.manifest), content_type="application/json")


class Statistics(APIView):
    """Compliance figures of one model version: outcomes, explanations, reviews, fairness."""

    permission_classes = [IsAuditor]

    @extend_schema(
        operation_id="audit_statistics_read",
        responses=OpenApiResponse(
            OpenApiTypes.OBJECT,
            description="outcomes, explanation coverage, reviews, global importance, erasures and fairness",
        ),
    )
    def get(self, request, name, version):
        found = get_object_or_404(
            ModelVersion.objects.select_related("model").defer("artifact", "background"),
            model__name=name,
            version=version,
        )
        overview = selectors.version_overview(found)
        overview["referrals"] = referral_stats.referral_statistics(found)
        report = fairness.fairness_report(found)
        share = report["attribution"]
        overview["fairness"] = {
            "decisions_with_data": report["decisions_with_data"],
            "four_fifths": report["four_fifths"],
            "attributes": [
                {
                    "feature": a.feature,
                    "label": a.label,
                    "most_favoured": a.most_favoured,
                    "min_impact_ratio": a.min_impact_ratio,
                    "flagged": a.flagged,
                    "groups": [
                        {
                            "value": g.value,
                            "label": g.label,
                            "n": g.n,
                            "favourable": g.favourable,
                            "rate": g.rate,
                            "impact_ratio": g.impact_ratio,
                            "below_four_fifths": g.below_four_fifths,
                        }
                        for g in a.groups
                    ],
                }
                for a in report["attributes"]
            ],
            "protected_attribution_share": share.protected_share,
            "protected_attribution_by_feature": share.by_feature,
        }
        return Response(overview)


class PublicKey(APIView):
    """The Ed25519 public key that signs checkpoints and export manifests, as PEM.

    Open to anyone on purpose: a public key is public, and a regulator or court checking an export
    offline must be able to fetch it without an account here. It proves nothing by itself; what it
    verifies is only as trustworthy as the channel it was obtained from (compare its key id).
    """

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(operation_id="audit_public_key_read", responses={(200, "application/x-pem-file"): str})
    def get(self, request):
        response = HttpResponse(signing.public_key_pem(), content_type="application/x-pem-file")
        response["X-Key-Id"] = signing.key_id()
        return response


class ErasureRequestSerializer(serializers.Serializer):
    subject_ref = serializers.CharField(
        allow_blank=True, help_text="the controller's reference of the person"
    )
    reason = serializers.CharField(
        allow_blank=True, help_text="the ground of the request, at most 200 characters, no personal data"
    )


class SubjectErasure(APIView):
    """Erase a subject's personal data on their request (GDPR Art. 17), by the controller's system.

    Decisions older than six months are erased; younger ones are restricted (kept for the AI Act's
    logs, hidden from caseworkers) and erased when the six months end. The answer lists each
    decision's state and what remains."""

    permission_classes = [IsIntegration]

    @extend_schema(
        operation_id="subject_erase",
        request=ErasureRequestSerializer,
        responses={200: OpenApiTypes.OBJECT, **refusals({404: "no decisions about this subject"})},
    )
    def post(self, request):
        body = ErasureRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        results = erasure.subject_erase(
            subject_ref=body.validated_data["subject_ref"],
            reason=body.validated_data["reason"],
            actor=actor_of(request),
        )
        return Response(erasure.erasure_body(results))
