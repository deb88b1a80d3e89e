"""Staff's moderation actions in the admin: each asks for a reason on a confirmation page,
changes the gallery in one transaction with its ModerationEvent, and closes the reports it
answers. Hidden images vanish from members' views; deleted ones take their S3 objects."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from gallery import storage
from gallery.models import Image, ModerationEvent, Report
from gallery.services import images as image_service
from gallery.services import moderation
from gallery.tasks import purge_image_objects
from tests.images import make_image, stored

pytestmark = pytest.mark.django_db

IMAGES = "/admin/gallery/image/"
QUEUE = "/admin/gallery/reportedimage/"
USERS = "/admin/auth/user/"


def act(client, url, action, objects, reason=None, **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [str(o.pk) for o in objects], **extra}
    if reason is not None:
        data.update(confirm="yes", reason=reason)
    return client.post(url, data)


def test_hide_asks_for_a_reason_then_hides_logs_and_closes_reports(client, sam, alice, bob):
    image = make_image(alice, prompt="a stormy harbour")
    other = make_image(alice)
    moderation.file_report(image, "spam", reporter=bob)
    client.force_login(sam)

    page = act(client, IMAGES, "hide", [image])
    html = page.content.decode()
    assert page.status_code == 200 and "Reason" in html and "a stormy harbour" in html
    assert not Image.objects.get(pk=image.pk).is_hidden

    assert act(client, IMAGES, "hide", [image], reason="   ").status_code == 400
    assert act(client, IMAGES, "hide", [image], reason="x" * 2001).status_code == 400
    assert not Image.objects.get(pk=image.pk).is_hidden and not ModerationEvent.objects.exists()

    done = act(client, IMAGES, "hide", [image], reason="spam in the harbour")
    assert done.status_code == 302
    assert Image.objects.get(pk=image.pk).is_hidden and not Image.objects.get(pk=other.pk).is_hidden
    event = ModerationEvent.objects.get()
    assert (event.actor, event.actor_name, event.action, event.reason) == (
        sam, "sam", "hide", "spam in the harbour",
    )  # fmt: skip
    assert [t["id"] for t in event.targets] == [image.pk]
    assert Report.objects.get().resolution == "hidden"

    client.force_login(alice)
    assert client.get(f"/images/{image.pk}/").status_code == 403  # its author is told
    client.force_login(bob)
    assert client.get(f"/images/{image.pk}/").status_code == 404
    assert f"/images/{image.pk}/" not in client.get("/").content.decode()


def test_staff_still_see_a_hidden_image_in_the_admin_marked_hidden(client, sam, alice):
    image = make_image(alice, prompt="the hidden one", is_hidden=True)
    client.force_login(sam)
    html = client.get(IMAGES).content.decode()
    assert "the hidden one" in html and "admin-hidden" in html
    change = client.get(f"{IMAGES}{image.pk}/change/").content.decode()
    assert "Hidden" in change


def test_unhide_and_approve_in_bulk(client, sam, alice, bob):
    images = [make_image(alice, is_hidden=True) for _ in range(3)]
    for image in images:
        moderation.file_report(image, "other", reporter=bob)
    client.force_login(sam)
    assert act(client, IMAGES, "unhide", images[:2], reason="false alarm").status_code == 302
    assert [Image.objects.get(pk=i.pk).is_hidden for i in images] == [False, False, True]
    assert act(client, IMAGES, "approve", images, reason="fine").status_code == 302
    assert not Report.objects.filter(resolved_at__isnull=True).exists()
    assert set(Report.objects.values_list("resolution", flat=True)) == {"approved"}
    assert list(ModerationEvent.objects.order_by("id").values_list("action", flat=True)) == [
        "unhide", "approve",
    ]  # fmt: skip


def test_select_across_acts_on_every_filtered_row(client, sam, alice):
    images = [make_image(alice, prompt=f"tulip {n}") for n in range(3)]
    make_image(alice, prompt="a rose")
    client.force_login(sam)
    answer = act(
        client, f"{IMAGES}?q=tulip", "hide", images[:1], reason="tulips", select_across="1"
    )
    assert answer.status_code == 302
    assert set(Image.objects.filter(is_hidden=True).values_list("prompt", flat=True)) == {
        "tulip 0", "tulip 1", "tulip 2",
    }  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_delete_removes_rows_reports_and_s3_objects_after_commit(
    client, sam, alice, bob, s3_server, monkeypatch
):
    monkeypatch.setattr(image_service, "enqueue_purge", purge_image_objects)  # run inline
    image = make_image(alice, key="c" * 64, prompt="to be removed")
    storage.put_object(image.original_key, b"original", "image/jpeg")
    storage.put_object(image.thumbnail_key, b"thumbnail", "image/webp")
    moderation.file_report(image, "illegal", reporter=bob)
    client.force_login(sam)
    assert act(client, IMAGES, "delete", [image], reason="illegal content").status_code == 302
    assert not Image.objects.filter(pk=image.pk).exists() and not Report.objects.exists()
    assert not stored(image.original_key) and not stored(image.thumbnail_key)
    event = ModerationEvent.objects.get()
    assert event.action == "delete" and event.targets[0]["label"] == "to be removed"


def test_the_admins_own_delete_is_off_for_images(client, sam, alice):
    image = make_image(alice)
    client.force_login(sam)
    assert client.get(f"{IMAGES}{image.pk}/delete/").status_code == 403
    assert act(client, IMAGES, "delete_selected", [image]).status_code == 302  # not an action
    assert Image.objects.filter(pk=image.pk).exists()


def test_the_queue_acts_like_the_image_list(client, sam, alice, bob):
    image = make_image(alice)
    moderation.file_report(image, "violent", reporter=bob)
    client.force_login(sam)
    assert act(client, QUEUE, "hide", [image], reason="violent").status_code == 302
    assert Image.objects.get(pk=image.pk).is_hidden
    assert client.get(QUEUE).context["cl"].result_count == 0  # its reports are closed


# --- Members -----------------------------------------------------------------------


def test_suspend_and_unsuspend_with_a_reason(client, sam, alice, bob):
    client.force_login(sam)
    assert act(client, USERS, "suspend", [alice]).status_code == 200
    assert act(client, USERS, "suspend", [alice], reason="").status_code == 400
    assert act(client, USERS, "suspend", [alice, bob], reason="spam").status_code == 302
    alice.refresh_from_db()
    bob.refresh_from_db()
    assert not alice.is_active and not bob.is_active
    assert act(client, USERS, "unsuspend", [bob], reason="appeal").status_code == 302
    bob.refresh_from_db()
    assert bob.is_active
    events = list(ModerationEvent.objects.order_by("id").values_list("action", "targets"))
    assert events[0][0] == "suspend" and {t["label"] for t in events[0][1]} == {"alice", "bob"}
    assert events[1][0] == "unsuspend"


def test_staff_cannot_suspend_themselves_and_only_a_superuser_a_superuser(
    client, sam, django_user_model
):
    client.force_login(sam)
    answer = act(client, USERS, "suspend", [sam], reason="oops")
    sam.refresh_from_db()
    assert answer.status_code == 302 and sam.is_active and not ModerationEvent.objects.exists()
    moderator = django_user_model.objects.create_user("mo", is_staff=True)
    with pytest.raises(moderation.ModerationError):
        moderation.suspend(actor=moderator, users=[sam], reason="coup")
    member = django_user_model.objects.create_user("ann")
    with pytest.raises(Exception):  # noqa: B017 - PermissionDenied: members do not moderate
        moderation.suspend(actor=member, users=[moderator], reason="x")
    sam.refresh_from_db()
    assert sam.is_active and moderator.is_active


def test_is_active_is_not_editable_on_the_member_form(client, sam, alice):
    client.force_login(sam)
    html = client.get(f"{USERS}{alice.pk}/change/").content.decode()
    assert 'name="is_active"' not in html
