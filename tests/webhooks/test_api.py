"""The webhook API: API keys only, each seeing its own endpoints; secrets shown once; SSRF
guards; replays; every change audited."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import Action, AuditEvent
from audit.services import Actor
from decisions.accounts import api_key_create
from tests.conftest import client_for
from webhooks.catalogue import EVENT_TYPES
from webhooks.delivery import deliveries_claim, deliveries_due
from webhooks.models import Attempt, Delivery, Endpoint

pytestmark = pytest.mark.django_db
BASE = "/api/v1/webhooks/endpoints/"


def post(client, url, body=None):
    return client.post(url, data=json.dumps(body or {}), content_type="application/json")


def patch(client, url, body):
    return client.patch(url, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def allow_any_url(settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True


@pytest.fixture
def endpoint(integration, allow_any_url):
    response = post(
        integration, BASE, {"url": "http://127.0.0.1:9/hooks", "event_types": ["decision.recorded"]}
    )
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def other_key_client():
    key, raw = api_key_create(name="another-system", actor=Actor.system("tests"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


def delivery_of(endpoint_id: int, status: str, n: int = 1) -> Delivery:
    delivery = Delivery.objects.create(
        endpoint_id=endpoint_id,
        audit_event_id=1000 + n,
        event_type="decision.recorded",
        payload={"type": "decision.recorded", "data": {"decision": "x"}},
        status=status,
        attempts=2,
    )
    return delivery


def test_register_shows_the_secret_once_and_audits_without_it(integration, endpoint):
    assert endpoint["secret"].startswith("whsec_") and len(endpoint["secret"]) > 40
    assert Endpoint.objects.get(pk=endpoint["id"]).secret == endpoint["secret"]
    read = integration.get(f"{BASE}{endpoint['id']}/").json()
    assert "secret" not in read and read["url"] == "http://127.0.0.1:9/hooks"
    assert [e["id"] for e in integration.get(BASE).json()] == [endpoint["id"]]
    event = AuditEvent.objects.get(action=Action.WEBHOOK_ENDPOINT_CREATED)
    assert event.data == {"event_types": ["decision.recorded"]} and event.object_id == str(endpoint["id"])


def test_the_secret_is_encrypted_at_rest(endpoint):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM webhooks_endpoint WHERE id = %s", [endpoint["id"]])
        [stored] = cursor.fetchone()
    assert endpoint["secret"] not in stored and stored.startswith("gAAAA")  # a Fernet token


def test_patch_and_delete(integration, endpoint):
    url = f"{BASE}{endpoint['id']}/"
    changed = patch(
        integration, url, {"event_types": ["review.decided", "decision.recorded"], "description": "loans"}
    )
    assert changed.status_code == 200
    assert changed.json()["event_types"] == ["decision.recorded", "review.decided"]
    assert changed.json()["description"] == "loans"
    assert integration.delete(url).status_code == 204
    assert integration.get(url).json()["enabled"] is False
    changes = [e.data["changed"] for e in AuditEvent.objects.filter(action=Action.WEBHOOK_ENDPOINT_CHANGED)]
    assert changes == [["description", "event_types"], ["enabled"]]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"url": "http://127.0.0.1:9/", "event_types": ["nope"]}, "event_types", "unknown event types: nope"),
        ({"url": "http://127.0.0.1:9/", "event_types": []}, "event_types", "a non-empty list"),
        ({"url": "ftp://hooks.example/", "event_types": ["decision.recorded"]}, "url", "absolute https://"),
        ({"event_types": ["decision.recorded"]}, "url", "required"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(integration, allow_any_url, body, field, message):
    response = post(integration, BASE, body)
    assert response.status_code == 400
    assert message in str(response.json()["errors"][field])
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://hooks.example/x", "must use https://"),
        ("https://127.0.0.1/x", "loopback, private, link-local"),
        ("https://localhost:8443/x", "loopback, private, link-local"),
        ("https://10.1.2.3/x", "loopback, private, link-local"),
        ("https://169.254.169.254/latest/meta-data/", "loopback, private, link-local"),
        ("https://[::1]/x", "loopback, private, link-local"),
        ("https://[::ffff:192.168.0.1]/x", "loopback, private, link-local"),
        ("https://user:pw@hooks.example/x", "user name or password"),
        ("https://no-such-host.invalid/x", "does not resolve"),
    ],
)
def test_server_side_request_forgery_is_refused(integration, url, message):
    response = post(integration, BASE, {"url": url, "event_types": ["decision.recorded"]})
    assert response.status_code == 400, response.content
    assert message in response.json()["errors"]["url"]
    assert not Endpoint.objects.exists()


def test_a_public_address_is_accepted_and_patching_to_a_private_one_is_refused(integration):
    created = post(
        integration, BASE, {"url": "https://93.184.215.14/hooks", "event_types": ["decision.recorded"]}
    )
    assert created.status_code == 201, created.content
    refused = patch(integration, f"{BASE}{created.json()['id']}/", {"url": "https://192.168.1.1/"})
    assert refused.status_code == 400 and "private" in refused.json()["errors"]["url"]
    assert Endpoint.objects.get().url == "https://93.184.215.14/hooks"


def test_rotation_keeps_the_previous_secret_for_the_overlap(integration, endpoint, settings):
    settings.WEBHOOK_SECRET_OVERLAP_HOURS = 24
    rotated = post(integration, f"{BASE}{endpoint['id']}/rotate-secret/")
    assert rotated.status_code == 200
    stored = Endpoint.objects.get(pk=endpoint["id"])
    assert stored.secret == rotated.json()["secret"] and stored.previous_secret == endpoint["secret"]
    hours = (stored.previous_secret_expires_at - stored.updated_at).total_seconds() / 3600
    assert 23.99 < hours <= 24
    event = AuditEvent.objects.get(action=Action.WEBHOOK_SECRET_ROTATED)
    assert set(event.data) == {"previous_valid_until"}


def test_another_key_finds_nothing_of_this_keys(endpoint, other_key_client):
    delivery = delivery_of(endpoint["id"], "dead")
    base = f"{BASE}{endpoint['id']}/"
    assert other_key_client.get(BASE).json() == []
    for method, url in [
        ("get", base),
        ("patch", base),
        ("delete", base),
        ("post", f"{base}rotate-secret/"),
        ("post", f"{base}replay-dead/"),
        ("get", f"{base}deliveries/"),
        ("get", f"/api/v1/webhooks/deliveries/{delivery.pk}/"),
        ("post", f"/api/v1/webhooks/deliveries/{delivery.pk}/replay/"),
        ("get", f"{BASE}{2**64}/"),
        ("get", "/api/v1/webhooks/deliveries/1e3/"),
    ]:
        kwargs = {} if method == "get" else {"data": "{}", "content_type": "application/json"}
        response = getattr(other_key_client, method)(url, **kwargs)
        assert response.status_code == 404, (method, url)
    stored = Delivery.objects.get(pk=delivery.pk)
    assert stored.status == "dead" and Endpoint.objects.get(pk=endpoint["id"]).enabled


def test_sessions_and_anonymous_are_refused(endpoint, caseworker, auditor, nobody):
    urls = [
        BASE,
        f"{BASE}{endpoint['id']}/",
        f"{BASE}{endpoint['id']}/deliveries/",
        "/api/v1/webhooks/event-types/",
    ]
    for url in urls:
        assert APIClient().get(url).status_code == 401, url
        for user in (caseworker, auditor, nobody):
            assert client_for(user).get(url).status_code == 403, (url, user)
    for user in (caseworker, auditor):
        refused = post(
            client_for(user), BASE, {"url": "https://93.184.215.14/", "event_types": ["decision.recorded"]}
        )
        assert refused.status_code == 403
    assert Endpoint.objects.count() == 1


def test_the_catalogue_lists_every_event_type(integration):
    body = integration.get("/api/v1/webhooks/event-types/").json()
    assert [t["type"] for t in body] == list(EVENT_TYPES)
    assert "review.decided" in EVENT_TYPES and "decision.superseded" in EVENT_TYPES


def test_deliveries_filter_detail_and_replays(integration, endpoint):
    dead, done = delivery_of(endpoint["id"], "dead", 1), delivery_of(endpoint["id"], "delivered", 2)
    waiting = delivery_of(endpoint["id"], "pending", 3)
    Attempt.objects.create(
        delivery=dead, number=1, at=dead.created_at, status_code=500, error="HTTP 500", duration_ms=3
    )
    base = f"{BASE}{endpoint['id']}/deliveries/"
    assert [d["id"] for d in integration.get(base).json()["results"]] == [waiting.pk, done.pk, dead.pk]
    assert [d["id"] for d in integration.get(f"{base}?status=dead").json()["results"]] == [dead.pk]
    bad = integration.get(f"{base}?status=lost")
    assert bad.status_code == 400 and "status" in bad.json()["errors"]
    detail = integration.get(f"/api/v1/webhooks/deliveries/{dead.pk}/").json()
    assert detail["msg_id"] == f"msg_{dead.audit_event_id}"
    assert detail["attempt_history"] == [
        {
            "replay": 0,
            "number": 1,
            "at": detail["attempt_history"][0]["at"],
            "status_code": 500,
            "error": "HTTP 500",
            "duration_ms": 3.0,
        }
    ]
    # A delivery already waiting to be sent is not replayed; a delivered one may be sent again.
    assert post(integration, f"/api/v1/webhooks/deliveries/{waiting.pk}/replay/").status_code == 409
    assert post(integration, f"/api/v1/webhooks/deliveries/{done.pk}/replay/").json() == {"replayed": 1}
    assert post(integration, f"{BASE}{endpoint['id']}/replay-dead/").json() == {"replayed": 1}
    assert post(integration, f"{BASE}{endpoint['id']}/replay-dead/").json() == {"replayed": 0}
    assert set(Delivery.objects.values_list("status", "attempts", "replays")) == {
        ("pending", 0, 1),  # the two replayed: a fresh budget
        ("pending", 2, 0),  # the one left waiting
    }
    assert AuditEvent.objects.filter(action=Action.WEBHOOK_REPLAYED).count() == 2


def test_listing_deliveries_costs_the_same_queries_for_1_and_3(
    integration, endpoint, django_assert_num_queries
):
    base = f"{BASE}{endpoint['id']}/deliveries/"
    delivery_of(endpoint["id"], "dead", 1)
    integration.get(base)  # the API key's lookup is cached after the first request
    with django_assert_num_queries(3) as one:
        assert len(integration.get(base).json()["results"]) == 1
    delivery_of(endpoint["id"], "dead", 2), delivery_of(endpoint["id"], "dead", 3)
    with django_assert_num_queries(len(one.captured_queries)):
        assert len(integration.get(base).json()["results"]) == 3


def test_a_disabled_endpoints_deliveries_wait_until_it_is_enabled_again(integration, endpoint):
    waiting = delivery_of(endpoint["id"], "pending")
    Delivery.objects.filter(pk=waiting.pk).update(next_attempt_at=timezone.now())
    assert integration.delete(f"{BASE}{endpoint['id']}/").status_code == 204
    assert not deliveries_due() and deliveries_claim(limit=10)[1] == []
    patch(integration, f"{BASE}{endpoint['id']}/", {"enabled": True})
    assert deliveries_due()
    assert [d.pk for d in deliveries_claim(limit=10)[1]] == [waiting.pk]


def test_operators_read_endpoints_and_deliveries_in_the_admin_without_secrets(
    endpoint, caseworker, django_user_model
):
    delivery = delivery_of(endpoint["id"], "dead")
    Attempt.objects.create(
        delivery=delivery, number=1, at=timezone.now(), status_code=503, error="", duration_ms=12.0
    )
    operator = django_user_model.objects.create_superuser("operator", password="op-secret-123!")
    admin = client_for(operator)
    pages = [
        admin.get(f"/admin/webhooks/endpoint/{endpoint['id']}/change/"),
        admin.get(f"/admin/webhooks/delivery/{delivery.pk}/change/"),
        admin.get("/admin/webhooks/delivery/?status__exact=dead"),
    ]
    assert [p.status_code for p in pages] == [200, 200, 200]
    assert "http://127.0.0.1:9/hooks" in pages[0].content.decode()
    assert "503" in pages[1].content.decode()
    assert all(endpoint["secret"] not in p.content.decode() for p in pages)
    stored = Endpoint.objects.get(pk=endpoint["id"])
    assert stored.secret not in pages[0].content.decode()
    # Read-only: changes go through the audited API.
    assert (
        admin.post(f"/admin/webhooks/endpoint/{endpoint['id']}/change/", {"enabled": ""}).status_code == 403
    )
    assert client_for(caseworker).get("/admin/webhooks/endpoint/").status_code == 302
