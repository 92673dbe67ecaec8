"""Where a webhook may be sent: server-side request forgery guards.

An API key holder chooses the URL and Rationale's workers POST to it, from inside the operator's
network. So by default only https, and only hosts whose every address is public: no loopback,
private, link-local (cloud metadata at 169.254.169.254), shared, multicast or reserved address.
Checked when the URL is registered and again before each attempt, as a name may change what it
points to (WEBHOOK_ALLOW_HTTP and WEBHOOK_ALLOW_PRIVATE_ADDRESSES relax them, e.g. in tests).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit, urlunsplit

from django.conf import settings


class DestinationRefused(Exception):
    """The URL may not receive webhooks; the message says why, naming no address."""


def _addresses(host: str, port: int) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return {ipaddress.ip_address(host)}
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise DestinationRefused("the host name does not resolve") from None
    return {ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos}


def _public(address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


@dataclass(frozen=True)
class Pinned:
    """A request to the address that was checked: the URL with that address for its host, the
    Host header and TLS server name of the original (so the certificate is still checked against
    the name), and the name, to keep connections of different names apart."""

    url: str
    headers: dict[str, str]
    extensions: dict[str, str]
    hostname: str


def _parsed(url: str) -> tuple[SplitResult, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise DestinationRefused("must be an absolute https:// URL")
    if parts.scheme == "http" and not settings.WEBHOOK_ALLOW_HTTP:
        raise DestinationRefused("must use https:// (plain http is not allowed on this server)")
    if parts.username or parts.password:
        raise DestinationRefused("must not carry a user name or password")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise DestinationRefused("has an invalid port") from None
    return parts, port


def _refuse_unless_public(addresses) -> None:
    if not settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES and not all(_public(a) for a in addresses):
        raise DestinationRefused(
            "resolves to a loopback, private, link-local or reserved address, which this server "
            "does not send to"
        )


def destination_check(url: str) -> None:
    """Raise DestinationRefused unless `url` may receive webhooks under the settings."""
    parts, port = _parsed(url)
    if not settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES:
        _refuse_unless_public(_addresses(parts.hostname, port))


def destination_pinned(url: str) -> Pinned:
    """`url` checked as destination_check does, resolved once, for a request to exactly the
    address checked. Sending to the name instead would resolve it again, and a name that answers a
    public address to the check and an internal one to the connection (DNS rebinding) would get
    past the guard."""
    parts, port = _parsed(url)
    addresses = _addresses(parts.hostname, port)
    _refuse_unless_public(addresses)
    address = sorted(addresses, key=lambda a: (a.version, int(a)))[0]
    host = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{host}:{parts.port}" if parts.port else host
    original = parts.netloc.rpartition("@")[2]
    is_name = parts.hostname != str(address)
    extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" and is_name else {}
    return Pinned(
        url=urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")),
        headers={"Host": original},
        extensions=extensions,
        hostname=parts.hostname,
    )
