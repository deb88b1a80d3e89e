"""Each view answers only the methods it serves; anything else is 405 with an Allow header."""

import pytest

from gallery.models import Generation

pytestmark = pytest.mark.django_db

OTHER_METHODS = ["PUT", "DELETE", "PATCH", "TRACE", "PROPFIND"]


@pytest.fixture
def job(alice):
    return Generation.objects.create(
        user=alice, prompt="a fox", model="doubao-seedream-3-0-t2i-250415", width=1024,
        height=1024, seed=1, guidance_scale=2.5,
    )  # fmt: skip


def urls(job) -> dict[str, set[str]]:
    return {
        "/": {"GET", "HEAD"},
        "/generate/": {"GET", "HEAD", "POST"},
        f"/generate/{job.batch}/": {"GET", "HEAD"},
        f"/generations/{job.pk}/card/": {"GET", "HEAD"},
        f"/generations/{job.pk}/cancel/": {"POST"},
        f"/generations/{job.pk}/retry/": {"POST"},
        "/images/1/": {"GET", "HEAD"},
        "/healthz": {"GET", "HEAD"},
        "/accounts/login/": {"GET", "HEAD", "POST"},
        "/accounts/logout/": {"POST"},
        "/accounts/password_change/": {"GET", "HEAD", "POST"},
        "/accounts/password_change/done/": {"GET", "HEAD"},
    }


@pytest.mark.parametrize("method", OTHER_METHODS)
def test_views_refuse_methods_they_do_not_serve(alice_client, job, method):
    for url, allowed in urls(job).items():
        answer = alice_client.generic(method, url)
        assert answer.status_code == 405, (method, url, answer.status_code)
        assert set(answer.headers["Allow"].split(", ")) == allowed, url


def test_the_refusal_comes_before_the_login_redirect(client, db):
    assert client.put("/generate/").status_code == 405
    assert client.delete("/").status_code == 405
