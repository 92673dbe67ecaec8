import os

from celery import Celery, signals

from config.log_filters import RedactSecrets

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Before xgboost loads libgomp, which reads it once. By default OpenMP threads spin for a while
# after each parallel region: in a worker, every tree SHAP batch left them burning the cores
# that the store thread and PostgreSQL needed next, a large part of a drain's CPU. Passive
# threads sleep instead. Operators may still set it themselves.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

app = Celery("rationale")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def redact_worker_logs(logger, **kwargs):
    """A worker replaces the root logger's handlers (settings.LOGGING's, which redact) with its
    own: the same filter on those, so no token or e-mail address reaches a worker's log either."""
    for handler in logger.handlers:
        if not any(isinstance(f, RedactSecrets) for f in handler.filters):
            handler.addFilter(RedactSecrets())
