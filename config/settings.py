"""Django settings for Seedgallery: the one place that reads the environment."""

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import getproxies_environment

import dj_database_url
from botocore.config import Config as BotoConfig
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def envbool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from exc


def envfloat(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from exc


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


# --- Core -------------------------------------------------------------------
DEBUG = envbool("DEBUG", False)
SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set: set SECRET_KEY in the environment (or DEBUG=1 for local work)."
        )
    SECRET_KEY = "dev-only-insecure-key-never-used-in-production"  # noqa: S105

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "storages",
    "axes",
    "csp",
    "ninja",  # its Swagger UI assets are served from static files, not a CDN
    "taggit",
    "gallery",
]

MIDDLEWARE = [
    # First: a form body in another charset is refused before anything reads it.
    "gallery.middleware.FormCharsetMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # WhiteNoise, async-capable, so an async view under ASGI never holds a thread.
    "gallery.middleware.StaticFilesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "gallery.middleware.SessionLifetimeMiddleware",
    "gallery.middleware.PrivateCacheMiddleware",
    "gallery.middleware.AdminDateLookupMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "gallery.content_security.ContentSecurityPolicyMiddleware",
    # Last: turns a locked-out login into its 429 page.
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
                "gallery.navigation.running_jobs",
            ],
        },
    },
]

# --- Database: SQLite (WAL) unless DATABASE_URL is set ----------------------
DATABASE_URL = env("DATABASE_URL")
if DATABASE_URL:
    # Persistent connections, checked before reuse: a PostgreSQL restart costs one failed
    # check per thread instead of an error in the middle of a job.
    DATABASES = {
        "default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
    }
    # A pool shared by a process's threads (psycopg_pool), instead of a connection per thread:
    # a threaded worker hands its connection back before each provider call and takes one
    # again in ~0.25 ms, against ~1.5 ms (and a new server process) to reconnect. 0: off.
    DATABASE_POOL_MAX_SIZE = envint("DATABASE_POOL_MAX_SIZE", 0)
    if DATABASE_POOL_MAX_SIZE:
        DATABASES["default"]["CONN_MAX_AGE"] = 0  # Django's rule: a pool, not persistence
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": min(4, DATABASE_POOL_MAX_SIZE),
            "max_size": DATABASE_POOL_MAX_SIZE,
            "timeout": envfloat("DATABASE_POOL_TIMEOUT", 30.0),
        }
else:
    SQLITE_PATH = Path(env("SQLITE_PATH", str(BASE_DIR / ".local" / "db.sqlite3")))
    SQLITE_TEST_PATH = Path(env("SQLITE_TEST_PATH", str(BASE_DIR / ".local" / "test-db.sqlite3")))
    # SQLite creates the file but not its folder: every command (tests, migrate, a worker)
    # must stand alone on a fresh clone, not only after `make dev` made .local/.
    for sqlite_dir in {SQLITE_PATH.parent, SQLITE_TEST_PATH.parent}:
        sqlite_dir.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(SQLITE_PATH),
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;"
                ),
            },
            # A file, not memory, so a Celery worker process can share the test database.
            "TEST": {"NAME": str(SQLITE_TEST_PATH)},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First, so a locked-out login is refused before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "gallery:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
# The interface follows the browser's Accept-Language unless the member picks one.
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files (whitenoise) and media (S3) -------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / ".local" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

AWS_S3_ENDPOINT_URL = env("AWS_S3_ENDPOINT_URL", "http://127.0.0.1:8333")
# The S3 endpoint browsers reach (through the HTTPS proxy in production): every URL handed
# to a browser is signed for it. The app itself talks to AWS_S3_ENDPOINT_URL.
AWS_S3_PUBLIC_ENDPOINT_URL = env("AWS_S3_PUBLIC_ENDPOINT_URL", AWS_S3_ENDPOINT_URL)
AWS_ACCESS_KEY_ID = env("AWS_ACCESS_KEY_ID", "seedgallery-dev" if DEBUG else "")
AWS_SECRET_ACCESS_KEY = env("AWS_SECRET_ACCESS_KEY", "seedgallery-dev-secret" if DEBUG else "")
AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME", "seedgallery")
AWS_S3_REGION_NAME = env("AWS_S3_REGION_NAME", "us-east-1")
AWS_S3_ADDRESSING_STYLE = "path"
AWS_S3_SIGNATURE_VERSION = "s3v4"
AWS_DEFAULT_ACL = None  # the bucket stays private: no public-read objects
AWS_QUERYSTRING_AUTH = True  # every URL handed out is presigned
AWS_QUERYSTRING_EXPIRE = envint("AWS_QUERYSTRING_EXPIRE", 3600)
AWS_S3_FILE_OVERWRITE = True  # keys are content-addressed: same key, same bytes
AWS_S3_MAX_MEMORY_SIZE = 8 * 1024 * 1024
# A threaded worker stores ~50 images at once: a pool that large, short timeouts, and a
# retry or two for a blip; a longer outage is the pipeline's to wait out.
AWS_S3_CONNECT_TIMEOUT = envfloat("AWS_S3_CONNECT_TIMEOUT", 3.0)
AWS_S3_READ_TIMEOUT = envfloat("AWS_S3_READ_TIMEOUT", 30.0)
AWS_S3_CLIENT_CONFIG = BotoConfig(
    connect_timeout=AWS_S3_CONNECT_TIMEOUT,
    read_timeout=AWS_S3_READ_TIMEOUT,
    retries={"max_attempts": 2, "mode": "standard"},
    max_pool_connections=64,
    signature_version="s3v4",
    s3={"addressing_style": "path"},
)

STORAGES = {
    "default": {"BACKEND": "gallery.storage.MediaStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Redis and Celery -------------------------------------------------------
REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None  # the Generation row is the result
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery enforces these on the prefork pool only: on the threads pool the worker runs they do
# nothing. What bounds a task there is the pipeline's own wall-clock deadlines (the provider
# call's SEEDREAM_TOTAL_TIMEOUT, the image download's INGEST_TOTAL_TIMEOUT).
CELERY_TASK_SOFT_TIME_LIMIT = envint("CELERY_TASK_SOFT_TIME_LIMIT", 240)
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", 300)
# Longer than a call's lease plus the longest retry delay (a countdown message waits in the
# unacked set that long), so a live task is never redelivered: the worker refuses to start
# otherwise. Abandoned messages (a killed worker's) come back after the visibility timeout;
# scan for them every CELERY_UNACKED_RESTORE_INTERVAL seconds.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT", 900),
    "unacked_restore_interval": envint("CELERY_UNACKED_RESTORE_INTERVAL", 30),
    "unacked_restore_throttle": 1,
}
CELERY_WORKER_POOL = env("CELERY_WORKER_POOL", "threads")
# Provider calls in flight per worker process. The pool has more threads than that, so a
# thread storing a finished image never keeps the next call waiting; a thread holds no
# database connection while it waits for a call slot or for the provider.
GENERATION_PROVIDER_CONCURRENCY = envint("GENERATION_PROVIDER_CONCURRENCY", 50)
if GENERATION_PROVIDER_CONCURRENCY < 1:
    raise ImproperlyConfigured("GENERATION_PROVIDER_CONCURRENCY must be at least 1")
CELERY_WORKER_CONCURRENCY = envint("CELERY_WORKER_CONCURRENCY", 2 * GENERATION_PROVIDER_CONCURRENCY)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = env(
    "CELERY_BEAT_SCHEDULE_FILENAME", str(BASE_DIR / ".local" / "celerybeat-schedule")
)
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE = {
    # Every 30 s: with GENERATION_STUCK_AFTER (60 s) and the call lease (80 s), a job whose
    # worker or message was lost runs again within two minutes.
    "sweep-stuck-generations": {"task": "gallery.sweep_stuck_generations", "schedule": 30.0},
    "purge-idempotency-keys": {"task": "gallery.purge_idempotency_keys", "schedule": 3600.0},
    # Share-link views are counted in Redis and written to the rows once a minute.
    "flush-share-views": {"task": "gallery.flush_share_views", "schedule": 60.0},
}

# --- Seedream provider ------------------------------------------------------
SEEDREAM_BASE_URL = env("SEEDREAM_BASE_URL", "http://127.0.0.1:8090/v1")
SEEDREAM_API_KEY = env("SEEDREAM_API_KEY")
SEEDREAM_MODEL = env("SEEDREAM_MODEL", "doubao-seedream-3-0-t2i-250415")
SEEDREAM_ALLOWED_MODELS = envlist("SEEDREAM_ALLOWED_MODELS", SEEDREAM_MODEL)
SEEDREAM_CONNECT_TIMEOUT = envfloat("SEEDREAM_CONNECT_TIMEOUT", 5.0)
SEEDREAM_READ_TIMEOUT = envfloat("SEEDREAM_READ_TIMEOUT", 60.0)
# The whole call, connect to last byte: requests' timeouts bound each read only. The default
# leaves 10 s for the body after an answer that came at the last moment.
SEEDREAM_TOTAL_TIMEOUT = envfloat(
    "SEEDREAM_TOTAL_TIMEOUT", SEEDREAM_CONNECT_TIMEOUT + SEEDREAM_READ_TIMEOUT + 10
)
# The largest answer body read (a b64_json answer of a 2048x2048 image is a few MB).
SEEDREAM_MAX_RESPONSE_BYTES = envint("SEEDREAM_MAX_RESPONSE_BYTES", 40 * 1024 * 1024)
# Pacing: the account's images per minute, shared by every worker through one token bucket in
# Redis; empty means no pacing. The bucket holds up to SEEDREAM_IPM_BURST tokens (default 1% of
# the limit) and refills a little under the limit, so no sliding minute holds more than it.
SEEDREAM_IPM_LIMIT = envint("SEEDREAM_IPM_LIMIT", 0)
if SEEDREAM_IPM_LIMIT < 0:
    raise ImproperlyConfigured("SEEDREAM_IPM_LIMIT must be empty (no pacing) or a positive number")
SEEDREAM_IPM_BURST = envint("SEEDREAM_IPM_BURST", max(1, SEEDREAM_IPM_LIMIT // 100))
if SEEDREAM_IPM_LIMIT and not 1 <= SEEDREAM_IPM_BURST <= SEEDREAM_IPM_LIMIT // 3 + 1:
    raise ImproperlyConfigured("SEEDREAM_IPM_BURST must be from 1 to a third of SEEDREAM_IPM_LIMIT")
# How long a 429 without Retry-After stops every call; how long a job may keep meeting 429s
# (from its first) before it fails as rate limited.
SEEDREAM_RATE_LIMIT_WAIT = envfloat("SEEDREAM_RATE_LIMIT_WAIT", 60.0)
if not SEEDREAM_RATE_LIMIT_WAIT > 0:
    raise ImproperlyConfigured("SEEDREAM_RATE_LIMIT_WAIT must be a number of seconds above 0")
GENERATION_RATE_LIMIT_BUDGET = envfloat("GENERATION_RATE_LIMIT_BUDGET", 30 * 60.0)
if not GENERATION_RATE_LIMIT_BUDGET >= 0:
    raise ImproperlyConfigured(
        "GENERATION_RATE_LIMIT_BUDGET must be a number of seconds, 0 or more"
    )
USER_AGENT = "Seedgallery/0.1 (+self-hosted; python-requests)"
# requests rescans the environment for proxies and CA bundles on every request (~0.2 ms a
# call): the app's outbound sessions (provider, downloads) read them here once instead, and
# rescan only where a proxy is set (its NO_PROXY exceptions are per host).
HTTP_PROXY_FROM_ENV = bool(set(getproxies_environment()) - {"no"})
HTTP_CA_BUNDLE = env("REQUESTS_CA_BUNDLE") or env("CURL_CA_BUNDLE")  # empty: certifi's

# --- Seedream emulator (dev stack and tests) --------------------------------
SEEDREAM_EMULATOR_KEYS = envlist("SEEDREAM_EMULATOR_KEYS")
SEEDREAM_EMULATOR_LATENCY = envfloat("SEEDREAM_EMULATOR_LATENCY", 0.0)  # seconds per request
SEEDREAM_EMULATOR_URL_TTL = envint("SEEDREAM_EMULATOR_URL_TTL", 24 * 3600)  # signed URL life
# Base of the image URLs it hands out; empty means "the host the request came to".
SEEDREAM_EMULATOR_PUBLIC_URL = env("SEEDREAM_EMULATOR_PUBLIC_URL")
# Images per minute (sliding window) the emulator takes before answering 429; unset: no limit.
SEEDREAM_EMULATOR_IPM = envint("SEEDREAM_EMULATOR_IPM", 0)
if SEEDREAM_EMULATOR_IPM < 0:
    raise ImproperlyConfigured("SEEDREAM_EMULATOR_IPM must be 0 (no limit) or more")

# --- Generation pipeline ----------------------------------------------------
GENERATION_MAX_VARIATIONS = envint("GENERATION_MAX_VARIATIONS", 4)
GENERATION_DAILY_IMAGE_LIMIT = envint("GENERATION_DAILY_IMAGE_LIMIT", 100)
GENERATION_MAX_PROVIDER_ATTEMPTS = envint("GENERATION_MAX_PROVIDER_ATTEMPTS", 4)
GENERATION_MAX_INGEST_ATTEMPTS = envint("GENERATION_MAX_INGEST_ATTEMPTS", 8)
GENERATION_RETRY_BASE_DELAY = envfloat("GENERATION_RETRY_BASE_DELAY", 2.0)
GENERATION_RETRY_MAX_DELAY = envfloat("GENERATION_RETRY_MAX_DELAY", 60.0)
# Seconds a queued or storing job may stay overdue, with no message for it in the broker's
# queue, before the sweeper queues it again (a `calling` job: once its call's lease passed).
GENERATION_STUCK_AFTER = envint("GENERATION_STUCK_AFTER", 60)
GENERATION_PROVIDER_URL_LIFETIME = envint("GENERATION_PROVIDER_URL_LIFETIME", 23 * 3600)
INGEST_MAX_BYTES = envint("INGEST_MAX_BYTES", 30 * 1024 * 1024)
INGEST_CONNECT_TIMEOUT = envfloat("INGEST_CONNECT_TIMEOUT", 5.0)
INGEST_READ_TIMEOUT = envfloat("INGEST_READ_TIMEOUT", 30.0)
INGEST_TOTAL_TIMEOUT = envfloat("INGEST_TOTAL_TIMEOUT", 60.0)  # the whole download
# Hosts allowed over plain http, at any port (the emulator); anything else must be https on
# port 443 to a public address. Outside DEBUG a listed host counts only while SEEDREAM_BASE_URL
# names it, so the emulator's host is never trusted once the real API is configured.
INGEST_ALLOWED_HTTP_HOSTS = envlist(
    "INGEST_ALLOWED_HTTP_HOSTS", "127.0.0.1,localhost" if DEBUG else ""
)
if not DEBUG:
    INGEST_ALLOWED_HTTP_HOSTS = [
        host
        for host in INGEST_ALLOWED_HTTP_HOSTS
        if host.lower() == (urlsplit(SEEDREAM_BASE_URL).hostname or "").lower()
    ]
THUMBNAIL_SIZE = envint("THUMBNAIL_SIZE", 384)

# --- Gateway (/v1/) and JSON API (/api/) -------------------------------------
# Longest a gateway request waits for its image; after that it answers with the
# generation's id and gallery URL, and the image still lands in the gallery.
GATEWAY_WAIT_TIMEOUT = envfloat("GATEWAY_WAIT_TIMEOUT", 120.0)
# Requests per minute one API token may make (gateway and JSON API together).
API_TOKEN_RATE_LIMIT = envint("API_TOKEN_RATE_LIMIT", 60)

# --- Gallery -----------------------------------------------------------------
# Who sees a new image unless its author chooses: private, team or public.
GALLERY_DEFAULT_VISIBILITY = env("GALLERY_DEFAULT_VISIBILITY", "team")
if GALLERY_DEFAULT_VISIBILITY not in ("private", "team", "public"):
    raise ImproperlyConfigured("GALLERY_DEFAULT_VISIBILITY must be private, team or public")
# The public showcase /explore/ (public images of members who opted in): off unless set.
GALLERY_EXPLORE_ENABLED = envbool("GALLERY_EXPLORE_ENABLED", False)

# --- Share links (/s/<token>/) and other public pages ------------------------
# Lifetime of the presigned S3 URLs on public pages. URLs are signed at the start of a window
# of a quarter of it, so each lives 3/4 to all of it: 300 s bounds how long an image URL
# copied from a page outlives a revoke, an expiry or a hide, while a visitor's open page
# keeps working for minutes (the lightbox and Download mint fresh URLs through checked views).
SHARE_URL_LIFETIME = envint("SHARE_URL_LIFETIME", 300)
if not 4 <= SHARE_URL_LIFETIME <= 3600:
    raise ImproperlyConfigured("SHARE_URL_LIFETIME must be from 4 to 3600 seconds")
# Per client address (django-ratelimit's rate strings): page views of /s/ and /explore/ (a
# collection's lightbox steps count too), password attempts, and reports.
SHARE_VIEW_RATE = env("SHARE_VIEW_RATE", "120/m")
SHARE_PASSWORD_RATE = env("SHARE_PASSWORD_RATE", "10/10m")
SHARE_REPORT_RATE = env("SHARE_REPORT_RATE", "5/h")
# A visitor (address and browser) counts once per link in this many seconds; an unfurl bot
# (SHARE_BOT_AGENTS, matched in the User-Agent) once per link and bot in a day.
SHARE_VIEW_DEDUP_SECONDS = envint("SHARE_VIEW_DEDUP_SECONDS", 30 * 60)
SHARE_BOT_AGENTS = envlist(
    "SHARE_BOT_AGENTS",
    "facebookexternalhit,Facebot,Twitterbot,Slackbot,Slack-ImgProxy,Discordbot,TelegramBot,"
    "WhatsApp,LinkedInBot,SkypeUriPreview,redditbot,Applebot,Googlebot,bingbot,Mastodon,"
    "Pinterestbot,vkShare,Embedly,Iframely,MicrosoftPreview,Teams,Signal,Zoom",
)
# How long a revoked link can still be brought back from the My links page.
SHARE_UNDO_SECONDS = envint("SHARE_UNDO_SECONDS", 10)
# django-ratelimit counts in this cache: Redis (REDIS_URL, read when first used).
RATELIMIT_USE_CACHE = "ratelimit"
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "ratelimit": {"BACKEND": "gallery.public_limits.RedisUrlCache", "LOCATION": ""},
}

# Most images one bulk action (tag, collect, visibility, delete, ZIP) takes at once: ten full
# grid pages. A bigger selection is refused whole (400), never cut short.
GALLERY_BULK_MAX_IDS = envint("GALLERY_BULK_MAX_IDS", 1000)
if GALLERY_BULK_MAX_IDS < 1:
    raise ImproperlyConfigured("GALLERY_BULK_MAX_IDS must be at least 1")
# Tags are normalised (gallery/tags.py) before they are stored; taggit must not fold them again.
TAGGIT_CASE_INSENSITIVE = False

# --- Demo login (DEBUG stacks only) -----------------------------------------
DEMO_PASSWORD = env("DEMO_PASSWORD", "demo")

# --- Security behind HTTPS ---------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"  # public pages send none (gallery/views/share.py)
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Trust X-Forwarded-Proto only when a TLS-terminating proxy in front sets it (compose's does);
# otherwise any client could claim https.
SECURE_PROXY_SSL = envbool("SECURE_PROXY_SSL", False)
if SECURE_PROXY_SSL:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if not DEBUG:
    SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", True)
    # HTTPS only by default; SECURE_SSL_REDIRECT=0 SECURE_HSTS_SECONDS=0 turn both off for a
    # deployment that terminates TLS elsewhere or runs on a private network.
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", True)
    # Health probes come over plain http from inside the deployment.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Content-Security-Policy (django-csp): scripts and styles from the site only, no inline
# script, no <style> element; images also from the S3 endpoint browsers use
# (gallery/content_security.py adds it at request time).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        # Style attributes only (a tile's colour or aspect ratio); no <style> elements.
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Sessions and login throttling ------------------------------------------
# A login lasts SESSION_LIFETIME seconds at most, and ends after SESSION_IDLE_TIMEOUT seconds
# without a request (gallery.middleware.SessionLifetimeMiddleware).
SESSION_LIFETIME = envint("SESSION_LIFETIME", 7 * 24 * 3600)
SESSION_IDLE_TIMEOUT = envint("SESSION_IDLE_TIMEOUT", 12 * 3600)
SESSION_COOKIE_AGE = SESSION_LIFETIME
CSRF_COOKIE_AGE = SESSION_LIFETIME  # Django's default is a year
# django-axes: a username is locked together with the address guessing it (so a stranger
# cannot lock a member out by name), an address for every name after more failures.
AXES_HANDLER = "gallery.login_throttle.LoginThrottleHandler"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 5)
LOGIN_IP_FAILURE_LIMIT = envint("LOGIN_IP_FAILURE_LIMIT", 20)
AXES_COOLOFF_TIME = timedelta(minutes=envint("LOGIN_LOCKOUT_MINUTES", 15))
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "gallery.login_throttle.lockout_response"
AXES_CLIENT_IP_CALLABLE = "gallery.login_throttle.client_ip"
AXES_SENSITIVE_PARAMETERS = ["password", "old_password", "new_password1", "new_password2"]
# Proxies in front of the app that append the client's address to X-Forwarded-For.
TRUSTED_PROXY_HOPS = envint("TRUSTED_PROXY_HOPS", 0)
if AXES_FAILURE_LIMIT < 1 or LOGIN_IP_FAILURE_LIMIT < AXES_FAILURE_LIMIT:
    raise ImproperlyConfigured("need 1 <= LOGIN_FAILURE_LIMIT <= LOGIN_IP_FAILURE_LIMIT")

# The DEBUG page and error reports mask passwords inside URL settings too.
DEFAULT_EXCEPTION_REPORTER_FILTER = "gallery.error_reports.SecretUrlReporterFilter"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # Share tokens are masked in every record (gallery/log_masking.py); the access loggers of
    # uvicorn and gunicorn get the same filter when the app starts (GalleryConfig.ready).
    "filters": {"share_tokens": {"()": "gallery.log_masking.ShareTokenFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["share_tokens"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "botocore": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        # Failed logins and lockouts are warnings; each successful login is not news.
        "axes": {"level": "WARNING"},
    },
}
