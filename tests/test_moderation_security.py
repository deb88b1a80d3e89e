"""Who may moderate: no admin page or action for members whatever URL they forge; the
moderation log cannot be changed or deleted by anyone, through the admin or the ORM; report
spam is one queue row; a suspended member's session, login and tokens stop at once."""

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.sessions.models import Session
from django.test import Client

from gallery.models import Image, ModerationEvent, Report
from gallery.services import api_tokens, moderation
from tests.fixtures.people import PASSWORD
from tests.images import make_image

pytestmark = pytest.mark.django_db


def admin_urls(pk: int):
    """Every registered model's pages, plus the moderation panel's own."""
    for model in admin.site._registry:
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        yield from (base, f"{base}add/", f"{base}{pk}/change/", f"{base}{pk}/delete/",
                    f"{base}{pk}/history/")  # fmt: skip
    yield from ("/admin/", "/admin/auth/user/usage/", f"/admin/auth/user/{pk}/usage/")


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_member_gets_no_admin_page_nor_action_whatever_the_url(client, alice, bob, method):
    image = make_image(bob)
    moderation.file_report(image, "spam")
    client.force_login(alice)
    for url in admin_urls(image.pk):
        data = {"action": "hide", ACTION_CHECKBOX_NAME: [str(image.pk)], "confirm": "yes",
                "reason": "forged", "is_active": "", "daily_image_limit": "0"}  # fmt: skip
        answer = getattr(client, method)(url, data if method == "post" else None)
        assert answer.status_code == 302 and "/admin/login/" in answer["Location"], url
    assert not Image.objects.get(pk=image.pk).is_hidden
    assert not ModerationEvent.objects.exists()
    bob.refresh_from_db()
    assert bob.is_active


def test_staff_without_permissions_are_refused_the_actions(client, alice, django_user_model):
    helper = django_user_model.objects.create_user("helper", is_staff=True)
    image = make_image(alice)
    client.force_login(helper)
    for url in ("/admin/gallery/image/", "/admin/gallery/reportedimage/", "/admin/auth/user/",
                "/admin/auth/user/usage/", f"/admin/auth/user/{alice.pk}/usage/"):  # fmt: skip
        answer = client.post(
            url,
            {
                "action": "hide",
                ACTION_CHECKBOX_NAME: [str(image.pk)],
                "confirm": "yes",
                "reason": "x",
                "daily_image_limit": "1",
            },  # fmt: skip
        )
        assert answer.status_code == 403, url
    assert not Image.objects.get(pk=image.pk).is_hidden


# --- The moderation log is append-only ------------------------------------------------------


@pytest.fixture
def event(sam, alice):
    return moderation.hide(actor=sam, images=[make_image(alice)], reason="first")


def test_the_log_cannot_be_added_changed_or_deleted_in_the_admin_even_by_a_superuser(
    client, sam, event
):
    client.force_login(sam)
    base = "/admin/gallery/moderationevent/"
    assert client.get(base).status_code == 200
    page = client.get(f"{base}{event.pk}/change/")
    assert page.status_code == 200 and 'name="reason"' not in page.content.decode()
    assert client.post(f"{base}{event.pk}/change/", {"reason": "rewritten"}).status_code == 403
    assert client.get(f"{base}add/").status_code == 403
    assert client.post(f"{base}add/", {"reason": "made up", "action": "hide"}).status_code == 403
    assert client.post(f"{base}{event.pk}/delete/", {"post": "yes"}).status_code == 403
    client.post(base, {"action": "delete_selected", ACTION_CHECKBOX_NAME: [str(event.pk)],
                       "post": "yes"})  # fmt: skip
    assert list(ModerationEvent.objects.values_list("reason", flat=True)) == ["first"]


def test_the_log_refuses_save_on_an_existing_row_delete_and_bulk_changes(event):
    event.reason = "rewritten"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        ModerationEvent.objects.filter(pk=event.pk).update(reason="rewritten")
    with pytest.raises(PermissionError):
        ModerationEvent.objects.all().delete()
    assert ModerationEvent.objects.get().reason == "first"


# --- Report spam ---------------------------------------------------------------------


def test_a_thousand_reports_of_one_image_are_one_queue_row(
    client, sam, alice, django_assert_max_num_queries
):
    spammed, other = make_image(alice, prompt="spammed"), make_image(alice, prompt="other")
    Report.objects.bulk_create(
        [Report(image=spammed, reason=("spam", "other")[n % 2]) for n in range(1000)]
    )
    moderation.file_report(other, "illegal")
    moderation.file_report(other, "illegal")
    client.force_login(sam)
    with django_assert_max_num_queries(8):
        answer = client.get("/admin/gallery/reportedimage/")
    rows = list(answer.context["cl"].result_list)
    assert [(r.prompt, r.report_total) for r in rows] == [("spammed", 1000), ("other", 2)]
    html = answer.content.decode()
    assert "Spam (500)" in html and "Other (500)" in html and "Illegal (2)" in html


# --- Suspension ------------------------------------------------------------------------


def logs_in(client) -> bool:
    answer = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    return answer.status_code == 302


def test_a_suspended_members_open_session_ends_on_the_next_request(sam, alice, redis_url):
    browser = Client()
    assert logs_in(browser)
    assert browser.get("/").status_code == 200
    _, token = api_tokens.create(user=alice, name="laptop")
    headers = {"Authorization": f"Bearer {token}"}
    assert Client().get("/api/images", headers=headers).status_code == 200

    moderation.suspend(actor=sam, users=[alice], reason="abuse")

    assert not [s for s in Session.objects.all() if s.get_decoded().get("_auth_user_id")]
    answer = browser.get("/")
    assert answer.status_code == 302 and answer["Location"].startswith("/accounts/login/")
    assert browser.post("/generate/", {"prompt": "x"}).status_code == 302
    assert Client().get("/api/images", headers=headers).status_code == 401
    assert not logs_in(Client())

    moderation.unsuspend(actor=sam, users=[alice], reason="appeal upheld")
    assert logs_in(Client())
    assert Client().get("/api/images", headers=headers).status_code == 200


def test_suspending_cancels_the_members_queued_jobs_only(sam, alice, bob):
    from gallery.models import Generation

    def job(user, status):
        return Generation.objects.create(user=user, prompt="p", model="m", width=1024,
                                         height=1024, seed=1, guidance_scale=2.5, status=status)  # fmt: skip

    queued, calling, bobs = job(alice, "queued"), job(alice, "calling"), job(bob, "queued")
    moderation.suspend(actor=sam, users=[alice], reason="abuse")
    statuses = dict(Generation.objects.values_list("pk", "status"))
    assert statuses == {queued.pk: "canceled", calling.pk: "calling", bobs.pk: "queued"}


def test_suspending_keeps_other_members_sessions(sam, alice, bob):
    bobs = Client()
    bobs.force_login(bob)
    alices = Client()
    alices.force_login(alice)
    moderation.suspend(actor=sam, users=[alice], reason="abuse")
    assert bobs.get("/").status_code == 200
    assert alices.get("/").status_code == 302
