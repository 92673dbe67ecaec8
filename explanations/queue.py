"""Publishing drain tasks: which queue a version's explanations go to, and when a task is sent.

A task carries only a model version's id; the worker claims whatever is pending for it. So one
waiting task per version is enough: publishers set a flag (explanations.flags) and publish only
when they set it, and every drain clears it before each claim. Tasks are sent by name: this
module never imports the tasks module, which imports the services.
"""

from __future__ import annotations

import logging
from functools import partial

from celery import current_app
from django.conf import settings
from django.db import transaction
from redis import exceptions as redis_errors

from decisions.models import Decision, ModelVersion

from .flags import flag_clear, flag_set, flags_client

logger = logging.getLogger(__name__)

EXPLAIN_TASK = "explanations.explain_pending"


def queue_for(model_version: ModelVersion) -> str:
    """GPU queue for the models configured to run there, when a GPU pool is deployed."""
    if settings.EXPLAIN_GPU_QUEUE:
        models = settings.EXPLAIN_GPU_MODELS
        if "*" in models or model_version.model.name in models:
            return "gpu"
    return "cpu"


def _publish(model_version_id: int, queue: str) -> None:
    current_app.send_task(
        EXPLAIN_TASK, kwargs={"model_version_id": model_version_id}, queue=queue, retry=False
    )


def _flag_key(model_version_id: int) -> str:
    return f"rationale:explain:queued:{model_version_id}"


def publish_flag_set(model_version_id: int) -> bool:
    """True when this caller must publish: no drain task of the version is waiting to start.

    Why nothing is left behind: a publisher commits its rows before it tries the flag. If the
    flag is already there, the task of whoever set it has not yet started its next claim, and
    every drain clears the flag *before* each claim (publish_flag_clear), so that claim sees the
    rows. A Redis error means "publish".
    """
    try:
        return _flag_try(model_version_id)
    except Exception as exc:  # noqa: BLE001 - any Redis failure falls back to publishing
        logger.warning("publish flag unavailable (%s); publishing", exc)
        return True


def _flag_try(model_version_id: int) -> bool:
    """publish_flag_set, raising the Redis error."""
    if flags_client() is None:
        return True
    return flag_set(_flag_key(model_version_id))


def _broker_timed_out(exc: BaseException) -> bool:
    """Whether the flags' Redis is the broker and this error (or the one behind it: kombu wraps
    them) is a timeout: then it hangs, and asking it again in this request waits as long again.
    A refused connection, or one Redis closed on a restart, fails at once and is worth a try."""
    if settings.EXPLAIN_PUBLISH_FLAG_URL != settings.CELERY_BROKER_URL:
        return False
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, TimeoutError | redis_errors.TimeoutError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def publish_flag_clear(model_version_id: int) -> None:
    # If it stays, it expires by itself; the sweeper covers the gap.
    flag_clear(_flag_key(model_version_id), f"publish flag of version {model_version_id}")


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
    if flags_client() is None:
        return False
    try:
        if not flag_set(_fan_out_key(model_version_id)):
            return False
        _publish(model_version_id, queue)
    except Exception as exc:  # noqa: BLE001 - fanning out is an optimisation, never a gate
        logger.warning("could not fan out the explanations of version %s: %s", model_version_id, exc)
        return False
    return True


def fan_out_flag_clear(model_version_id: int) -> None:
    flag_clear(_fan_out_key(model_version_id), f"fan-out flag of version {model_version_id}")


def explanation_enqueue(*, model_version_id: int, queue: str | None = None, coalesce: bool = False) -> bool:
    """Publish one drain task for a model version; False if the broker could not be reached.
    Never raises: a broker outage leaves the rows pending and the sweeper re-enqueues them once
    the broker is back.

    `coalesce` (after recording decisions) skips the publish when a drain task of this version
    is already waiting to start; the sweeper always publishes. A broker that is down costs a
    request at most CELERY_BROKER_CONNECTION_TIMEOUT: a Redis that refuses connections fails at
    once, and one that hangs is not asked again after its first timeout.
    """
    if coalesce:
        try:
            if not _flag_try(model_version_id):
                return True
        except Exception as exc:  # noqa: BLE001 - any Redis failure is handled the same way
            if _broker_timed_out(exc):
                logger.warning(
                    "broker timed out; explanations of version %s wait for the sweeper", model_version_id
                )
                return False
            logger.warning("publish flag unavailable (%s); publishing", exc)
            coalesce = False  # no flag of ours to clear
    try:
        if queue is None:
            version = (
                ModelVersion.objects.select_related("model")
                .only("id", "model__name")
                .get(pk=model_version_id)
            )
            queue = queue_for(version)
        _publish(model_version_id, queue)
    except Exception as exc:  # noqa: BLE001 - any publish failure is handled the same way
        logger.warning("could not enqueue explanations of version %s: %s", model_version_id, exc)
        # Cleared, so that the next decision tries again; not from a broker that hangs: that
        # would wait out the timeout a second time, and the flag expires by itself
        # (EXPLAIN_PUBLISH_FLAG_SECONDS) while the sweeper covers the gap.
        if coalesce and not _broker_timed_out(exc):
            publish_flag_clear(model_version_id)
        return False
    return True


def _enqueue_versions(queues: dict[int, str]) -> None:
    for version_id, queue in queues.items():
        if not explanation_enqueue(model_version_id=version_id, queue=queue, coalesce=True):
            return  # the broker is down: the others would wait on it too; the sweeper has them


def enqueue_on_commit(decisions: list[Decision]) -> None:
    """After the caller's transaction commits (at once outside one), publish a drain task per
    model version of these new decisions, coalesced."""
    # The versions are in memory already: choose the queue now, not with a query after commit.
    versions = {d.model_version_id: d.model_version for d in decisions}
    queues = {version_id: queue_for(versions[version_id]) for version_id in sorted(versions)}
    transaction.on_commit(partial(_enqueue_versions, queues))
