"""/v1/ under uvicorn runs a short middleware chain on the event loop (config/asgi.py): its
answers still carry the site's security headers, and it sets no session or CSRF cookie."""

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


@pytest.fixture
def web(start_web):
    return start_web()


def test_gateway_answers_carry_the_security_headers_and_set_no_cookie(web, alice_token):
    answer = requests.get(
        f"{web.v1}/models", headers={"Authorization": f"Bearer {alice_token}"}, timeout=30
    )
    assert answer.status_code == 200
    assert {name: answer.headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS
    assert "default-src" in answer.headers["Content-Security-Policy"]
    assert "Set-Cookie" not in answer.headers
    assert answer.headers["X-Request-Id"].startswith("sg")


def test_a_refused_token_with_stray_cookies_is_401_with_the_same_headers(web):
    answer = requests.post(
        f"{web.v1}/images/generations",
        json={"model": "doubao-seedream-3-0-t2i-250415", "prompt": "a kite"},
        headers={"Authorization": "Bearer sg_not-a-token"},
        cookies={"sessionid": "forged", "csrftoken": "x" * 32},
        timeout=30,
    )
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "AuthenticationError"
    assert {name: answer.headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS
    assert "Set-Cookie" not in answer.headers


def test_a_gateway_middleware_with_a_view_hook_is_refused_at_start(monkeypatch, settings):
    """Only process_request/process_response run inline; a hook the short chain would skip
    must not be skipped silently."""
    import config.asgi

    csrf = "django.middleware.csrf.CsrfViewMiddleware"
    monkeypatch.setattr(config.asgi, "GATEWAY_MIDDLEWARE", (*config.asgi.GATEWAY_MIDDLEWARE, csrf))
    with pytest.raises(ImproperlyConfigured, match="CsrfViewMiddleware"):
        config.asgi.GatewayASGIHandler()
