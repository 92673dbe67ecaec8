"""The indexes of the tables every recorded decision writes: each one serves a lookup, and none
is there only to be maintained (decisions 0006, audit 0006)."""

import re

import pytest
from django.db import connection

from audit.models import AuditEvent
from decisions.models import Decision
from reviews.models import ReviewRequest

pytestmark = pytest.mark.django_db

WRITTEN_PER_DECISION = ("decisions_decision", "explanations_explanation", "audit_auditevent")


def _indexes(table: str) -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table])
        return dict(cursor.fetchall())


def _plan(queryset) -> str:
    """The plan PostgreSQL picks when any usable index beats a sequential scan."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    return queryset.explain()


@pytest.mark.parametrize("table", WRITTEN_PER_DECISION)
def test_no_prefix_search_twin_is_maintained(table):
    twins = [name for name, definition in _indexes(table).items() if "pattern_ops" in definition]
    assert twins == []


def test_the_model_version_has_no_index_of_its_own_on_decisions():
    single = [d for d in _indexes("decisions_decision").values() if d.endswith("(model_version_id)")]
    assert single == []


@pytest.mark.parametrize(
    ("queryset", "index"),
    [
        (lambda: Decision.objects.filter(model_version_id=1), "decisions_d_model_v_42096a_idx"),
        (
            lambda: Decision.objects.filter(subject_ref="applicant-1"),
            "decisions_decision_subject_ref_988afb42",
        ),
        (
            lambda: Decision.objects.filter(access_token_hash="ab" * 32),
            "decisions_decision_access_token_hash_key",
        ),
        (lambda: AuditEvent.objects.filter(hash="ab" * 32), "audit_auditevent_hash_key"),
        (lambda: AuditEvent.objects.filter(object_id="42"), "audit_auditevent_object_id_3d6dccfb"),
        (lambda: AuditEvent.objects.filter(action="decision.recorded"), "audit_auditevent_action_2131bb77"),
        (
            lambda: ReviewRequest.objects.filter(updated_at__gte="2026-01-01T00:00:00Z").order_by(
                "updated_at", "id"
            ),
            "review_updated_at_id_idx",
        ),
    ],
    ids=[
        "decision-by-version",
        "subject_ref",
        "access-token",
        "event-by-hash",
        "event-by-object",
        "event-by-action",
        "reviews-polled-by-update",
    ],
)
def test_each_whole_value_lookup_still_has_its_index(queryset, index):
    plan = _plan(queryset())
    assert re.search(rf"Index [A-Za-z ]*(using|on) {index}\b", plan), plan
