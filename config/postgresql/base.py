"""Django's PostgreSQL backend, with a connection health check that costs no round trip.

With `CONN_HEALTH_CHECKS`, Django checks a persistent connection before a request's first query,
so a connection the server has closed (a restart, a failover, `pg_terminate_backend`, an idle
timeout) is replaced instead of failing the request. Django's check sends `SELECT 1`: one more
round trip, and two more context switches, on every request that touches the database.

A server that closes a connection sends its reason and closes the socket, which the client then
sees as readable. An idle connection that is still open has nothing to read. So this check asks
the operating system, without waiting, whether the socket is readable: if not, the connection is
usable as far as the server has said; if so, Django's `SELECT 1` decides (it also consumes a
harmless asynchronous message, such as a notice). A peer that vanished without closing (a host
gone from the network) is not detected here, nor was it by `SELECT 1`, which would wait for TCP
to time out. redis-py checks its pooled connections the same way.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed:
            return False
        try:
            # poll, not select: select() refuses descriptors above 1023.
            poller = select.poll()
            poller.register(connection.fileno(), select.POLLIN)
            readable = poller.poll(0)
        except (OSError, ValueError):
            return False
        if readable:
            return super().is_usable()
        return True
