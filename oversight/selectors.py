"""Read paths of the auditor's workspace: compliance statistics per model version, the event
timeline, exports. Aggregates run in the database; nothing here loads a table into memory."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from audit.models import AuditEvent, Checkpoint
from decisions.models import Decision, ModelVersion
from explanations.models import Explanation
from explanations.selectors import global_importance
from reviews.models import ReviewRequest

from . import storage
from .models import Export

TIMELINE_PAGE = 50


def model_versions() -> QuerySet[ModelVersion]:
    return (
        ModelVersion.objects.select_related("model")
        .defer("artifact", "background")
        .annotate(n_decisions=Count("decisions"))
        .order_by("model__name", "-created_at")
    )


def model_version_get(pk: int) -> ModelVersion | None:
    return ModelVersion.objects.select_related("model").defer("artifact", "background").filter(pk=pk).first()


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def outcome_rates(version: ModelVersion) -> dict:
    rows = (
        Decision.objects.filter(model_version=version)
        .values("outcome")
        .annotate(n=Count("id"), favourable=Count("id", filter=Q(favourable=True)))
        .order_by("outcome")
    )
    total = sum(r["n"] for r in rows)
    favourable = sum(r["favourable"] for r in rows)
    return {
        "decisions": total,
        "favourable": favourable,
        "favourable_rate": _rate(favourable, total),
        "outcomes": [{"outcome": r["outcome"], "n": r["n"], "rate": _rate(r["n"], total)} for r in rows],
    }


def explanation_coverage(version: ModelVersion, decisions: int) -> dict:
    rows = (
        Explanation.objects.filter(model_version=version, is_current=True)
        .values("status")
        .annotate(n=Count("id"))
        .order_by("status")
    )
    by_status = {r["status"]: r["n"] for r in rows}
    p50, p95 = storage.explanation_latency_percentiles(version)
    return {
        "by_status": by_status,
        "done": by_status.get("done", 0),
        "coverage": _rate(by_status.get("done", 0), decisions),
        "latency_p50_seconds": p50,
        "latency_p95_seconds": p95,
    }


def review_statistics(version: ModelVersion, decisions: int, *, now: datetime | None = None) -> dict:
    """Art. 22(3) requests and Art. 12(3) deadlines."""
    now = now or timezone.now()
    requests = ReviewRequest.objects.filter(decision__model_version=version)
    closed = Q(closed_at__isnull=False)
    counts = requests.aggregate(
        total=Count("id"),
        contests=Count("id", filter=Q(kind="contest")),
        closed=Count("id", filter=closed),
        overturned=Count("id", filter=Q(status="overturned")),
        upheld=Count("id", filter=Q(status="upheld")),
        within_month=Count("id", filter=closed & Q(closed_at__lte=F("original_due_at"))),
        within_extension=Count(
            "id", filter=closed & Q(closed_at__gt=F("original_due_at"), closed_at__lte=F("due_at"))
        ),
        late=Count("id", filter=closed & Q(closed_at__gt=F("due_at"))),
        overdue_open=Count("id", filter=Q(closed_at__isnull=True, due_at__lt=now)),
        open=Count("id", filter=Q(closed_at__isnull=True)),
        extended=Count("id", filter=Q(extension_months__gt=0)),
    )
    by_kind = {r["kind"]: r["n"] for r in requests.values("kind").annotate(n=Count("id")).order_by("kind")}
    return {
        **counts,
        "by_kind": by_kind,
        "contest_rate": _rate(counts["contests"], decisions),
        "request_rate": _rate(counts["total"], decisions),
        "overturn_rate": _rate(counts["overturned"], counts["overturned"] + counts["upheld"]),
        "deadline_met_rate": _rate(counts["within_month"] + counts["within_extension"], counts["closed"]),
    }


def version_overview(version: ModelVersion) -> dict:
    outcomes = outcome_rates(version)
    return {
        "model": version.model.name,
        "version": version.version,
        "retention_days": version.retention_days,
        "outcomes": outcomes,
        "explanations": explanation_coverage(version, outcomes["decisions"]),
        "reviews": review_statistics(version, outcomes["decisions"]),
        "importance": global_importance(version.pk),
        "erased": Decision.objects.filter(
            model_version=version, personal_data_erased_at__isnull=False
        ).count(),
    }


# ---------------------------------------------------------------------------- timeline
@dataclass(frozen=True)
class TimelinePage:
    events: list[AuditEvent]
    older_than: int | None  # pass as `before` for the next page


def event_timeline(
    *,
    action: str = "",
    actor_type: str = "",
    object_type: str = "",
    object_id: str = "",
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    before: int | None = None,
    page_size: int = TIMELINE_PAGE,
) -> TimelinePage:
    """Newest first, keyset-paginated on id (no COUNT over the whole log)."""
    qs = AuditEvent.objects.all()
    if action:
        qs = qs.filter(action=action)
    if actor_type:
        qs = qs.filter(actor_type=actor_type)
    if object_type:
        qs = qs.filter(object_type=object_type)
    if object_id:
        qs = qs.filter(object_id=object_id)
    if date_from:
        qs = qs.filter(created_at__gte=date_from)
    if date_to:
        qs = qs.filter(created_at__lt=date_to)
    window = qs.filter(id__lt=before) if before else qs
    events = list(window.order_by("-id")[: page_size + 1])
    older = events[page_size - 1].id if len(events) > page_size else None
    return TimelinePage(events[:page_size], older)


def latest_checkpoint() -> Checkpoint | None:
    return Checkpoint.objects.order_by("-last_event_id").first()


def export_list(user) -> QuerySet[Export]:
    """Every export (auditors see each other's: the record of who took what is shared)."""
    return Export.objects.select_related("requested_by").order_by("-created_at")


def export_get(pk) -> Export | None:
    return Export.objects.select_related("requested_by").filter(pk=pk).first()
