"""The worker's loop: claim, compute and store batches of one version until none is pending.

On PostgreSQL, outside a caller's transaction, a full batch N is stored by this process's store
thread (its own connection, its own transaction) while batch N+1 is claimed and computed: the
store is mostly PostgreSQL's CPU and JSON, SHAP runs in xgboost with the GIL released. At most
one store is in flight; its failure hands that batch back, and the batch waiting for it, like any
store failure. Small batches (steady traffic) are stored inline: handing them to a thread only
adds GIL switches to their latency.
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections

from decisions.models import ModelVersion

from . import storage
from .claims import (
    explanation_claim_batch,
    explanation_fail,
    explanation_fail_version,
    explanation_release,
)
from .compute import explanation_compute, is_tensorflow_error, mark_process_for_recycling
from .queue import explanation_fan_out, fan_out_flag_clear, publish_flag_clear, queue_for
from .shadow import shadow_run_batch, shadows_of
from .store import explanation_counterfactuals_batch, explanation_store_batch

logger = logging.getLogger(__name__)


class TransientError(Exception):
    """Worth retrying: the database or broker blinked. The batch was handed back first."""


@dataclass
class _Stored:
    """A batch on the store thread."""

    future: Future
    ids: list[int]
    token: str


def explanation_drain(*, model_version_id: int, max_batches: int | None = None) -> dict:
    """Drain one version's pending explanations; return counters.

    Raises TransientError (after handing the batch back) for the task to retry; a terminal error
    marks its batch failed and ends the drain.
    """
    # The artifact and background (hundreds of kB) load only if this process has no explainer
    # for the version yet.
    version = (
        ModelVersion.objects.select_related("model")
        .defer("artifact", "background")
        .filter(pk=model_version_id)
        .first()
    )
    if version is None:
        logger.info("model version %s is gone; nothing to explain", model_version_id)
        return {"done": 0, "failed": 0, "batches": 0}
    if version.status == ModelVersion.Status.SUSPENDED:
        # Explaining it killed worker processes (explanations.sweeper): never claimed again.
        failed = explanation_fail_version(
            model_version_id=model_version_id, reason=f"model version {version} is suspended"
        )
        return {"done": 0, "failed": failed, "batches": 0}
    # This drain has started: a fan-out task published from now on is a new one.
    fan_out_flag_clear(model_version_id)
    counts = {"done": 0, "failed": 0, "batches": 0}
    explained: list[int] = []
    in_background = storage.can_store_in_background()
    stored: _Stored | None = None
    wait = settings.EXPLAIN_BATCH_WAIT_MS / 1000.0
    try:
        while max_batches is None or counts["batches"] < max_batches:
            if wait:
                time.sleep(wait)  # let a burst accumulate so one SHAP call covers more rows
            # Before every claim: rows committed from here on publish a new task (queue.publish_flag_set).
            publish_flag_clear(model_version_id)
            token, ids = explanation_claim_batch(
                model_version_id=model_version_id, limit=settings.EXPLAIN_BATCH_SIZE
            )
            if not ids:
                break
            counts["batches"] += 1
            full = len(ids) == settings.EXPLAIN_BATCH_SIZE
            if full:
                explanation_fan_out(model_version_id=model_version_id, queue=queue_for(version))
            computed = _compute(version, token, ids, counts)
            if computed is None:
                break
            if stored is not None:
                waiting, stored = stored, None
                try:
                    counts["done"] += _settle(waiting, explained)
                except TransientError:
                    explanation_release(ids=ids, token=token)  # this batch is not stored either
                    raise
            batch = {"version": version, "token": token, "ids": ids, **computed}
            if in_background and full:
                stored = _Stored(_store_executor().submit(_store_in_thread, **batch), ids, token)
                continue
            try:
                counts["done"] += explanation_store_batch(**batch)
            except DatabaseError as exc:
                explanation_release(ids=ids, token=token)
                raise TransientError(str(exc)) from exc
            explained.extend(ids)
    finally:
        # Whatever ended the loop, the batch in flight is stored (or handed back) before we go.
        if stored is not None:
            counts["done"] += _settle(stored, explained)
    # A separate step after every batch is stored: explanations are what subjects wait for and
    # are stored whatever happens here; the search is idempotent and the sweeper finishes it if
    # this process dies first.
    for start in range(0, len(explained), settings.EXPLAIN_BATCH_SIZE):
        explanation_counterfactuals_batch(
            version=version, ids=explained[start : start + settings.EXPLAIN_BATCH_SIZE]
        )
    if explained and shadows_of(version):
        counts["shadow"] = shadow_run_batch(version=version, explanation_ids=explained)
    return counts


def _compute(version: ModelVersion, token: str, ids: list[int], counts: dict) -> dict | None:
    """The batch's results, or None after a terminal failure (the batch is then marked failed)."""
    try:
        schema, result, grouped = explanation_compute(version=version, features=storage.features_of(ids))
    except DatabaseError as exc:
        explanation_release(ids=ids, token=token)
        raise TransientError(str(exc)) from exc
    except Exception as exc:  # noqa: BLE001 - anything else is terminal for this batch
        logger.exception("explaining %s rows of %s failed", len(ids), version)
        counts["failed"] += explanation_fail(ids=ids, token=token, reason=f"{exc.__class__.__name__}: {exc}")
        if is_tensorflow_error(exc):
            mark_process_for_recycling()
        return None
    return {"schema": schema, "result": result, "grouped": grouped}


def _settle(stored: _Stored, explained: list[int]) -> int:
    """Wait for the batch on the store thread: how many rows it stored, or hand it back and ask
    for a retry."""
    try:
        done = stored.future.result()
    except DatabaseError as exc:
        explanation_release(ids=stored.ids, token=stored.token)
        raise TransientError(str(exc)) from exc
    explained.extend(stored.ids)
    return done


# ---------------------------------------------------------------------------- the store thread
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


def _store_in_thread(**batch) -> int:
    try:
        return explanation_store_batch(**batch)
    finally:
        # As at the end of a request: drop a broken or expired connection, keep a good one.
        close_old_connections()
