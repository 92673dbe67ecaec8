"""What an export covers: the filters an auditor chose, checked, and the rows they select."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from audit.models import Action, AuditEvent
from config.errors import ApplicationError
from decisions.models import Decision, DecisionModel, ModelVersion

from .models import Export


@dataclass(frozen=True)
class ExportFilters:
    model: str = ""
    model_version: str = ""
    outcome: str = ""
    actions: tuple[str, ...] = ()
    date_from: datetime | None = None
    date_to: datetime | None = None  # exclusive

    @classmethod
    def from_raw(cls, raw: dict | None) -> ExportFilters:
        """Validate a filter dict from a form, the API or a stored export; ApplicationError names each bad one."""
        raw = raw or {}
        errors: dict[str, str] = {}
        model = _text(raw, "model", errors)
        version = _text(raw, "model_version", errors)
        if model and not DecisionModel.objects.filter(name=model).exists():
            errors["model"] = f"no model named {model!r}"
        if version and not model:
            errors["model_version"] = "give the model as well"
        elif version and not ModelVersion.objects.filter(model__name=model, version=version).exists():
            errors["model_version"] = f"{model}@{version} is not registered"
        outcome = _text(raw, "outcome", errors)
        if len(outcome) > 64:
            errors["outcome"] = "at most 64 characters"
        actions = raw.get("actions") or []
        if isinstance(actions, str):
            actions = [a for a in actions.split(",") if a.strip()]
        if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
            errors["actions"] = "must be a list of event kinds"
            actions = []
        unknown = sorted(set(actions) - set(Action.values))
        if unknown:
            errors["actions"] = f"unknown event kinds: {', '.join(unknown)}"
        date_from = parse_when(raw.get("date_from"), end=False, errors=errors, name="date_from")
        date_to = parse_when(raw.get("date_to"), end=True, errors=errors, name="date_to")
        if date_from and date_to and date_from >= date_to:
            errors["date_to"] = "must be after date_from"
        if errors:
            raise ApplicationError("invalid export filters", fields=errors)
        return cls(model, version, outcome, tuple(sorted(actions)), date_from, date_to)

    def to_dict(self) -> dict:
        out: dict[str, Any] = {}
        for name in ("model", "model_version", "outcome"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        if self.actions:
            out["actions"] = list(self.actions)
        if self.date_from:
            out["date_from"] = self.date_from.isoformat()
        if self.date_to:
            out["date_to"] = self.date_to.isoformat()
        return out


def _text(raw: dict, name: str, errors: dict) -> str:
    """A text filter: a string without control characters (PostgreSQL refuses a NUL), or ""."""
    value = raw.get(name)
    if value in (None, ""):
        return ""
    if not isinstance(value, str) or any(ord(c) < 32 for c in value):
        errors[name] = "must be text without control characters"
        return ""
    return value.strip()


def parse_when(value: Any, *, end: bool, errors: dict, name: str) -> datetime | None:
    """A date (a whole day: `date_to` includes it) or an ISO datetime; naive means UTC."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    try:
        # A bare date first: parse_datetime would read it as midnight and drop date_to's day.
        day = parse_date(text)
        parsed = None if day else parse_datetime(text)
    except ValueError:
        day = parsed = None
    if day is not None:
        try:
            parsed = datetime.combine(day + timedelta(days=1) if end else day, dt_time.min)
        except OverflowError:  # the day after 9999-12-31
            errors[name] = "must be a date before 9999-12-31"
            return None
    if parsed is None:
        errors[name] = "must be an ISO date (2026-01-31) or datetime"
        return None
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


# ---------------------------------------------------------------------------- selecting rows
def decisions_selected(filters: ExportFilters, *, until: datetime | None = None) -> QuerySet[Decision]:
    qs = Decision.objects.all()
    if until is not None:
        qs = qs.filter(decided_at__lte=until)
    if filters.model:
        qs = qs.filter(model_version__model__name=filters.model)
    if filters.model_version:
        qs = qs.filter(model_version__version=filters.model_version)
    if filters.outcome:
        qs = qs.filter(outcome=filters.outcome)
    if filters.date_from:
        qs = qs.filter(decided_at__gte=filters.date_from)
    if filters.date_to:
        qs = qs.filter(decided_at__lt=filters.date_to)
    return qs


def events_selected(filters: ExportFilters, *, until_id: int | None = None) -> QuerySet[AuditEvent]:
    qs = AuditEvent.objects.all()
    if until_id is not None:
        qs = qs.filter(id__lte=until_id)
    if filters.actions:
        qs = qs.filter(action__in=filters.actions)
    if filters.date_from:
        qs = qs.filter(created_at__gte=filters.date_from)
    if filters.date_to:
        qs = qs.filter(created_at__lt=filters.date_to)
    return qs


def versions_selected(filters: ExportFilters) -> QuerySet[ModelVersion]:
    qs = (
        ModelVersion.objects.select_related("model")
        .defer("artifact", "background")
        .order_by("model__name", "id")
    )
    if filters.model:
        qs = qs.filter(model__name=filters.model)
    if filters.model_version:
        qs = qs.filter(version=filters.model_version)
    return qs


def expected_rows(kind: str, filters: ExportFilters) -> int:
    if kind == Export.Kind.DECISIONS:
        return decisions_selected(filters).count()
    if kind == Export.Kind.EVENTS:
        return events_selected(filters).count()
    return versions_selected(filters).count()
