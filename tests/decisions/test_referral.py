"""Referral rules on the main road: set through the API (audited, each bad rule named), applied
when a decision is recorded, with the real credit model's scores."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from audit.models import Action, AuditEvent
from decisions.models import Decision, ModelVersion
from decisions.referral import disadvantaged_values
from tests.conftest import client_for
from tests.frameworks.test_external import decide as decide_external
from tests.frameworks.test_external import scorecard  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db

RULES_URL = "/api/v1/models/credit-risk/versions/{v}/referral/"


def _rules_url(version) -> str:
    return RULES_URL.format(v=version.version)


def _put(client, version, rules):
    return client.put(_rules_url(version), rules, format="json")


def _bulk(integration, rows, tag="r"):
    body = {
        "decisions": [
            {"model": "credit-risk", "subject_ref": f"{tag}-{i}", "features": row}
            for i, row in enumerate(rows)
        ]
    }
    response = integration.post("/api/v1/decisions/bulk/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["decisions"]


# ---------------------------------------------------------------------------- setting rules
def test_rules_are_set_read_and_audited(credit_version, integration, caseworker, auditor):
    rules = {"score_band": {"below": 0.1, "above": 0.05}, "sample_rate": 0.02, "deadline_hours": 48}
    response = _put(integration, credit_version, rules)
    assert response.status_code == 200
    assert response.json() == {"model": "credit-risk", "version": credit_version.version, "rules": rules}
    for client in (integration, client_for(caseworker), client_for(auditor)):
        assert client.get(_rules_url(credit_version)).json()["rules"] == rules
    _put(integration, credit_version, {})
    events = AuditEvent.objects.filter(action=Action.MODEL_REFERRAL_CHANGED).order_by("id")
    assert [(e.data["old"], e.data["new"]) for e in events] == [({}, rules), (rules, {})]
    credit_version.refresh_from_db()
    assert credit_version.referral_rules == {}


def test_bad_rules_are_refused_by_name(credit_version, integration):
    response = _put(
        integration,
        credit_version,
        {
            "score_band": {"below": -0.1},
            "sample_rate": 1.5,
            "flagged_explanation": "yes",
            "protected_groups": {"attributes": ["credit_amount"]},
            "deadline_hours": 0,
            "sample": 0.1,
        },
    )
    assert response.status_code == 400
    fields = response.json()["errors"]
    assert set(fields) == {
        "score_band",
        "sample_rate",
        "flagged_explanation",
        "protected_groups",
        "deadline_hours",
        "sample",
    }
    assert "credit_amount" in fields["protected_groups"]
    assert _put(integration, credit_version, ["sample_rate"]).status_code == 400
    assert _put(integration, credit_version, {"score_band": {"min": 0.6, "max": 0.4}}).status_code == 400
    credit_version.refresh_from_db()
    assert credit_version.referral_rules == {}
    assert not AuditEvent.objects.filter(action=Action.MODEL_REFERRAL_CHANGED).exists()


def test_who_may_read_and_set_rules(credit_version, integration, caseworker, auditor, nobody):
    url = _rules_url(credit_version)
    for client in (client_for(caseworker), client_for(auditor), client_for(nobody)):
        assert client.put(url, {"sample_rate": 0.5}, format="json").status_code == 403
    assert APIClient().put(url, {"sample_rate": 0.5}, format="json").status_code == 401
    assert client_for(nobody).get(url).status_code == 403
    assert APIClient().get(url).status_code == 401
    assert integration.get("/api/v1/models/credit-risk/versions/9.9/referral/").status_code == 404
    credit_version.refresh_from_db()
    assert credit_version.referral_rules == {}


# ---------------------------------------------------------------------------- applying them
def test_a_score_band_refers_the_decisions_near_the_threshold(credit_version, credit_trained, integration):
    rows = credit_trained.sample_rows
    unruled = _bulk(integration, rows, tag="before")
    assert {d["status"] for d in unruled} == {"final"} and not any("referral" in d for d in unruled)
    # A band around the threshold (0.5) that holds some of the real scores and leaves out others.
    assert _put(integration, credit_version, {"score_band": {"below": 0.15, "above": 0.1}}).status_code == 200
    recorded = _bulk(integration, rows, tag="after")
    inside = {d["id"] for d in recorded if 0.35 <= d["score"] <= 0.6}
    assert inside and len(inside) < len(recorded)
    referred = {d["id"] for d in recorded if d["status"] == "pending_review"}
    assert referred == inside
    assert {d["status"] for d in recorded if d["id"] not in inside} == {"final"}
    one = next(d for d in recorded if d["id"] in inside)
    assert one["referral"]["reasons"] == ["score_band"]
    stored = Decision.objects.get(pk=one["id"])
    assert stored.status == "pending_review" and stored.referral_reasons == ["score_band"]
    assert stored.review_due_at == stored.decided_at + timedelta(hours=72)
    assert integration.get(f"/api/v1/decisions/{one['id']}/").json()["referral"]["reasons"] == ["score_band"]
    # The recorded event says so for referred decisions only; the others' events are unchanged.
    events = {
        e.object_id: e.data
        for e in AuditEvent.objects.filter(
            action=Action.DECISION_RECORDED, object_id__in=[d["id"] for d in recorded]
        )
    }
    assert {pk for pk, data in events.items() if data.get("status") == "pending_review"} == inside
    assert events[one["id"]]["referral"]["reasons"] == ["score_band"]
    assert all(
        set(data) == {"model_version", "features_commitment", "score", "outcome"}
        for pk, data in events.items()
        if pk not in inside
    )


def test_an_absolute_band_and_its_own_deadline(credit_version, applicant, integration):
    _put(integration, credit_version, {"score_band": {"min": 0.0, "max": 1.0}, "deadline_hours": 5})
    response = integration.post(
        "/api/v1/decisions/",
        {"model": "credit-risk", "subject_ref": "a-1", "features": applicant},
        format="json",
    )
    body = response.json()
    assert response.status_code == 201 and body["status"] == "pending_review"
    stored = Decision.objects.get(pk=body["id"])
    assert stored.review_due_at == stored.decided_at + timedelta(hours=5)
    assert body["referral"] == {"reasons": ["score_band"], "due_at": stored.review_due_at.isoformat()}


def test_a_sample_rate_of_ten_percent_refers_about_one_in_ten(credit_version, credit_trained, integration):
    _put(integration, credit_version, {"sample_rate": 0.1})
    rows = [credit_trained.sample_rows[i % len(credit_trained.sample_rows)] for i in range(2000)]
    recorded = _bulk(integration, rows, tag="sample")
    referred = [d for d in recorded if d["status"] == "pending_review"]
    # Binomial(2000, 0.1): mean 200, sd 13.4; 150-250 is outside by chance once in ten million.
    assert 150 <= len(referred) <= 250
    assert {tuple(d["referral"]["reasons"]) for d in referred} == {("sample",)}
    assert Decision.objects.filter(status="pending_review").count() == len(referred)


def test_an_assisted_decision_is_never_referred(credit_version, applicant, integration):
    _put(integration, credit_version, {"sample_rate": 1.0})
    response = integration.post(
        "/api/v1/decisions/",
        {
            "model": "credit-risk",
            "subject_ref": "a-2",
            "features": applicant,
            "assisted": {"decided_by": "officer-17", "outcome": "approved"},
        },
        format="json",
    )
    assert response.status_code == 201 and response.json()["status"] == "final"


def test_the_protected_group_monitor_refers_a_disadvantaged_groups_refusals(
    credit_version, credit_trained, integration, settings
):
    settings.REFERRAL_GROUP_RATES_SECONDS = 0  # re-read the rates on every request of the test
    rows = credit_trained.sample_rows
    scored = _bulk(integration, rows, tag="score")
    approved = [row for row, d in zip(rows, scored, strict=True) if d["favourable"]]
    refused = [row for row, d in zip(rows, scored, strict=True) if not d["favourable"]]
    assert len(approved) >= 20 and len(refused) >= 20
    # History: foreign workers ("yes") mostly refused, the others mostly approved. The attribute is
    # monitored only, never a model input, so the outcomes stay those of the real model.
    history = [{**row, "foreign_worker": "no"} for row in approved[:20]] + [
        {**row, "foreign_worker": "yes"} for row in refused[:16] + approved[:4]
    ]
    _bulk(integration, history, tag="history")
    _put(
        integration,
        credit_version,
        {"protected_groups": {"attributes": ["foreign_worker"], "min_ratio": 0.8, "min_group_decisions": 20}},
    )
    new = [{**row, "foreign_worker": "yes"} for row in refused[:3] + approved[:3]]
    new += [{**row, "foreign_worker": "no"} for row in refused[:3]]
    recorded = _bulk(integration, new, tag="new")
    statuses = [(d["features"]["foreign_worker"], d["favourable"], d["status"]) for d in recorded]
    assert statuses == [
        *[("yes", False, "pending_review")] * 3,
        *[("yes", True, "final")] * 3,
        *[("no", False, "final")] * 3,
    ]
    assert recorded[0]["referral"]["reasons"] == ["protected_group"]


def test_disadvantaged_values_follow_the_four_fifths_rule():
    rows = [("a", True)] * 50 + [("a", False)] * 50 + [("b", True)] * 39 + [("b", False)] * 61
    assert disadvantaged_values(rows, min_ratio=0.8, min_group_decisions=30) == {"b"}  # 0.39 < 0.8 * 0.5
    rows += [("c", False)] * 10  # too few to judge
    assert disadvantaged_values(rows, min_ratio=0.8, min_group_decisions=30) == {"b"}
    assert disadvantaged_values(rows, min_ratio=0.7, min_group_decisions=30) == set()
    random.shuffle(rows)
    assert disadvantaged_values(rows + [(None, False)], min_ratio=0.8, min_group_decisions=30) == {"b"}


def test_register_model_takes_the_rules_and_refuses_bad_ones_whole(db, tmp_path, credit_trained):
    (tmp_path / "m.ubj").write_bytes(credit_trained.artifact)
    np.save(tmp_path / "bg.npy", credit_trained.background)
    (tmp_path / "schema.json").write_text(json.dumps(credit_trained.schema))
    (tmp_path / "output.json").write_text(json.dumps(credit_trained.output))
    rules = {
        "score_band": {"below": 0.05, "above": 0.05},
        "protected_groups": {"attributes": ["foreign_worker"]},
    }
    (tmp_path / "rules.json").write_text(json.dumps(rules))
    (tmp_path / "bad.json").write_text(json.dumps({"sample_rate": 2}))

    def register(version, rules_file):
        call_command(
            "register_model", "credit-risk", version, "--framework", "xgboost", "--no-wait",
            "--artifact", str(tmp_path / "m.ubj"), "--background", str(tmp_path / "bg.npy"),
            "--schema", str(tmp_path / "schema.json"), "--output", str(tmp_path / "output.json"),
            "--referral", str(tmp_path / rules_file),
        )  # fmt: skip

    register("cmd-1", "rules.json")
    assert ModelVersion.objects.get(version="cmd-1").referral_rules == rules
    with pytest.raises(CommandError, match="sample_rate"):
        register("cmd-2", "bad.json")
    assert not ModelVersion.objects.filter(version="cmd-2").exists()


def test_an_external_decision_without_its_reasons_is_referred_at_once(scorecard, integration):  # noqa: F811
    rules = {"flagged_explanation": True, "score_band": {"below": 10, "above": 10}}
    assert (
        integration.put(
            "/api/v1/models/vendor-scorecard/versions/2026.1/referral/", rules, format="json"
        ).status_code
        == 200
    )
    unexplained = decide_external(integration, score=580).json()
    assert (unexplained["status"], unexplained["referral"]["reasons"]) == (
        "pending_review",
        ["flagged_explanation"],
    )
    near = decide_external(integration, score=605).json()
    assert near["referral"]["reasons"] == ["score_band", "flagged_explanation"]
    explained = decide_external(
        integration, score=700, base_value=600.0, contributions={"income": 110.0, "arrears": -10.0}
    ).json()
    assert explained["status"] == "final" and "referral" not in explained
    event = AuditEvent.objects.get(action=Action.DECISION_RECORDED, object_id=near["id"])
    assert event.data["referral"]["reasons"] == ["score_band", "flagged_explanation"]
    assert Decision.objects.get(pk=unexplained["id"]).referral_reasons == ["flagged_explanation"]
