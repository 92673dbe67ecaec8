import os

from celery import Celery, signals
from celery.utils.log import get_multiprocessing_logger
from django.conf import settings

from config import request_id
from config.log_filters import RedactingJsonFormatter, RedactSecrets

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Before xgboost loads libgomp, which reads it once. By default OpenMP threads spin for a while
# after each parallel region: in a worker, every tree SHAP batch left them burning the cores
# that the store thread and PostgreSQL needed next, a large part of a drain's CPU. Passive
# threads sleep instead. Operators may still set it themselves.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

app = Celery("rationale")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The message header that carries the publishing request's id to the worker.
REQUEST_ID_HEADER = "rationale_request_id"


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def redact_worker_logs(logger, **kwargs):
    """A worker replaces the root logger's handlers (settings.LOGGING's, which redact) with its
    own: the same filters on those, so no token or e-mail address reaches a worker's log either
    and each line carries its request and task; with LOG_FORMAT=json, the same JSON lines."""
    # The pool's own logger (a child process lost, say) has a handler of its own too.
    for handler in [*logger.handlers, *get_multiprocessing_logger().handlers]:
        if not any(isinstance(f, RedactSecrets) for f in handler.filters):
            handler.addFilter(request_id.RequestIdFilter())
            handler.addFilter(RedactSecrets())
            if settings.LOG_FORMAT == "json":
                options = {k: v for k, v in settings.LOG_FORMATTERS["json"].items() if k != "()"}
                handler.setFormatter(RedactingJsonFormatter(**options))


@signals.before_task_publish.connect
def carry_request_id(headers=None, **kwargs):
    """A task published while a request is served (or by a task that carries one) carries its id.
    Explanation drains are published once per queued drain, not per decision (explanations.queue):
    such a task serves many requests and carries the id of the one that published it."""
    current = request_id.request_id.get()
    if current is not None and headers is not None:
        headers[REQUEST_ID_HEADER] = current


@signals.task_prerun.connect
def enter_task(task_id=None, task=None, **kwargs):
    request_id.request_id.set(getattr(task.request, REQUEST_ID_HEADER, None))
    request_id.task.set((task_id, task.name))


@signals.task_postrun.connect
def leave_task(**kwargs):
    # A pool process runs one task after another: the next one starts with no id of this one's.
    request_id.request_id.set(None)
    request_id.task.set(None)
