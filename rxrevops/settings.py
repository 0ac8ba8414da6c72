"""RxRevOps settings: everything that differs between machines comes from the environment.

`RXREVOPS_ENV` picks the profile: `development` (default), `test` or `production`.
Production refuses to start without a real SECRET_KEY and turns on every transport-security
setting that `manage.py check --deploy` asks for. `.env.example` documents each variable.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import django_stubs_ext
import environ
import plotly
from celery.schedules import crontab
from csp.constants import NONE, SELF, UNSAFE_INLINE

django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

RXREVOPS_ENV = env.str("RXREVOPS_ENV", default="development")
if RXREVOPS_ENV not in {"development", "test", "production"}:
    raise environ.ImproperlyConfigured(
        f"RXREVOPS_ENV must be development, test or production, not {RXREVOPS_ENV!r}"
    )
PRODUCTION = RXREVOPS_ENV == "production"

if PRODUCTION:
    SECRET_KEY = env.str("SECRET_KEY")  # no default: a missing key must stop the deploy
else:
    SECRET_KEY = env.str(
        "SECRET_KEY", default="dev-only-insecure-key-rxrevops-0123456789-abcdefghijklmnopqrstuvwxyz"
    )
DEBUG = env.bool("DEBUG", default=False)
if PRODUCTION and DEBUG:
    raise environ.ImproperlyConfigured("DEBUG must be off when RXREVOPS_ENV=production")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if PRODUCTION else ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "js_lib_htmx",
    "rxrevops",
    "claims",
    "reconciliation",
    "adherence",
    "clinical",
    "dashboards",
    "integrations",
    "webhooks",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    # /api/: refuse an oversized body before anything reads it
    "rxrevops.api.middleware.ApiBodyLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # /api/: ETag on GET answers, 304 for a matching If-None-Match
    "rxrevops.api.middleware.ApiConditionalGetMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # signs out a session idle past SESSION_IDLE_MINUTES (needs messages for the notice)
    "rxrevops.signin.middleware.IdleSessionMiddleware",
    # a signed-in user who owes a TOTP code (or an enrolment) sees nothing else
    "rxrevops.signin.middleware.SecondFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # /api/ POSTs with Idempotency-Key: after authentication (a key belongs to its caller)
    "rxrevops.api.middleware.IdempotencyMiddleware",
    # last, as django-axes asks: turns a locked-out sign-in into the lockout page
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "rxrevops.urls"
WSGI_APPLICATION = "rxrevops.wsgi.application"

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
                "rxrevops.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/rxrevops"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Postgres's JIT compiler off for every connection (DB_JIT=true turns it back on). It compiles
# any statement estimated above jit_above_cost, which at a chain's size is most statements
# over a store's or an organization's claims, and compiling takes longer than they run:
# 1.07 s of a 1.30 s fill upsert of 4,000 fills into a 200,000-fill store, on every batch
# (EXPLAIN ANALYZE); the reconciliation and the dashboard rollups measured the same before.
if not env.bool("DB_JIT", default=False):
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["options"] = f"{_options.get('options', '')} -c jit=off".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
# the shared cache (API rate-limit counters) is the same Redis: every web process must see
# one count per token
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "rxrevops",
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # first: refuses a locked-out username+address before the password is even checked
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="America/Chicago")
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "var" / "static")))
STATICFILES_DIRS = [
    # plotly.js ships inside the plotly Python package; serve that copy, never a CDN
    ("vendor/plotly", Path(plotly.__file__).parent / "package_data"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION
# development and demo: pick up edited CSS/JS without a restart
WHITENOISE_AUTOREFRESH = RXREVOPS_ENV == "development"
# Uploaded files (imports) live outside the web root and are never served as static.
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "var" / "uploads")))

# --- Security -------------------------------------------------------------------------
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # preload is a commitment for the whole domain that browsers keep for months: opt in
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    if not SECURE_HSTS_PRELOAD:
        SILENCED_SYSTEM_CHECKS = ["security.W021"]  # preload left off on purpose
    if env.bool("BEHIND_TLS_PROXY", default=True):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # /healthz is probed over plain HTTP by load balancers and orchestrators
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- Sign-in: lockout, second factor, idle sessions, CSP ------------------------------
# django-axes: LOGIN_FAILURE_LIMIT failed sign-ins for one username from one address lock
# that pair for LOGIN_LOCKOUT_MINUTES (each further attempt restarts the wait). API tokens
# never pass through authenticate() and are not counted.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_LOCKOUT_MINUTES = env.int("LOGIN_LOCKOUT_MINUTES", default=15)
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "rxrevops.signin.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "rxrevops.signin.lockout.client_ip"
AXES_USERNAME_FORM_FIELD = "username"
if AXES_FAILURE_LIMIT < 1 or LOGIN_LOCKOUT_MINUTES < 1:
    raise environ.ImproperlyConfigured(
        "LOGIN_FAILURE_LIMIT and LOGIN_LOCKOUT_MINUTES must be at least 1"
    )
# owners must add a TOTP authenticator before anything else (others may, optionally)
REQUIRE_OWNER_TOTP = env.bool("REQUIRE_OWNER_TOTP", default=False)
# the issuer name authenticator apps show next to the account
OTP_TOTP_ISSUER = env.str("TOTP_ISSUER", default="RxRevOps")
# a signed-in session ends after this many minutes without a request (SESSION_COOKIE_AGE
# still ends it this long after sign-in, active or not)
SESSION_IDLE_MINUTES = env.int("SESSION_IDLE_MINUTES", default=30)
if SESSION_IDLE_MINUTES < 1:
    raise environ.ImproperlyConfigured("SESSION_IDLE_MINUTES must be at least 1")
# Every page satisfies this policy: scripts only from our own static files (no inline
# script, no event-handler attribute, no eval). Styles allow 'unsafe-inline': plotly.js
# injects <style> elements for its charts (it warns "Cannot addRelatedStyleRule, probably due
# to strict CSP" and the modebar and hover labels lose their styling), and so do htmx (its
# request-indicator rule) and the Swagger UI page. tests/e2e/test_csp.py walks the pages.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- API ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rxrevops.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "rxrevops.api.schema.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rxrevops.api.pagination.Cursor",
    "PAGE_SIZE": 100,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # every error an RFC 9457 problem (rxrevops.api.problems)
    "EXCEPTION_HANDLER": "rxrevops.api.problems.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["rxrevops.api.throttling.PrincipalRateThrottle"],
}
# requests per API token (or signed-in user) per period: N/second, N/minute, N/hour, N/day
API_RATE_LIMIT = env.str("API_RATE_LIMIT", default="600/minute")
if not re.fullmatch(r"\d+/(s|sec|second|m|min|minute|h|hour|d|day)", API_RATE_LIMIT):
    raise environ.ImproperlyConfigured(
        f"API_RATE_LIMIT must look like 600/minute (N/second|minute|hour|day), "
        f"not {API_RATE_LIMIT!r}"
    )
# largest request body an API endpoint reads; the import upload allows its file limit
# (512 MB) instead. Larger: 413 before the body is read.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=5 * 1024 * 1024)
# how long a POST's Idempotency-Key and its stored answer are kept
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24)
SPECTACULAR_SETTINGS = {
    "TITLE": "RxRevOps API",
    "DESCRIPTION": (
        "Integration API for pharmacy management systems and central staff. "
        "Authenticate with `Authorization: Token <key>`; tokens are created by an owner "
        "and scoped to an organization, optionally to locations, and to scopes."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and Redoc come from drf-spectacular-sidecar, served locally
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # several models have a `kind`; name the MTM one so the others keep theirs
    "ENUM_NAME_OVERRIDES": {
        "EncounterKindEnum": "clinical.models.Encounter.Kind",
        "ClaimResultStatusEnum": "reconciliation.models.ClaimResult.Status",
        "CaseStatusEnum": "reconciliation.case_models.ExceptionCase.Status",
        "JobStatusEnum": "rxrevops.models.jobs.Job.Status",
        "PushItemStatusEnum": "claims.services.fill_push.ITEM_STATUSES",
    },
}

# --- Celery ---------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
# A task is acknowledged only after it ran; if its worker dies the message is redelivered.
# Safe because every task claims its work atomically and writes idempotently.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
RXREVOPS_QUEUES = ["ingest", "recon", "analytics", "default"]
CELERY_TASK_ROUTES = {
    "claims.tasks.*": {"queue": "ingest"},
    "reconciliation.tasks.*": {"queue": "recon"},
    "adherence.tasks.*": {"queue": "analytics"},
    "dashboards.tasks.*": {"queue": "analytics"},
    "clinical.tasks.*": {"queue": "default"},
}
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # longer than the longest job, or Redis hands a running task to a second worker
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=6 * 3600),
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    # webhook deliveries a lost task message or a restarted worker left waiting
    "webhooks-send-due": {
        "task": "webhooks.tasks.webhooks_send_due",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "requeue-stalled-jobs": {
        "task": "rxrevops.tasks.jobs_requeue_stalled",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "reconcile-nightly": {
        "task": "reconciliation.tasks.reconcile_nightly",
        "schedule": crontab(hour=3, minute=15),
        "options": {"expires": 3600},
    },
    "worklists-nightly": {
        "task": "adherence.tasks.worklists_nightly",
        "schedule": crontab(hour=2, minute=30),
        "options": {"expires": 3600},
    },
    # after the nightly reconciliation (which queues its own full refresh): drug classes
    # from new value sets, and a refresh a lost follow-up missed
    "rollups-nightly": {
        "task": "dashboards.tasks.rollups_nightly",
        "schedule": crontab(hour=4, minute=45),
        "options": {"expires": 3600},
    },
    "idempotency-keys-purge": {
        "task": "rxrevops.tasks.idempotency_keys_purge",
        "schedule": crontab(minute=20),
        "options": {"expires": 3000},
    },
    "beat-heartbeat": {
        "task": "rxrevops.tasks.beat_heartbeat",
        "schedule": 30.0,
        "options": {"expires": 55},
    },
    # the immunization registry outbox: first sends the broker missed, and retries
    "registry-send-due": {
        "task": "clinical.tasks.registry_send_due",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
}
WORKER_HEARTBEAT_SECONDS = 10
JOB_STALL_SECONDS = env.int("JOB_STALL_SECONDS", default=300)
# rebuild adherence results and worklists after each PMS import that changed rows
WORKLISTS_AFTER_IMPORT = env.bool("WORKLISTS_AFTER_IMPORT", default=True)
# days a payer has to pay a claim when no contract says otherwise; past it, an unpaid claim
# is overdue
RECON_DAYS_TO_PAY = env.int("RECON_DAYS_TO_PAY", default=30)
# reconcile after each import that changed claims, remittances, fees or costs
RECONCILE_AFTER_IMPORT = env.bool("RECONCILE_AFTER_IMPORT", default=True)
# most fills one POST /api/v1/fills/bulk/ takes (more: 413, send them in batches)
FILL_PUSH_MAX_ITEMS = env.int("FILL_PUSH_MAX_ITEMS", default=5000)
# refresh the margin rollups the dashboards read after each successful reconciliation run
ROLLUPS_AFTER_RECONCILE = env.bool("ROLLUPS_AFTER_RECONCILE", default=True)
# seconds the dashboards keep an answer of the margin rollups (dropped at once when the
# organization's rollups are refreshed; 0: always read Postgres)
DASHBOARD_CACHE_SECONDS = env.int("DASHBOARD_CACHE_SECONDS", default=3600)
# outbound webhooks: seconds a receiver has to answer, attempts before giving up (retries
# wait 30 s, 1 min, 2 min, ... at most 6 h), and whether a URL may point at a loopback or
# private address (only for a receiver on the same machine or network, e.g. in tests)
WEBHOOK_TIMEOUT_SECONDS = env.int("WEBHOOK_TIMEOUT_SECONDS", default=10)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)
WEBHOOK_ALLOW_PRIVATE_TARGETS = env.bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", default=False)
# the chain's clinical-service charges (shape of clinical/codes/fees.json); blank: that file
CLINICAL_FEE_SCHEDULE = env.str("CLINICAL_FEE_SCHEDULE", default="")
# a stand-in state registry at /clinical/registry-sandbox/ that answers VXUs with ACKs (for
# the demo; never on in production)
IMMUNIZATION_REGISTRY_SANDBOX = env.bool("IMMUNIZATION_REGISTRY_SANDBOX", default=False)
if PRODUCTION and IMMUNIZATION_REGISTRY_SANDBOX:
    raise environ.ImproperlyConfigured(
        "IMMUNIZATION_REGISTRY_SANDBOX must be off when RXREVOPS_ENV=production"
    )

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # no patient data in log lines: database errors quote the rows they refuse (rxrevops.logs)
    "formatters": {
        "plain": {
            "()": "rxrevops.logs.PhiSafeFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # django-axes logs every successful sign-in at INFO; failures and lockouts are WARNING
    "loggers": {"axes": {"level": "WARNING"}},
}
