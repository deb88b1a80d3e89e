"""Gallery pages at 100,000 images: server-side time of each list view against a floor.

    .venv/bin/python bench/bench_gallery.py [--images 100000] [--members 20] [--runs 40]
    .venv/bin/python bench/bench_gallery.py --reuse     # measure an already seeded database

Seeds PostgreSQL (BENCH_GALLERY_DATABASE_URL, default .../seedgallery_gallery_bench) with
seed_demo's fast path (real small images into a throwaway SeaweedFS), then renders each view
through Django's test client (middleware, session, auth and all) as member01, and a floor: a
trivial view rendering the same template with 48 precomputed items. Prints p50/p95 of each,
the ratio of p50s to the floor's, the SQL query count, and EXPLAIN of each list query.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import types
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/seedgallery_gallery_bench"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--members", type=int, default=20)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--reuse", action="store_true", help="measure the seeded database as is")
    parser.add_argument(
        "--with-pictures",
        action="store_true",
        help="draw and store every picture in S3 (slow: ~30 images/s here); the pages never read them",
    )
    args = parser.parse_args()
    url = os.environ.get("BENCH_GALLERY_DATABASE_URL", DEFAULT_URL)
    os.environ["BENCH_DATABASE_URL"] = url
    if args.reuse:
        _settings_only(url)
    else:
        from bench import stack

        stack.start(database="postgres")
        from django.core.management import call_command

        started = time.perf_counter()
        call_command(
            "seed_demo", count=args.images, members=args.members, fast=True,
            rows_only=not args.with_pictures,
        )  # fmt: skip
        print(f"seeded {args.images} images in {time.perf_counter() - started:.0f} s")
    measure(args.runs)


def _settings_only(url: str) -> None:
    os.environ.update(
        {
            "SECRET_KEY": "bench-only",
            "DEBUG": "0",
            "SECURE_SSL_REDIRECT": "0",  # the test client speaks plain HTTP
            "ALLOWED_HOSTS": "testserver",
            "DATABASE_URL": url,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench-secret",
            "AWS_STORAGE_BUCKET_NAME": "bench",
        }
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def floor_site(member):
    """The site with a floor page at /__floor__/: the gallery template rendered with the
    member's first 48 images, every field (URLs included) precomputed. Returns the settings
    to serve it with (no collectstatic manifest here, as in the tests) and that page."""
    from django.conf import settings
    from django.shortcuts import render
    from django.urls import include, path

    from gallery import queries
    from gallery.models import Image

    page = queries.gallery_page(member, queries.GalleryFilters(), per_page=48)
    items = [
        SimpleNamespace(
            **{f.attname: getattr(i, f.attname) for f in Image._meta.concrete_fields},
            pk=i.pk,
            thumbnail_url=i.thumbnail_url,
            stack_count=i.stack_count,
        )  # fmt: skip
        for i in page.images
    ]

    def floor(request):
        return render(request, "gallery/home.html", {"images": items, "nav": "gallery"})

    urls = types.ModuleType("bench_floor_urls")
    urls.urlpatterns = [path("__floor__/", floor), path("", include("config.urls"))]
    sys.modules[urls.__name__] = urls
    plain_static = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    return {"ROOT_URLCONF": urls.__name__, "STORAGES": plain_static}, page


def measure(runs: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    from gallery import queries
    from gallery.forms import encode_cursor
    from gallery.models import Image
    from gallery.storage import presigned_url

    setup_test_environment()
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE gallery_image")
    member = get_user_model().objects.get(username="member01")
    total = Image.objects.count()
    depth = min(50_000, total - 1)
    deep = Image.objects.order_by("-created_at", "-id")[depth : depth + 1].get()  # setup only
    deep_cursor = encode_cursor(queries.Cursor.of(deep))
    half_year = (deep.created_at.date()).isoformat()

    scenarios = {
        "first page": "/",
        "combined filter": f"/?who=mine&orientation=landscape&watermark=off&date_from={half_year}&sort=oldest",
        "50,000 deep": f"/?view=flat&after={deep_cursor}",
        "word search": "/?q=lighthouse",
        "partial word": "/?q=ighthou",
        "Chinese, 2 chars": "/?q=橘猫",
    }

    floor_settings, page = floor_site(member)
    client = Client()
    client.force_login(member)
    results = {}
    with override_settings(**floor_settings):
        for name, url in {"floor (48 precomputed)": "/__floor__/", **scenarios}.items():
            for _ in range(3):
                response = client.get(url)
                assert response.status_code == 200, (name, response.status_code)
            with CaptureQueriesContext(connection) as captured:
                client.get(url)
            sqls = [q["sql"] for q in captured.captured_queries]  # read before the log resets
            timings = []
            for _ in range(runs):
                started = time.perf_counter()
                client.get(url)
                timings.append((time.perf_counter() - started) * 1000)
            timings.sort()
            list_sql = [sql for sql in sqls if "LIMIT" in sql and "gallery_image" in sql]
            results[name] = {
                "p50": statistics.median(timings),
                "p95": timings[int(0.95 * (len(timings) - 1))],
                "queries": len(sqls),
                "tiles": response.content.decode().count('class="tile '),
                "sql": list_sql[0] if list_sql else "",
            }

    from gallery import storage

    signing = []
    keys = [i.thumbnail_key for i in page.images]
    for _ in range(runs):
        storage._signed.clear()  # cold: every URL signed afresh
        started = time.perf_counter()
        for key in keys:
            presigned_url(key)
        signing.append((time.perf_counter() - started) * 1000)

    base = results["floor (48 precomputed)"]["p50"]
    print(f"\n{total} images, {get_user_model().objects.count()} members, {runs} runs each\n")
    print("| view | p50 ms | p95 ms | ratio (p50 / floor p50) | queries | tiles |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['p50']:.1f} | {r['p95']:.1f} | {r['p50'] / base:.2f} | {r['queries']} | {r['tiles']} |"
        )
    cold = statistics.median(signing)
    print(f"\npresigning 48 thumbnail URLs afresh (cache bypassed): p50 {cold:.1f} ms, "
          f"{cold / results['first page']['p50']:.0%} of the first page's p50 (which reuses them)")  # fmt: skip
    print("\nEXPLAIN ANALYZE of each list query:")
    for name, r in results.items():
        if not r["sql"]:
            continue
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN ANALYZE " + r["sql"])
            plan = [row[0] for row in cursor.fetchall()]
        uses_index = any("Index" in line for line in plan)
        print(f"\n-- {name}: {'uses an index' if uses_index else 'NO INDEX'}")
        print("\n".join(plan))


if __name__ == "__main__":
    main()
