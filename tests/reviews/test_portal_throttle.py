"""The count of unknown access tokens (decisions.subject_access): per client address through the
trusted proxies, in the shared cache (Redis), and never in the way of a valid token."""

import pytest
import redis
from django.conf import settings as django_settings
from django.core.cache import cache
from rest_framework.test import APIClient

from audit.services import Actor
from decisions.recording import DecisionInput
from explanations.recording import decision_record_many

pytestmark = pytest.mark.django_db
PROXY = "10.0.0.1"  # the reverse proxy every request comes through


@pytest.fixture(autouse=True)
def fresh_throttle():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def mine(credit_version, credit_trained):
    item = DecisionInput(model="credit-risk", features=credit_trained.sample_rows[0], subject_ref="p-0")
    return decision_record_many(items=[item], actor=Actor.system("tests"))[0]


def counted(address: str) -> int | None:
    """The count as Redis holds it, read past Django's cache: what every web process sees."""
    stored = redis.Redis.from_url(django_settings.CACHES["default"]["LOCATION"]).get(
        cache.make_key(f"subject-bad-token:{address}")
    )
    return None if stored is None else int(stored)


def bad(i: int) -> str:
    return f"/access/{'x' * 28}{i:04d}/"


def test_a_valid_token_is_served_after_100_bad_ones_from_the_same_proxied_address(client, mine, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    behind = {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "203.0.113.9"}
    answers = [client.get(bad(i), **behind).status_code for i in range(100)]
    limit = settings.SUBJECT_BAD_TOKEN_LIMIT
    assert answers == [404] * limit + [429] * (100 - limit)
    assert counted("203.0.113.9") == 100 and counted(PROXY) is None
    # The person behind the same address, with their own link: served, page and API alike.
    opened = client.get(f"/access/{mine.access_token}/", **behind)
    assert opened.status_code == 302 and client.get(opened["Location"], **behind).status_code == 200
    api = APIClient().get("/api/v1/subject/decision/", HTTP_X_ACCESS_TOKEN=mine.access_token, **behind)
    assert api.status_code == 200 and api.json()["id"] == str(mine.decision.pk)
    assert (
        APIClient().get("/api/v1/subject/decision/", HTTP_X_ACCESS_TOKEN="nope", **behind).status_code == 429
    )
    # Someone else behind the same proxy is not affected by the guesser.
    other = {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "198.51.100.7"}
    assert client.get(bad(100), **other).status_code == 404


def test_with_no_trusted_proxy_a_forwarded_header_does_not_change_the_key(client, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    for i, spoofed in enumerate(("203.0.113.1", "203.0.113.2", "203.0.113.3")):
        client.get(bad(i), REMOTE_ADDR="192.0.2.50", HTTP_X_FORWARDED_FOR=spoofed)
    assert counted("192.0.2.50") == 3
    assert [counted(f"203.0.113.{i}") for i in (1, 2, 3)] == [None, None, None]


def test_with_the_cache_down_the_pages_still_answer(client, mine, settings, caplog):
    """Redis stopped (nothing listens on port 1): the count is skipped and said in the log, and
    nobody gets a 500 or waits."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    assert client.get(bad(0)).status_code == 404
    assert client.get(f"/access/{mine.access_token}/", follow=True).status_code == 200
    assert "subject throttle: cache unavailable, not counting" in caplog.text
