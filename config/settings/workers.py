"""Settings of the asynchronous side: the Celery broker, the explanation workers, exports and the
periodic jobs run by beat. Imported by config/settings/__init__.py, of which they are part."""

from .environment import VAR_DIR, env

# ---------------------------------------------------------------------------- Celery
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),  # kombu's default is ./control
        "store_processed": False,
    }
    for _sub in ("out", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = "cpu"
# A broker outage must not hang the web request that records a decision: publishing gives up
# quickly and the sweeper re-enqueues the pending explanation once the broker is back.
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=1.0)
CELERY_TASK_PUBLISH_RETRY = False
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # kombu reads its retries from here, not from the two settings above: by default a publish
    # to a stopped Redis slept 2 s and tried again, and a connect or a reply from a Redis that
    # hangs had no limit at all. One try, each step within the timeout (explanations.queue).
    CELERY_BROKER_TRANSPORT_OPTIONS.update(
        max_retries=0,
        socket_connect_timeout=CELERY_BROKER_CONNECTION_TIMEOUT,
        socket_timeout=CELERY_BROKER_CONNECTION_TIMEOUT,
    )

# Explanation workers
EXPLAIN_BATCH_SIZE = env.int("EXPLAIN_BATCH_SIZE", default=256)
EXPLAIN_BATCH_WAIT_MS = env.int("EXPLAIN_BATCH_WAIT_MS", default=0)
EXPLAIN_STALE_SECONDS = env.int("EXPLAIN_STALE_SECONDS", default=120)
EXPLAIN_MAX_ATTEMPTS = env.int("EXPLAIN_MAX_ATTEMPTS", default=3)
EXPLAIN_GPU_QUEUE = env.bool("EXPLAIN_GPU_QUEUE", default=False)
# Threads for one batched tree SHAP call (0: all cores). Lower it when running several worker
# processes per machine, so that processes x threads does not exceed the cores.
EXPLAIN_THREADS = env.int("EXPLAIN_THREADS", default=0)
# Coalesced publishing: a web process publishes a drain task for a version only when no task for
# it is queued and not yet started, marked by a Redis flag that the worker clears before each
# claim. One SET NX instead of one Celery publish per decision. Defaults to the broker's Redis;
# empty (the default with any other broker) publishes once per recorded batch of decisions.
EXPLAIN_PUBLISH_FLAG_URL = env.str(
    "EXPLAIN_PUBLISH_FLAG_URL",
    default=CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else "",
)
EXPLAIN_PUBLISH_FLAG_SECONDS = env.float("EXPLAIN_PUBLISH_FLAG_SECONDS", default=10.0)

# Exports: a running export writes a heartbeat every second; after this long without one its
# process is taken for dead and the export re-queued (file) or failed (stream).
EXPORT_STALE_SECONDS = env.int("EXPORT_STALE_SECONDS", default=120)
EXPORT_MAX_ATTEMPTS = env.int("EXPORT_MAX_ATTEMPTS", default=3)
# An export file holds personal data: it is deleted this many days after it was written (the row,
# its hash and signed manifest stay; a download then answers 410 Gone).
EXPORT_FILE_RETENTION_DAYS = env.int("EXPORT_FILE_RETENTION_DAYS", default=7)

EXPLAIN_GPU_MODELS = env.list("EXPLAIN_GPU_MODELS", default=["*"])

CELERY_BEAT_SCHEDULE = {
    "sweep-explanations": {
        "task": "explanations.sweep",
        "schedule": env.float("EXPLAIN_SWEEP_SECONDS", default=30.0),
    },
    "sign-audit-checkpoint": {"task": "audit.sign_checkpoint", "schedule": 60.0},
    "sweep-exports": {"task": "audit.sweep_exports", "schedule": 60.0},
    "erase-expired-personal-data": {"task": "audit.erase_expired_personal_data", "schedule": 3600.0},
    "delete-expired-export-files": {"task": "audit.delete_expired_export_files", "schedule": 3600.0},
    "prune-idempotency-records": {"task": "decisions.prune_idempotency_records", "schedule": 3600.0},
    "review-deadline-alerts": {
        "task": "reviews.deadline_alerts",
        "schedule": env.float("REVIEW_DEADLINE_ALERT_SECONDS", default=300.0),
    },
    # Webhooks (config/settings/webhooks.py): new audit events -> deliveries; due retries.
    "dispatch-webhooks": {
        "task": "webhooks.dispatch",
        "schedule": env.float("WEBHOOK_DISPATCH_SECONDS", default=2.0),
    },
    "sweep-webhooks": {
        "task": "webhooks.sweep",
        "schedule": env.float("WEBHOOK_SWEEP_SECONDS", default=10.0),
    },
}
# Deadline alerts (reviews.deadline_alerts): "near" this long before a review request's due date,
# and before a referred decision's review_due_at (its window is hours: referral deadlines are short).
REVIEW_DEADLINE_NEAR_DAYS = env.int("REVIEW_DEADLINE_NEAR_DAYS", default=3)
REFERRAL_DEADLINE_NEAR_HOURS = env.int("REFERRAL_DEADLINE_NEAR_HOURS", default=12)
