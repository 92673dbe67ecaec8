"""Each PostgreSQL connection caches the API key and model version every recorded decision looks
up, and drops them when the database announces a committed change to their tables
(config.postgresql, decisions.registry, decisions migration 0007). These tests run outside a test
transaction, as requests do, and make each change from another connection, as an administrator's
request in another process would."""

from __future__ import annotations

import select
import threading

import pytest
from django.db import connection, connections, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from audit.services import Actor
from config.errors import ApplicationError
from decisions.accounts import api_key_revoke
from decisions.lifecycle import model_version_promote
from decisions.models import ApiKey, Decision, ModelVersion
from decisions.registry import resolve_model_version
from tests.conftest import register

pytestmark = pytest.mark.django_db(transaction=True)

ADMIN = Actor.system("tests-admin")


def _post(client, applicant, ref: str):
    return client.post(
        "/api/v1/decisions/",
        {"model": "credit-risk", "subject_ref": ref, "features": applicant},
        format="json",
    )


def _elsewhere(change) -> None:
    """Run `change` on another thread, so on another database connection, and commit it."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            change()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert not errors, errors


def _notification_arrived(timeout_s: float = 5.0) -> bool:
    """PostgreSQL sends a notification to an idle listening connection just after the commit
    that raised it: wait until this connection's socket has it."""
    poller = select.poll()
    poller.register(connection.connection.fileno(), select.POLLIN)
    return bool(poller.poll(int(timeout_s * 1000)))


def test_once_cached_a_decision_sends_only_its_write(credit_version, integration, applicant):
    assert _post(integration, applicant, "c-0").status_code == 201
    with CaptureQueriesContext(connection) as queries:
        response = _post(integration, applicant, "c-1")
    assert response.status_code == 201
    assert len(queries) == 1, [q["sql"][:80] for q in queries]
    assert "rationale_audit_append" in queries[0]["sql"]


def test_a_key_revoked_elsewhere_is_refused_at_the_next_request(
    credit_version, integration, api_key, applicant
):
    assert _post(integration, applicant, "r-0").status_code == 201
    assert _post(integration, applicant, "r-1").status_code == 201  # served from the cache

    _elsewhere(lambda: api_key_revoke(key=ApiKey.objects.get(pk=api_key.pk), actor=ADMIN))
    assert _notification_arrived()
    response = _post(integration, applicant, "r-2")

    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    assert not Decision.objects.filter(subject_ref="r-2").exists()


def test_a_version_promoted_elsewhere_is_used_by_the_next_decision(credit_trained, integration, applicant):
    register(credit_trained, version="1.0.0")
    newer = register(credit_trained, version="2.0.0")
    first = _post(integration, applicant, "v-0")
    assert first.json()["model_version"] == "1.0.0"  # the default, now cached

    _elsewhere(lambda: model_version_promote(version=ModelVersion.objects.get(pk=newer.pk), actor=ADMIN))
    assert _notification_arrived()
    second = _post(integration, applicant, "v-1")

    assert second.status_code == 201
    assert second.json()["model_version"] == "2.0.0"
    assert Decision.objects.get(subject_ref="v-1").model_version_id == newer.pk


def test_a_replaced_connection_starts_with_nothing_cached(credit_trained, integration, applicant):
    # A change committed while no connection of this process was listening is not announced to
    # it: the next connection must not trust what the last one cached. (The request's API-key
    # lookup opens the new connection; its version lookup would then find the old cache.)
    register(credit_trained, version="1.0.0")
    newer = register(credit_trained, version="2.0.0")
    assert _post(integration, applicant, "n-0").json()["model_version"] == "1.0.0"
    connection.close()
    _elsewhere(lambda: model_version_promote(version=ModelVersion.objects.get(pk=newer.pk), actor=ADMIN))

    response = _post(integration, applicant, "n-1")

    assert response.status_code == 201
    assert Decision.objects.get(subject_ref="n-1").model_version_id == newer.pk


def test_inside_a_transaction_the_callers_own_changes_are_seen(credit_version):
    assert resolve_model_version("credit-risk").pk == credit_version.pk  # cached
    with pytest.raises(ApplicationError, match="retired default version"), transaction.atomic():
        ModelVersion.objects.filter(pk=credit_version.pk).update(status="retired")
        resolve_model_version("credit-risk")
    assert resolve_model_version("credit-risk").pk == credit_version.pk  # rolled back


@override_settings(DB_REGISTRY_CACHE=False)
def test_with_the_cache_off_every_decision_looks_up_its_key_and_version(
    credit_version, integration, applicant
):
    connection.close()  # the next connection is opened without LISTEN
    assert _post(integration, applicant, "o-0").status_code == 201
    with CaptureQueriesContext(connection) as queries:
        assert _post(integration, applicant, "o-1").status_code == 201
    assert len(queries) == 3, [q["sql"][:80] for q in queries]
