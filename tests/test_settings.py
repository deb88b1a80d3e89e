"""Settings read the environment with safe production defaults."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PROBE = (
    "import json, django; from django.conf import settings; django.setup(); "
    "db = settings.DATABASES['default']; "
    "print(json.dumps({'debug': settings.DEBUG, 'engine': db['ENGINE'], 'name': str(db['NAME']), "
    "'options': {k: str(v) for k, v in db.get('OPTIONS', {}).items()}, "
    "'hosts': settings.ALLOWED_HOSTS, 'secure_cookie': settings.SESSION_COOKIE_SECURE, "
    "'static': settings.STORAGES['staticfiles']['BACKEND'], "
    "'media': settings.STORAGES['default']['BACKEND']}))"
)


def probe(**env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in _APP_VARS}
    clean["DJANGO_SETTINGS_MODULE"] = "config.settings"
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**clean, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


_APP_VARS = {"DEBUG", "SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS", "SESSION_COOKIE_SECURE"}


def test_debug_is_off_and_secret_key_required_by_default():
    result = probe()
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_production_defaults_are_safe():
    result = probe(SECRET_KEY="x" * 50)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["debug"] is False
    assert seen["hosts"] == []
    assert seen["secure_cookie"] is True
    assert seen["static"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    assert seen["media"] == "gallery.storage.MediaStorage"


PROXY_PROBE = (
    "import json, django; from django.conf import settings; django.setup(); "
    "db = settings.DATABASES['default']; "
    "print(json.dumps({'proxy': getattr(settings, 'SECURE_PROXY_SSL_HEADER', None), "
    "'health_checks': db.get('CONN_HEALTH_CHECKS'), "
    "'http_hosts': settings.INGEST_ALLOWED_HTTP_HOSTS}))"
)


def probe_json(code: str = PROXY_PROBE, **env) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in _APP_VARS}
    clean.pop("INGEST_ALLOWED_HTTP_HOSTS", None)
    clean.pop("SEEDREAM_BASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", "SECRET_KEY": "x" * 50, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_forwarded_proto_is_trusted_only_when_a_proxy_is_declared():
    assert probe_json()["proxy"] is None
    assert probe_json(SECURE_PROXY_SSL="1")["proxy"] == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_persistent_database_connections_are_checked_before_reuse():
    seen = probe_json(DATABASE_URL="postgres://postgres@127.0.0.1:5432/seedgallery")
    assert seen["health_checks"] is True


def test_the_emulator_host_is_trusted_over_http_only_while_it_is_the_configured_api():
    emulator = probe_json(
        INGEST_ALLOWED_HTTP_HOSTS="emulator", SEEDREAM_BASE_URL="http://emulator:8090/v1"
    )
    assert emulator["http_hosts"] == ["emulator"]
    real_api = probe_json(
        INGEST_ALLOWED_HTTP_HOSTS="emulator",
        SEEDREAM_BASE_URL="https://ark.cn-beijing.volces.com/api/v3",
    )
    assert real_api["http_hosts"] == []


def test_sqlite_with_wal_when_database_url_is_unset():
    result = probe(DEBUG="1")
    seen = json.loads(result.stdout)
    assert seen["engine"] == "django.db.backends.sqlite3"
    assert "journal_mode=WAL" in seen["options"]["init_command"]
    assert seen["options"]["timeout"] == "20"


def test_postgres_when_database_url_is_set():
    result = probe(DEBUG="1", DATABASE_URL="postgres://postgres@127.0.0.1:5432/seedgallery")
    seen = json.loads(result.stdout)
    assert seen["engine"] == "django.db.backends.postgresql"
    assert seen["name"] == "seedgallery"


@pytest.mark.parametrize("value", ["many", "1.5", "ten"])
def test_a_bad_integer_setting_names_the_variable(value):
    result = probe(DEBUG="1", GENERATION_DAILY_IMAGE_LIMIT=value)
    assert result.returncode != 0
    assert f"GENERATION_DAILY_IMAGE_LIMIT must be an integer, got '{value}'" in result.stderr


def test_devstack_preflight_names_a_busy_port_and_its_variable():
    import socket

    from django.core.management import call_command
    from django.core.management.base import CommandError

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(CommandError) as caught:
            call_command("devstack", "preflight", "--port", f"WEB_PORT={port}")
    assert str(caught.value) == f"port {port} is already in use: set WEB_PORT to move it"


def test_sqlite_folder_is_created_so_migrate_works_on_a_fresh_clone(tmp_path):
    database = tmp_path / "not-made-yet" / "nested" / "db.sqlite3"
    clean = {k: v for k, v in os.environ.items() if k not in _APP_VARS}
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        env={**clean, "DEBUG": "1", "SQLITE_PATH": str(database)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert database.is_file()


TRUST_ENV_PROBE = (
    "import json, django; django.setup(); "
    "from gallery.seedream.client import pooled_session; "
    "s = pooled_session(pool_connections=1, pool_maxsize=1); "
    "print(json.dumps([s.trust_env, s.verify]))"
)
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.mark.parametrize(
    "env, seen",
    [
        ({}, [False, True]),
        ({"HTTPS_PROXY": "http://proxy.example:3128"}, [True, True]),
        ({"http_proxy": "http://proxy.example:3128", "no_proxy": "127.0.0.1"}, [True, True]),
        ({"no_proxy": "127.0.0.1"}, [False, True]),  # an exception list alone proxies nothing
        ({"REQUESTS_CA_BUNDLE": "/etc/ssl/corp.pem"}, [False, "/etc/ssl/corp.pem"]),
        ({"CURL_CA_BUNDLE": "/etc/ssl/corp.pem"}, [False, "/etc/ssl/corp.pem"]),
    ],
)
def test_outbound_sessions_read_the_environment_once_and_rescan_only_for_a_proxy(
    monkeypatch, env, seen
):
    # trust_env False: requests no longer rescans os.environ (and ~/.netrc) on every call.
    for name in (*PROXY_VARIABLES, *(v.upper() for v in PROXY_VARIABLES)):
        monkeypatch.delenv(name, raising=False)
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    assert probe_json(TRUST_ENV_PROBE, **env) == seen
