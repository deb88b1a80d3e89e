"""Worker CPU per image, step by step: each step of a job's path run alone on one thread, N
times, its process CPU time (time.process_time: every thread of this process) divided by N,
against the whole path (service.run from queued to succeeded) measured the same way. The
emulator, S3 and PostgreSQL run in other processes and are not counted. If pyvips is
installed, a libvips shrink-on-load thumbnail is measured beside Pillow's for comparison.

    .venv/bin/python bench/bench_cost.py [--images 100]
"""

from __future__ import annotations

import argparse
import hashlib
import time

import stack


def cpu_ms(fn, items) -> float:
    started = time.process_time()
    for item in items:
        fn(item)
    return (time.process_time() - started) / len(items) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=100)
    n = parser.parse_args().images
    # The database pool as compose sets it: a released connection is taken back, not remade.
    stack.start(
        database="postgres", extra_env={"LOG_LEVEL": "WARNING", "DATABASE_POOL_MAX_SIZE": "20"}
    )

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from gallery import imaging
    from gallery.models import Generation
    from gallery.seedream import client
    from gallery.seedream.contract import GenerationParams
    from gallery.services import generation as service
    from gallery.services import ingest
    from gallery.storage import CACHE_CONTROL, put_object, shared_s3_client

    user = get_user_model().objects.create_user("bench")
    params = [GenerationParams(prompt=f"cost {i}", size="1024x1024", seed=i) for i in range(n)]
    for p in params[:3]:  # warm connections, caches and imports
        ingest.download(client.generate(p).url)

    steps: dict[str, float] = {}
    results = []
    steps["provider call (client)"] = cpu_ms(lambda p: results.append(client.generate(p)), params)
    images = []
    steps["download"] = cpu_ms(lambda r: images.append(ingest.download(r.url)[0]), results)
    meta = imaging.ImageMetadata(
        prompt="cost", seed=1, size="1024x1024", guidance_scale=2.5,
        model=settings.SEEDREAM_MODEL, generated_at=timezone.now(),
    )  # fmt: skip
    labelled, digests = [], []

    def label(data: bytes) -> None:
        claimed = imaging.check_header(data, "image/jpeg", 40_000_000)
        out = imaging.embed_metadata(data, claimed.format, meta)
        digests.append(hashlib.sha256(out).hexdigest())
        hashlib.sha256(data).hexdigest()
        labelled.append(out)

    steps["check header + label + sha256"] = cpu_ms(label, images)
    thumbs = []
    steps["decode + WebP thumbnail (Pillow)"] = cpu_ms(
        lambda d: thumbs.append(
            imaging.inspect_image(d, max_side=settings.THUMBNAIL_SIZE)[1].thumbnail
        ),
        images,
    )
    # As ingest calls it: the original's sha256 is already known, the thumbnail's is not.
    steps["S3 PUT original (SigV4, sha256 given)"] = cpu_ms(
        lambda i: put_object(f"cost/o{i}.jpg", labelled[i], "image/jpeg", sha256=digests[i]),
        range(n),
    )
    steps["S3 PUT thumbnail (SigV4, hashes it)"] = cpu_ms(
        lambda i: put_object(f"cost/t{i}.webp", thumbs[i], "image/webp"), range(n)
    )
    boto3_client = shared_s3_client()
    boto3_put_ms = cpu_ms(  # not a step: what the original's PUT cost through boto3
        lambda i: boto3_client.put_object(
            Bucket=settings.AWS_STORAGE_BUCKET_NAME, Key=f"cost/b{i}.jpg", Body=labelled[i],
            ContentType="image/jpeg", CacheControl=CACHE_CONTROL,
        ),
        range(n),
    )  # fmt: skip

    rows = []
    submit_ms = cpu_ms(  # queueing sends a real message, which no worker takes here
        lambda i: rows.extend(
            service.submit(user=user, params=GenerationParams(prompt=f"whole {i}", seed=i))
        ),
        range(n),
    )

    def whole(row) -> None:
        outcome = service.run(row.pk)
        assert outcome.status == "succeeded", outcome

    total = cpu_ms(whole, rows)
    assert Generation.objects.filter(status="succeeded").count() == n

    print(f"images: {n} 1024x1024 JPEGs, median {sorted(map(len, images))[n // 2] / 1024:.0f} KiB")
    for name, ms in steps.items():
        print(f"  {name:36s} {ms:6.2f} ms CPU")
    parts = sum(steps.values())
    print(f"  {'sum of the steps':36s} {parts:6.2f} ms")
    print(f"  {'(S3 PUT original through boto3)':36s} {boto3_put_ms:6.2f} ms CPU, for comparison")
    print(f"whole run (queued -> succeeded, in process): {total:6.2f} ms CPU; database, ORM "
          f"and bookkeeping beyond the steps: {total - parts:6.2f} ms")  # fmt: skip
    print(f"submit (web side, not the worker's): {submit_ms:6.2f} ms CPU per job")

    try:
        import pyvips
    except ImportError:
        print("pyvips not installed: no libvips comparison")
        return

    def vips_thumb(data: bytes) -> None:
        thumb = pyvips.Image.thumbnail_buffer(data, settings.THUMBNAIL_SIZE).copy_memory()
        thumb.webpsave_buffer(Q=80, effort=0)
        [thumb.extract_band(band).avg() for band in range(3)]  # the dominant colour

    pyvips.cache_set_max(0)
    vips_ms = cpu_ms(vips_thumb, images)
    pillow_ms = steps["decode + WebP thumbnail (Pillow)"]
    print(f"libvips {pyvips.version(0)}.{pyvips.version(1)} shrink-on-load thumbnail + WebP: "
          f"{vips_ms:.2f} ms CPU against Pillow's {pillow_ms:.2f} ms "
          f"({pillow_ms / vips_ms:.2f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
