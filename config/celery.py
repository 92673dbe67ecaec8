import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Before xgboost loads libgomp, which reads it once. By default OpenMP threads spin for a while
# after each parallel region: in a worker, every tree SHAP batch left them burning the cores
# that the store thread and PostgreSQL needed next, a large part of a drain's CPU. Passive
# threads sleep instead. Operators may still set it themselves.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

app = Celery("rationale")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
