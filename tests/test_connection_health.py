"""The health check of persistent PostgreSQL connections (`config/postgresql`): a healthy
connection is checked without a round trip; one the server has closed is found and replaced."""

import psycopg
import pytest
from django.db import connection, connections

from tests.services import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _observer() -> psycopg.Connection:
    """A second session, outside Django, that watches ours."""
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"], autocommit=True
    )


def _pid() -> int:
    connection.ensure_connection()
    return connection.connection.info.backend_pid


def test_the_check_is_on_and_ours():
    assert connection.health_check_enabled
    assert type(connections["default"]).__module__ == "config.postgresql.base"


def test_a_healthy_connection_is_checked_without_a_query():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'health-probe-marker'")
    pid = _pid()
    with _observer() as observer:
        assert connection.is_usable()
        last = observer.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()[0]
    assert last == "SELECT 'health-probe-marker'"  # Django's own check would show SELECT 1 here


def test_a_connection_the_server_closed_is_replaced_before_the_next_request_uses_it():
    old = _pid()
    with _observer() as observer:
        assert observer.execute("SELECT pg_terminate_backend(%s)", [old]).fetchone()[0]
    wait_until(lambda: not connection.is_usable(), timeout=5, what="the closed socket to be seen")
    # What Django does between requests, then a request's first query.
    connection.close_if_unusable_or_obsolete()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        new = cursor.fetchone()[0]
    assert new != old
