"""Flags in Redis that coalesce publishing: "a drain task of this version is waiting to start"
and "a fan-out task is waiting". Every recorded decision sets one, so a SET goes straight to a
connection this thread keeps, with the command packed once per key: through redis-py's client
(its pool, retry and observability layers) one SET cost a web process several times the CPU.

Coalescing is an optimisation, never a gate: with no flags' Redis configured, callers publish
every time, and on any error they publish anyway.
"""

from __future__ import annotations

import logging
import os
import threading

from django.conf import settings

logger = logging.getLogger(__name__)

_client = None
_client_lock = threading.Lock()
_connections = threading.local()


def flags_client():
    """The Redis client that holds the flags, or None when coalescing is off."""
    global _client
    if not settings.EXPLAIN_PUBLISH_FLAG_URL:
        return None
    if _client is None:
        import redis

        with _client_lock:
            if _client is None:
                _client = redis.Redis.from_url(
                    settings.EXPLAIN_PUBLISH_FLAG_URL, socket_timeout=1.0, socket_connect_timeout=1.0
                )
    return _client


def flag_set(key: str) -> bool:
    """Set a flag unless it is set, for EXPLAIN_PUBLISH_FLAG_SECONDS; True if this call set it.
    Raises on a Redis error: what that means is the caller's to decide.

    No retry, on purpose: a SET that reached Redis but whose reply was lost would answer
    "already set" on a retry, and nobody would publish. redis-py closed the connection on the
    error, and it connects again on the next call. A new process (a fork) opens its own; a
    thread's closes when the thread ends.
    """
    px = int(settings.EXPLAIN_PUBLISH_FLAG_SECONDS * 1000)
    local = _connections
    if getattr(local, "pid", None) != os.getpid():
        pool = flags_client().connection_pool  # its settings (URL, timeouts), not its connections
        local.connection = pool.connection_class(**pool.connection_kwargs)
        local.commands = {}
        local.pid = os.getpid()
    connection = local.connection
    command = local.commands.get((key, px))
    if command is None:
        command = local.commands[key, px] = connection.pack_command("SET", key, 1, "NX", "PX", px)
    connection.send_packed_command(command, check_health=False)
    return connection.read_response() is not None


def flag_clear(key: str, what: str) -> None:
    client = flags_client()
    if client is None:
        return
    try:
        client.delete(key)
    except Exception as exc:  # noqa: BLE001 - every flag expires by itself
        logger.warning("could not clear the %s: %s", what, exc)
