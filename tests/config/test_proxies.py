"""config.proxies: the client address through the trusted proxies, and nothing a client writes."""

import pytest
from django.test import RequestFactory
from rest_framework.settings import api_settings

from config.proxies import client_address


def request(remote="10.0.0.2", forwarded=None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


@pytest.mark.parametrize(
    ("count", "forwarded", "seen"),
    [
        (0, None, "10.0.0.2"),
        (0, "203.0.113.9", "10.0.0.2"),  # no proxy trusted: the header is the client's own words
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "1.2.3.4, 203.0.113.9", "203.0.113.9"),  # the left one was written by the client
        (2, "1.2.3.4, 203.0.113.9, 10.0.0.7", "203.0.113.9"),
        (2, "203.0.113.9", "203.0.113.9"),  # fewer entries than proxies: the leftmost
        (1, "2001:db8::1", "2001:db8::1"),
        (1, "not-an-address", "10.0.0.2"),
        (1, "", "10.0.0.2"),
    ],
)
def test_the_client_address_through_trusted_proxies(settings, count, forwarded, seen):
    settings.TRUSTED_PROXY_COUNT = count
    assert client_address(request(forwarded=forwarded)) == seen


def test_drf_counts_against_the_same_address(settings):
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == settings.TRUSTED_PROXY_COUNT == api_settings.NUM_PROXIES
