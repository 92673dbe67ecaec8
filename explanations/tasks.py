"""Celery interface of the explanation workers: ids in, a service call, nothing clever."""

import logging
import os

from celery import shared_task
from celery.signals import task_postrun, worker_process_init, worker_process_shutdown

from audit.services import Actor

from .compute import freeze_after_loading, process_needs_recycling
from .drain import TransientError, explanation_drain, store_thread_stop
from .engine import detect_devices
from .sweeper import explanations_sweep
from .vetting import model_version_check

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    name="explanations.explain_pending",
    acks_late=True,  # safe: claims are conditional, so a redelivered task changes nothing twice
    # A pool process that dies mid-task (a model crashing native code) has its message acked,
    # not requeued: redelivery would kill process after process. Its claimed rows go stale, the
    # sweeper counts the crash against the version and, at MODEL_CRASH_LIMIT, suspends it.
    reject_on_worker_lost=False,
    autoretry_for=(TransientError,),
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=5,
    ignore_result=True,
)
def explain_pending(self, *, model_version_id: int) -> dict:
    result = explanation_drain(model_version_id=model_version_id)
    if result["batches"]:
        logger.info("version %s: %s", model_version_id, result)
    return result


@shared_task(name="explanations.check_model_version", acks_late=True, ignore_result=True)
def check_model_version(*, model_version_id: int) -> str:
    """A new version's registration checks, in a sandboxed child process (explanations.vetting)."""
    version = model_version_check(version_id=model_version_id, actor=Actor.system("registration checks"))
    logger.info("registration checks of %s: %s", version, version.checks.get("state"))
    return version.status


@shared_task(name="explanations.sweep", ignore_result=True)
def sweep() -> dict:
    result = explanations_sweep()
    if result["reset"] or result["failed"]:
        logger.warning("sweeper: %s", result)
    return result


@worker_process_init.connect
def _prepare_process(**kwargs):
    freeze_after_loading()
    logger.info("explanation worker %s devices: %s", os.getpid(), detect_devices())


@worker_process_shutdown.connect
def _stop_store_thread(**kwargs):
    store_thread_stop()


@task_postrun.connect
def _recycle_after_tensorflow_failure(**kwargs):
    # The failure is already stored. If the message is redelivered because the process left
    # before its ack, the rerun finds nothing pending: nothing is lost or done twice. The pool
    # starts a fresh process in its place.
    if process_needs_recycling():
        logger.warning("recycling worker process %s after a TensorFlow failure", os.getpid())
        os._exit(0)
