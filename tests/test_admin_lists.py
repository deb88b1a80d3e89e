"""The admin's image, generation and queue lists: a fixed number of queries however many rows
a page shows, every filter and the prompt search working, no full COUNT, and the planner's
estimate for an unfiltered list's count on PostgreSQL."""

import pytest
from django.db import connection

from gallery.admin import ESTIMATE_ABOVE, EstimatedCountPaginator
from gallery.models import Generation, Image
from gallery.services import moderation
from tests.images import make_image

pytestmark = pytest.mark.django_db


def page_queries(client, url, django_assert_max_num_queries, limit):
    with django_assert_max_num_queries(limit) as captured:
        answer = client.get(url)
    assert answer.status_code == 200, url
    return answer, len(captured)


@pytest.mark.parametrize(
    "url", ["/admin/gallery/image/", "/admin/gallery/generation/", "/admin/gallery/reportedimage/"]
)
def test_a_list_costs_the_same_queries_for_5_rows_as_for_40(
    client, sam, alice, bob, url, django_assert_max_num_queries
):
    client.force_login(sam)

    def grow(n):
        for i in range(n):
            image = make_image((alice, bob)[i % 2], prompt=f"tulip {i}")
            moderation.file_report(image, "spam")

    grow(5)
    _, few = page_queries(client, url, django_assert_max_num_queries, 12)
    grow(35)
    answer, many = page_queries(client, url, django_assert_max_num_queries, 12)
    assert many == few
    assert len(answer.context["cl"].result_list) == 40
    assert answer.context["cl"].full_result_count is None  # no second COUNT of the table


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=tulip", {"tulip red", "tulip hidden"}),
        ("q=ulip+RED", {"tulip red"}),  # partial words, any case, every term
        ("q=橘猫", {"一只橘猫"}),
        ("is_hidden__exact=1", {"tulip hidden"}),
        ("reported=open", {"reported rose"}),
        ("reported=no", {"tulip red", "tulip hidden", "private daisy", "一只橘猫"}),
        ("visibility__exact=private", {"private daisy"}),
        ("model=doubao-seedream-3-0-t2i-250415", {"tulip red", "tulip hidden", "private daisy",
                                                  "reported rose", "一只橘猫"}),
        ("created_at__gte=2000-01-01", {"tulip red", "tulip hidden", "private daisy",
                                        "reported rose", "一只橘猫"}),
        ("visibility__exact=public", {"一只橘猫"}),
    ],
)  # fmt: skip
def test_image_list_filters_and_search(client, sam, alice, bob, query, expected):
    make_image(alice, prompt="tulip red")
    make_image(alice, prompt="tulip hidden", is_hidden=True)
    make_image(bob, prompt="private daisy", visibility="private")
    make_image(bob, prompt="一只橘猫", visibility="public")
    moderation.file_report(make_image(bob, prompt="reported rose"), "spam")
    client.force_login(sam)
    answer = client.get(f"/admin/gallery/image/?{query}")
    assert answer.status_code == 200
    assert {i.prompt for i in answer.context["cl"].result_list} == expected


def test_author_filter_on_images_and_generations(client, sam, alice, bob):
    make_image(alice, prompt="hers")
    make_image(bob, prompt="his")
    client.force_login(sam)
    images = client.get(f"/admin/gallery/image/?author={bob.pk}").context["cl"].result_list
    assert [i.prompt for i in images] == ["his"]
    jobs = client.get(f"/admin/gallery/generation/?author={alice.pk}").context["cl"].result_list
    assert [g.prompt for g in jobs] == ["hers"]
    assert client.get("/admin/gallery/image/?author=abc").status_code == 200  # ignored


def test_generation_list_filters_by_status(client, sam, alice):
    make_image(alice, prompt="done")
    Generation.objects.create(user=alice, prompt="waiting", model="m", width=1024, height=1024,
                              seed=1, guidance_scale=2.5)  # fmt: skip
    client.force_login(sam)
    jobs = client.get("/admin/gallery/generation/?status__exact=queued").context["cl"].result_list
    assert [g.prompt for g in jobs] == ["waiting"]


def test_the_paginator_counts_exactly_when_filtered_or_small(alice):
    make_image(alice, prompt="one")
    assert EstimatedCountPaginator(Image.objects.all(), 100).count == 1
    assert EstimatedCountPaginator(Image.objects.filter(prompt="none"), 100).count == 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the estimate is PostgreSQL's")
def test_on_postgresql_an_unfiltered_big_list_uses_the_planners_estimate(alice):
    make_image(alice)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE pg_class SET reltuples = %s WHERE oid = 'gallery_image'::regclass",
            [ESTIMATE_ABOVE * 5],
        )
    estimated = EstimatedCountPaginator(Image.objects.all(), 100)
    assert estimated.count == ESTIMATE_ABOVE * 5 and estimated.is_estimate
    # Filtered: the plan's estimate is small here, so it is counted exactly.
    exact = EstimatedCountPaginator(Image.objects.filter(is_hidden=True), 100)
    assert exact.count == 0 and not exact.is_estimate


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the estimate is PostgreSQL's")
def test_on_postgresql_the_list_says_about_when_it_shows_an_estimate(client, sam, alice):
    make_image(alice, prompt="one of many")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE pg_class SET reltuples = %s WHERE oid = 'gallery_image'::regclass",
            [ESTIMATE_ABOVE * 5],
        )
    client.force_login(sam)
    html = client.get("/admin/gallery/image/").content.decode()
    assert f"about {ESTIMATE_ABOVE * 5} images" in " ".join(html.split())
