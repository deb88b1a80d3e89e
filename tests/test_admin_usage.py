"""The usage pages: per member and for the team, images today / this month / in total,
provider errors by code, quota used, a 30-day chart drawn as SVG on the server, and the
member's daily limit editable there with its bad values refused."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from gallery.models import Generation, MemberQuota, ProviderCall

pytestmark = pytest.mark.django_db


def job(user, *, days_ago=0, status="succeeded", **fields) -> Generation:
    return Generation.objects.create(
        user=user, prompt="p", model="m", width=1024, height=1024, seed=1, guidance_scale=2.5,
        status=status, created_at=timezone.now() - timedelta(days=days_ago), **fields,
    )  # fmt: skip


@pytest.fixture
def history(alice, bob):
    for _ in range(3):
        job(alice)
    job(alice, days_ago=2)
    job(alice, days_ago=400)
    job(alice, status="failed")  # failed before the provider answered: no image, no quota
    job(bob, days_ago=1)
    failed = job(alice, status="failed", error_code="rate_limited")
    for code, provider_code in [("rate_limited", "ServerOverloaded")] * 2 + [
        ("provider_error", "InternalServiceError")
    ]:
        ProviderCall.objects.create(
            generation=failed, user=alice, http_status=429, error_code=code,
            provider_error_code=provider_code,
        )  # fmt: skip


def bars(html: str) -> list[tuple[str, int]]:
    return [(d, int(n)) for d, n in re.findall(r"<title>(\d{4}-\d\d-\d\d): (\d+)</title>", html)]


def test_a_members_page_counts_images_errors_quota_and_draws_the_chart(client, sam, alice, history):
    client.force_login(sam)
    answer = client.get(f"/admin/auth/user/{alice.pk}/usage/")
    assert answer.status_code == 200
    ctx = answer.context
    now = timezone.now()
    assert ctx["totals"]["today"] == 3 and ctx["totals"]["total"] == 5
    assert ctx["totals"]["month"] == (4 if now.day > 2 else 3)
    assert ctx["quota_used"] == 3 and ctx["quota_limit"] == 100  # failures without an image do not
    assert [(e["error_code"], e["provider_error_code"], e["n"]) for e in ctx["errors"]] == [
        ("rate_limited", "ServerOverloaded", 2), ("provider_error", "InternalServiceError", 1),
    ]  # fmt: skip
    html = answer.content.decode()
    chart = bars(html)
    assert len(chart) == 30 and chart[-1] == (f"{now:%Y-%m-%d}", 3)
    assert dict(chart)[f"{now - timedelta(days=2):%Y-%m-%d}"] == 1
    assert '<svg class="usage-chart"' in html and "<script" not in html.split("<svg")[1]


def test_the_team_page_lists_every_member_in_a_fixed_number_of_queries(
    client, sam, alice, bob, history, django_user_model, django_assert_max_num_queries
):
    for n in range(20):
        django_user_model.objects.create_user(f"member{n}")
    client.force_login(sam)
    with django_assert_max_num_queries(14):
        answer = client.get("/admin/auth/user/usage/")
    rows = {m["user"].username: m for m in answer.context["members"]}
    assert len(rows) == 23
    alice_row = rows["alice"]
    assert (alice_row["today"], alice_row["total"], alice_row["quota_used"]) == (3, 5, 3)
    assert rows["alice"]["errors_month"] == 3 and rows["bob"]["total"] == 1
    assert answer.context["totals"]["total"] == 6


@pytest.mark.parametrize("value", ["-1", "abc", "1.5", "10000001"])
def test_a_bad_daily_limit_is_refused(client, sam, alice, value):
    client.force_login(sam)
    answer = client.post(f"/admin/auth/user/{alice.pk}/usage/", {"daily_image_limit": value})
    assert answer.status_code == 400 and answer.context["quota_form"].errors
    assert not MemberQuota.objects.exists()


def test_the_daily_limit_is_set_and_cleared_on_the_page(client, sam, alice):
    client.force_login(sam)
    url = f"/admin/auth/user/{alice.pk}/usage/"
    assert client.post(url, {"daily_image_limit": "7"}).status_code == 302
    assert MemberQuota.objects.get(user=alice).daily_image_limit == 7
    assert client.get(url).context["quota_limit"] == 7
    assert client.post(url, {"daily_image_limit": ""}).status_code == 302
    assert not MemberQuota.objects.exists()


def test_an_unknown_member_is_404(client, sam):
    client.force_login(sam)
    assert client.get("/admin/auth/user/999999/usage/").status_code == 404
