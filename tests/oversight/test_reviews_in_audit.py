"""The Art. 22 review records as the auditor sees them: statistics, exports and retention."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from decisions.models import Decision
from oversight.exports import export_create, export_path, export_run
from oversight.retention import retention_erase_expired
from oversight.selectors import review_statistics
from reviews.models import ReviewRequest

pytestmark = pytest.mark.django_db


def review(
    decision,
    ref,
    *,
    kind="contest",
    status="received",
    received_days_ago=10,
    closed_after_days=None,
    months=0,
):
    now = timezone.now()
    received = now - timedelta(days=received_days_ago)
    original_due = received + timedelta(days=30)
    return ReviewRequest.objects.create(
        reference=ref,
        decision=decision,
        kind=kind,
        status=status,
        grounds="data_wrong" if kind == "contest" else "",
        statement="my income was wrong",
        contact_email="subject@example.org",
        received_at=received,
        original_due_at=original_due,
        due_at=original_due + timedelta(days=30 * months),
        extension_months=months,
        closed_at=received + timedelta(days=closed_after_days) if closed_after_days is not None else None,
        rationale="checked the payslip" if closed_after_days is not None else "",
    )


@pytest.fixture
def reviewed(recorded):
    d = list(Decision.objects.order_by("id"))
    review(d[0], "R-1", status="upheld", closed_after_days=20)  # within a month
    review(d[1], "R-2", status="overturned", closed_after_days=45, months=1)  # within the extension
    review(
        d[2],
        "R-3",
        kind="human_intervention",
        status="overturned",
        received_days_ago=100,
        closed_after_days=80,
    )
    review(d[3], "R-4", kind="view", received_days_ago=40)  # open and overdue
    review(d[4], "R-5", received_days_ago=3)  # open, in time
    return recorded


def test_statistics_of_requests_and_deadlines(reviewed):
    stats = review_statistics(reviewed, 8)
    assert stats["total"] == 5 and stats["by_kind"] == {"contest": 3, "human_intervention": 1, "view": 1}
    assert stats["contest_rate"] == 3 / 8
    assert stats["overturn_rate"] == 2 / 3
    assert (stats["within_month"], stats["within_extension"], stats["late"]) == (1, 1, 1)
    assert (stats["open"], stats["overdue_open"], stats["extended"]) == (2, 1, 1)


def test_decision_export_carries_review_outcomes(reviewed, auditor):
    export = export_run(
        export_id=export_create(user=auditor, kind="decisions", fmt="jsonl", mode="file", filters={}).pk
    )
    rows = {r["id"]: r for r in map(json.loads, export_path(export).read_text().splitlines())}
    first = ReviewRequest.objects.get(reference="R-1")
    (item,) = rows[str(first.decision_id)]["reviews"]
    assert (item["reference"], item["status"], item["kind"]) == ("R-1", "upheld", "contest")
    assert "statement" not in item and "contact_email" not in item
    assert sum(len(r["reviews"]) for r in rows.values()) == 5


def test_retention_erases_what_subjects_wrote(reviewed):
    first = ReviewRequest.objects.get(reference="R-1")
    Decision.objects.filter(pk=first.decision_id).update(decided_at=timezone.now() - timedelta(days=400))
    assert retention_erase_expired()["review_requests"] == 1
    first.refresh_from_db()
    assert (first.statement, first.contact_email, first.rationale) == ("", "", "checked the payslip")
    assert ReviewRequest.objects.get(reference="R-2").statement == "my income was wrong"


def test_postgresql_writer_writes_the_portable_writers_bytes(reviewed):
    """The COPY writer, which runs on PostgreSQL, and the ORM writer, which runs elsewhere,
    agree byte for byte: reviews, a decision with no current explanation, an erased decision,
    awkward text and every filter included."""
    from explanations.models import Explanation
    from oversight.export_filters import ExportFilters
    from oversight.export_lines import decision_lines_jsonl_portable
    from oversight.storage import decision_lines_jsonl_postgresql

    d = list(Decision.objects.order_by("id"))
    Decision.objects.filter(pk=d[5].pk).update(
        subject_ref='Zoë "quoted" \\ back\nslash\t\x01', reference="日本-1"
    )
    Explanation.objects.filter(decision=d[6]).update(is_current=False)
    Decision.objects.filter(pk=d[7].pk).update(personal_data_erased_at=timezone.now(), features={})
    outcome = d[0].outcome
    day = d[0].decided_at.date().isoformat()
    for raw in (
        {},
        {"model": "credit-risk", "outcome": outcome},
        {"model": "credit-risk", "model_version": d[0].model_version.version},
        {"date_from": day, "date_to": day},
        {"date_to": "2001-01-01"},
    ):
        filters = ExportFilters.from_raw(raw)
        pg_counts: dict = {}
        portable_counts: dict = {}
        pg = b"".join(decision_lines_jsonl_postgresql(filters, None, pg_counts))
        portable = "".join(decision_lines_jsonl_portable(filters, None, portable_counts)).encode()
        assert pg == portable, raw
        for counts in (pg_counts, portable_counts):  # the manifest reads a missing count as 0
            counts.setdefault("rows", 0)
        assert pg_counts == portable_counts, raw
    lines = b"".join(decision_lines_jsonl_postgresql(ExportFilters(), None, {})).decode().splitlines()
    rows = {row["id"]: row for row in map(json.loads, lines)}
    assert len(rows) == 8
    assert rows[str(d[5].pk)]["subject_ref"] == 'Zoë "quoted" \\ back\nslash\t\x01'
    assert rows[str(d[6].pk)]["explanation"] is None
    assert rows[str(d[7].pk)]["features"] == {} and rows[str(d[7].pk)]["personal_data_erased_at"]
    assert [r["reference"] for r in rows[str(d[0].pk)]["reviews"]] == ["R-1"]


@pytest.mark.django_db(transaction=True)
def test_an_export_built_by_several_backends_is_the_same_file(reviewed, auditor, monkeypatch):
    """A large export is cut into decided_at ranges built at once on one snapshot; the file is
    byte for byte the single writer's, and progress written on the side does not disturb it."""
    import oversight.export_lines
    import oversight.exports
    import oversight.storage
    from oversight.export_filters import ExportFilters
    from oversight.export_lines import decision_lines_jsonl_portable

    monkeypatch.setattr(oversight.storage, "PARALLEL_PARTS", 3)
    monkeypatch.setattr(oversight.storage, "PARALLEL_MIN_ROWS", 0)
    monkeypatch.setattr(oversight.exports, "PROGRESS_SECONDS", 0.01)
    monkeypatch.setattr(oversight.export_lines, "FLUSH_BYTES", 1)  # a block per line; heartbeats every 10 ms
    spooled = []
    start = oversight.storage._Spool.start
    monkeypatch.setattr(
        oversight.storage._Spool, "start", lambda spool: (spooled.append(spool), start(spool))
    )
    now = timezone.now()
    for i, pk in enumerate(Decision.objects.order_by("id").values_list("id", flat=True)):
        Decision.objects.filter(pk=pk).update(decided_at=now - timedelta(minutes=10 * (i % 5)))
    expected = "".join(decision_lines_jsonl_portable(ExportFilters(), None, {})).encode()

    export = export_create(user=auditor, kind="decisions", fmt="jsonl", mode="file", filters={})
    export = export_run(export_id=export.pk)

    assert len(spooled) == 2 and all(spool.counts["rows"] for spool in spooled)  # three backends
    assert export_path(export).read_bytes() == expected
    assert export.manifest["rows"] == 8 and export.manifest["counts"] == {"explanations": 8}
    assert len({json.loads(line)["decided_at"] for line in expected.splitlines()}) == 5
    export.refresh_from_db()
    assert export.heartbeat_at > export.started_at  # the heartbeat thread wrote while it ran
