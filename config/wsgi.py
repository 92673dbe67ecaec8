"""The WSGI application, as gunicorn loads it.

After loading it, this imports what serving a request needs (the URLconf with every view, and
the tree models' runtime: xgboost brings pandas, SciPy and scikit-learn) and then moves
everything loaded so far out of the garbage collector's generations (`gc.freeze`). Those objects
live as long as the process. Without this, each full collection walked all of them and stopped
a web worker long enough, a few times a minute under load, to set the ingest p99. With
gunicorn's --preload this runs once in the master before it forks, so the workers' collections
also stop copying those shared pages.
"""

import gc
import os
from importlib import import_module

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

get_resolver().url_patterns  # noqa: B018 - imports every view now, not on the first request
import_module("xgboost")
gc.freeze()
