"""Bulk delete of content-addressed objects: a key two rows share is purged only when no row
is left that uses it, after the commit."""

import pytest

from gallery.models import Image
from gallery.services import images as image_service
from gallery.tasks import purge_image_objects
from tests.images import make_image, stored

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _purge_inline(monkeypatch):
    # no broker in these tests: the purge runs in the request, after the commit
    monkeypatch.setattr(image_service, "enqueue_purge", purge_image_objects)


def test_bulk_delete_keeps_an_object_a_remaining_row_still_uses(stored_image, alice_client):
    shared = stored_image("e" * 64)
    twin = make_image(shared.owner, key="e" * 64)  # the same bytes made again: the same keys
    alone = stored_image("f" * 64)
    response = alice_client.post(
        "/images/bulk/", {"action": "delete", "ids": f"{shared.pk},{alone.pk}"}
    )
    assert response.status_code == 302
    assert list(Image.objects.all()) == [twin]
    assert stored(twin.original_key) and stored(twin.thumbnail_key)
    assert not stored(alone.original_key) and not stored(alone.thumbnail_key)


def test_deleting_every_row_of_a_shared_key_at_once_purges_it(stored_image, alice):
    shared = stored_image("1" * 64)
    twin = make_image(alice, key="1" * 64)
    assert image_service.delete_images(user=alice, images=[shared, twin]) == 2
    assert not stored(shared.original_key) and not stored(shared.thumbnail_key)


def test_a_refused_bulk_delete_removes_no_row_and_no_object(stored_image, alice, bob):
    mine = stored_image("2" * 64)
    theirs = make_image(bob)
    with pytest.raises(image_service.PermissionDenied):
        image_service.delete_images(user=alice, images=[mine, theirs])
    assert Image.objects.count() == 2 and stored(mine.original_key)
