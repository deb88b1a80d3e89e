"""Bulk actions: the queries of tagging 50 vs 500 images (must be equal), and the ZIP of 500
originals (~150 KB JPEGs, ~75 MB) from one web process (uvicorn, ASGI): time to first byte,
total time against the floor of reading the same objects from S3 in the same run (target
<= 1.3x), and the web process's peak memory for 100 vs 500 images (must not grow).

    .venv/bin/python bench/bench_bulk.py [--images 500 --small 100 --rounds 3]

PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/seedgallery_bench,
recreated; `--database sqlite` for a file, where SQLite's 999-parameter limit splits the
tagging INSERT into batches of ~500 rows) and SeaweedFS on free ports (bench/stack.py).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import random
import statistics
import sys
import threading
import time
import zipfile

import psutil
import requests
import stack


def jpeg(seed: int, target: int = 160_000) -> bytes:
    """A real JPEG of about `target` bytes: noise on a gradient, so it does not compress."""
    from PIL import Image as Picture

    rng = random.Random(seed)
    side = 420
    noise = bytes(rng.getrandbits(8) for _ in range(side * side * 3))
    picture = Picture.frombytes("RGB", (side, side), noise)
    for quality in (95, 90, 85, 80, 70, 60, 50):
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", quality=quality)
        if buffer.tell() <= target * 1.1:
            break
    return buffer.getvalue()


def seed_images(owner, count: int) -> list[int]:
    from django.conf import settings

    from gallery import storage
    from gallery.models import Image
    from gallery.search import prompt_tokens

    pictures = [jpeg(n) for n in range(8)]
    client = storage.shared_s3_client()
    rows = []
    for n in range(count):
        body = pictures[n % len(pictures)] + n.to_bytes(4, "big")  # distinct bytes, distinct key
        sha = hashlib.sha256(body).hexdigest()
        key = storage.original_key(sha, "jpg")
        client.put_object(Bucket=settings.AWS_STORAGE_BUCKET_NAME, Key=key, Body=body,
                          ContentType="image/jpeg")  # fmt: skip
        prompt = f"bench harbour {n % 37}"
        rows.append(
            Image(owner=owner, prompt=prompt, search_tokens=prompt_tokens(prompt),
                  model="doubao-seedream-3-0-t2i-250415", seed=n, guidance_scale=2.5,
                  width=400, height=400, original_key=key, content_type="image/jpeg",
                  byte_size=len(body), sha256=sha, provider_sha256=sha,
                  thumbnail_key=storage.thumbnail_key(sha), thumb_width=384, thumb_height=384)
        )  # fmt: skip
    return [image.pk for image in Image.objects.bulk_create(rows)]


def tag_queries(client, ids: list[int]) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    data = {"action": "tag", "ids": ",".join(map(str, ids)), "tags": "bench, harbour"}
    with CaptureQueriesContext(connection) as captured:
        response = client.post("/images/bulk/", data, HTTP_ACCEPT="application/json")
    assert response.status_code == 200, response.content
    return len(captured)


def read_floor(keys: list[str]) -> float:
    """Reading the same objects from S3, one after another, in this process."""
    from django.conf import settings

    from gallery import storage

    client = storage.shared_s3_client()
    started = time.perf_counter()
    for key in keys:
        body = client.get_object(Bucket=settings.AWS_STORAGE_BUCKET_NAME, Key=key)["Body"]
        for _chunk in body.iter_chunks(256 * 1024):
            pass
    return time.perf_counter() - started


def download_zip(base_url: str, cookies: dict, ids: list[int], web: psutil.Process) -> dict:
    baseline = web.memory_info().rss
    peak = {"rss": baseline}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak["rss"] = max(peak["rss"], web.memory_info().rss)
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    data = {"action": "download", "ids": ",".join(map(str, ids))}
    headers = {"X-CSRFToken": cookies["csrftoken"], "Referer": base_url + "/"}
    started = time.perf_counter()
    first = None
    size = 0
    archive = io.BytesIO()
    with requests.post(base_url + "/images/bulk/", data=data, cookies=cookies, headers=headers,
                       stream=True, timeout=300) as response:  # fmt: skip
        assert response.status_code == 200, response.text[:300]
        for chunk in response.iter_content(256 * 1024):
            if first is None:
                first = time.perf_counter() - started
            size += len(chunk)
            archive.write(chunk)
    total = time.perf_counter() - started
    stop.set()
    sampler.join()
    with zipfile.ZipFile(archive) as zipped:
        entries = len(zipped.namelist())
    return {"ttfb": first, "total": total, "bytes": size, "entries": entries,
            "rss_baseline": baseline, "rss_peak": peak["rss"]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", default="postgres", choices=["postgres", "sqlite"])
    args = parser.parse_args()
    local = stack.start(
        database=args.database,
        extra_env={"LOG_LEVEL": "WARNING", "SECURE_SSL_REDIRECT": "0", "SECURE_HSTS_SECONDS": "0",
                   "SESSION_COOKIE_SECURE": "0", "CSRF_COOKIE_SECURE": "0"}
    )  # fmt: skip
    from django.contrib.auth import get_user_model
    from django.test import Client

    from gallery import devstack
    from gallery.models import Image

    owner = get_user_model().objects.create_user("bench-owner")
    ids = seed_images(owner, args.images)
    keys = list(
        Image.objects.filter(pk__in=ids).order_by("pk").values_list("original_key", flat=True)
    )
    stored = sum(Image.objects.filter(pk__in=ids).values_list("byte_size", flat=True))

    # --- Queries: tagging 50 vs 500 images ------------------------------------------------
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(owner)
    tag_queries(client, ids[-1:])  # the tags exist: both counts measure tagging alone
    few, many = tag_queries(client, ids[:50]), tag_queries(client, ids[: args.images])

    # --- ZIP through one uvicorn web process ---------------------------------------------
    port = devstack.free_port()
    web = devstack.start(
        [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
         "--port", str(port), "--no-access-log"],
        log_path=local.tmp / "web.log", env=local.env,
    )  # fmt: skip
    local.procs.append(web)
    devstack.wait_for_port(port, proc=web, timeout=30)
    web_process = psutil.Process(web.pid)
    base_url = f"http://127.0.0.1:{port}"
    csrf = "b" * 32
    cookies = {"sessionid": client.cookies["sessionid"].value, "csrftoken": csrf}
    download_zip(base_url, cookies, ids[:20], web_process)  # warm: imports, pools

    floors, zips, smalls = [], [], []
    for _ in range(args.rounds):  # interleaved, so a busy moment hits both alike
        floors.append(read_floor(keys))
        zips.append(download_zip(base_url, cookies, ids, web_process))
        smalls.append(download_zip(base_url, cookies, ids[: args.small], web_process))
    floor = statistics.median(floors)
    total = statistics.median(z["total"] for z in zips)
    ttfb = statistics.median(z["ttfb"] for z in zips)
    mb = 2**20
    peak_many = max(z["rss_peak"] for z in zips)
    peak_small = max(z["rss_peak"] for z in smalls)
    print(f"images: {args.images} originals, {stored / mb:.1f} MB in S3 "
          f"(~{stored / args.images / 1024:.0f} KB each); rounds: {args.rounds}")  # fmt: skip
    print(f"tagging queries: {few} for 50 images, {many} for {args.images} "
          f"({'equal' if few == many else 'NOT equal'})")  # fmt: skip
    print(f"ZIP entries: {zips[0]['entries']} ({zips[0]['bytes'] / mb:.1f} MB)")
    print(f"time to first byte: {ttfb * 1000:.0f} ms (median; target < 1000 ms)")
    print(f"ZIP total: {total:.2f} s (median of {[round(z['total'], 2) for z in zips]})")
    print(f"floor, reading the same objects from S3 now: {floor:.2f} s "
          f"(median of {[round(f, 2) for f in floors]})")  # fmt: skip
    ratios = sorted(z["total"] / f for z, f in zip(zips, floors, strict=True))
    print(f"ZIP / floor: {total / floor:.2f} of the medians; per round (each against its own "
          f"floor): {[round(r, 2) for r in ratios]} (target <= 1.30)")  # fmt: skip
    print(f"web peak RSS: {peak_small / mb:.0f} MB for {args.small} images, "
          f"{peak_many / mb:.0f} MB for {args.images} (baseline before the first: "
          f"{zips[0]['rss_baseline'] / mb:.0f} MB)")  # fmt: skip


if __name__ == "__main__":
    main()
