"""Image rows for gallery tests, made without the pipeline (S3 objects are not needed to list
them: thumbnails are presigned locally), and a look into S3 for the tests that do store them."""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta

from botocore.exceptions import ClientError
from django.conf import settings
from django.utils import timezone

from gallery import storage
from gallery.models import Generation, Image
from gallery.search import prompt_tokens

_serial = itertools.count(1)


def stored(key: str) -> bool:
    """Whether the test bucket holds an object under `key`."""
    try:
        storage.shared_s3_client().head_object(Bucket=settings.AWS_STORAGE_BUCKET_NAME, Key=key)
        return True
    except ClientError:
        return False


MODEL = "doubao-seedream-3-0-t2i-250415"


def make_image(owner, *, prompt="a kite over the sea", width=1024, height=1024, seed=None,
               batch=None, created_at=None, watermark=False, with_generation=True,
               key=None, **fields) -> Image:  # fmt: skip
    n = next(_serial)
    seed = n if seed is None else seed
    generation = None
    if with_generation:
        generation = Generation.objects.create(
            user=owner, batch=batch or uuid.uuid4(), prompt=prompt, model=MODEL, width=width,
            height=height, seed=seed, seed_was_random=True, guidance_scale=2.5,
            watermark=watermark, status="succeeded", provider_request_id=f"req-{n}",
            finished_at=timezone.now(),
        )  # fmt: skip
    key = key or f"{n:064x}"
    return Image.objects.create(
        generation=generation, owner=owner, prompt=prompt, model=MODEL, seed=seed,
        guidance_scale=2.5, watermark=watermark, width=width, height=height,
        batch=generation.batch if generation else (batch or uuid.uuid4()),
        created_at=created_at or timezone.now(),
        original_key=f"originals/{key[:2]}/{key}.jpg", content_type="image/jpeg", byte_size=1,
        sha256=key, provider_sha256="0" * 64, thumbnail_key=f"thumbnails/{key[:2]}/{key}.webp",
        thumb_width=384, thumb_height=round(384 * height / width), dominant_color="#336699",
        **fields,
    )  # fmt: skip


PROMPTS = ["a ginger cat in the rain, watercolour", "一只在雨中的橘猫", "an old lighthouse at dawn",
           "a porcelain fox in morning fog", "一座古老的灯塔，水墨", "a neon street by the sea"]  # fmt: skip
SIZES = [(1024, 1024), (1512, 648), (720, 1280), (1152, 864)]


def bulk_images(owners: list, count: int, *, start=None) -> list[Image]:
    """`count` images spread over owners, prompts, sizes and batches of up to three, one
    minute apart going back from `start`: fast, for query-count tests at 1,000 rows."""
    start = start or timezone.now()
    rows = []
    batch = uuid.uuid4()
    for i in range(count):
        if i % 3 == 0:
            batch = uuid.uuid4()
        width, height = SIZES[i % len(SIZES)]
        prompt = PROMPTS[(i // 3) % len(PROMPTS)]
        key = f"{next(_serial):064x}"
        rows.append(
            Image(
                owner=owners[(i // 3) % len(owners)],
                prompt=prompt,
                search_tokens=prompt_tokens(prompt),
                model=MODEL,
                seed=i,
                guidance_scale=2.5,
                watermark=i % 2 == 0,
                width=width,
                height=height,
                batch=batch,
                created_at=start - timedelta(minutes=i),
                original_key=f"originals/{key}.jpg",
                content_type="image/jpeg",
                byte_size=1,
                sha256=key,
                provider_sha256="0" * 64,
                thumbnail_key=f"thumbnails/{key}.webp",
                thumb_width=384,
                thumb_height=384,
            )  # fmt: skip
        )
    return Image.objects.bulk_create(rows)
