"""Demo and benchmark data: images made through the real pipeline (small counts), or drawn
here and written straight to the database and S3 (large counts)."""

from __future__ import annotations

import functools
import hashlib
import io
import random
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from PIL import Image as PILImage
from PIL import ImageDraw

from gallery import imaging
from gallery.models import Generation, Image
from gallery.search import prompt_tokens
from gallery.seedream.contract import RECOMMENDED_SIZES, SEED_MAX
from gallery.storage import original_key, put_object, thumbnail_key

Progress = Callable[[int], None]

SUBJECTS_EN = ["a ginger cat", "a porcelain fox", "an old lighthouse", "a paper boat",
               "a red panda", "a glass teapot", "a mountain village", "a koi pond",
               "a vintage bicycle", "a snowy owl", "a neon street", "a bamboo forest",
               "a sleeping dragon", "a desert caravan", "a tiny robot", "a jellyfish"]  # fmt: skip
PLACES_EN = ["in the rain", "at dawn", "under the stars", "in morning fog", "by the sea",
             "on a windowsill", "in autumn leaves", "at golden hour", "in a snowstorm",
             "among cherry blossoms"]  # fmt: skip
STYLES_EN = ["watercolour", "oil painting", "35mm photograph", "ink wash", "isometric 3D",
             "studio lighting", "cinematic", "pastel illustration", "ukiyo-e print",
             "low-poly render"]  # fmt: skip
SUBJECTS_ZH = ["橘猫", "瓷狐狸", "古老的灯塔", "纸船", "小熊猫", "玻璃茶壶", "山村", "锦鲤池",
               "复古自行车", "雪鸮", "霓虹街道", "竹林", "沉睡的龙", "沙漠驼队", "小机器人",
               "水母"]  # fmt: skip
PLACES_ZH = ["在雨中", "在黎明", "在星空下", "在晨雾里", "在海边", "在窗台上", "在秋叶中",
             "在黄昏", "在暴风雪中", "在樱花树下"]  # fmt: skip
STYLES_ZH = ["水彩", "油画", "胶片摄影", "水墨", "等距三维", "棚拍光", "电影感", "粉彩插画",
             "浮世绘", "低多边形"]  # fmt: skip

# Drawn pictures are small: enough for a thumbnail, cheap enough for 100,000 of them.
DRAWN_MAX_SIDE = 160
CHUNK = 500


def demo_prompt(rng: random.Random) -> str:
    """A realistic prompt: two in three English, one in three Chinese."""
    if rng.random() < 1 / 3:
        return f"一只{rng.choice(PLACES_ZH)}的{rng.choice(SUBJECTS_ZH)}，{rng.choice(STYLES_ZH)}"
    return f"{rng.choice(SUBJECTS_EN)} {rng.choice(PLACES_EN)}, {rng.choice(STYLES_EN)}"


@functools.lru_cache(maxsize=64)
def _sky_mask(width: int, height: int) -> PILImage.Image:
    return PILImage.linear_gradient("L").resize((width, height))


def draw_scene(rng: random.Random, width: int, height: int) -> PILImage.Image:
    """A small landscape: a sky gradient, a sun or moon, and layered hills, from the rng."""
    scale = DRAWN_MAX_SIDE / max(width, height)
    w, h = max(8, round(width * scale)), max(8, round(height * scale))
    top = tuple(rng.randrange(256) for _ in range(3))
    bottom = tuple(rng.randrange(256) for _ in range(3))
    sky = _sky_mask(w, h)
    picture = PILImage.composite(
        PILImage.new("RGB", (w, h), bottom), PILImage.new("RGB", (w, h), top), sky
    )
    draw = ImageDraw.Draw(picture)
    radius = rng.randint(h // 12 + 1, h // 5 + 2)
    cx, cy = rng.randrange(w), rng.randrange(max(1, h // 2))
    draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=(255, 236, 170))
    for layer in range(rng.randint(2, 4)):
        base = h * (0.5 + 0.15 * layer)
        points = [(0, h)]
        for x in range(0, w + 24, 24):
            points.append((x, base + rng.uniform(-h / 8, h / 8)))
        points.append((w, h))
        shade = tuple(max(0, min(255, c - 40 * (layer + 1) + rng.randrange(40))) for c in bottom)
        draw.polygon(points, fill=shade)
    return picture


def _drawn_image(rng: random.Random, *, prompt: str, seed: int, size: str, when) -> dict:
    width, height = (int(side) for side in size.split("x"))
    picture = draw_scene(rng, width, height)
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=82)
    meta = imaging.ImageMetadata(
        prompt=prompt, seed=seed, size=size, guidance_scale=2.5,
        model=settings.SEEDREAM_MODEL, generated_at=when, produce_id=f"demo-{uuid.uuid4()}",
    )  # fmt: skip
    original = imaging.embed_metadata(buffer.getvalue(), "JPEG", meta)
    thumb = io.BytesIO()
    picture.save(thumb, "WEBP", quality=80, method=0)
    r, g, b = picture.reduce(8).resize((1, 1), PILImage.Resampling.BOX).getpixel((0, 0))
    sha = hashlib.sha256(original).hexdigest()
    return {
        "sha256": sha,
        "original": original,
        "thumbnail": thumb.getvalue(),
        "provider_sha256": hashlib.sha256(buffer.getvalue()).hexdigest(),
        "thumb_width": picture.width,
        "thumb_height": picture.height,
        "dominant_color": f"#{r:02x}{g:02x}{b:02x}",
        "width": width,
        "height": height,
    }


def _undrawn_image(rng: random.Random, size: str) -> dict:
    width, height = (int(side) for side in size.split("x"))
    scale = DRAWN_MAX_SIDE / max(width, height)
    return {
        "sha256": f"{rng.getrandbits(256):064x}",
        "original": b"",
        "thumbnail": b"",
        "provider_sha256": f"{rng.getrandbits(256):064x}",
        "thumb_width": round(width * scale),
        "thumb_height": round(height * scale),
        "dominant_color": f"#{rng.getrandbits(24):06x}",
        "width": width,
        "height": height,
    }


def seed_fast(users: list, count: int, *, progress: Progress, upload: bool = True) -> int:
    """Draw `count` distinct images and write them straight to S3 and the database: batches of
    one to four, dates spread over the past year, the members taking turns.

    With upload=False only the rows are written, with random keys and colours and nothing
    drawn: for benchmarks of the list pages, which never read the objects."""
    rng = random.Random()  # noqa: S311 - demo pictures, not secrets
    now = timezone.now()
    made = 0
    pending: tuple[list, list] | None = None  # a chunk whose uploads are still running
    with ThreadPoolExecutor(max_workers=16, thread_name_prefix="demo-upload") as uploads:
        while made < count or pending:
            todo = min(CHUNK, count - made - (len(pending[0]) if pending else 0))
            rows = _new_rows(_draw_chunk(rng, users, todo, now, draw=upload)) if todo > 0 else []
            stored = [uploads.submit(_store, row) for row in rows] if upload else []
            if pending:  # the previous chunk's objects are in S3: now its rows may point at them
                for future in pending[1]:
                    future.result()
                _insert(pending[0])
                made += len(pending[0])
                progress(len(pending[0]))
            pending = (rows, stored) if rows else None
    return made


def _new_rows(rows: list[dict]) -> list[dict]:
    """Drop drawings whose bytes are already stored, so a re-run never reuses a key."""
    known = set(
        Image.objects.filter(sha256__in=[r["sha256"] for r in rows]).values_list(
            "sha256", flat=True
        )
    )
    return [row for row in rows if row["sha256"] not in known]


def _draw_chunk(
    rng: random.Random, users: list, todo: int, now, *, draw: bool = True
) -> list[dict]:
    rows: list[dict] = []
    seen: set[str] = set()
    while len(rows) < todo:
        user = users[rng.randrange(len(users))]
        prompt, size = demo_prompt(rng), rng.choice(RECOMMENDED_SIZES)
        when = now - timedelta(seconds=rng.uniform(0, 365 * 86400))
        batch, random_seed = uuid.uuid4(), rng.random() < 0.8
        seed = rng.randrange(SEED_MAX + 1)
        for i in range(min(rng.choice((1, 1, 1, 2, 4)), todo - len(rows))):
            drawn = (
                _drawn_image(rng, prompt=prompt, seed=seed + i, size=size, when=when)
                if draw
                else _undrawn_image(rng, size)
            )
            if drawn["sha256"] in seen:
                continue
            seen.add(drawn["sha256"])
            drawn.update(
                user=user, prompt=prompt, seed=(seed + i) % (SEED_MAX + 1), size=size,
                created_at=when + timedelta(seconds=2 + i), batch=batch,
                seed_was_random=random_seed, watermark=rng.random() < 0.3,
            )  # fmt: skip
            rows.append(drawn)
    return rows


def _store(row: dict) -> None:
    put_object(original_key(row["sha256"], "jpg"), row["original"], "image/jpeg")
    put_object(thumbnail_key(row["sha256"]), row["thumbnail"], "image/webp")


@transaction.atomic
def _insert(rows: list[dict]) -> None:
    generations = Generation.objects.bulk_create(
        [
            Generation(
                user=row["user"],
                batch=row["batch"],
                created_at=row["created_at"] - timedelta(seconds=2),
                prompt=row["prompt"],
                model=settings.SEEDREAM_MODEL,
                width=row["width"],
                height=row["height"],
                seed=row["seed"],
                seed_was_random=row["seed_was_random"],
                guidance_scale=2.5,
                watermark=row["watermark"],
                status=Generation.Status.SUCCEEDED,
                status_changed_at=row["created_at"],
                finished_at=row["created_at"],
            )  # fmt: skip
            for row in rows
        ]
    )
    if any(g.pk is None for g in generations):  # backends without RETURNING
        batches = [row["batch"] for row in rows]
        by_key = {(g.batch, g.seed): g for g in Generation.objects.filter(batch__in=batches)}
        generations = [by_key[(row["batch"], row["seed"])] for row in rows]
    Image.objects.bulk_create(
        [
            Image(
                generation=generation,
                owner=row["user"],
                created_at=row["created_at"],
                batch=row["batch"],
                prompt=row["prompt"],
                search_tokens=prompt_tokens(row["prompt"]),
                model=settings.SEEDREAM_MODEL,
                seed=row["seed"],
                guidance_scale=2.5,
                watermark=row["watermark"],
                width=row["width"],
                height=row["height"],
                original_key=original_key(row["sha256"], "jpg"),
                content_type="image/jpeg",
                byte_size=len(row["original"]),
                sha256=row["sha256"],
                provider_sha256=row["provider_sha256"],
                thumbnail_key=thumbnail_key(row["sha256"]),
                thumb_width=row["thumb_width"],
                thumb_height=row["thumb_height"],
                dominant_color=row["dominant_color"],
            )  # fmt: skip
            for row, generation in zip(rows, generations, strict=True)
        ],
        batch_size=CHUNK,
    )


def seed_through_pipeline(user, count: int, *, progress: Progress) -> int:
    """Make `count` images through the real pipeline: jobs in batches of up to four, each
    run here (provider call to the emulator or API, then the ingest), no worker needed."""
    from gallery.services import generation as generation_service

    rng = random.Random()  # noqa: S311 - demo prompts, not secrets
    jobs: list[int] = []
    while len(jobs) < count:
        batch, prompt = uuid.uuid4(), demo_prompt(rng)
        width, height = (int(side) for side in rng.choice(RECOMMENDED_SIZES).split("x"))
        seed = rng.randrange(SEED_MAX - 8)
        for i in range(min(rng.choice((1, 2, 4)), count - len(jobs))):
            row = Generation.objects.create(
                user=user, batch=batch, prompt=prompt, model=settings.SEEDREAM_MODEL,
                width=width, height=height, seed=seed + i, seed_was_random=True,
                guidance_scale=2.5,
            )  # fmt: skip
            jobs.append(row.pk)

    def run_one(pk: int) -> bool:
        try:
            outcome = generation_service.run(pk)
            while outcome.retry_in is not None:
                time.sleep(outcome.retry_in)
                outcome = generation_service.run(pk)
            return outcome.status == Generation.Status.SUCCEEDED
        finally:
            connection.close()  # this thread's own connection

    made = 0
    # Four at a time: the provider's (or emulator's) wait, not our CPU, is the cost.
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="demo-job") as pool:
        for succeeded in pool.map(run_one, jobs):
            made += succeeded
            progress(1)
    return made
