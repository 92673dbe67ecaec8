"""The project's content negotiation answers exactly as DRF's own does."""

import itertools

from django.http import Http404
from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from config.negotiation import ContentNegotiation

ACCEPTS = [
    None,
    "*/*",
    " */* ",
    "application/json",
    "",
    "text/html",
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "application/json; indent=4",
    "application/json;q=0.5, text/html",
    "application/xml",
    "image/png",
]
QUERIES = ["", "model=credit-risk", "format=json", "format=api", "page_size=5&format=json"]
RENDERER_ORDERS = [
    [JSONRenderer(), BrowsableAPIRenderer()],
    [BrowsableAPIRenderer(), JSONRenderer()],
    [JSONRenderer()],
]


def choose(negotiator, accept, query, renderers, suffix):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get(f"/api/v1/decisions/?{query}", **headers))
    try:
        renderer, media_type = negotiator.select_renderer(request, renderers, suffix)
    except (exceptions.NotAcceptable, Http404) as exc:
        return type(exc).__name__
    return type(renderer).__name__, media_type


def test_the_same_renderer_and_media_type_as_drf_or_the_same_refusal():
    differ = []
    for accept, query, renderers, suffix in itertools.product(
        ACCEPTS, QUERIES, RENDERER_ORDERS, [None, "json", "api"]
    ):
        ours = choose(ContentNegotiation(), accept, query, renderers, suffix)
        drf = choose(DefaultContentNegotiation(), accept, query, renderers, suffix)
        if ours != drf:
            differ.append((accept, query, [type(r).__name__ for r in renderers], suffix, ours, drf))
    assert differ == []


def test_it_is_the_negotiation_every_view_uses():
    from rest_framework.views import APIView

    assert isinstance(APIView().get_content_negotiator(), ContentNegotiation)
