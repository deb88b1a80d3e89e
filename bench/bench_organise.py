"""Tags and collections at 100,000 images and 2,000 tags: a tag's page, a collection page of
5,000 images and the tag autocomplete, against the gallery benchmark's floor.

    .venv/bin/python bench/bench_organise.py [--images 100000] [--tags 2000] [--runs 30]
    .venv/bin/python bench/bench_organise.py --reuse     # measure an already seeded database

Seeds PostgreSQL (BENCH_ORGANISE_DATABASE_URL, default .../sg_organise_bench, recreated) with
bench_gallery's data builder (seed_demo's fast path, rows only), then with bulk_create: 2,000
tags on 1-3 tags an image (skewed, so one tag is on ~10% of all images), a collection of 5,000
images and one of 50. Renders each view through Django's test client as member01 and the floor
of bench_gallery (the gallery template with 48 precomputed items). Each view's query count is
taken at two sizes (a rare tag and a common one, 50 and 5,000 images in a collection, a short
and a long prefix) and must be equal; tagging 5 and 500 images in bulk must be too. Prints
p50/p95, the ratio to the floor (target: within 3x) and EXPLAIN ANALYZE of the list queries.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_gallery import _settings_only, floor_site  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/sg_organise_bench"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--members", type=int, default=20)
    parser.add_argument("--tags", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--reuse", action="store_true", help="measure the seeded database as is")
    args = parser.parse_args()
    url = os.environ.get("BENCH_ORGANISE_DATABASE_URL", DEFAULT_URL)
    os.environ["BENCH_DATABASE_URL"] = url
    os.environ["SECURE_SSL_REDIRECT"] = "0"  # the test client speaks plain HTTP
    if args.reuse:
        _settings_only(url)
    else:
        from bench import stack

        stack.start(database="postgres", extra_env={"ALLOWED_HOSTS": "testserver,127.0.0.1"})
        from django.core.management import call_command

        started = time.perf_counter()
        call_command(
            "seed_demo", count=args.images, members=args.members, fast=True, rows_only=True
        )
        print(f"seeded {args.images} images in {time.perf_counter() - started:.0f} s")
        started = time.perf_counter()
        organise(args.tags)
        print(f"tagged and collected in {time.perf_counter() - started:.0f} s")
    measure(args.runs)


def organise(tag_count: int) -> None:
    """2,000 tags, 1-3 an image (tag 0 on ~10%), and two collections of member01's."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from taggit.models import Tag

    from gallery.models import Collection, CollectionItem, Image, ImageTag
    from gallery.services.tags import _slug

    rng = random.Random(11)
    names = [f"tag {n:04d}" for n in range(tag_count)]
    Tag.objects.bulk_create([Tag(name=name, slug=_slug(name)) for name in names])
    tag_ids = list(Tag.objects.order_by("name").values_list("id", flat=True))
    image_ids = list(Image.objects.values_list("id", flat=True))
    rows = []
    for image_id in image_ids:
        chosen = {tag_ids[min(int(rng.paretovariate(0.6)) - 1, tag_count - 1)]}
        chosen.update(rng.sample(tag_ids, rng.randint(0, 2)))
        rows.extend(ImageTag(content_object_id=image_id, tag_id=t) for t in chosen)
    ImageTag.objects.bulk_create(rows, batch_size=5000)
    member = get_user_model().objects.get(username="member01")
    now = timezone.now()
    for name, size in (("Big", min(5_000, len(image_ids) // 2)), ("Small", 50)):
        album = Collection.objects.create(owner=member, name=name)
        picked = rng.sample(image_ids, size)
        CollectionItem.objects.bulk_create(
            [
                CollectionItem(
                    collection=album,
                    image_id=pk,
                    added_by=member,
                    added_at=now - timezone.timedelta(seconds=n),
                )  # fmt: skip
                for n, pk in enumerate(picked)
            ],
            batch_size=5000,
        )
    print(f"{len(rows)} image tags")


def measure(runs: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.db.models import Count
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext, setup_test_environment
    from taggit.models import Tag

    from gallery import queries
    from gallery.models import Collection, Image, ImageTag
    from gallery.services.tags import add_tags

    setup_test_environment()
    connection.ensure_connection()
    with connection.cursor() as cursor:
        for table in ("gallery_image", "gallery_imagetag", "gallery_collectionitem", "taggit_tag"):
            cursor.execute(f"ANALYZE {table}")
    member = get_user_model().objects.get(username="member01")
    counts = (
        ImageTag.objects.values("tag__name").annotate(n=Count("id")).order_by("-n", "tag__name")
    )
    common = counts[0]
    rare = counts.order_by("n", "tag__name")[0]
    big = Collection.objects.get(name="Big", owner=member)
    small = Collection.objects.get(name="Small", owner=member)
    second = counts[1]["tag__name"]

    scenarios = {  # name: (url, url of the same view at another size)
        f"tag page, common tag ({common['n']} images)": (
            f"/tags/{common['tag__name']}/", f"/tags/{rare['tag__name']}/"),
        "tag page, flat": (f"/tags/{common['tag__name']}/?view=flat",
                           f"/tags/{rare['tag__name']}/?view=flat"),
        "gallery, two tags (AND)": (f"/?tag={common['tag__name']}&tag={second}&view=flat",
                                    f"/?tag={rare['tag__name']}&tag={second}&view=flat"),
        "collection page, 5,000 images": (f"/collections/{big.pk}/",
                                          f"/collections/{small.pk}/"),
        "collection page, search in it": (f"/collections/{big.pk}/?q=lighthouse",
                                          f"/collections/{small.pk}/?q=lighthouse"),
        "tag autocomplete `tag 1`": ("/tag-suggestions/?name=tag+1", "/tag-suggestions/?name=tag+0001"),
        "tag autocomplete `t`": ("/tag-suggestions/?name=t", "/tag-suggestions/?name=zzz"),
    }  # fmt: skip

    floor_settings, _ = floor_site(member)  # bench_gallery's floor
    client = Client()
    client.force_login(member)
    results = {}
    with override_settings(**floor_settings):
        for name, (url, other) in {"floor (48 precomputed)": ("/__floor__/", "/__floor__/"),
                                   **scenarios}.items():  # fmt: skip
            for _ in range(3):
                response = client.get(url)
                assert response.status_code == 200, (name, url, response.status_code)
            with CaptureQueriesContext(connection) as captured:
                client.get(url)
            sqls = [q["sql"] for q in captured.captured_queries]
            with CaptureQueriesContext(connection) as captured_other:
                assert client.get(other).status_code == 200, (name, other)
            assert len(captured_other) == len(sqls), (name, len(sqls), len(captured_other))
            heavy = [
                s
                for s in sqls
                if "LIMIT" in s and "ORDER BY" in s and ("gallery_image" in s or "taggit" in s)
            ]
            html = response.content.decode()
            results[name] = {
                "url": url,
                "queries": len(sqls),
                "shown": html.count('class="tile ') or html.count('role="option"'),
                "sql": heavy,
            }

        # Round robin, so the floor and every view share the box's load as it shifts.
        timings = {name: [] for name in results}
        for _ in range(runs):
            for name, r in results.items():
                started = time.perf_counter()
                client.get(r["url"])
                timings[name].append((time.perf_counter() - started) * 1000)
        for name, r in results.items():
            times = sorted(timings[name])
            r["p50"] = statistics.median(times)
            r["p95"] = times[int(0.95 * (len(times) - 1))]

    # Tagging in bulk: the same number of queries for 5 images as for 500.
    ids = list(
        queries.images_changeable_by(member).order_by("id").values_list("id", flat=True)[:505]
    )
    chosen = list(Image.objects.filter(pk__in=ids))
    bulk = {}
    for label, images, tag in (("5", chosen[:5], "bulk small"), ("500", chosen[5:505], "bulk big")):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            add_tags(member, images, [tag, "bulk both"])
            bulk[label] = ((time.perf_counter() - started) * 1000, len(captured))
    assert bulk["5"][1] == bulk["500"][1], bulk

    base = results["floor (48 precomputed)"]["p50"]
    total, tags = Image.objects.count(), Tag.objects.count()
    print(
        f"\n{total} images, {tags} tags, {ImageTag.objects.count()} image tags, {runs} runs each\n"
    )
    print("| view | p50 ms | p95 ms | ratio (p50 / floor p50) | SQL queries (both sizes) | shown |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['p50']:.1f} | {r['p95']:.1f} | {r['p50'] / base:.2f} | "
              f"{r['queries']} | {r['shown']} |")  # fmt: skip
    for label, (ms, n) in bulk.items():
        print(f"\ntagging {label} images with 2 tags: {ms:.1f} ms, {n} queries")
    print("\nEXPLAIN ANALYZE of each view's heaviest query:")
    for name, r in results.items():
        for n, sql in enumerate(r["sql"], 1):
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN ANALYZE " + sql)
                plan = [row[0] for row in cursor.fetchall()]
            used = sorted({w for line in plan for w in line.split() if w.endswith("_idx")})
            print(f"\n-- {name}, query {n}: indexes {', '.join(used) or 'none by name'}")
            print("\n".join(plan))


if __name__ == "__main__":
    main()
