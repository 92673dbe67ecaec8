"""The explanations app's storage pairs leave the same rows: the one-statement recording and the
transaction, the unnest INSERT and bulk_create, the claim, the features read and the store."""

import copy

import pytest

from audit.chain import verify_chain
from audit.models import AuditEvent
from audit.services import Actor
from decisions.models import Decision
from decisions.recording import DecisionInput
from explanations import storage
from explanations.compute import explanation_compute
from explanations.models import Explanation
from explanations.recording import recording_prepare
from explanations.store import stored_values
from tests.storage_pairs import written_by

pytestmark = pytest.mark.django_db

EVENT_FIELDS = ("actor_type", "actor_id", "action", "object_type", "object_id", "data")


def _recording(credit_trained, n=3):
    items = [
        DecisionInput(model="credit-risk", subject_ref=f"s-{i}", features=row)
        for i, row in enumerate(credit_trained.sample_rows[:n])
    ]
    return recording_prepare(items=items, actor=Actor.system("tests"))


def _state(decision_ids):
    return (
        list(Decision.objects.filter(pk__in=decision_ids).order_by("subject_ref").values()),
        [
            {k: v for k, v in row.items() if k != "id"}
            for row in Explanation.objects.filter(decision_id__in=decision_ids)
            .order_by("decision__subject_ref")
            .values()
        ],
        list(AuditEvent.objects.filter(object_type="decision").order_by("id").values_list(*EVENT_FIELDS)),
        verify_chain().ok,
    )


def test_one_statement_and_the_transaction_record_the_same_rows(credit_version, credit_trained):
    recording = _recording(credit_trained)
    ids = [r.decision.pk for r in recording.recorded]

    def write(record):
        record(copy.deepcopy([r.decision for r in recording.recorded]), recording.events, None)

    in_one = written_by(lambda: write(storage.record_decisions_in_one_statement), lambda: _state(ids))
    in_many = written_by(lambda: write(storage.record_decisions_in_transaction), lambda: _state(ids))
    assert len(in_one[0]) == len(in_one[1]) == len(in_one[2]) == 3 and in_one[3]
    assert in_one == in_many


def test_the_unnest_insert_and_bulk_create_write_the_same_pending_rows(credit_version, credit_trained):
    recording = _recording(credit_trained, n=20)
    decisions = [r.decision for r in recording.recorded]
    Decision.objects.bulk_create(decisions)

    def write(insert):
        assert set(insert(decisions)) == {d.pk for d in decisions}

    def read():
        return [
            {k: v for k, v in row.items() if k != "id"}
            for row in Explanation.objects.order_by("decision__subject_ref").values()
        ]

    by_unnest = written_by(lambda: write(storage.explanations_pending_insert_postgresql), read)
    by_orm = written_by(lambda: write(storage.explanations_pending_insert_portable), read)
    assert len(by_unnest) == 20 and by_unnest == by_orm


@pytest.fixture
def pending(credit_version, credit_trained):
    recording = _recording(credit_trained, n=5)
    storage.record_decisions_in_transaction([r.decision for r in recording.recorded], recording.events, None)
    return credit_version


def _claims():
    return list(Explanation.objects.order_by("id").values_list("id", "status", "worker", "attempts"))


def test_both_claims_take_the_same_rows_the_same_way(pending):
    def claims(how):
        taken = []

        def write():
            taken.append(how(model_version_id=pending.pk, limit=3, worker="w-1"))
            taken.append(how(model_version_id=pending.pk, limit=3, worker="w-2"))

        return written_by(write, _claims), taken

    by_sql, by_orm = claims(storage.claim_postgresql), claims(storage.claim_portable)
    assert by_sql == by_orm
    rows, (first, second) = by_sql
    assert len(first) == 3 and len(second) == 2 and not set(first) & set(second)
    assert [status for _, status, _, _ in rows] == ["running"] * 5


def test_both_reads_of_a_batchs_features_agree(pending):
    ids = list(Explanation.objects.order_by("id").values_list("id", flat=True))
    assert storage.features_of_postgresql(ids) == storage.features_of_portable(ids)
    assert storage.features_of_postgresql(ids)[0] == Explanation.objects.get(pk=ids[0]).decision.features


def test_both_stores_write_the_same_results_and_only_onto_the_claim(pending):
    ids = storage.claim(model_version_id=pending.pk, limit=5, worker="w-1")
    schema, result, grouped = explanation_compute(version=pending, features=storage.features_of(ids))
    rows, batch = stored_values(version=pending, ids=ids, schema=schema, result=result, grouped=grouped)
    Explanation.objects.filter(pk=ids[-1]).update(worker="w-2")  # handed back, claimed again by another

    def read():
        return list(Explanation.objects.order_by("id").values())

    def store(how):
        return lambda: how(worker="w-1", rows=rows, batch=batch)

    by_sql = written_by(store(storage.store_postgresql), read)
    by_orm = written_by(store(storage.store_portable), read)
    assert by_sql == by_orm
    assert [row["status"] for row in by_sql] == ["done"] * 4 + ["running"]
    assert by_sql[0]["contributions"] == rows[0][4] and by_sql[0]["raw_values"] == rows[0][5]
