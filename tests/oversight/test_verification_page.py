"""The verify page shows the chain's state and the first bad event for every kind of tampering."""

import pytest

from audit.chain import checkpoint_sign
from tests.audit.test_chain import _as_attacker, _events
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def page(auditor) -> str:
    response = client_for(auditor).get("/audit/verify/")
    assert response.status_code == 200
    return response.content.decode()


def test_intact_chain_with_its_last_checkpoint(auditor):
    _events(3)
    checkpoint = checkpoint_sign()
    text = page(auditor)
    assert "Intact" in text and "BROKEN" not in text
    assert checkpoint.head_hash in text and f"up to #{checkpoint.last_event_id}" in text


def test_edited_event(auditor):
    events = _events(4)
    _as_attacker("UPDATE audit_auditevent SET data = %s WHERE id = %s", ['{"n": 99}', events[2].pk])
    text = page(auditor)
    assert f"the first bad event is #{events[2].pk}" in text and "edited" in text


def test_deleted_event(auditor):
    events = _events(4)
    _as_attacker("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
    assert f"the first bad event is #{events[2].pk}" in page(auditor)


def test_inserted_event(auditor):
    events = _events(3)
    _as_attacker("UPDATE audit_auditevent SET id = id + 10 WHERE id > %s", [events[0].pk])
    _as_attacker(
        "INSERT INTO audit_auditevent (id, created_at, actor_type, actor_id, action, object_type,"
        " object_id, data, prev_hash, hash) VALUES (%s, now(), 'system', 'x', 'api_key.created',"
        " 'api_key', '7', '{}', %s, %s)",
        [events[0].pk + 1, events[0].hash, "e" * 64],
    )
    assert f"the first bad event is #{events[0].pk + 1}" in page(auditor)


def test_reordered_events(auditor):
    events = _events(4)
    a, b = events[1], events[2]
    _as_attacker("UPDATE audit_auditevent SET id = -1 WHERE id = %s", [a.pk])
    _as_attacker("UPDATE audit_auditevent SET id = %s WHERE id = %s", [a.pk, b.pk])
    _as_attacker("UPDATE audit_auditevent SET id = %s WHERE id = -1", [b.pk])
    assert f"the first bad event is #{a.pk}" in page(auditor)


def test_cut_tail_names_the_missing_event(auditor):
    events = _events(3)
    checkpoint_sign()
    _as_attacker("DELETE FROM audit_auditevent WHERE id = %s", [events[2].pk])
    text = page(auditor)
    assert f"the first bad event is #{events[2].pk}" in text and "missing from the database" in text


def test_api_reports_the_same(auditor):
    events = _events(3)
    _as_attacker("UPDATE audit_auditevent SET object_id = 'x' WHERE id = %s", [events[1].pk])
    body = client_for(auditor).get("/api/v1/audit/verification/").json()
    assert body["ok"] is False and body["first_bad_event_id"] == events[1].pk
