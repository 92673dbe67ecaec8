"""DRF's content negotiation, with the common case answered before any parsing.

A controller's decision service sends `Accept: application/json`, `*/*` or no Accept header.
For those, with no `?format=` override, DRF's negotiation always picks the first renderer that
speaks JSON, with the media type "application/json"; it got there by building the request's
header mapping and parsing every media type, a noticeable part of a recorded decision's CPU.
Every other request (a browser's `text/html,...`, a quality value, a format override) goes
through DRF's negotiation unchanged.
"""

from __future__ import annotations

from rest_framework.negotiation import DefaultContentNegotiation

_PLAIN_ACCEPTS = frozenset({"*/*", "application/json"})


class ContentNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        meta, override = request.META, self.settings.URL_FORMAT_OVERRIDE
        if (
            not format_suffix
            and meta.get("HTTP_ACCEPT", "*/*").strip() in _PLAIN_ACCEPTS
            and (not override or override not in meta.get("QUERY_STRING", ""))
            and renderers
            and renderers[0].media_type == "application/json"
        ):
            return renderers[0], "application/json"
        return super().select_renderer(request, renderers, format_suffix)
