"""Security headers: a strict Content-Security-Policy on every page, and production settings
that pass Django's deployment checks, HTTPS redirect and HSTS on by default."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.django_db


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = (part.strip().split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in directives}


@pytest.mark.parametrize("path", ["/", "/generate/", "/jobs/", "/profile/", "/no/such/page/"])
def test_every_page_has_a_strict_content_security_policy(alice_client, path):
    csp = policy(alice_client.get(path))
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["default-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]


def test_login_page_has_the_policy_too(client):
    assert "script-src 'self'" in client.get("/accounts/login/")["Content-Security-Policy"]


def test_images_may_come_from_the_s3_endpoint_browsers_use(alice_client, settings):
    settings.AWS_S3_ENDPOINT_URL = "http://seaweedfs:8333"
    settings.AWS_S3_PUBLIC_ENDPOINT_URL = "https://media.example.test/s3/"
    csp = policy(alice_client.get("/"))
    assert "https://media.example.test" in csp["img-src"]
    assert "http://seaweedfs:8333" not in csp["img-src"]


def test_without_a_public_endpoint_images_come_from_the_s3_endpoint(alice_client, settings):
    settings.AWS_S3_ENDPOINT_URL = "http://127.0.0.1:9555"
    settings.AWS_S3_PUBLIC_ENDPOINT_URL = ""
    assert "http://127.0.0.1:9555" in policy(alice_client.get("/"))["img-src"]


def test_pages_load_no_inline_script():
    for template in (ROOT / "templates").rglob("*.html"):
        text = template.read_text()
        for start in range(len(text)):
            start = text.find("<script", start)
            if start < 0:
                break
            tag = text[start : text.find(">", start)]
            assert "src=" in tag, f"inline <script> in {template}"


def _production_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SECURE_", "SESSION_", "CSRF_", "DEBUG", "SECRET_KEY", "ALLOWED_"))
        and k != "DJANGO_ALLOW_ASYNC_UNSAFE"  # the tests' own switch, never a deployment's
    }
    return {
        **env,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "gallery.example.test",
        "DEBUG": "0",
        **extra,
    }


def test_deploy_check_is_clean_with_production_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=_production_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


PROBE = (
    "import django, json; from django.conf import settings; django.setup(); "
    "print(json.dumps([settings.SECURE_SSL_REDIRECT, settings.SECURE_HSTS_SECONDS]))"
)


def test_https_redirect_and_hsts_are_on_by_default_in_production():
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env=_production_env(), cwd=ROOT, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert result.stdout.strip() == "[true, 31536000]", result.stderr


def test_a_deployment_without_tls_can_turn_them_off():
    env = _production_env(SECURE_SSL_REDIRECT="0", SECURE_HSTS_SECONDS="0")
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, cwd=ROOT, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert result.stdout.strip() == "[false, 0]", result.stderr


def test_health_probes_over_plain_http_are_not_redirected(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/jobs/").status_code == 301
    assert client.get("/healthz").status_code != 301
