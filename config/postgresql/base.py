"""Django's PostgreSQL backend, with a connection health check that costs no round trip, and a
cache of registry rows that the database itself invalidates.

**Health check.** With `CONN_HEALTH_CHECKS`, Django checks a persistent connection before a
request's first query, so a connection the server has closed (a restart, a failover,
`pg_terminate_backend`, an idle timeout) is replaced instead of failing the request. Django's
check sends `SELECT 1`: one more round trip, and two more context switches, on every request that
touches the database. A server that closes a connection sends its reason and closes the socket,
which the client then sees as readable. An idle connection that is still open has nothing to
read. So this check asks the operating system, without waiting, whether the socket is readable:
if not, the connection is usable as far as the server has said; if so, Django's `SELECT 1`
decides (it also consumes a harmless asynchronous message, such as a notice). A peer that
vanished without closing (a host gone from the network) is not detected here, nor was it by
`SELECT 1`, which would wait for TCP to time out. redis-py checks its pooled connections the
same way.

**Registry cache** (`registry_cache`, on unless `DB_REGISTRY_CACHE` is off). Every recorded
decision looked up its API key and its model version: two round trips, and their CPU in the
web process and in PostgreSQL. Each connection
now LISTENs on `REGISTRY_CHANNEL` from the moment it opens, and a trigger on the API-key, model
and model-version tables (decisions migration 0007) NOTIFYs it when any of their rows changes,
at the commit of the change. A cache kept per connection is dropped when a notification arrives
and when the connection is replaced, so it holds only rows read after the last committed change
that this connection has been told of. Before each use, the socket is asked (without waiting)
whether anything arrived. A revocation therefore takes effect as soon as PostgreSQL has delivered
its notification to the idle connection (well under a millisecond after its commit): the window
in which a request already past its key check is let through was always there. Inside a
transaction the cache is not used, so a caller sees its own uncommitted changes.
"""

from __future__ import annotations

import select
from typing import Any

from django.conf import settings
from django.db.backends.postgresql import base

REGISTRY_CHANNEL = "rationale_registry"


def _readable(connection: Any) -> bool:
    """Whether the server sent something: poll, not select (which refuses descriptors over 1023)."""
    poller = select.poll()
    poller.register(connection.fileno(), select.POLLIN)
    return bool(poller.poll(0))


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._registry: dict = {}
        self._listening_on: Any = None  # the psycopg connection that LISTENs, if any

    def init_connection_state(self) -> None:
        super().init_connection_state()
        # A new connection: rows cached over the last one may have changed since, unannounced.
        self._registry = {}
        self._listening_on = None
        if getattr(settings, "DB_REGISTRY_CACHE", False):
            connection = self.connection
            connection.add_notify_handler(self._registry_changed)
            # Django opens connections in autocommit mode, so the LISTEN is in force at once.
            with connection.cursor() as cursor:
                cursor.execute(f"LISTEN {REGISTRY_CHANNEL}")
            self._listening_on = connection

    def _registry_changed(self, notify: Any) -> None:
        # psycopg calls this for each notification it reads, during any query or from
        # registry_cache. A new dict, not clear(): a lookup in flight stores into the old one.
        self._registry = {}

    def registry_cache(self) -> dict | None:
        """Registry rows cached on this connection, with every change announced so far applied,
        or None when the caller must query: no listening connection, or inside a transaction."""
        connection = self.connection
        if connection is None or connection is not self._listening_on or self.in_atomic_block:
            return None
        if connection.closed:
            return None
        try:
            if _readable(connection):
                pgconn = connection.pgconn
                pgconn.consume_input()
                while notify := pgconn.notifies():
                    pgconn.notify_handler(notify)
        except Exception:  # noqa: BLE001 - a broken socket: query, and let the health check see it
            self._registry = {}
            return None
        return self._registry

    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed:
            return False
        try:
            readable = _readable(connection)
        except (OSError, ValueError):
            return False
        if readable:
            return super().is_usable()
        return True
