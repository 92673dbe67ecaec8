"""Read paths of the auditor's workspace: compliance statistics per model version, the event
timeline, exports. Aggregates run in the database; nothing here loads a table into memory.

A model's figures are of the decisions it took itself (automated); a person's decision on review
is counted apart, with how often it changed the outcome it replaced."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from audit.models import AuditEvent, Checkpoint
from decisions.auth import ROLES
from decisions.models import ApiKey, Decision, ModelVersion
from explanations.models import Explanation
from explanations.selectors import global_importance
from reviews.access_log import reads_of_decisions
from reviews.models import ReviewRequest

from . import storage
from .event_display import Entry, Names, entry_of
from .fairness import has_favourable, model_decisions
from .models import Export

TIMELINE_PAGE = 50
SUBJECT_DECISIONS = 200  # a person's decisions the timeline's subject filter looks for, newest


def model_versions() -> QuerySet[ModelVersion]:
    return (
        ModelVersion.objects.select_related("model")
        .defer("artifact", "background")
        .annotate(
            n_decisions=Count("decisions", filter=Q(decisions__kind=Decision.Kind.AUTOMATED)),
            n_human=Count("decisions", filter=Q(decisions__kind=Decision.Kind.HUMAN)),
        )
        .order_by("model__name", "-created_at")
    )


def model_version_get(pk: int) -> ModelVersion | None:
    return ModelVersion.objects.select_related("model").defer("artifact", "background").filter(pk=pk).first()


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def outcome_rates(version: ModelVersion) -> dict:
    """The model's own decisions by outcome. A version that names no favourable outcome (a
    multiclass reader) has no favourable count: None, not 0."""
    rows = (
        model_decisions(version)
        .values("outcome")
        .annotate(n=Count("id"), favourable=Count("id", filter=Q(favourable=True)))
        .order_by("outcome")
    )
    total = sum(r["n"] for r in rows)
    favourable = sum(r["favourable"] for r in rows) if has_favourable(version) else None
    return {
        "decisions": total,
        "has_favourable": favourable is not None,
        "favourable": favourable,
        "favourable_rate": None if favourable is None else _rate(favourable, total),
        "outcomes": [{"outcome": r["outcome"], "n": r["n"], "rate": _rate(r["n"], total)} for r in rows],
    }


def human_decisions(version: ModelVersion) -> dict:
    """Decisions people took on review: how many, and how often they changed the outcome of the
    decision they replaced."""
    human = Decision.objects.filter(model_version=version, kind=Decision.Kind.HUMAN)
    changed = Q(supersedes__isnull=False) & ~Q(outcome=F("supersedes__outcome"))
    counts = human.aggregate(total=Count("id"), changed=Count("id", filter=changed))
    rows = human.values("outcome").annotate(n=Count("id")).order_by("outcome")
    return {
        "decisions": counts["total"],
        "changed": counts["changed"],
        "kept": counts["total"] - counts["changed"],
        "changed_rate": _rate(counts["changed"], counts["total"]),
        "outcomes": [{"outcome": r["outcome"], "n": r["n"]} for r in rows],
    }


def assisted_decisions(version: ModelVersion) -> dict:
    """Decisions people took with the model's output as one input (AI Act Art. 86): how many,
    and how often they decided otherwise than the model would have (automation bias's measure)."""
    assisted = Decision.objects.filter(model_version=version, kind=Decision.Kind.ASSISTED)
    counts = assisted.aggregate(
        total=Count("id"), differed=Count("id", filter=~Q(outcome=F("model_outcome")))
    )
    return {
        "decisions": counts["total"],
        "differed": counts["differed"],
        "followed": counts["total"] - counts["differed"],
        "differed_rate": _rate(counts["differed"], counts["total"]),
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
        "human": human_decisions(version),
        "assisted": assisted_decisions(version),
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

    @property
    def entries(self) -> list[Entry]:
        """The events in words: actors by name and role, data as labelled fields."""
        names = event_names(self.events)
        return [entry_of(e, names) for e in self.events]


def _role(user) -> str:
    if user.is_superuser:
        return "administrator"
    return next((g.name for g in user.groups.all() if g.name in ROLES), "")


def event_names(events: list[AuditEvent]) -> Names:
    """The users, API keys and model versions a page of events names, in one query each."""
    ids: dict[str, set[int]] = {"user": set(), "api_key": set(), "model_version": set()}
    for e in events:
        if e.actor_type in ("user", "api_key") and e.actor_id.isdigit():
            ids[e.actor_type].add(int(e.actor_id))
        if e.object_type in ids and e.object_id.isdigit():
            ids[e.object_type].add(int(e.object_id))
        version = e.data.get("model_version") if isinstance(e.data, dict) else None
        if isinstance(version, int) or (isinstance(version, str) and version.isdigit()):
            ids["model_version"].add(int(version))
    users = (
        get_user_model().objects.filter(pk__in=ids["user"]).prefetch_related("groups") if ids["user"] else []
    )
    keys = ApiKey.objects.filter(pk__in=ids["api_key"]).values_list("pk", "name") if ids["api_key"] else []
    versions = (
        ModelVersion.objects.filter(pk__in=ids["model_version"]).values_list("pk", "model__name", "version")
        if ids["model_version"]
        else []
    )
    return Names(
        users={str(u.pk): (u.get_username(), _role(u)) for u in users},
        api_keys={str(pk): name for pk, name in keys},
        model_versions={str(pk): f"{model}@{version}" for pk, model, version in versions},
    )


def about_subject(subject_ref: str) -> Q:
    """The events about a person's decisions: whose object is one, or whose data names one (a
    review's `decision`, a read's `decisions`)."""
    ids = [
        str(pk)
        for pk in Decision.objects.filter(subject_ref=subject_ref)
        .order_by("-decided_at")
        .values_list("pk", flat=True)[:SUBJECT_DECISIONS]
    ]
    if not ids:
        return Q(pk__in=[])
    return reads_of_decisions(ids) | Q(data__decision__in=ids)


def event_timeline(
    *,
    action: str = "",
    actor_type: str = "",
    object_type: str = "",
    object_id: str = "",
    subject_ref: str = "",
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
    if subject_ref:
        qs = qs.filter(about_subject(subject_ref))
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


def event_entry(event: AuditEvent) -> Entry:
    return entry_of(event, event_names([event]))


@dataclass(frozen=True)
class ExportFilterOptions:
    models: list[str]
    versions: list[tuple[str, str]]  # (model, version), newest first within a model
    outcomes: list[tuple[str, list[str]]]  # (outcome, the models that can decide it)


def export_filter_options() -> ExportFilterOptions:
    """What an export can be narrowed to: the registered models, their versions and the
    outcomes their versions can decide, in one query."""
    rows = ModelVersion.objects.order_by("model__name", "-created_at").values_list(
        "model__name", "version", "output"
    )
    models: list[str] = []
    versions: list[tuple[str, str]] = []
    outcomes: dict[str, list[str]] = {}
    for model, version, output in rows:
        if model not in models:
            models.append(model)
        versions.append((model, version))
        for label in (output or {}).get("class_labels") or []:
            deciders = outcomes.setdefault(str(label), [])
            if model not in deciders:
                deciders.append(model)
    return ExportFilterOptions(models, versions, sorted(outcomes.items()))
