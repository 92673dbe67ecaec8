"""The client's address as seen through the reverse proxies the operator trusts.

With TRUSTED_PROXY_COUNT = 0 (the default) it is REMOTE_ADDR: X-Forwarded-For is whatever the
client says. With n trusted proxies in front, each appends the address it received the request
from, so the n-th entry from the right is the one the outermost trusted proxy saw; anything left
of it was written by the client and is ignored. DRF's throttles read the same setting
(REST_FRAMEWORK NUM_PROXIES) and pick the same entry.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings


def client_address(request) -> str:
    remote = request.META.get("REMOTE_ADDR") or "unknown"
    count = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if count <= 0 or not forwarded:
        return remote
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if not hops:
        return remote
    # Fewer entries than proxies: the leftmost is still one a trusted proxy wrote.
    candidate = hops[-min(count, len(hops))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:  # a proxy that writes something else (a port, "unknown"): do not key on it
        return remote
