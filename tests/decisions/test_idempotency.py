"""Idempotency-Key records answer retries for IDEMPOTENCY_REPLAY_HOURS, then go: the periodic
task deletes them, and one not yet deleted is no longer replayed."""

import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from decisions.models import Decision, IdempotencyRecord
from decisions.tasks import prune_idempotency_records

pytestmark = pytest.mark.django_db
URL = "/api/v1/decisions/"


def post(client, applicant, key, subject_ref="subj-001"):
    body = {"model": "credit-risk", "subject_ref": subject_ref, "features": applicant}
    return client.post(URL, data=json.dumps(body), content_type="application/json", HTTP_IDEMPOTENCY_KEY=key)


def age(key: str, hours: float) -> None:
    IdempotencyRecord.objects.filter(key=key).update(created_at=timezone.now() - timedelta(hours=hours))


def test_the_task_deletes_records_past_the_window_and_a_fresh_one_still_replays(
    integration, credit_version, applicant, settings
):
    settings.IDEMPOTENCY_REPLAY_HOURS = 24
    old, fresh = str(uuid.uuid4()), str(uuid.uuid4())
    assert post(integration, applicant, old).status_code == 201
    first = post(integration, applicant, fresh, subject_ref="subj-002")
    assert first.status_code == 201
    age(old, 25)
    age(fresh, 23)

    prune_idempotency_records()  # the task's body, as beat runs it

    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == [fresh]
    again = post(integration, applicant, fresh, subject_ref="subj-002")
    assert (again.status_code, again["Idempotent-Replayed"], again.json()) == (201, "true", first.json())
    assert Decision.objects.count() == 2


def test_a_record_past_the_window_is_not_replayed_even_before_the_task_runs(
    integration, credit_version, applicant, settings
):
    settings.IDEMPOTENCY_REPLAY_HOURS = 24
    key = str(uuid.uuid4())
    first = post(integration, applicant, key)
    assert first.status_code == 201
    age(key, 25)

    second = post(integration, applicant, key)

    # The key starts afresh: a new decision, and its record replaces the expired one.
    assert second.status_code == 201 and "Idempotent-Replayed" not in second
    assert second.json()["id"] != first.json()["id"]
    assert Decision.objects.count() == 2
    record = IdempotencyRecord.objects.get(key=key)
    assert record.created_at > timezone.now() - timedelta(hours=1)
    third = post(integration, applicant, key)
    assert (third["Idempotent-Replayed"], third.json()) == ("true", second.json())
