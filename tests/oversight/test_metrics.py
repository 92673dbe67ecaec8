"""/metrics after real traffic (API -> worker -> a contest), read as Prometheus reads it, and
refused to anyone without the monitoring system's token."""

import json
from collections import Counter

import pytest
from django.db.models import Count
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from decisions.models import Decision, ModelVersion
from explanations.models import Explanation
from reviews.models import ReviewRequest
from tests.services import wait_until

TOKEN = "metrics-scraper-token-for-tests"


def scrape(token: str | None = TOKEN):
    client = APIClient()
    if token is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get("/metrics")


def key(**labels: str) -> tuple:
    return tuple(sorted(labels.items()))


def samples(response) -> dict[str, dict[tuple, float]]:
    """{sample name: {key(labels): value}}, as Prometheus parses the page."""
    found: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found.setdefault(sample.name, {})[key(**sample.labels)] = sample.value
    return found


def record(client, rows: list[dict]) -> list[dict]:
    payload = {
        "decisions": [
            {"model": "credit-risk", "subject_ref": f"m-{i}", "features": r} for i, r in enumerate(rows)
        ]
    }
    response = client.post(
        "/api/v1/decisions/bulk/", data=json.dumps(payload), content_type="application/json"
    )
    assert response.status_code == 201, response.content
    return response.json()["decisions"]


@pytest.mark.integration
def test_a_scrape_after_real_traffic_shows_the_databases_figures(
    worker, integration, credit_version, credit_trained, settings, django_assert_num_queries
):
    settings.METRICS_TOKEN = TOKEN
    created = record(integration, credit_trained.sample_rows[:12])
    wait_until(
        lambda: Explanation.objects.filter(status__in=["done", "failed"]).count() >= 12,
        timeout=60,
        what="12 explanations",
    )
    subject = APIClient()
    subject.credentials(HTTP_X_ACCESS_TOKEN=created[0]["subject_access_url"].rstrip("/").rsplit("/", 1)[1])
    contest = subject.post(
        "/api/v1/subject/requests/",
        data=json.dumps({"kind": "contest", "grounds": "reasoning", "statement": "I repaid every loan."}),
        content_type="application/json",
    )
    assert contest.status_code == 201, contest.content

    # One query per group of figures, however many versions and rows: versions, decisions, the
    # backlog, the last hour, review requests, exports, the last checkpoint, webhook deliveries.
    with django_assert_num_queries(8):
        response = scrape()
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    found = samples(response)

    in_database = {
        key(
            model=row["model_version__model__name"],
            version=row["model_version__version"],
            outcome=row["outcome"],
        ): float(row["n"])
        for row in Decision.objects.values("model_version__model__name", "model_version__version", "outcome")
        .order_by()
        .annotate(n=Count("pk"))
    }
    assert found["rationale_decisions_total"] == in_database
    assert sum(in_database.values()) == 12

    explained = Explanation.objects.filter(status="done").count()
    assert explained == 12, worker.log()[-2000:]
    version = {"model": "credit-risk", "version": credit_version.version, "queue": "cpu"}
    assert found["rationale_explanation_latency_last_hour_seconds_count"] == {
        key(**version): float(explained)
    }
    buckets = found["rationale_explanation_latency_last_hour_seconds_bucket"]
    assert buckets[key(**version, le="+Inf")] == explained
    assert sorted(buckets.values()) == list(buckets.values())  # cumulative, in bucket order
    assert found["rationale_explanation_latency_last_hour_seconds_sum"][key(**version)] > 0
    assert found["rationale_explanations_finished_last_hour"] == {
        key(**version, status="done"): float(explained)
    }
    # Nothing waits: the backlog families are there, without a sample.
    assert "rationale_explanations_backlog" not in found

    assert ReviewRequest.objects.get().kind == "contest"
    assert found["rationale_review_requests"] == {key(kind="contest", status="received"): 1.0}
    assert found["rationale_review_requests_overdue"] == {
        key(kind=kind): 0.0 for kind in ReviewRequest.Kind.values
    }
    statuses = Counter(ModelVersion.objects.values_list("model__name", "status"))
    assert found["rationale_model_versions"] == {
        key(model=model, status=status): float(n) for (model, status), n in statuses.items()
    }


@pytest.mark.django_db
def test_webhook_deliveries_by_status_and_the_due_backlog(api_key, settings):
    from datetime import timedelta

    from django.utils import timezone

    from webhooks.models import Delivery, Endpoint

    settings.METRICS_TOKEN = TOKEN
    endpoint = Endpoint.objects.create(api_key=api_key, url="https://hooks.example/", secret="whsec_eA==")
    now = timezone.now()
    for n, (status, due_in) in enumerate(
        [
            ("pending", -60),
            ("failed_retrying", -5),
            ("failed_retrying", 600),
            ("dead", None),
            ("delivered", None),
        ]
    ):
        Delivery.objects.create(
            endpoint=endpoint,
            audit_event_id=n,
            event_type="decision.recorded",
            payload={},
            status=status,
            next_attempt_at=None if due_in is None else now + timedelta(seconds=due_in),
        )
    found = samples(scrape())
    assert found["rationale_webhook_deliveries"] == {
        key(status="pending"): 1.0,
        key(status="delivered"): 1.0,
        key(status="failed_retrying"): 2.0,
        key(status="dead"): 1.0,
    }
    assert found["rationale_webhook_deliveries_due"] == {(): 2.0}
    assert found["rationale_webhook_oldest_due_seconds"][()] >= 60


@pytest.mark.django_db
def test_without_the_token_the_scrape_is_refused(settings):
    settings.METRICS_TOKEN = TOKEN
    for token in (None, "wrong-token", TOKEN + "x", ""):
        refused = scrape(token)
        assert (refused.status_code, refused["WWW-Authenticate"]) == (401, 'Bearer realm="metrics"'), token
        assert b"rationale_" not in refused.content
    api_key_style = APIClient()
    api_key_style.credentials(HTTP_AUTHORIZATION=f"Api-Key {TOKEN}")
    assert api_key_style.get("/metrics").status_code == 401
    allowed = scrape()
    assert allowed.status_code == 200 and b"# TYPE rationale_decisions_total counter" in allowed.content


@pytest.mark.django_db
def test_with_no_token_set_there_is_no_endpoint(settings):
    settings.METRICS_TOKEN = ""
    assert scrape().status_code == 404
    assert scrape("").status_code == 404
