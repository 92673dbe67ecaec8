"""The chain's three ways of appending (PostgreSQL's append function, COPY, the portable multi-row
INSERT) write the same rows: same order, same data, same hashes."""

from datetime import UTC, datetime

import pytest
from django.db import connection

from audit import storage
from audit.events import EVENT_COLUMNS, EventSpec, chained
from audit.models import Action, AuditEvent
from audit.services import Actor
from tests.storage_pairs import written_by

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 5, 9, 30, 1, 123456, tzinfo=UTC)


def _events(n: int) -> list[EventSpec]:
    return [
        EventSpec(
            Actor.system("test"), Action.API_KEY_CREATED, "api_key", str(i), {"n": i, "name": 'Zoë ü " \\ '}
        )
        for i in range(n)
    ]


def _rows():
    return list(AuditEvent.objects.order_by("id").values_list(*EVENT_COLUMNS))


def _by_function(events):
    call, params = storage.append_call(events, now=NOW)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {call}", params)


@pytest.mark.parametrize("n", [1, 3, 20])
def test_the_append_function_copy_and_insert_write_the_same_rows(n):
    storage.events_append(_events(2), now=NOW)  # a head to link to
    events = _events(n)
    by_function = written_by(lambda: _by_function(events), _rows)
    by_copy = written_by(
        lambda: storage.events_copy(chained(events, head=storage.chain_head_locked(), now=NOW)), _rows
    )
    by_insert = written_by(
        lambda: storage.events_insert(chained(events, head=storage.chain_head_locked(), now=NOW)), _rows
    )
    assert len(by_function) == n + 2
    assert by_function == by_copy == by_insert
