"""Deleting an image removes its S3 objects after the commit, but never an object another row
still points at (content-addressed keys are shared by identical bytes); failures retry."""

import pytest

from gallery import storage
from gallery.services import images as image_service
from gallery.tasks import purge_image_objects
from tests.images import make_image, stored

pytestmark = pytest.mark.django_db(transaction=True)


def test_deleting_the_last_row_removes_its_objects_after_commit(stored_image, alice, monkeypatch):
    image = stored_image("a" * 64)
    # no broker here: the service purges inline once the row is gone
    monkeypatch.setattr(image_service, "enqueue_purge", purge_image_objects)  # run inline
    image_service.delete_image(user=alice, image=image)
    assert not stored(image.original_key) and not stored(image.thumbnail_key)


def test_an_object_another_row_still_uses_is_kept(stored_image, alice, monkeypatch):
    image = stored_image("b" * 64)
    twin = make_image(alice, key="b" * 64)  # the same bytes made again: the same keys
    monkeypatch.setattr(image_service, "enqueue_purge", purge_image_objects)  # run inline
    image_service.delete_image(user=alice, image=image)
    assert stored(twin.original_key) and stored(twin.thumbnail_key)
    image_service.delete_image(user=alice, image=twin)
    assert not stored(twin.original_key)


def test_nothing_is_removed_when_the_transaction_rolls_back(stored_image, alice, monkeypatch):
    from django.db import transaction

    image = stored_image("c" * 64)
    monkeypatch.setattr(image_service, "enqueue_purge", purge_image_objects)  # run inline
    with pytest.raises(RuntimeError), transaction.atomic():
        image_service.delete_image(user=alice, image=image)
        raise RuntimeError("the request failed after the delete")
    assert stored(image.original_key)
    image.refresh_from_db()


def test_a_failed_purge_is_retried_by_the_task_until_it_succeeds(
    stored_image, alice, settings, monkeypatch
):
    from botocore.exceptions import EndpointConnectionError

    from gallery.services import images as images_module

    image = stored_image("d" * 64)
    image.delete()
    attempts = []

    def flaky_delete(key):  # S3 is down for the first two tries
        attempts.append(key)
        if len(attempts) <= 2:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")
        storage.delete_object(key)

    monkeypatch.setattr(images_module, "delete_object", flaky_delete)
    settings.CELERY_TASK_ALWAYS_EAGER = True  # eager: each retry runs at once, in this thread
    result = purge_image_objects.apply(args=([image.original_key],))
    assert result.state == "SUCCESS" and len(attempts) == 3
    assert not stored(image.original_key)
