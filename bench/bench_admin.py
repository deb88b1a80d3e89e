"""The admin's moderation lists at 100,000 images: server-side time and query count of the
image and generation changelists (unfiltered, searched, filtered) and the moderation queue,
against floors measured in the same run.

    .venv/bin/python bench/bench_admin.py [--images 100000] [--members 20] [--runs 30]
    .venv/bin/python bench/bench_admin.py --reuse     # measure an already seeded database

Seeds PostgreSQL (BENCH_ADMIN_DATABASE_URL, default .../sg_moderation_admin_bench) with
seed_demo's rows-only fast path, files reports on 300 images (one of them reported 1,000
times) and share links on 100, then renders each admin page through Django's test client
(middleware, session, auth) as a superuser. Floors: the admin's index page (its chrome, no
list) and the members' gallery first page (48 tiles).
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

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/sg_moderation_admin_bench"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--members", type=int, default=20)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--reuse", action="store_true", help="measure the seeded database as is")
    args = parser.parse_args()
    url = os.environ.get("BENCH_ADMIN_DATABASE_URL", DEFAULT_URL)
    os.environ["BENCH_DATABASE_URL"] = url
    if args.reuse:
        from bench.bench_gallery import _settings_only

        _settings_only(url)
    else:
        from bench import stack

        stack.start(database="postgres")
        from django.core.management import call_command

        started = time.perf_counter()
        call_command(
            "seed_demo", count=args.images, members=args.members, fast=True, rows_only=True
        )
        seed_reports()
        print(f"seeded {args.images} images in {time.perf_counter() - started:.0f} s")
    measure(args.runs)


def seed_reports() -> None:
    """300 reported images (one of them 1,000 times) and 100 share links with views."""
    import hashlib

    from gallery.models import Image, Report, ShareLink

    rng = random.Random(13)
    ids = list(Image.objects.values_list("id", flat=True).order_by("?")[:300])
    reasons = [r for r, _ in Report.Reason.choices]
    reports = [Report(image_id=ids[0], reason=rng.choice(reasons)) for _ in range(1000)]
    for image_id in ids[1:]:
        reports += [
            Report(image_id=image_id, reason=rng.choice(reasons)) for _ in range(rng.randint(1, 5))
        ]
    Report.objects.bulk_create(reports, batch_size=2000)
    owners = dict(Image.objects.filter(id__in=ids[:100]).values_list("id", "owner_id"))
    ShareLink.objects.bulk_create(
        ShareLink(
            owner_id=owners[i],
            image_id=i,
            token_hash=hashlib.sha256(str(i).encode()).hexdigest(),
            view_count=rng.randint(0, 5000),
        )
        for i in ids[:100]
    )


def measure(runs: int) -> None:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    from gallery.models import Generation, Image, Report

    setup_test_environment()
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    User = get_user_model()
    staff, _ = User.objects.get_or_create(
        username="bench-staff", defaults={"is_staff": True, "is_superuser": True}
    )
    member = User.objects.get(username="member01")
    admin_client, member_client = Client(), Client()
    admin_client.force_login(staff)
    member_client.force_login(member)

    middle = max(1, Image.objects.count() // 200)  # half way through, 100 rows a page
    scenarios = {
        "floor: admin index": (admin_client, "/admin/"),
        "floor: gallery first page (48 tiles)": (member_client, "/"),
        "images: first page": (admin_client, "/admin/gallery/image/"),
        "images: search prompt 'lighthouse'": (admin_client, "/admin/gallery/image/?q=lighthouse"),
        "images: hidden=no, visibility=team": (
            admin_client, "/admin/gallery/image/?is_hidden__exact=0&visibility__exact=team",
        ),
        "images: reported=open": (admin_client, "/admin/gallery/image/?reported=open"),
        "images: author member01": (admin_client, f"/admin/gallery/image/?author={member.pk}"),
        f"images: page {middle}": (admin_client, f"/admin/gallery/image/?p={middle}"),
        "generations: first page": (admin_client, "/admin/gallery/generation/"),
        "generations: status=succeeded": (
            admin_client, "/admin/gallery/generation/?status__exact=succeeded",
        ),
        "generations: search prompt 'lighthouse'": (
            admin_client, "/admin/gallery/generation/?q=lighthouse",
        ),
        "moderation queue": (admin_client, "/admin/gallery/reportedimage/"),
    }  # fmt: skip
    plain_static = {  # no collectstatic manifest here, as in the tests
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    results = {}
    with override_settings(STORAGES=plain_static):
        for name, (client, url) in scenarios.items():
            for _ in range(2):
                response = client.get(url, secure=True)
                assert response.status_code == 200, (name, response.status_code)
            with CaptureQueriesContext(connection) as captured:
                response = client.get(url, secure=True)
            queries = len(captured.captured_queries)
            counts = [
                q for q in captured.captured_queries if q["sql"].startswith("SELECT COUNT(*)")
            ]
            timings = []
            for _ in range(runs):
                started = time.perf_counter()
                client.get(url, secure=True)
                timings.append((time.perf_counter() - started) * 1000)
            timings.sort()
            rows = response.content.decode().count('<tr><td class="action-checkbox">')
            results[name] = {
                "p50": statistics.median(timings),
                "p95": timings[int(0.95 * (len(timings) - 1))],
                "queries": queries,
                "counts": len(counts),
                "rows": rows,
            }

    base = results["floor: admin index"]["p50"]
    print(
        f"\n{Image.objects.count()} images, {Generation.objects.count()} generations, "
        f"{Report.objects.count()} reports, {User.objects.count()} members, {runs} runs each\n"
    )
    print("| page | p50 ms | p95 ms | p50 / admin index p50 | queries | COUNT queries | rows |")
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['p50']:.1f} | {r['p95']:.1f} | {r['p50'] / base:.2f} | "
            f"{r['queries']} | {r['counts']} | {r['rows']} |"
        )


if __name__ == "__main__":
    main()
