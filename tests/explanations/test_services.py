"""Claiming, storing and sweeping, called directly (the worker runs the same code)."""

import json
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from audit.models import Action, AuditEvent
from explanations import claims, compute, drain, queue, recording, store, sweeper
from explanations.models import Explanation

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(integration, credit_version, credit_trained):
    payload = {
        "decisions": [
            {"model": "credit-risk", "subject_ref": f"s-{i}", "features": r}
            for i, r in enumerate(credit_trained.sample_rows[:5])
        ]
    }
    integration.post("/api/v1/decisions/bulk/", data=json.dumps(payload), content_type="application/json")
    return credit_version


def test_claim_is_exclusive(pending):
    token, ids = claims.explanation_claim_batch(model_version_id=pending.pk, limit=3)
    assert len(ids) == 3
    _, second = claims.explanation_claim_batch(model_version_id=pending.pk, limit=10)
    assert len(second) == 2 and not set(ids) & set(second)
    _, third = claims.explanation_claim_batch(model_version_id=pending.pk, limit=10)
    assert third == []
    assert Explanation.objects.filter(status="running").count() == 5


def test_drain_explains_everything_once(pending):
    result = drain.explanation_drain(model_version_id=pending.pk)
    assert result == {"done": 5, "failed": 0, "batches": 1}
    assert drain.explanation_drain(model_version_id=pending.pk) == {"done": 0, "failed": 0, "batches": 0}
    assert Explanation.objects.filter(status="done").count() == 5
    assert AuditEvent.objects.filter(action=Action.EXPLANATION_COMPUTED).count() == 5


def test_store_after_losing_the_claim_writes_nothing(pending):
    token, ids = claims.explanation_claim_batch(model_version_id=pending.pk, limit=5)
    features = [e.decision.features for e in Explanation.objects.filter(id__in=ids).order_by("id")]
    schema, result, grouped = compute.explanation_compute(version=pending, features=features)
    # Meanwhile the sweeper decided this worker was dead and handed the rows back.
    Explanation.objects.filter(id__in=ids).update(status="pending", worker="")
    stored = store.explanation_store_batch(
        version=pending, token=token, ids=ids, schema=schema, result=result, grouped=grouped
    )
    assert stored == 0
    assert Explanation.objects.filter(status="pending").count() == 5


def test_a_worker_whose_rows_were_claimed_again_by_another_stores_nothing(pending):
    """The rows were handed back and another worker claimed them (status `running` again, under its
    claim): the first worker's late store must not write over them; the second's stores."""
    token, ids = claims.explanation_claim_batch(model_version_id=pending.pk, limit=5)
    features = [e.decision.features for e in Explanation.objects.filter(id__in=ids).order_by("id")]
    schema, result, grouped = compute.explanation_compute(version=pending, features=features)
    Explanation.objects.filter(id__in=ids).update(status="pending", worker="")
    other_token, reclaimed = claims.explanation_claim_batch(model_version_id=pending.pk, limit=5)
    assert sorted(reclaimed) == sorted(ids)
    batch = {"version": pending, "ids": ids, "schema": schema, "result": result, "grouped": grouped}
    assert store.explanation_store_batch(token=token, **batch) == 0
    assert Explanation.objects.filter(status="running").count() == 5
    assert not AuditEvent.objects.filter(action=Action.EXPLANATION_COMPUTED).exists()
    assert store.explanation_store_batch(token=other_token, **batch) == 5
    assert Explanation.objects.filter(status="done").count() == 5


@override_settings(EXPLAIN_STALE_SECONDS=60, EXPLAIN_MAX_ATTEMPTS=2)
def test_sweeper_returns_stale_claims_and_gives_up_eventually(pending):
    token, ids = claims.explanation_claim_batch(model_version_id=pending.pk, limit=5)
    long_ago = timezone.now() - timedelta(minutes=5)
    Explanation.objects.filter(id__in=ids[:3]).update(started_at=long_ago)
    Explanation.objects.filter(id__in=ids[3:4]).update(started_at=long_ago, attempts=2)
    result = sweeper.explanations_sweep()
    assert result["reset"] == 3 and result["failed"] == 1
    assert Explanation.objects.filter(status="pending").count() == 3
    failed = Explanation.objects.get(status="failed")
    assert "gave up after 2 attempts" in failed.error
    assert Explanation.objects.filter(status="running").count() == 1  # not stale yet


def test_kernel_method_is_reachable_by_registry_setting(db, credit_trained, integration):
    from tests.conftest import register

    version = register(credit_trained, version="kernel-1", explainer="kernel")
    payload = {
        "decisions": [
            {
                "model": "credit-risk",
                "model_version": "kernel-1",
                "subject_ref": "k",
                "features": credit_trained.sample_rows[0],
            }
        ]
    }
    integration.post("/api/v1/decisions/bulk/", data=json.dumps(payload), content_type="application/json")
    drain.explanation_drain(model_version_id=version.pk)
    e = Explanation.objects.get()
    assert e.status == "done", e.error
    assert e.method == "kernel" and e.output_space == "probability"
    # Kernel SHAP explains the approval probability: base + contributions = the stored score.
    assert e.base_value + sum(e.raw_values) == pytest.approx(e.decision.score, abs=1e-6)


def test_deep_shap_falls_back_to_gradient_for_layers_it_cannot_handle(db, digits_trained, integration):
    """GlobalMaxPooling has no Deep SHAP rule: the worker explains with Gradient SHAP instead."""
    import os
    import tempfile

    import keras

    from audit.services import Actor
    from decisions.registration import model_register

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.GlobalMaxPooling2D(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.keras")
        model.save(path)
        with open(path, "rb") as fh:
            artifact = fh.read()
    version = model_register(
        name="digit-reader",
        version="maxpool-1",
        framework="keras",
        artifact=artifact,
        schema=digits_trained.schema,
        output=digits_trained.output,
        background=digits_trained.background,
        training=digits_trained.training,
        explainer="deep",
        actor=Actor.system("tests"),
    )
    payload = {
        "decisions": [
            {"model": "digit-reader", "model_version": "maxpool-1", "subject_ref": "d", "features": row}
            for row in digits_trained.sample_rows[:2]
        ]
    }
    integration.post("/api/v1/decisions/bulk/", data=json.dumps(payload), content_type="application/json")
    drain.explanation_drain(model_version_id=version.pk)
    for e in Explanation.objects.all():
        assert e.status == "done", e.error
        assert e.method == "gradient" and len(e.raw_values) == 64


def test_queue_routing_by_model_and_settings(credit_version):
    assert queue.queue_for(credit_version) == "cpu"  # no GPU pool deployed
    with override_settings(EXPLAIN_GPU_QUEUE=True, EXPLAIN_GPU_MODELS=["*"]):
        assert queue.queue_for(credit_version) == "gpu"
    with override_settings(EXPLAIN_GPU_QUEUE=True, EXPLAIN_GPU_MODELS=["digit-reader"]):
        assert queue.queue_for(credit_version) == "cpu"


@override_settings(EXPLAIN_STALE_SECONDS=60)
def test_sweeper_finishes_counterfactuals_a_dead_worker_left(pending):
    drain.explanation_drain(model_version_id=pending.pk)
    # As if the worker died after storing the explanations, before its counterfactual step.
    Explanation.objects.update(counterfactuals=None, finished_at=timezone.now() - timedelta(minutes=5))
    result = sweeper.explanations_sweep()
    assert result["counterfactuals"] == 5
    assert not Explanation.objects.filter(counterfactuals__isnull=True).exists()
    assert sweeper.explanations_sweep()["counterfactuals"] == 0


def test_recording_publishes_one_drain_task_while_none_has_started(
    integration, credit_version, credit_trained, django_capture_on_commit_callbacks
):
    """Coalesced publishing: decisions recorded while a drain task waits add no message; the
    drain clears the flag before it claims, so the next decision publishes again."""
    import redis
    from django.conf import settings

    from config.celery import app

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    app.control.purge()
    queue.publish_flag_clear(credit_version.pk)

    def record(i):
        with django_capture_on_commit_callbacks(execute=True):
            response = integration.post(
                "/api/v1/decisions/",
                data=json.dumps(
                    {
                        "model": "credit-risk",
                        "subject_ref": f"c-{i}",
                        "features": credit_trained.sample_rows[i],
                    }
                ),
                content_type="application/json",
            )
        assert response.status_code == 201

    try:
        for i in range(3):
            record(i)
        assert broker.llen("cpu") == 1
        assert drain.explanation_drain(model_version_id=credit_version.pk)["done"] == 3
        record(3)
        assert broker.llen("cpu") == 2
        assert Explanation.objects.filter(status="pending").count() == 1
    finally:
        app.control.purge()
        queue.publish_flag_clear(credit_version.pk)


def test_the_publish_flag_expires_and_comes_back_after_a_redis_restart(broker, settings):
    """The flag is set on a connection the process keeps: it carries the expiry, and a Redis
    restart (which loses every flag) costs at most one "publish" answer before it works again."""
    import redis

    settings.EXPLAIN_PUBLISH_FLAG_SECONDS = 7
    flags = redis.Redis.from_url(settings.EXPLAIN_PUBLISH_FLAG_URL)
    version_id = 990_001  # no such version: the flag is only a key
    key = f"rationale:explain:queued:{version_id}"
    queue.publish_flag_clear(version_id)
    try:
        assert queue.publish_flag_set(version_id) is True
        assert queue.publish_flag_set(version_id) is False
        assert 0 < flags.pttl(key) <= 7000
        broker.stop()
        broker.start()
        assert not flags.exists(key)
        # The kept connection is dead: the first call may fail, and then says "publish".
        answers = [queue.publish_flag_set(version_id) for _ in range(3)]
        assert answers[0] is True and answers[-1] is False
        assert 0 < flags.pttl(key) <= 7000
    finally:
        queue.publish_flag_clear(version_id)


def test_a_backlog_fans_out_one_waiting_task_at_a_time(pending, settings):
    """Full batches publish a drain task for other processes, but never more than one that has
    not started; a drain that starts lets the next full batch publish again."""
    import redis

    from config.celery import app

    settings.EXPLAIN_BATCH_SIZE = 2  # 5 pending: batches of 2, 2 and 1
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    app.control.purge()
    queue.fan_out_flag_clear(pending.pk)
    try:
        assert drain.explanation_drain(model_version_id=pending.pk)["batches"] == 3
        assert broker.llen("cpu") == 1  # two full batches, one task
        Explanation.objects.update(status="pending", worker="")
        drain.explanation_drain(model_version_id=pending.pk)  # as the fanned-out task starting
        assert broker.llen("cpu") == 2
        # A batch that is not full publishes nothing.
        Explanation.objects.filter(pk__in=Explanation.objects.values("pk")[:1]).update(status="pending")
        queue.fan_out_flag_clear(pending.pk)
        drain.explanation_drain(model_version_id=pending.pk)
        assert broker.llen("cpu") == 2
    finally:
        app.control.purge()
        queue.fan_out_flag_clear(pending.pk)


@pytest.fixture
def store_thread():
    yield
    drain.store_thread_stop()  # its connection would keep the test database from being dropped


def test_a_store_failing_on_the_store_thread_hands_its_batches_back(
    transactional_db, store_thread, pending, settings
):
    """Outside a transaction the drain stores batch N on its store thread while it computes batch
    N+1. When that store fails, both go back to pending and the task is to be retried; the retry
    explains every row exactly once."""
    from django.db import connection

    from audit.chain import verify_chain

    settings.EXPLAIN_BATCH_SIZE = 2  # batches of ids [0, 1], [2, 3], [4]
    ids = sorted(Explanation.objects.values_list("id", flat=True))
    refused = int(ids[2])
    # The database refuses to finish one explanation, as a full disk or a lost connection would.
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION refuse_done() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.status = 'done' AND NEW.id = {refused} THEN RAISE EXCEPTION 'disk full'; END IF; "
            "RETURN NEW; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER refuse_done BEFORE UPDATE ON explanations_explanation "
            "FOR EACH ROW EXECUTE FUNCTION refuse_done()"
        )
    try:
        with pytest.raises(drain.TransientError, match="disk full"):
            drain.explanation_drain(model_version_id=pending.pk)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER refuse_done ON explanations_explanation")
            cursor.execute("DROP FUNCTION refuse_done()")
    status = dict(Explanation.objects.values_list("id", "status"))
    assert [status[i] for i in ids] == ["done", "done", "pending", "pending", "pending"]
    assert not Explanation.objects.filter(id__in=ids[2:], started_at__isnull=False).exists()

    assert drain.explanation_drain(model_version_id=pending.pk)["done"] == 3
    computed = AuditEvent.objects.filter(action=Action.EXPLANATION_COMPUTED)
    assert sorted(computed.values_list("object_id", flat=True)) == sorted(str(i) for i in ids)
    assert Explanation.objects.filter(status="done").count() == 5
    assert verify_chain().ok


@pytest.mark.parametrize("field", ["values", "base_values", "predictions"])
def test_a_result_with_nan_or_infinity_is_refused_naming_the_row(field):
    """JSON has no NaN: such a batch must fail with a reason, not be stored or retried for ever."""
    import numpy as np

    from explanations.engine import ExplanationError
    from explanations.engine.base import Explanation as Result

    arrays = {
        "values": np.array([[0.1, -0.2], [0.3, 0.0], [0.5, 0.5]]),
        "base_values": np.zeros(3),
        "predictions": np.array([-0.1, 0.3, 1.0]),
    }

    def result(**arrays):
        common = {"explained_class": np.ones(3), "device": "cpu", "versions": {}, "compute_seconds": 0.0}
        return Result("tree", {}, "log_odds", **arrays, **common)

    compute.check_finite(result(**arrays))  # nothing to say

    bad = dict(arrays)
    bad[field] = arrays[field].copy()
    bad[field][1] = np.inf if field == "predictions" else np.nan
    with pytest.raises(
        ExplanationError, match=rf"non-finite {field} for 1 of 3 rows \(first in batch: row 1\)"
    ):
        compute.check_finite(result(**bad))


def test_a_worker_process_freezes_what_building_an_explainer_loaded(credit_version, monkeypatch):
    """In worker processes (explanations.tasks turns it on), building an explainer ends with a
    full collection and gc.freeze(), so later full collections skip the model and its libraries."""
    import gc

    monkeypatch.setattr(compute, "_freeze_after_loading", False)  # restored after the test
    before = gc.get_freeze_count()  # a few hundred, frozen by the interpreter's libraries
    compute.forget_explainers()
    compute.explainer_for(credit_version)
    assert gc.get_freeze_count() == before  # off by default: a test process must not freeze

    compute.forget_explainers()
    compute.freeze_after_loading()
    try:
        compute.explainer_for(credit_version)
        frozen = gc.get_freeze_count()
        assert frozen > before + 100_000
        compute.explainer_for(credit_version)  # cached: nothing built, nothing frozen again
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
        compute.forget_explainers()


def test_a_recorded_decisions_pending_explanation_holds_the_models_own_defaults(
    credit_version, credit_trained
):
    """Each recorded decision gets one pending explanation, queued when it was decided, whose other
    columns are what Explanation's own defaults are: the one-statement INSERT writes them as
    literals, bulk_create from the model."""
    from audit.services import Actor
    from decisions.recording import DecisionInput

    items = [
        DecisionInput(model="credit-risk", subject_ref=f"p-{n}", features=row)
        for n, row in enumerate(credit_trained.sample_rows[:2])
    ]
    for recorded in (
        [recording.decision_record(item=items[0], actor=Actor.system("tests"))],
        recording.decision_record_many(items=items, actor=Actor.system("tests")),
    ):
        for r in recorded:
            stored = Explanation.objects.get(decision=r.decision)
            assert stored.pk == r.explanation_id and r.explanation_status == stored.status == "pending"
            assert stored.is_current and stored.queued_at == r.decision.decided_at
            assert stored.model_version_id == r.decision.model_version_id
            defaults = Explanation(
                decision=r.decision, model_version_id=stored.model_version_id, queued_at=stored.queued_at
            )
            names = [f.attname for f in Explanation._meta.concrete_fields if f.attname != "id"]
            assert [getattr(stored, n) for n in names] == [getattr(defaults, n) for n in names]
