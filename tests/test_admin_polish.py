"""The admin, until the moderation issue rebuilds it: an empty quota means the default, the
image page shows the picture, and the jobs list shows prompts."""

import pytest

from gallery.models import MemberQuota
from tests.test_gallery_pages import make_generation, make_image

pytestmark = pytest.mark.django_db


def user_change_form(user, **changes) -> dict:
    data = {
        "username": user.username, "email": user.email, "is_active": "on",
        "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00",
        "quota-TOTAL_FORMS": "1", "quota-INITIAL_FORMS": "0",
        "quota-MIN_NUM_FORMS": "0", "quota-MAX_NUM_FORMS": "1",
        "quota-0-daily_image_limit": "", "quota-0-user": str(user.pk),
    }  # fmt: skip
    data.update(changes)
    return data


def test_an_empty_quota_field_means_the_site_default(client, sam, alice):
    quota = MemberQuota.objects.create(user=alice, daily_image_limit=3)
    client.force_login(sam)
    form = user_change_form(alice, **{"quota-INITIAL_FORMS": "1", "quota-0-id": str(quota.pk)})
    response = client.post(f"/admin/auth/user/{alice.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert not MemberQuota.objects.filter(user=alice).exists()


def test_a_quota_can_still_be_set_and_a_bad_one_is_refused(client, sam, alice):
    client.force_login(sam)
    ok = client.post(
        f"/admin/auth/user/{alice.pk}/change/",
        user_change_form(alice, **{"quota-0-daily_image_limit": "7"}),
    )
    assert ok.status_code == 302
    assert MemberQuota.objects.get(user=alice).daily_image_limit == 7
    bad = client.post(
        f"/admin/auth/user/{alice.pk}/change/",
        user_change_form(alice, **{"quota-0-daily_image_limit": "-1"}),
    )
    assert bad.status_code == 200 and "errorlist" in bad.content.decode()


def test_an_empty_new_quota_adds_nothing(client, sam, alice):
    client.force_login(sam)
    response = client.post(f"/admin/auth/user/{alice.pk}/change/", user_change_form(alice))
    assert response.status_code == 302
    assert not MemberQuota.objects.filter(user=alice).exists()


def test_image_change_page_shows_the_picture_and_view_on_site(client, sam, alice):
    image = make_image(alice, 4)
    client.force_login(sam)
    html = client.get(f"/admin/gallery/image/{image.pk}/change/").content.decode()
    assert 'class="admin-preview"' in html and "X-Amz-Signature=" in html
    assert "View on site" in html


def test_generations_list_has_a_prompt_column(client, sam, alice):
    make_generation(alice, prompt="a tall lighthouse over the sea")
    client.force_login(sam)
    html = client.get("/admin/gallery/generation/").content.decode()
    assert "a tall lighthouse over the sea" in html
    assert "column-short_prompt" in html


def test_admin_pages_carry_the_favicon(client, sam):
    client.force_login(sam)
    assert "gallery/favicon.svg" in client.get("/admin/").content.decode()
    assert client.get("/favicon.ico")["Location"].endswith("gallery/favicon.svg")
