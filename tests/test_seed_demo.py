"""seed_demo --count N: demo images through the real pipeline (small N) or drawn straight into
the database and S3 (large N); re-running adds, never reusing a key."""

import io

import pytest
from django.core.management import CommandError, call_command

from gallery.models import Generation, Image
from gallery.search import _HAS_CJK
from tests.images import stored

pytestmark = pytest.mark.django_db(transaction=True)


def test_fast_path_draws_distinct_images_into_s3_and_adds_on_rerun(s3_server, alice):
    err = io.StringIO()
    call_command("seed_demo", count=30, user="alice", fast=True, stdout=io.StringIO(), stderr=err)
    assert "30/30" in err.getvalue()  # the progress bar
    call_command("seed_demo", count=30, user="alice", fast=True, stdout=io.StringIO(), stderr=err)
    images = list(Image.objects.all())
    assert len(images) == 60 and len({i.original_key for i in images}) == 60
    assert all(stored(i.original_key) and stored(i.thumbnail_key) for i in images[:5])
    assert any(_HAS_CJK.search(i.prompt) for i in images)
    assert any(not _HAS_CJK.search(i.prompt) for i in images)
    assert len({i.batch for i in images}) < 60  # some batches hold several variations
    assert all(i.owner == alice and i.generation.status == "succeeded" for i in images)
    spread = max(i.created_at for i in images) - min(i.created_at for i in images)
    assert spread.days > 30  # dates spread over the year


def test_fast_path_spreads_images_over_members(s3_server, db):
    call_command(
        "seed_demo", count=40, members=4, rows_only=True, stdout=io.StringIO(), stderr=io.StringIO()
    )
    owners = set(Image.objects.values_list("owner__username", flat=True))
    assert owners <= {"member01", "member02", "member03", "member04"} and len(owners) > 1


def test_small_counts_go_through_the_real_pipeline_and_emulator(s3_server, emulator, alice):
    call_command("seed_demo", count=2, user="alice", stdout=io.StringIO(), stderr=io.StringIO())
    assert emulator.stats()["images"] == 2
    assert Generation.objects.filter(status="succeeded").count() == 2
    image = Image.objects.first()
    assert stored(image.original_key) and image.batch == image.generation.batch


@pytest.mark.parametrize("options", [{"count": -1, "user": "alice"}, {"count": 3, "members": -2}])
def test_negative_counts_are_refused(db, options):
    with pytest.raises(CommandError, match="must not be negative"):
        call_command("seed_demo", **options)


def test_the_demo_login_needs_debug(db):
    with pytest.raises(CommandError, match="only runs with DEBUG=1"):
        call_command("seed_demo")
