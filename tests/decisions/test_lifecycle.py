"""A version's crashes counted and its suspension: audited at the limit, and a suspended
version decides nothing, cannot be promoted or activated."""

from __future__ import annotations

import json

import pytest
from django.conf import settings

from audit.models import Action, AuditEvent
from audit.services import Actor
from config.errors import ApplicationError
from decisions.lifecycle import model_version_crashed, model_version_promote, model_version_set_status
from decisions.models import ModelVersion
from tests.conftest import register

pytestmark = pytest.mark.django_db

SWEEPER = Actor.system("tests")


def test_crashes_are_counted_and_the_version_is_suspended_at_the_limit(credit_version):
    for count in range(1, settings.MODEL_CRASH_LIMIT):
        version = model_version_crashed(version_id=credit_version.pk, lost_batches=1, actor=SWEEPER)
        assert (version.crashes, version.status) == (count, "active")
    assert not AuditEvent.objects.filter(action=Action.MODEL_STATUS_CHANGED).exists()

    version = model_version_crashed(version_id=credit_version.pk, lost_batches=1, actor=SWEEPER)
    assert (version.crashes, version.status) == (settings.MODEL_CRASH_LIMIT, "suspended")
    event = AuditEvent.objects.get(action=Action.MODEL_STATUS_CHANGED)
    assert (event.object_type, event.object_id) == ("model_version", str(credit_version.pk))
    assert event.data["status"] == "suspended" and event.data["crashes"] == settings.MODEL_CRASH_LIMIT

    # A later lost batch counts, and audits nothing more.
    version = model_version_crashed(version_id=credit_version.pk, lost_batches=2, actor=SWEEPER)
    assert (version.crashes, version.status) == (settings.MODEL_CRASH_LIMIT + 2, "suspended")
    assert AuditEvent.objects.filter(action=Action.MODEL_STATUS_CHANGED).count() == 1


def suspend(version: ModelVersion) -> ModelVersion:
    return model_version_crashed(
        version_id=version.pk, lost_batches=settings.MODEL_CRASH_LIMIT, actor=SWEEPER
    )


def test_a_suspended_version_cannot_be_promoted_or_activated(credit_version, credit_trained):
    newer = register(credit_trained, version="2.0.0")
    suspend(newer)
    message = f"it is suspended: explaining it crashed worker processes {settings.MODEL_CRASH_LIMIT} times"
    with pytest.raises(ApplicationError) as promoted:
        model_version_promote(version=newer, actor=SWEEPER)
    with pytest.raises(ApplicationError) as activated:
        model_version_set_status(version=newer, status="active", actor=SWEEPER)
    assert [(e.value.status_code, e.value.fields) for e in (promoted, activated)] == [
        (409, {"status": message}),
        (409, {"status": message}),
    ]
    assert ModelVersion.objects.get(pk=newer.pk).status == "suspended"


def test_recording_with_a_suspended_version_is_a_conflict_naming_it(credit_version, integration, applicant):
    suspend(credit_version)
    by_default = {"model": "credit-risk", "subject_ref": "s-1", "features": applicant}
    named = {**by_default, "model_version": credit_version.version}
    responses = [
        integration.post(url, data=json.dumps(body), content_type="application/json")
        for url, body in (
            ("/api/v1/decisions/", by_default),
            ("/api/v1/decisions/", named),
            ("/api/v1/decisions/bulk/", {"decisions": [by_default]}),
        )
    ]
    assert [(r.status_code, r.json()["errors"]) for r in responses] == [
        (
            409,
            {
                "model": "the default version of 'credit-risk' is suspended: explaining it crashed worker processes"
            },
        ),
        (
            409,
            {
                "model_version": f"credit-risk@{credit_version.version} is suspended: explaining it crashed "
                "worker processes"
            },
        ),
        (
            409,
            {
                "model": "the default version of 'credit-risk' is suspended: explaining it crashed worker processes"
            },
        ),
    ]
