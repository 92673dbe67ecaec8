"""The auditor's pages with real values: overview statistics (the model's decisions apart from
people's), importance and drift charts, the event timeline in words, the export form's choices."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import Action, AuditEvent
from audit.services import Actor, audit_record
from decisions.accounts import api_key_create
from decisions.models import ModelVersion
from oversight.models import Export
from oversight.selectors import version_overview
from tests.conftest import _user, client_for
from tests.oversight.conftest import make_explanation
from tests.oversight.lending import decide, lending_version, review_decides

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(db):
    return lending_version()


def test_overview_counts_outcomes_coverage_and_latency(version, auditor):
    decisions = [decide(version, {"age_years": 30}, favourable=i < 3) for i in range(4)]
    for d, seconds in zip(decisions[:3], (1.0, 2.0, 5.0), strict=True):
        make_explanation(d, {"age_years": 0.1}, seconds=seconds)
    stats = version_overview(version)
    assert stats["outcomes"]["decisions"] == 4 and stats["outcomes"]["favourable_rate"] == 0.75
    assert [(o["outcome"], o["n"]) for o in stats["outcomes"]["outcomes"]] == [
        ("approved", 3),
        ("refused", 1),
    ]
    assert stats["explanations"]["coverage"] == 0.75
    assert stats["explanations"]["latency_p50_seconds"] == pytest.approx(2.0)
    assert stats["explanations"]["latency_p95_seconds"] == pytest.approx(2.0 + 0.9 * 3.0)
    assert stats["importance"]["features"][0]["feature"] == "age_years"
    text = client_for(auditor).get(f"/audit/versions/{version.pk}/").content.decode()
    assert "3 / 4 (75.0%)" in text and "done: 3" in text


def test_the_models_figures_count_its_own_decisions_and_peoples_apart(version, auditor):
    """Four automated decisions, three favourable; people reviewed two refusals: one changed to
    approved, one kept. The model's figures stay 4 and 75%; the people's are 2, 1 changed."""
    automated = [decide(version, {"age_years": 30}, favourable=fav) for fav in (True, True, True, False)]
    other = decide(version, {"age_years": 40}, favourable=False)
    review_decides(automated[3], "approved", favourable=True)
    review_decides(other, "refused", favourable=False)
    stats = version_overview(version)
    assert (stats["outcomes"]["decisions"], stats["outcomes"]["favourable"]) == (5, 3)
    assert [(o["outcome"], o["n"]) for o in stats["outcomes"]["outcomes"]] == [
        ("approved", 3),
        ("refused", 2),
    ]
    assert stats["human"] == {
        "decisions": 2,
        "changed": 1,
        "kept": 1,
        "changed_rate": 0.5,
        "outcomes": [{"outcome": "approved", "n": 1}, {"outcome": "refused", "n": 1}],
    }
    client = client_for(auditor)
    page = client.get(f"/audit/versions/{version.pk}/")
    text = page.content.decode()
    assert re.search(r'id="n-decisions">5<', text) and re.search(r'id="n-human">2<', text)
    assert "1 of 2 (50.0%)" in text
    index = client.get("/audit/").context["versions"]
    assert [(v.n_decisions, v.n_human) for v in index] == [(5, 2)]


def test_global_importance_is_a_chart_of_labels(version, auditor):
    for i in range(3):
        d = decide(version, {"income": 1000 + i}, favourable=True)
        make_explanation(d, {"income": 0.4, "term_months": -0.1, "age_years": 0.0})
    text = client_for(auditor).get(f"/audit/versions/{version.pk}/").content.decode()
    chart = text[text.index('<svg xmlns="http://www.w3.org/2000/svg" width="100%"') :]
    chart = chart[: chart.index("</svg>")]
    assert 'id="importance-chart-title"' in chart
    assert re.findall(r'<rect x="0" y="\d+" width="([\d.]+)%"', chart) == ["100.00", "25.00", "0.00"]
    assert ">Monthly income<" in chart and ">Loan term<" in chart and "term_months" not in chart


def test_drift_page_draws_weekly_windows_of_the_models_decisions(version, auditor):
    now = timezone.now()
    for week in range(3):
        for i in range(4):
            decide(
                version,
                {"age_years": 20 + 10 * week, "foreign_worker": "yes"},
                favourable=True,
                score=0.1 + 0.25 * i,
                decided_at=now - timedelta(weeks=2 - week),
            )
    client = client_for(auditor)
    response = client.get(f"/audit/versions/{version.pk}/drift/?feature=age_years")
    text = response.content.decode()
    assert response.context["window"] == "week"  # three weeks of decisions: weeks to compare
    score = response.context["score"]["distribution"]
    assert len(score.windows) == 3 and [w.n for w in score.windows] == [4, 4, 4]
    assert score.windows[0].shares == [0, 0.25, 0, 0.25, 0, 0, 0.25, 0, 0.25, 0]
    assert [w.psi for w in score.windows[1:]] == [0.0, 0.0]
    ages = response.context["feature"]["distribution"]
    assert ages.bins == ["under 25", "25 to 34", "35 to 49", "50 and over"]
    assert [w.shares for w in ages.windows] == [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]
    assert ages.windows[2].shift == "large"
    assert text.count('role="img"') == 2 and "<script" not in text
    assert "PSI 0.00, stable" in text and re.search(r">PSI [\d.]+, large</text>", text)
    assert "large shift</td>" in text  # the table says it in full


def test_people_s_decisions_move_no_drift_figure(version, auditor):
    refused = decide(version, {"age_years": 30}, favourable=False, score=0.05)
    decide(version, {"age_years": 30}, favourable=True, score=0.95)
    before = client_for(auditor).get(f"/audit/versions/{version.pk}/drift/").context["score"]["distribution"]
    review_decides(refused, "approved", favourable=True)
    after = client_for(auditor).get(f"/audit/versions/{version.pk}/drift/").context["score"]["distribution"]
    assert [(w.n, w.shares, w.favourable_rate) for w in after.windows] == [
        (w.n, w.shares, w.favourable_rate) for w in before.windows
    ]
    assert after.windows[0].n == 2 and after.windows[0].favourable_rate == 0.5


def test_drift_chooses_days_for_decisions_of_a_few_days_and_says_when_there_is_one_window(version, auditor):
    now = timezone.now()
    for day in range(3):
        decide(version, {"age_years": 30}, favourable=True, decided_at=now - timedelta(days=day))
    client = client_for(auditor)
    response = client.get(f"/audit/versions/{version.pk}/drift/")
    assert response.context["window"] == "day"
    assert len(response.context["score"]["distribution"].windows) == 3
    assert 'id="one-window"' not in response.content.decode()
    monthly = client.get(f"/audit/versions/{version.pk}/drift/", {"window": "month"})
    if len(monthly.context["score"]["distribution"].windows) == 1:  # not across a month's end
        assert 'id="one-window"' in monthly.content.decode()


def test_a_regression_scores_drift_bins_span_its_scores_not_a_probability(version):
    from oversight.drift import score_distribution

    ModelVersion.objects.filter(pk=version.pk).update(
        output={
            "type": "regression",
            "threshold": 600,
            "favourable_when": "above",
            "class_labels": ["refused", "approved"],
            "favourable_label": "approved",
        }
    )
    version = ModelVersion.objects.get(pk=version.pk)
    for score in (500.0, 550.0, 600.0, 650.0, 700.0):
        decide(version, {"age_years": 30}, favourable=score >= 600, score=score)
    distribution = score_distribution(version)
    assert distribution.bins[0] == "500-520" and distribution.bins[-1] == "680-700"
    (window,) = distribution.windows
    assert window.shares == [0.2, 0, 0.2, 0, 0, 0.2, 0, 0.2, 0, 0.2]


# ---------------------------------------------------------------------------- timeline
def test_the_timeline_names_actors_and_shows_event_data_whole(version, auditor):
    key, _raw = api_key_create(name="core-banking", actor=Actor.system("tests"))
    long_reason = "the payslip shows a higher income than recorded; " * 4
    audit_record(
        actor=Actor.user(auditor),
        action=Action.EXPORT_REQUESTED,
        object_type="export",
        object_id="e-1",
        data={
            "kind": "decisions",
            "filters": {"model": "lending", "date_from": "2026-01-01"},
            "reason": long_reason,
        },
    )
    audit_record(
        actor=Actor.api_key(key),
        action=Action.DECISION_RECORDED,
        object_type="decision",
        object_id="d-1",
        data={"model_version": version.pk, "outcome": "approved", "explained": True},
    )
    response = client_for(auditor).get("/audit/events/")
    text = response.content.decode()
    by_action = {e.event.action: e for e in response.context["entries"]}
    export = by_action[Action.EXPORT_REQUESTED]
    assert export.actor == "audrey (auditor)" and export.action == "Export requested"
    assert {f.label: f.value for f in export.fields if not f.children} == {
        "Kind": "decisions",
        "Reason": long_reason,
    }
    (filters,) = [f for f in export.fields if f.children]
    assert filters.label == "Filters"
    assert {f.label: f.value for f in filters.children} == {"Model": "lending", "From": "2026-01-01"}
    recorded = by_action[Action.DECISION_RECORDED]
    assert recorded.actor == "API key “core-banking”"
    assert {f.label: f.value for f in recorded.fields} == {
        "Model version": "lending@1.0",
        "Outcome": "approved",
        "Explained": "yes",
    }
    created = by_action[Action.API_KEY_CREATED]
    assert created.actor == "system: tests" and created.object == "API key “core-banking”"
    assert long_reason.strip() in text and "<dt>Filters</dt>" in text
    assert "{'" not in text and "user:" not in text


def test_the_timeline_filters_and_pages(auditor):
    for i in range(60):
        audit_record(
            actor=Actor.system("tests"),
            action=Action.API_KEY_REVOKED,
            object_type="api_key",
            object_id=str(i),
        )
    client = client_for(auditor)
    revoked = client.get("/audit/events/", {"action": Action.API_KEY_REVOKED}).context["page"]
    assert len(revoked.events) == 50 and {e.action for e in revoked.events} == {Action.API_KEY_REVOKED}
    older = client.get("/audit/events/", {"action": Action.API_KEY_REVOKED, "before": revoked.older_than})
    assert len(older.context["page"].events) == 10
    ids = [e.id for e in revoked.events + older.context["page"].events]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 60
    one = client.get("/audit/events/", {"object_type": "api_key", "object_id": "7"}).context["page"].events
    assert [e.object_id for e in one] == ["7"]
    assert AuditEvent.objects.filter(action=Action.API_KEY_REVOKED).count() == 60


def test_the_timeline_looks_up_names_in_a_fixed_number_of_queries(auditor):
    def page_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client_for(auditor).get("/audit/events/").status_code == 200
        return len(queries)

    def act(n: int) -> None:
        for i in range(n):
            user = _user(f"user-{AuditEvent.objects.count()}-{i}", "caseworker")
            key, _raw = api_key_create(name=f"key-{user.pk}", actor=Actor.user(user))
            audit_record(
                actor=Actor.api_key(key),
                action=Action.API_KEY_REVOKED,
                object_type="api_key",
                object_id=key.pk,
            )

    act(1)
    one = page_queries()
    act(3)
    assert page_queries() == one


# ---------------------------------------------------------------------------- export form
def test_the_export_form_offers_real_models_versions_and_outcomes_with_date_pickers(version, auditor):
    lending_version(version="2.0")
    lending_version("form-reader", "7", output={"type": "multiclass", "class_labels": ["0", "1"]})
    text = client_for(auditor).get("/audit/exports/").content.decode()
    model = re.search(r'<select name="model"[^>]*>(.*?)</select>', text, re.S).group(1)
    assert re.findall(r'<option value="([^"]*)"', model) == ["", "form-reader", "lending"]
    versions = re.search(r'<select name="model_version"[^>]*>(.*?)</select>', text, re.S).group(1)
    assert re.findall(r'<option value="([^"]*)"', versions) == [
        "",
        "form-reader@7",
        "lending@2.0",
        "lending@1.0",
    ]
    assert '<optgroup label="lending">' in versions
    outcome = re.search(r'<select name="outcome"[^>]*>(.*?)</select>', text, re.S).group(1)
    assert re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)<', outcome) == [
        ("", "any outcome"),
        ("0", "0 (form-reader)"),
        ("1", "1 (form-reader)"),
        ("approved", "approved (lending)"),
        ("refused", "refused (lending)"),
    ]
    assert len(re.findall(r'<input type="date" name="date_(from|to)"', text)) == 2
    described = re.findall(r'aria-describedby="([^"]+)"', text)
    assert described and all(f'id="{i}"' in text for ids in described for i in ids.split())


def test_the_export_form_exports_what_was_chosen_and_refuses_a_version_of_another_model(version, auditor):
    other = lending_version("other-lender")
    decide(version, {"age_years": 30}, favourable=True)
    decide(version, {"age_years": 30}, favourable=False)
    decide(other, {"age_years": 30}, favourable=True)
    client = client_for(auditor)
    form = {
        "kind": "decisions",
        "format": "jsonl",
        "mode": "stream",
        "date_from": timezone.now().date().isoformat(),
    }
    wrong = client.post("/audit/exports/", {**form, "model": "other-lender", "model_version": "lending@1.0"})
    assert wrong.status_code == 200 and Export.objects.count() == 0
    assert wrong.context["form"].errors == {"model_version": ["this version is of another model"]}
    assert 'id="id_model_version_error"' in wrong.content.decode()
    response = client.post("/audit/exports/", {**form, "model_version": "lending@1.0", "outcome": "approved"})
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) == 1 and '"outcome": "approved"' in lines[0].replace('":"', '": "')
    assert Export.objects.get().filters == {
        "model": "lending",
        "model_version": "1.0",
        "outcome": "approved",
        "date_from": form["date_from"] + "T00:00:00+00:00",
    }
    detail = client.get(f"/audit/exports/{Export.objects.get().pk}/").content.decode()
    assert "<dt>Model version</dt><dd>1.0</dd>" in detail and "{'" not in detail
