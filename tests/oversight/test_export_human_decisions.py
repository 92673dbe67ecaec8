"""Human decisions in the exports: each carries the decision it supersedes, the reviewer's role
(never their name), the rationale and the review request's reference, the same from PostgreSQL's
COPY writer and the portable one, in JSON Lines and CSV."""

import csv
import io
import json

import pytest

from decisions.models import Decision
from oversight.export_filters import ExportFilters
from oversight.export_lines import decision_lines_csv, decision_lines_jsonl_portable
from oversight.exports import export_create, export_path, export_run
from oversight.storage import decision_lines_jsonl_postgresql
from reviews.models import CaseAction, ReviewRequest
from reviews.services import casework, requests

pytestmark = pytest.mark.django_db
FIRST = 'The payslips show 3,100 DM a month: "affordable" after all.\nChecked by phone.'
SECOND = "The job behind those payslips ended in March; the loan is not affordable without it."
UPHELD = "The inputs match the applicant's documents; the model's assessment stands on them."


def other_than(outcome: str) -> str:
    return "approved" if outcome == "refused" else "refused"


@pytest.fixture
def reviewed(recorded, caseworker):
    """One decision changed twice (automated -> human -> human), one upheld, the rest untouched."""
    changed, upheld = Decision.objects.order_by("decided_at", "id")[:2]
    first = requests.review_request_create(decision=changed, kind="human_intervention")
    second = requests.review_request_create(decision=changed, kind="view", statement="I disagree.")
    first = casework.review_overturn(
        request=first, user=caseworker, new_outcome=other_than(changed.outcome), rationale=FIRST
    )
    second = casework.review_overturn(
        request=second, user=caseworker, new_outcome=changed.outcome, rationale=SECOND
    )
    casework.review_uphold(
        request=requests.review_request_create(decision=upheld, kind="human_intervention"),
        user=caseworker,
        rationale=UPHELD,
    )
    return changed, first, second


def both_writers(filters=None) -> tuple[bytes, bytes]:
    filters = filters or ExportFilters()
    pg = b"".join(decision_lines_jsonl_postgresql(filters, None, {}))
    portable = "".join(decision_lines_jsonl_portable(filters, None, {})).encode()
    return pg, portable


def by_id(jsonl: bytes) -> dict:
    return {row["id"]: row for row in map(json.loads, jsonl.decode().splitlines())}


def test_both_writers_carry_each_human_decisions_review_and_what_it_supersedes(reviewed, auditor):
    changed, first, second = reviewed
    pg, portable = both_writers()
    assert pg == portable
    rows = by_id(pg)
    assert len(rows) == 10  # eight automated, two human
    one, two = rows[str(first.human_decision_id)], rows[str(second.human_decision_id)]
    assert (one["kind"], one["supersedes"]) == ("human", str(changed.pk))
    assert two["supersedes"] == str(first.human_decision_id)  # the outcome in force, not the model's
    assert one["human_review"] == {
        "request": first.reference,
        "reviewer_role": "caseworker",
        "rationale": FIRST,
    }
    assert two["human_review"] == {
        "request": second.reference,
        "reviewer_role": "caseworker",
        "rationale": SECOND,
    }
    assert "casey" not in pg.decode()  # the role, never the reviewer's name
    model_rows = [r for r in rows.values() if r["kind"] == "automated"]
    assert len(model_rows) == 8 and all(
        r["supersedes"] is None and r["human_review"] is None for r in model_rows
    )
    # The export an auditor downloads is the same file.
    export = export_run(
        export_id=export_create(user=auditor, kind="decisions", fmt="jsonl", mode="file", filters={}).pk
    )
    assert export_path(export).read_bytes() == pg


def test_both_writers_agree_on_reviews_recorded_before_roles_and_on_a_filter(reviewed):
    changed, first, second = reviewed
    # A review closed before the role was recorded was a caseworker's: no one else could decide.
    for action in CaseAction.objects.filter(request=first, kind=CaseAction.Kind.OVERTURNED):
        del action.data["role"]
        action.save(update_fields=["data"])
    # A human decision with no request behind it (written by hand) says so: null.
    orphan = Decision.objects.get(pk=second.human_decision_id)
    ReviewRequest.objects.filter(pk=second.pk).update(human_decision=None)
    pg, portable = both_writers()
    assert pg == portable
    rows = by_id(pg)
    assert rows[str(first.human_decision_id)]["human_review"]["reviewer_role"] == "caseworker"
    assert rows[str(orphan.pk)]["human_review"] is None and rows[str(orphan.pk)]["supersedes"]
    outcome_filter = ExportFilters.from_raw({"outcome": changed.outcome})
    pg, portable = both_writers(outcome_filter)
    assert pg == portable and str(orphan.pk) in by_id(pg)


def test_csv_has_a_column_per_member_of_the_human_review(reviewed):
    changed, first, second = reviewed
    rows = list(csv.DictReader(io.StringIO("".join(decision_lines_csv(ExportFilters(), None, {})))))
    by_decision = {r["id"]: r for r in rows}
    two = by_decision[str(second.human_decision_id)]
    assert two["supersedes"] == str(first.human_decision_id)
    assert (
        two["human_review_request"],
        two["human_review_reviewer_role"],
        two["human_review_rationale"],
    ) == (
        second.reference,
        "caseworker",
        SECOND,
    )
    assert by_decision[str(first.human_decision_id)]["human_review_rationale"] == FIRST
    original = by_decision[str(changed.pk)]
    assert original["supersedes"] == "" and original["human_review_request"] == ""
