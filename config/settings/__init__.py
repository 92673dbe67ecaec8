"""Settings for every environment, read from environment variables (12-factor).

The same module serves development, CI and production: nothing exists only in production.
Unset DATABASE_URL / CELERY_BROKER_URL give the embedded default (SQLite and a filesystem
broker) so that `make run` works on a bare machine; production and CI set PostgreSQL and Redis.
"""

import base64
import hashlib
from datetime import timedelta

from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

# In modules of their own: staff sign-in (OIDC, second factor), logging, webhooks, and the
# asynchronous side (Celery, explanation workers, exports, beat).
from .auth import *  # noqa: F403
from .email import email_settings
from .environment import BASE_DIR, VAR_DIR, env
from .logs import *  # noqa: F403
from .webhooks import *  # noqa: F403
from .workers import *  # noqa: F403

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
    # A local sign-in's second factor (TOTP): decisions.second_factor.
    "django_otp",
    "django_otp.plugins.otp_totp",
    # Our apps, floor first: each imports only those above it in this list (docs/architecture.md).
    "audit",
    "decisions",
    "explanations",
    "reviews",
    "webhooks",
    "oversight",
    "demo",
]

MIDDLEWARE = [
    # First: every response, a redirect or a refusal too, carries the id its log lines carry.
    "config.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The API's responses hold personal data: no browser or proxy keeps them (config.security).
    "config.security.NoStoreApiMiddleware",
    "config.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Whether the session gave its second factor; until a due one is given, only the sign-in
    # steps answer (decisions.second_factor_middleware).
    "django_otp.middleware.OTPMiddleware",
    "decisions.second_factor_middleware.SecondFactorRequired",
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

# The subject portal's count of unknown access tokens (decisions.subject_access): in memory per
# process for the demo; Redis wherever several processes serve (compose, tests), with short
# timeouts so that an outage skips the count (logged) instead of hanging a page.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    CACHES["default"].setdefault("OPTIONS", {}).update(socket_connect_timeout=1.0, socket_timeout=1.0)

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
    # Single sign-on (config/settings/auth.py): only where a client id is set.
    *(["decisions.sso.StaffOIDCBackend"] if OIDC_RP_CLIENT_ID else []),  # noqa: F405
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
# A data subject's session (their link exchanged for it: decisions.subject_access) ends with the
# browser or after this long without a page of theirs: the computer may be shared. Past the limit
# of unknown tokens from one address in the window, unknown ones get 429; a valid one never does.
SUBJECT_SESSION_SECONDS = env.int("SUBJECT_SESSION_SECONDS", default=3600)
SUBJECT_BAD_TOKEN_LIMIT = env.int("SUBJECT_BAD_TOKEN_LIMIT", default=20)
SUBJECT_BAD_TOKEN_WINDOW_SECONDS = env.int("SUBJECT_BAD_TOKEN_WINDOW_SECONDS", default=600)
# Proxies in front that append the client to X-Forwarded-For (config.proxies). 0: REMOTE_ADDR,
# the header ignored (a client writes what it likes there); 1 behind one TLS proxy.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
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

# Fernet keys (comma-separated, newest first) that encrypt what people write: statements, replies
# and e-mail addresses (config.encryption). The first encrypts, all decrypt; rotate with
# `manage.py rotate_field_keys`. In DEBUG a key derived from SECRET_KEY lets the demo run.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must be set when DEBUG is off "
            '(python -c "from cryptography.fernet import Fernet;print(Fernet.generate_key().decode())")'
        )
    FIELD_ENCRYPTION_KEYS = [
        base64.urlsafe_b64encode(hashlib.sha256(f"{SECRET_KEY}:field-encryption".encode()).digest()).decode()
    ]

# ---------------------------------------------------------------------------- API
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "decisions.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Every view declares its own role; this default refuses anything that forgets to.
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_SCHEMA_CLASS": "config.openapi.AutoSchema",
    # JSON bodies only, depth-bounded (config/parsers.py); the model upload alone takes multipart
    # (decisions/api.py). Accepting forms too made the schema declare them, and generated clients
    # then sent decisions as multipart, which cannot carry nested features.
    "DEFAULT_PARSER_CLASSES": ["config.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "config.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "config.errors.exception_handler",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "config.negotiation.ContentNegotiation",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # The client address DRF's throttles count against: the same entry as config.proxies.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}
# Deepest nesting of arrays and objects in a JSON body or a registered JSON document
# (config/parsers.py): a feature schema nests about 6 levels; deeper is refused with a 400.
API_JSON_MAX_DEPTH = env.int("API_JSON_MAX_DEPTH", default=32)
SPECTACULAR_SETTINGS = {
    "TITLE": "Rationale API",
    "DESCRIPTION": (
        "Record automated decisions, read their SHAP explanations, and serve the GDPR Art. 22 "
        "rights of the people they affect. Authenticate with `Authorization: Api-Key <key>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Tags from the path after /api/v1/ (decisions, models, audit, reviews, subject): a generated
    # client groups its functions by them, where the default made one group, "v1".
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Swagger UI from drf-spectacular-sidecar's static files, not from a CDN: the docs page must
    # work where the servers have no way out to the internet, and load nothing from a third party.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Choices that share a field name (kind, status, grounds) with others get names of their own.
    "ENUM_NAME_OVERRIDES": {
        "ExportKindEnum": "oversight.models.Export.Kind",
        # An export's and an explanation's states are the same four: one name that fits both.
        "JobStatusEnum": "oversight.models.Export.Status",
        "ReviewKindEnum": "reviews.models.ReviewRequest.Kind",
        "ReviewStatusEnum": "reviews.models.ReviewRequest.Status",
        "ReviewGroundsEnum": "reviews.models.ReviewRequest.Grounds",
    },
}

# Decisions
SUBJECT_ACCESS_DAYS = env.int("SUBJECT_ACCESS_DAYS", default=365)
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")
BULK_MAX_DECISIONS = env.int("BULK_MAX_DECISIONS", default=5000)
# Human review before effect (decisions.referral, docs/referrals.md): a referred decision's deadline
# unless its version's rules set their own; how often a process re-reads the group rates of a
# protected-group monitor; the deadline of a review staff open themselves.
REFERRAL_DEADLINE_HOURS = env.int("REFERRAL_DEADLINE_HOURS", default=72)
REFERRAL_GROUP_RATES_SECONDS = env.int("REFERRAL_GROUP_RATES_SECONDS", default=60)
STAFF_REVIEW_DAYS = env.int("STAFF_REVIEW_DAYS", default=14)
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
# Untrusted model artifacts: lost batches (worker process died) before a version is suspended;
# model columns a schema may encode (an image's h x w x c), checked before any per-column work.
MODEL_CRASH_LIMIT = env.int("MODEL_CRASH_LIMIT", default=3)
MODEL_MAX_COLUMNS = env.int("MODEL_MAX_COLUMNS", default=100_000)

# An Idempotency-Key's record holds the first response (features, the subject's link, sealed):
# it answers retries this long, then the key starts afresh and the record is deleted.
IDEMPOTENCY_REPLAY_HOURS = env.int("IDEMPOTENCY_REPLAY_HOURS", default=24)

# Metrics: /metrics (oversight.metrics) answers only a request with `Authorization: Bearer
# <METRICS_TOKEN>`; the figures show how busy and how late the controller is. Empty: no endpoint.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# ---------------------------------------------------------------------------- e-mail
# Notifications to data subjects (reviews.emails): EMAIL_URL is smtp+tls://USER:PASSWORD@HOST:587
# (smtp+ssl://, smtp://), or `none` to send nothing (/readyz says "email": "disabled"). Required
# outside DEBUG, where the console is refused too (config/settings/email.py). EMAIL_TIMEOUT: mail
# is sent after commit inside a request, which a silent server must not hold for ever.
_email_url, _email_backend = env.str("EMAIL_URL", default=""), env.str("EMAIL_BACKEND", default="")
globals().update(email_settings(_email_url, backend=_email_backend, debug=DEBUG))
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="rationale@example.org")
