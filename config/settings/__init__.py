"""Settings for every environment, read from environment variables (12-factor).

The same module serves development, CI and production: nothing exists only in production.
Unset DATABASE_URL / CELERY_BROKER_URL give the embedded default (SQLite and a filesystem
broker) so that `make run` works on a bare machine; production and CI set PostgreSQL and Redis.
"""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(environ.Env().str("RATIONALE_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-development-key-only-for-debug"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "axes",
    "csp",
    # Our apps, floor first: each imports only those above it in this list (docs/architecture.md).
    "audit",
    "decisions",
    "explanations",
    "reviews",
    "oversight",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a sign-in refused for too many failures into the locked-out page (below).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "decisions.context_processors.roles",
            ],
        },
    },
]

# ---------------------------------------------------------------------------- database
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'rationale.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The demo's web and worker processes share the file: IMMEDIATE transactions take the write
    # lock up front (no upgrade deadlocks) and WAL lets readers go on while one writes.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 30, "init_command": "PRAGMA journal_mode=WAL;"}
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend, whose health check asks the socket instead of sending SELECT 1.
        DATABASES["default"]["ENGINE"] = "config.postgresql"
    # Server-side binding lets psycopg prepare each statement a connection has run
    # DB_PREPARE_THRESHOLD times: PostgreSQL then parses and plans it once per connection, not on
    # every request, which was a large share of its CPU per recorded decision. Empty turns
    # preparing off, for a pooler that cannot keep prepared statements (PgBouncer before 1.21 in
    # transaction mode).
    threshold = env.str("DB_PREPARE_THRESHOLD", default="5").strip()
    # Not 0 (prepare every statement at once): a prepared statement holds one command, and
    # migrations send several in one.
    if threshold and (not threshold.isdigit() or int(threshold) < 1):
        raise ImproperlyConfigured(
            f"DB_PREPARE_THRESHOLD must be a whole number from 1, or empty to prepare nothing; got {threshold!r}"
        )
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True, prepare_threshold=int(threshold) if threshold else None
    )
# PostgreSQL: each connection caches the API-key and model-version rows every recorded decision
# looks up, and LISTENs for the database's announcement of any change to them (config.postgresql).
# Turn it off behind a pooler in transaction mode (PgBouncer), where a LISTEN does not stay with
# the client.
DB_REGISTRY_CACHE = env.bool("DB_REGISTRY_CACHE", default=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The subject portal counts failed access-link attempts here. A per-process memory cache works
# for one web process; with several, set CACHE_URL (e.g. redis://127.0.0.1:6379/2) so the limit
# is shared.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Staff sign-ins (the site and the admin) are limited by django-axes: after LOGIN_FAILURE_LIMIT
# failures for one username from one address, that pair is refused for LOGIN_LOCKOUT_MINUTES,
# even with the right password (429 and a page saying so). Per pair, so that nobody can lock a
# colleague out from elsewhere, and an office behind one address is not locked out as a whole.
# Failures are counted in the database (axes_accessattempt), so every web process sees them
# whatever the cache. Those rows hold the attempted username and the address: they are deleted
# on a successful sign-in and, once older than the lockout, at the next sign-in event; successful
# sign-ins are not logged by axes (the audit log records them, and each failure).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True
AXES_CLIENT_IP_CALLABLE = "config.views.signin_client_ip"
AXES_LOCKOUT_CALLABLE = "config.views.signin_locked_out"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# ---------------------------------------------------------------------------- i18n
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Each language writes dates its own way ("5 December 2026", "5. Dezember 2026"): config/formats.
FORMAT_MODULE_PATH = "config.formats"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# ---------------------------------------------------------------------------- security
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp, config/security.py): our pages load scripts, styles and
# images only from this site, and nothing may frame them. No page of ours has inline script or
# style; Swagger UI's own inline style is allowed on its page alone (config/urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# A staff session (it reads data subjects' decisions) lasts a working day, not Django's two weeks.
SESSION_COOKIE_AGE = env.int("SESSION_HOURS", default=8) * 3600
# HTTPS. Off by default because TLS ends at the proxy in front, which should redirect HTTP itself;
# set them where Django must do it (operators.md). The probes stay reachable over plain HTTP.
SECURE_HSTS_SECONDS = env.int("HSTS_SECONDS", default=0)
SECURE_SSL_REDIRECT = env.bool("SSL_REDIRECT", default=False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    # Only behind a proxy that sets this header on every request and drops a client's own.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Ed25519 key that signs audit checkpoints and export manifests (base64 of the 32-byte seed).
# In DEBUG a key is generated once into var/ so the demo runs with no set-up.
AUDIT_SIGNING_KEY = env.str("AUDIT_SIGNING_KEY", default="")
if not AUDIT_SIGNING_KEY and not DEBUG:
    raise ImproperlyConfigured(
        "AUDIT_SIGNING_KEY must be set when DEBUG is off "
        '(python -c "import base64,os;print(base64.b64encode(os.urandom(32)).decode())")'
    )
AUDIT_SIGNING_KEY_FILE = VAR_DIR / "audit-signing-key"

# ---------------------------------------------------------------------------- API
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "decisions.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Every view declares its own role; this default refuses anything that forgets to.
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_SCHEMA_CLASS": "config.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "config.errors.exception_handler",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "config.negotiation.ContentNegotiation",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Rationale API",
    "DESCRIPTION": (
        "Record automated decisions, read their SHAP explanations, and serve the GDPR Art. 22 "
        "rights of the people they affect. Authenticate with `Authorization: Api-Key <key>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from drf-spectacular-sidecar's static files, not from a CDN: the docs page must
    # work where the servers have no way out to the internet, and load nothing from a third party.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Choices that share a field name (kind, status, grounds) with others get names of their own.
    "ENUM_NAME_OVERRIDES": {
        "ExportKindEnum": "oversight.models.Export.Kind",
        "ExportStatusEnum": "oversight.models.Export.Status",
        "ReviewKindEnum": "reviews.models.ReviewRequest.Kind",
        "ReviewStatusEnum": "reviews.models.ReviewRequest.Status",
        "ReviewGroundsEnum": "reviews.models.ReviewRequest.Grounds",
    },
}

# Decisions
SUBJECT_ACCESS_DAYS = env.int("SUBJECT_ACCESS_DAYS", default=365)
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")
BULK_MAX_DECISIONS = env.int("BULK_MAX_DECISIONS", default=5000)
# Largest request body read into memory (Django's DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MB by default,
# refused the documented 5,000-decision bulk: about 3 MB of credit decisions). Uploaded files of a
# model registration do not count against it. A larger body is a 413 naming the limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_REQUEST_BYTES", default=16 * 1024 * 1024)

# Model registration (decisions.registration, explanations.vetting). The artifact is untrusted
# until its checks pass; they run in a process of their own with these limits, never in a web or
# worker process.
MODEL_ARTIFACT_MAX_BYTES = env.int("MODEL_ARTIFACT_MAX_BYTES", default=64 * 1024 * 1024)
MODEL_BACKGROUND_MAX_BYTES = env.int("MODEL_BACKGROUND_MAX_BYTES", default=16 * 1024 * 1024)
MODEL_BACKGROUND_MAX_ROWS = env.int("MODEL_BACKGROUND_MAX_ROWS", default=1000)
MODEL_CHECK_MEMORY_BYTES = env.int("MODEL_CHECK_MEMORY_BYTES", default=8 * 1024**3)
MODEL_CHECK_CPU_SECONDS = env.int("MODEL_CHECK_CPU_SECONDS", default=300)
MODEL_CHECK_TIMEOUT_SECONDS = env.int("MODEL_CHECK_TIMEOUT_SECONDS", default=300)
MODEL_CHECK_FILE_BYTES = env.int("MODEL_CHECK_FILE_BYTES", default=256 * 1024 * 1024)

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

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # axes: its INFO lines repeat every sign-in; its warnings (a lockout) stay.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="rationale@example.org")
EXPLAIN_GPU_MODELS = env.list("EXPLAIN_GPU_MODELS", default=["*"])

CELERY_BEAT_SCHEDULE = {
    "sweep-explanations": {
        "task": "explanations.sweep",
        "schedule": env.float("EXPLAIN_SWEEP_SECONDS", default=30.0),
    },
    "sign-audit-checkpoint": {"task": "audit.sign_checkpoint", "schedule": 60.0},
    "sweep-exports": {"task": "audit.sweep_exports", "schedule": 60.0},
    "erase-expired-personal-data": {"task": "audit.erase_expired_personal_data", "schedule": 3600.0},
}
