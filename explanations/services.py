"""Write paths of explanations: queueing, claiming micro-batches, storing results, failures.

Exactly-once in effect: a batch is claimed with a conditional UPDATE (pending -> running, with a
fresh claim token), results are stored only on rows still holding that token, and a sweeper
returns rows whose worker died to pending. Tasks may therefore run twice; rows never change twice.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache, partial
from typing import Any

import numpy as np
import orjson
from django.conf import settings
from django.db import close_old_connections, connections, transaction
from django.db.models import F
from django.utils import timezone

from audit.models import Action
from audit.services import Actor, EventSpec, audit_record, audit_record_many
from config.postgresql import array_param

from .engine import ExplanationError
from .models import Explanation

logger = logging.getLogger(__name__)


def _claimant(token: str) -> str:
    """Who holds a claim: host and process, then the claim's own token. Read at each call:
    Celery imports this module before it forks its pool, so a value kept at import named the
    parent process for every child."""
    return f"{socket.gethostname()}:{os.getpid()}/{token}"


SYSTEM = Actor.system("explainer")


# ---------------------------------------------------------------------------- queueing
def queue_for(model_version) -> str:
    """GPU queue for the models configured to run there, when a GPU pool is deployed."""
    if settings.EXPLAIN_GPU_QUEUE:
        models = settings.EXPLAIN_GPU_MODELS
        if "*" in models or model_version.model.name in models:
            return "gpu"
    return "cpu"


_flags_client = None
_flags_lock = threading.Lock()


def _flags():
    """The Redis client that holds the publish flags, or None when coalescing is off."""
    global _flags_client
    if not settings.EXPLAIN_PUBLISH_FLAG_URL:
        return None
    if _flags_client is None:
        import redis

        with _flags_lock:
            if _flags_client is None:
                _flags_client = redis.Redis.from_url(
                    settings.EXPLAIN_PUBLISH_FLAG_URL, socket_timeout=1.0, socket_connect_timeout=1.0
                )
    return _flags_client


def _flag_key(model_version_id: int) -> str:
    return f"rationale:explain:queued:{model_version_id}"


def publish_flag_set(model_version_id: int) -> bool:
    """True when this caller must publish: no drain task of the version is waiting to start.

    Why nothing is left behind: a publisher commits its rows before it tries the flag. If the
    flag is already there, the task of whoever set it has not yet started its next claim, and
    every drain clears the flag *before* each claim (publish_flag_clear), so that claim sees the
    rows. A Redis error means "publish": coalescing is an optimisation, never a gate.
    """
    if _flags() is None:
        return True
    try:
        return _flag_set(_flag_key(model_version_id))
    except Exception as exc:  # noqa: BLE001 - any Redis failure falls back to publishing
        logger.warning("publish flag unavailable (%s); publishing", exc)
        return True


def publish_flag_clear(model_version_id: int) -> None:
    # If it stays, it expires by itself; the sweeper covers the gap.
    _flag_clear(_flag_key(model_version_id), f"publish flag of version {model_version_id}")


_flag_connections = threading.local()


def _flag_set(key: str) -> bool:
    """Set a flag unless it is set, for EXPLAIN_PUBLISH_FLAG_SECONDS; True if this call set it.
    Raises on a Redis error: what that means is the caller's to decide.

    Every recorded decision calls this, so it goes straight to a connection this thread keeps,
    with the command packed once per key: through the client (its pool, retry and
    observability layers, about 250 Python calls) one SET cost a web process about 330 us of
    CPU inside a request, nearly a third of what writing the decision cost; now 65-130 us
    (bench/RESULTS.md, ingest, stop 14). No retry, on purpose: a SET that reached Redis but whose
    reply was lost would answer "already set" on a retry, and nobody would publish. An error is
    raised instead (the caller publishes); redis-py closed the connection on the error, and it
    connects again on the next call. A new process (a fork) opens its own; a thread's closes
    when the thread ends.
    """
    px = int(settings.EXPLAIN_PUBLISH_FLAG_SECONDS * 1000)
    local = _flag_connections
    if getattr(local, "pid", None) != os.getpid():
        pool = _flags().connection_pool  # its settings (URL, timeouts), not its connections
        local.connection = pool.connection_class(**pool.connection_kwargs)
        local.commands = {}
        local.pid = os.getpid()
    connection = local.connection
    command = local.commands.get((key, px))
    if command is None:
        command = local.commands[key, px] = connection.pack_command("SET", key, 1, "NX", "PX", px)
    connection.send_packed_command(command, check_health=False)
    return connection.read_response() is not None


def _flag_clear(key: str, what: str) -> None:
    flags = _flags()
    if flags is None:
        return
    try:
        flags.delete(key)
    except Exception as exc:  # noqa: BLE001 - every flag expires by itself
        logger.warning("could not clear the %s: %s", what, exc)


def _fan_out_key(model_version_id: int) -> str:
    return f"rationale:explain:fan-out:{model_version_id}"


def explanation_fan_out(*, model_version_id: int, queue: str) -> bool:
    """A drain claimed a full batch, so more is probably waiting: publish one more drain task of
    the version, unless one published this way has not started yet.

    An idle worker process, on this host or another, takes it and drains beside this one (SKIP
    LOCKED gives each its own batches), and fans out in turn while batches come back full. So a
    backlog (after a broker outage, a bulk import) is worked by every free process, not by
    the one that got the first task. The flag bounds the extra tasks waiting in the queue to
    one per version; each drain clears it when it starts. Best effort: without the flags'
    Redis, or on any error, nothing more is published and this drain carries on alone.
    """
    from .tasks import explain_pending

    if _flags() is None:
        return False
    try:
        if not _flag_set(_fan_out_key(model_version_id)):
            return False
        explain_pending.apply_async(kwargs={"model_version_id": model_version_id}, queue=queue, retry=False)
    except Exception as exc:  # noqa: BLE001 - fanning out is an optimisation, never a gate
        logger.warning("could not fan out the explanations of version %s: %s", model_version_id, exc)
        return False
    return True


def fan_out_flag_clear(model_version_id: int) -> None:
    _flag_clear(_fan_out_key(model_version_id), f"fan-out flag of version {model_version_id}")


def explanation_enqueue(*, model_version_id: int, queue: str | None = None, coalesce: bool = False) -> bool:
    """Publish one drain task for a model version. Never raises: a broker outage leaves the rows
    pending and the sweeper re-enqueues them once the broker is back.

    `coalesce` (after recording decisions) skips the publish when a drain task of this version
    is already waiting to start; the sweeper always publishes.
    """
    from decisions.models import ModelVersion

    from .tasks import explain_pending

    if coalesce and not publish_flag_set(model_version_id):
        return True
    try:
        if queue is None:
            version = (
                ModelVersion.objects.select_related("model")
                .only("id", "model__name")
                .get(pk=model_version_id)
            )
            queue = queue_for(version)
        explain_pending.apply_async(kwargs={"model_version_id": model_version_id}, queue=queue, retry=False)
    except Exception as exc:  # noqa: BLE001 - any publish failure is handled the same way
        logger.warning("could not enqueue explanations of version %s: %s", model_version_id, exc)
        if coalesce:
            publish_flag_clear(model_version_id)  # the next decision tries again
        return False
    return True


def explanation_pending(*, decision, queued_at) -> Explanation:
    """The pending explanation a new decision is recorded with (not saved here).

    Built from its fields' defaults in field order, as Django builds the rows it reads
    (`Model(*values)`): by keyword, Model.__init__ looked up each of the 27 fields' defaults and
    cost about 30 us per explanation (9 this way), a tenth of a bulk decision's CPU
    (bench/RESULTS.md, ingest, stop 14). Mutable defaults (dict, list) are made new each time.
    """
    defaults, model_version, queued = _explanation_template()
    values = [default() if callable(default) else default for default in defaults]
    values[model_version], values[queued] = decision.model_version_id, queued_at
    explanation = Explanation(*values)
    explanation.decision = decision  # sets decision_id and keeps the instance: no query later
    return explanation


@cache
def _explanation_template() -> tuple[tuple, int, int]:
    """Explanation's field defaults in field order, and where the version and queued_at go."""
    fields = Explanation._meta.concrete_fields
    names = [field.attname for field in fields]
    defaults = tuple(field.default if field.has_default() else field.get_default() for field in fields)
    return defaults, names.index("model_version_id"), names.index("queued_at")


def explanations_create_pending(*, explanations: list[Explanation]) -> list[Explanation]:
    """Insert new decisions' pending explanations (`explanation_pending`); enqueue after commit.

    (A few decisions on PostgreSQL are inserted together with theirs by the decisions' service:
    pending_insert, explanations_pending_inserted.)
    """
    from django.db import connection

    if connection.vendor != "postgresql":
        Explanation.objects.bulk_create(explanations)
        _enqueue_on_commit([e.decision for e in explanations])
        return explanations
    sql, params = pending_insert(explanations=explanations)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        inserted = dict(cursor.fetchall())
    return explanations_pending_inserted(explanations=explanations, ids=inserted)


def pending_insert(*, explanations: list[Explanation]) -> tuple[str, list]:
    """PostgreSQL: (sql, params) of one INSERT ... SELECT FROM unnest of the pending
    explanations' decision ids, in their order, RETURNING (decision_id, id). The decisions'
    service may prefix it with its own CTE and parameters: the statement's placeholders are all
    positional.

    The row is all defaults but those: Django's bulk_create prepared and sent every one of the
    26 columns of every row, most of them empty JSON, which cost more than recording the
    decisions themselves.
    """
    table = Explanation._meta.db_table
    decision_ids, decision_ids_params = array_param([e.decision_id for e in explanations], "uuid")
    version_ids, version_ids_params = array_param([e.model_version_id for e in explanations], "bigint")
    # The table is the model's; the values are parameters or the columns' empty defaults.
    sql = (
        f"INSERT INTO {table} (decision_id, model_version_id, is_current, status, method, params, "  # noqa: S608
        "output_space, explained_class, contributions, raw_values, versions, model_sha256, "
        "background_sha256, device, worker, queued_at, attempts, error) "
        "SELECT u.decision_id, u.model_version_id, true, 'pending', '', '{}', '', '', '{}', '[]', '{}', "
        f"'', '', '', '', %s, 0, '' FROM unnest({decision_ids}, {version_ids}) "
        "WITH ORDINALITY AS u(decision_id, model_version_id, n) ORDER BY u.n RETURNING decision_id, id"
    )
    return sql, [explanations[0].queued_at, *decision_ids_params, *version_ids_params]


def explanations_pending_inserted(*, explanations: list[Explanation], ids: dict) -> list[Explanation]:
    """Give the pending explanations that pending_insert inserted their ids (`ids`: decision
    id -> explanation id); their drain tasks are published after commit."""
    for e in explanations:
        e.pk = ids[e.decision_id]
    _enqueue_on_commit([e.decision for e in explanations])
    return explanations


def _enqueue_on_commit(decisions: list) -> None:
    # The versions are in memory already: choose the queue now, not with a query after commit.
    versions = {d.model_version_id: d.model_version for d in decisions}
    for version_id in sorted(versions):
        queue = queue_for(versions[version_id])
        transaction.on_commit(
            partial(explanation_enqueue, model_version_id=version_id, queue=queue, coalesce=True)
        )


# ---------------------------------------------------------------------------- claiming
def explanation_claim_batch(*, model_version_id: int, limit: int) -> tuple[str, list[int]]:
    """Claim up to `limit` pending explanations of one version: pending -> running.

    SKIP LOCKED lets several workers claim disjoint batches; the status condition in the UPDATE
    makes a claim idempotent even where row locks are not available (SQLite).
    """
    from django.db import connection

    token = uuid.uuid4().hex
    if connection.vendor == "postgresql":
        return token, _claim_postgresql(model_version_id=model_version_id, limit=limit, token=token)
    with transaction.atomic():
        candidates = list(
            Explanation.objects.select_for_update(skip_locked=True)
            .filter(model_version_id=model_version_id, status=Explanation.Status.PENDING)
            .order_by("queued_at", "id")
            .values_list("id", flat=True)[:limit]
        )
        if not candidates:
            return token, []
        Explanation.objects.filter(id__in=candidates, status=Explanation.Status.PENDING).update(
            status=Explanation.Status.RUNNING,
            started_at=timezone.now(),
            attempts=F("attempts") + 1,
            worker=_claimant(token),
        )
    claimed = list(
        Explanation.objects.filter(worker=_claimant(token), status=Explanation.Status.RUNNING)
        .order_by("id")
        .values_list("id", flat=True)
    )
    return token, claimed


def _claim_postgresql(*, model_version_id: int, limit: int, token: str) -> list[int]:
    """The same claim in one statement (one round trip instead of three). The candidates are a
    CTE, evaluated once: as an IN (subquery) the planner may re-run a LIMIT ... SKIP LOCKED and
    claim more than `limit`."""
    from django.db import connection

    table = Explanation._meta.db_table
    # The table is the model's; every value is a parameter.
    sql = (
        f"WITH picked AS (SELECT id FROM {table} WHERE model_version_id = %s AND status = 'pending' "  # noqa: S608
        "ORDER BY queued_at, id LIMIT %s FOR UPDATE SKIP LOCKED) "
        f"UPDATE {table} AS e SET status = 'running', started_at = now(), attempts = e.attempts + 1, "
        "worker = %s FROM picked WHERE e.id = picked.id AND e.status = 'pending' RETURNING e.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [model_version_id, limit, _claimant(token)])
        return sorted(pk for (pk,) in cursor.fetchall())


def _features_of(ids: list[int]) -> list:
    """The decisions' features of explanations `ids` (sorted), in that order."""
    from django.db import connection

    from decisions.models import Decision

    if connection.vendor != "postgresql":
        qs = Explanation.objects.filter(id__in=ids).order_by("id")
        return list(qs.values_list("decision__features", flat=True))
    # One array parameter: the ORM's IN (%s, ...) of a batch's ids made a statement too long
    # for psycopg's query cache, and building it cost more than the query (stop 8).
    sql = (
        f"SELECT d.features FROM {Explanation._meta.db_table} e "  # noqa: S608
        f"JOIN {Decision._meta.db_table} d ON d.id = e.decision_id WHERE e.id = ANY(%s) ORDER BY e.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [ids])
        # Django has psycopg hand jsonb over as text (JSONField decodes it).
        return [orjson.loads(features) for (features,) in cursor.fetchall()]


def explanation_release(*, ids: list[int], token: str) -> int:
    """Hand a claimed batch back (transient failure): running -> pending."""
    return Explanation.objects.filter(
        id__in=ids, worker=_claimant(token), status=Explanation.Status.RUNNING
    ).update(status=Explanation.Status.PENDING, started_at=None)


# ---------------------------------------------------------------------------- computing
_explainers: dict[tuple[int, str, str], Any] = {}
_explainers_lock = threading.Lock()
# Set in explanation worker processes (explanations.tasks): see freeze_after_loading.
_freeze_after_loading = False


def freeze_after_loading() -> None:
    """From now on, after this process builds an explainer, move every live object out of the
    garbage collector's generations (`gc.freeze`, after one full collection).

    The explainer, its model and the libraries its first use imported (xgboost with pandas, SciPy
    and scikit-learn; shap; TensorFlow for a Keras model) live as long as the process: about
    225,000 objects, which every full collection walked, 82-110 ms each, twice in a 5 s drain of
    20,000 explanations (bench/RESULTS.md, explain, stop 12). For worker processes only: a test
    process that froze its objects would never free their garbage. config/wsgi.py does the same
    for web processes.
    """
    global _freeze_after_loading
    _freeze_after_loading = True


def _loaded() -> None:
    if _freeze_after_loading:
        gc.collect()
        gc.freeze()


def explainer_method(version) -> str:
    from explanations.engine import auto_method

    return auto_method(version.framework) if version.explainer == "auto" else version.explainer


def explainer_for(version):
    """The engine explainer of a model version, built once per worker process."""
    from decisions.predictors import load_background, predictor_for
    from explanations.engine import make_explainer

    method = explainer_method(version)
    key = (version.pk, version.artifact_sha256, method)
    explainer = _explainers.get(key)
    if explainer is None:
        with _explainers_lock:
            explainer = _explainers.get(key)
            if explainer is None:
                predictor = predictor_for(version)
                background = load_background(bytes(version.background))
                if method == "tree":
                    # A private copy: the predictor's booster is tuned to one thread for the web's
                    # single-row predictions, while a worker's batches use the cores it is given.
                    booster = predictor.model.copy()
                    booster.set_param({"nthread": settings.EXPLAIN_THREADS})
                    explainer = make_explainer("tree", model=booster, background=background)
                elif method in ("deep", "gradient"):
                    explainer = make_explainer(
                        method,
                        model=predictor.model,
                        background=background,
                        input_shape=tuple(predictor.input_shape),
                    )
                else:
                    explainer = make_explainer("kernel", model=predictor.predict_proba, background=background)
                _explainers[key] = explainer
                _loaded()
    return explainer


def gradient_fallback_for(version):
    from decisions.predictors import load_background, predictor_for
    from explanations.engine import make_explainer

    predictor = predictor_for(version)
    explainer = make_explainer(
        "gradient",
        model=predictor.model,
        background=load_background(bytes(version.background)),
        input_shape=tuple(predictor.input_shape),
    )
    with _explainers_lock:
        _explainers[(version.pk, version.artifact_sha256, explainer_method(version))] = explainer
        _loaded()
    return explainer


def forget_explainers() -> None:
    """Drop cached explainers (after a TensorFlow failure the process is recycled anyway)."""
    with _explainers_lock:
        _explainers.clear()


def classes_to_explain(version, X: np.ndarray) -> np.ndarray:
    """Binary: the positive class (the score). Multiclass: the class the model decided."""
    from decisions.predictors import predictor_for

    if version.output["type"] == "binary":
        return np.ones(X.shape[0], dtype=np.int64)
    return predictor_for(version).predict_proba(X).argmax(axis=1).astype(np.int64)


def check_finite(result) -> None:
    """Refuse a result with NaN or infinity: it is no explanation, and JSON has no such numbers.

    Raised after the engine call, so the drain marks the batch failed with this reason instead of
    storing it or retrying it for ever.
    """
    for name in ("values", "base_values", "predictions"):
        bad = ~np.isfinite(np.asarray(getattr(result, name), dtype=np.float64))
        if bad.any():
            rows = sorted({int(i) for i in np.argwhere(bad)[:, 0]})
            raise ExplanationError(
                f"the explainer returned non-finite {name} for {len(rows)} of {len(result.values)} "
                f"rows (first in batch: row {rows[0]})"
            )


def explanation_compute(*, version, features: list[dict]):
    """Run ONE engine call for the decisions' `features` (in batch order) and return
    (schema, engine result, per-feature matrix)."""
    from decisions.predictors import schema_of
    from explanations.engine import group_contributions

    schema = schema_of(version)
    X = schema.encode(features)
    explainer = explainer_for(version)
    classes = classes_to_explain(version, X)
    try:
        result = explainer.explain(X, classes=classes)
    except ExplanationError as exc:
        if explainer.method != "deep":
            raise
        # Deep SHAP met a layer it has no rule for (the engine left TensorFlow clean):
        # Gradient SHAP needs only gradients, so this version uses it from now on.
        logger.warning("Deep SHAP failed for %s (%s); falling back to Gradient SHAP", version, exc)
        explainer = gradient_fallback_for(version)
        result = explainer.explain(X, classes=classes)
    check_finite(result)
    grouped = group_contributions(result.values, schema.groups)
    return schema, result, grouped


def _update_rows(rows: list[Explanation], fields: list[str]) -> None:
    """UPDATE each row's `fields`, all rows sent in one pipeline (psycopg executemany).

    Django's bulk_update builds one CASE WHEN per field over all rows; for 256 rows x 18 fields
    its Python expression resolving cost far more than the SHAP computation (bench/RESULTS.md).
    """
    from django.db import connection

    meta = Explanation._meta
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    # Identifiers come from the model's metadata; every value is a parameter.
    sql = (
        f"UPDATE {quote(meta.db_table)} SET "  # noqa: S608
        + ", ".join(f"{quote(c.column)} = %s" for c in columns)
        + f" WHERE {quote(meta.pk.column)} = %s"
    )
    params = [
        [c.get_db_prep_save(getattr(row, c.attname), connection) for c in columns] + [row.pk] for row in rows
    ]
    if params:
        with connection.cursor() as cursor:
            cursor.executemany(sql, params)


# What differs per row of a batch; everything else is one value for the whole batch.
_PER_ROW = (
    "explained_class",
    "base_value",
    "predicted_value",
    "contributions",
    "raw_values",
    "additivity_error",
)
_PER_BATCH = (
    "status",
    "method",
    "params",
    "output_space",
    "versions",
    "model_sha256",
    "background_sha256",
    "device",
    "compute_ms",
    "batch_size",
    "finished_at",
    "error",
)


def _store_postgresql(*, token: str, rows: list[tuple], batch: dict) -> list[tuple[int, object]]:
    """One statement for the whole batch: the per-row values as one JSON document, per-batch
    values once.

    Only rows still claimed by `token` change (the sweeper may have handed some back); returns
    (id, decision_id) of those, in id order. orjson writes each float as the shortest text that
    reads back as the same double (as repr does), so every value reaches float8 exactly. The
    standard encoder took 35 us per row here, against 2 us, of about 190 us of worker CPU per
    explanation (stop 9). Values are finite: explanation_compute refuses anything else.
    """
    from django.db import connection

    table = Explanation._meta.db_table
    sets = ", ".join(
        [f"{name} = u.{name}" for name in _PER_ROW]
        + [f"{name} = %({name})s{'::jsonb' if name in ('params', 'versions') else ''}" for name in _PER_BATCH]
    )
    # Identifiers are this module's constants and the model's table; every value is a parameter.
    sql = (
        f"UPDATE {table} AS e SET {sets} FROM jsonb_to_recordset(%(rows)s::jsonb) AS u("  # noqa: S608
        "id bigint, explained_class text, base_value float8, predicted_value float8, contributions jsonb, "
        "raw_values jsonb, additivity_error float8) "
        "WHERE e.id = u.id AND e.worker = %(worker)s AND e.status = 'running' "
        "RETURNING e.id, e.decision_id"
    )
    params = {
        **batch,
        "params": json.dumps(batch["params"]),
        "versions": json.dumps(batch["versions"]),
        "rows": orjson.dumps([dict(zip(("id", *_PER_ROW), row, strict=True)) for row in rows]).decode(),
        "worker": _claimant(token),
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sorted(cursor.fetchall())


def _store_portable(*, token: str, rows: list[tuple], batch: dict) -> list[tuple[int, object]]:
    """Any database: lock the rows still ours, then one UPDATE per row in one pipeline."""
    ours = dict(
        Explanation.objects.select_for_update()
        .filter(id__in=[r[0] for r in rows], worker=_claimant(token), status=Explanation.Status.RUNNING)
        .values_list("id", "decision_id")
    )
    updated = []
    for pk, *values in rows:
        if pk in ours:
            e = Explanation(pk=pk, decision_id=ours[pk], **dict(zip(_PER_ROW, values, strict=True)), **batch)
            updated.append(e)
    _update_rows(updated, [*_PER_ROW, *_PER_BATCH])
    return sorted((e.pk, e.decision_id) for e in updated)


def explanation_store_batch(*, version, token: str, ids: list[int], schema, result, grouped) -> int:
    """Write results onto rows still claimed by `token`; one audit event per explanation."""
    from django.db import connection

    from .contributions import contributions_compact

    labels = version.output["class_labels"]
    batch = {
        "status": Explanation.Status.DONE.value,
        "method": result.method,
        "params": result.params,
        "output_space": result.output_space,
        "versions": result.versions,
        "model_sha256": version.artifact_sha256,
        "background_sha256": version.background_sha256,
        "device": result.device,
        "compute_ms": 1000.0 * result.compute_seconds / max(len(ids), 1),
        "batch_size": len(ids),
        "finished_at": timezone.now(),
        "error": "",
    }
    # Whole arrays to Python once: additivity_error is computed on every access, and per-row
    # numpy indexing cost more than the rows' JSON (bench/RESULTS.md, stop 8).
    rows = list(
        zip(
            ids,
            [labels[c] for c in result.explained_class.tolist()],
            result.base_values.tolist(),
            result.predictions.tolist(),
            [contributions_compact(schema, row) for row in np.asarray(grouped).tolist()],
            result.values.tolist(),
            result.additivity_error.tolist(),
            strict=True,
        )
    )
    store = _store_postgresql if connection.vendor == "postgresql" else _store_portable
    errors = {row[0]: row[6] for row in rows}
    with transaction.atomic():
        updated = store(token=token, rows=rows, batch=batch)
        if updated:
            audit_record_many(
                events=[
                    EventSpec(
                        actor=SYSTEM,
                        action=Action.EXPLANATION_COMPUTED,
                        object_type="explanation",
                        object_id=str(pk),
                        data={
                            "decision": str(decision_id),
                            "method": result.method,
                            "model_sha256": version.artifact_sha256,
                            "background_sha256": version.background_sha256,
                            "additivity_error": repr(errors[pk]),
                            "device": result.device,
                        },
                    )
                    for pk, decision_id in updated
                ]
            )
    return len(updated)


def explanation_fail(*, ids: list[int], token: str | None, reason: str) -> int:
    """Terminal failure: mark failed with the reason and an audit event per row."""
    with transaction.atomic():
        qs = Explanation.objects.select_for_update().filter(
            id__in=ids, status__in=[Explanation.Status.RUNNING, Explanation.Status.PENDING]
        )
        if token is not None:
            qs = qs.filter(worker=_claimant(token))
        failed = list(qs.values_list("id", "decision_id"))
        Explanation.objects.filter(id__in=[i for i, _ in failed]).update(
            status=Explanation.Status.FAILED, error=reason[:2000], finished_at=timezone.now()
        )
        if failed:
            audit_record_many(
                events=[
                    EventSpec(
                        SYSTEM,
                        Action.EXPLANATION_FAILED,
                        "explanation",
                        str(i),
                        {"decision": str(d), "reason": reason[:200]},
                    )
                    for i, d in failed
                ]
            )
    return len(failed)


class TransientError(Exception):
    """Worth retrying: the database or broker blinked."""


_store_thread: tuple[int, ThreadPoolExecutor] | None = None


def _store_executor() -> ThreadPoolExecutor:
    """This process's one store thread, started on first use (so a forked worker starts its own)."""
    global _store_thread
    if _store_thread is None or _store_thread[0] != os.getpid():
        _store_thread = (os.getpid(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="explain-store"))
    return _store_thread[1]


def store_thread_stop() -> None:
    """End this process's store thread and close its database connection (worker shutdown)."""
    global _store_thread
    if _store_thread is None or _store_thread[0] != os.getpid():
        return
    executor, _store_thread = _store_thread[1], None
    executor.submit(connections.close_all).result()
    executor.shutdown(wait=True)


def _store_in_thread(**kwargs) -> int:
    try:
        return explanation_store_batch(**kwargs)
    finally:
        # As at the end of a request: drop a broken or expired connection, keep a good one.
        close_old_connections()


def explanation_drain(*, model_version_id: int, max_batches: int | None = None) -> dict:
    """Claim, compute and store batches of one version until none is pending.

    Returns counters. Raises TransientError (after handing the batch back) for the task to retry;
    terminal errors mark the batch failed and stop.

    On PostgreSQL, outside a caller's transaction, a full batch N is stored by this process's
    store thread (its own connection, its own transaction) while batch N+1 is claimed and
    computed: the store is mostly PostgreSQL's CPU and JSON, SHAP runs in xgboost with the GIL
    released. At most one store is in flight; its failure hands that batch back, and the batch
    waiting for it, like any store failure.
    Inside a transaction (tests, a caller's atomic block) every batch is stored inline: another
    connection could neither see nor lock the claimed rows.
    """
    from django.db import DatabaseError, connection

    from decisions.models import ModelVersion

    # The artifact and background (hundreds of kB) load only if this process has no explainer
    # for the version yet: every drain call read them, about 3 ms of CPU and 6 ms of wall each.
    versions = ModelVersion.objects.select_related("model").defer("artifact", "background")
    version = versions.filter(pk=model_version_id).first()
    if version is None:
        logger.info("model version %s is gone; nothing to explain", model_version_id)
        return {"done": 0, "failed": 0, "batches": 0}
    # This drain has started: a fan-out task published from now on is a new one (see
    # explanation_fan_out).
    fan_out_flag_clear(model_version_id)
    done = failed = batches = 0
    explained: list[int] = []
    overlap = connection.vendor == "postgresql" and not connection.in_atomic_block
    in_flight: tuple[Future, list[int], str] | None = None

    def settle() -> None:
        """Wait for the batch in flight; count it, or hand it back and ask for a retry."""
        nonlocal done, in_flight
        if in_flight is None:
            return
        future, ids, token = in_flight
        in_flight = None
        try:
            done += future.result()
        except DatabaseError as exc:
            explanation_release(ids=ids, token=token)
            raise TransientError(str(exc)) from exc
        explained.extend(ids)

    wait = settings.EXPLAIN_BATCH_WAIT_MS / 1000.0
    try:
        while max_batches is None or batches < max_batches:
            if wait:
                # Let a burst accumulate so one SHAP call covers more rows.
                time.sleep(wait)
            # Before every claim: rows committed from here on publish a new task (see publish_flag_set).
            publish_flag_clear(model_version_id)
            token, ids = explanation_claim_batch(
                model_version_id=model_version_id, limit=settings.EXPLAIN_BATCH_SIZE
            )
            if not ids:
                break
            batches += 1
            if len(ids) == settings.EXPLAIN_BATCH_SIZE:
                explanation_fan_out(model_version_id=model_version_id, queue=queue_for(version))
            features = _features_of(ids)
            try:
                schema, result, grouped = explanation_compute(version=version, features=features)
            except DatabaseError as exc:
                explanation_release(ids=ids, token=token)
                raise TransientError(str(exc)) from exc
            except Exception as exc:  # noqa: BLE001 - anything else is terminal for this batch
                reason = f"{exc.__class__.__name__}: {exc}"
                logger.exception("explaining %s rows of %s failed", len(ids), version)
                failed += explanation_fail(ids=ids, token=token, reason=reason)
                if _is_tensorflow_error(exc):
                    mark_process_for_recycling()
                break
            if in_flight is not None:
                try:
                    settle()
                except TransientError:
                    explanation_release(ids=ids, token=token)  # this batch is not stored either
                    raise
            batch = {"version": version, "token": token, "ids": ids, "schema": schema}
            if overlap and len(ids) == settings.EXPLAIN_BATCH_SIZE:
                # A full batch: more is probably waiting, so store this one while the next is
                # computed. Small batches (steady traffic) are stored inline: handing them to a
                # thread only adds GIL switches to their latency (bench/RESULTS.md, stop 8).
                future = _store_executor().submit(_store_in_thread, **batch, result=result, grouped=grouped)
                in_flight = (future, ids, token)
                continue
            try:
                done += explanation_store_batch(**batch, result=result, grouped=grouped)
            except DatabaseError as exc:
                explanation_release(ids=ids, token=token)
                raise TransientError(str(exc)) from exc
            explained.extend(ids)
    finally:
        # Whatever ended the loop, the batch in flight is stored (or handed back) before we go.
        settle()
    # A separate step after every batch is stored: explanations are what subjects wait for and
    # are stored whatever happens here; the search is idempotent and the sweeper finishes it if
    # this process dies first.
    for start in range(0, len(explained), settings.EXPLAIN_BATCH_SIZE):
        explanation_counterfactuals_batch(
            version=version, ids=explained[start : start + settings.EXPLAIN_BATCH_SIZE]
        )
    return {"done": done, "failed": failed, "batches": batches}


def explanation_counterfactuals_batch(*, version, ids: list[int]) -> int:
    """Search and store verified counterfactuals for the done explanations among `ids` whose
    outcome was not the favourable one.

    Never raises: a failure is logged and recorded on the rows as {"status": "failed"}, and the
    explanations themselves stay done. Returns the number of rows written.
    """
    from decisions.predictors import predictor_for, schema_of

    from .counterfactuals import find_counterfactuals

    # Only what the search reads: the rows' contributions and the decisions' other columns are
    # JSON that the ORM would decode for nothing.
    rows = list(
        Explanation.objects.select_related("decision")
        .only(
            "id",
            "decision_id",
            "counterfactuals",
            "decision__features",
            "decision__favourable",
            "decision__personal_data_erased_at",
        )
        .filter(id__in=ids, status=Explanation.Status.DONE, counterfactuals__isnull=True)
        .order_by("id")
    )
    if not rows:
        return 0
    try:
        schema = schema_of(version)
        predict = predictor_for(version).predict_proba
        for e in rows:
            if e.decision.personal_data_erased_at is not None:
                e.counterfactuals = {
                    "status": "not_applicable",
                    "items": [],
                    "reason": "personal data erased",
                }
                continue
            if e.decision.favourable is True:
                # Nothing for the person to change, and the search is the costly part of a batch
                # (milliseconds per row against microseconds per row for tree SHAP).
                e.counterfactuals = {"status": "not_applicable", "items": [], "reason": "favourable outcome"}
                continue
            try:
                e.counterfactuals = find_counterfactuals(
                    schema=schema, predict_proba=predict, output=version.output, features=e.decision.features
                )
            except Exception as exc:  # noqa: BLE001 - one row's failure must not stop the others
                logger.exception("counterfactual search failed for explanation %s", e.pk)
                e.counterfactuals = {"status": "failed", "items": [], "reason": f"{exc.__class__.__name__}"}
    except Exception:  # noqa: BLE001 - e.g. the model cannot be loaded: leave the rows for later
        logger.exception("counterfactual search failed for %s explanations of %s", len(rows), version)
        return 0
    try:
        with transaction.atomic():
            _update_rows(rows, ["counterfactuals"])
            audit_record_many(
                events=[
                    EventSpec(
                        actor=SYSTEM,
                        action=Action.COUNTERFACTUALS_COMPUTED,
                        object_type="explanation",
                        object_id=str(e.pk),
                        data={
                            "decision": str(e.decision_id),
                            "status": e.counterfactuals["status"],
                            "count": len(e.counterfactuals.get("items", [])),
                        },
                    )
                    for e in rows
                ]
            )
    except Exception:  # noqa: BLE001 - the explanation is stored; counterfactuals can be redone
        logger.exception("could not store counterfactuals of %s explanations", len(rows))
        return 0
    return len(rows)


def _is_tensorflow_error(exc: BaseException) -> bool:
    module = type(exc).__module__
    return module.startswith(("tensorflow", "keras", "tf_keras")) or "tensorflow" in repr(exc).lower()


_recycle = threading.Event()


def mark_process_for_recycling() -> None:
    """A failed DeepExplainer can poison later gradient lookups in this process: leave after the task."""
    forget_explainers()
    _recycle.set()


def process_needs_recycling() -> bool:
    return _recycle.is_set()


# ---------------------------------------------------------------------------- sweeper
def explanations_sweep() -> dict:
    """Return stale running rows to pending (or fail them after too many attempts), then
    re-enqueue every version that still has pending rows older than a few seconds."""
    now = timezone.now()
    stale_before = now - timezone.timedelta(seconds=settings.EXPLAIN_STALE_SECONDS)
    running = Explanation.objects.filter(status=Explanation.Status.RUNNING, started_at__lt=stale_before)
    exhausted = list(running.filter(attempts__gte=settings.EXPLAIN_MAX_ATTEMPTS).values_list("id", flat=True))
    failed = 0
    if exhausted:
        failed = explanation_fail(
            ids=exhausted,
            token=None,
            reason=f"gave up after {settings.EXPLAIN_MAX_ATTEMPTS} attempts (worker lost or timed out)",
        )
    reset = running.filter(attempts__lt=settings.EXPLAIN_MAX_ATTEMPTS).update(
        status=Explanation.Status.PENDING, started_at=None
    )
    waiting_since = now - timezone.timedelta(seconds=5)
    version_ids = sorted(
        set(
            Explanation.objects.filter(status=Explanation.Status.PENDING, queued_at__lt=waiting_since)
            .values_list("model_version_id", flat=True)
            .distinct()
        )
    )
    if reset:
        version_ids = sorted(
            set(version_ids)
            | set(
                Explanation.objects.filter(status=Explanation.Status.PENDING)
                .values_list("model_version_id", flat=True)
                .distinct()
            )
        )
    enqueued = sum(explanation_enqueue(model_version_id=v) for v in version_ids)
    return {
        "reset": reset,
        "failed": failed,
        "enqueued": enqueued,
        "counterfactuals": _sweep_counterfactuals(stale_before),
    }


def _sweep_counterfactuals(stale_before, limit: int = 500) -> int:
    """Counterfactual searches a worker did not get to (it died after storing explanations)."""
    from decisions.models import ModelVersion

    left = list(
        Explanation.objects.filter(
            status=Explanation.Status.DONE,
            counterfactuals__isnull=True,
            finished_at__lt=stale_before,
            # Retention blanks counterfactuals with the inputs: nothing to search there.
            decision__personal_data_erased_at__isnull=True,
        )
        .order_by("id")
        .values_list("model_version_id", "id")[:limit]
    )
    by_version: dict[int, list[int]] = {}
    for version_id, pk in left:
        by_version.setdefault(version_id, []).append(pk)
    for version in ModelVersion.objects.select_related("model").filter(pk__in=by_version):
        explanation_counterfactuals_batch(version=version, ids=by_version[version.pk])
    return len(left)


def explanation_recompute(*, explanation: Explanation, actor: Actor) -> dict:
    """Recompute one explanation in this process and compare it with the stored result.

    Trees are exact and deterministic, so the comparison is bit-for-bit; the stored record is
    left untouched and the recomputation itself is an audit event.
    """
    from decisions.models import ModelVersion

    if explanation.status != Explanation.Status.DONE:
        from config.errors import ApplicationError

        raise ApplicationError(
            "nothing to compare", fields={"status": f"explanation is {explanation.status}, not done"}
        )
    version = ModelVersion.objects.select_related("model").get(pk=explanation.model_version_id)
    _, result, grouped = explanation_compute(version=version, features=[explanation.decision.features])
    new_raw = [float(v) for v in result.values[0]]
    identical = (
        new_raw == list(explanation.raw_values) and float(result.base_values[0]) == explanation.base_value
    )
    max_diff = float(np.max(np.abs(np.asarray(new_raw) - np.asarray(explanation.raw_values))))
    audit_record(
        actor=actor,
        action=Action.EXPLANATION_RECOMPUTED,
        object_type="explanation",
        object_id=explanation.pk,
        data={"identical": identical, "max_abs_difference": repr(max_diff)},
    )
    return {
        "identical": identical,
        "max_abs_difference": max_diff,
        "method": result.method,
        "base_value": float(result.base_values[0]),
        "raw_values": new_raw,
        "device": result.device,
        "versions": result.versions,
    }
