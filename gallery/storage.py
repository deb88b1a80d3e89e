"""S3 storage: content-addressed keys, presigned URLs and the bucket itself."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

import boto3
from botocore.client import Config
from botocore.exceptions import ClientError
from django.conf import settings
from django.core.files.storage import Storage, storages


def media_storage() -> Storage:
    """The S3 storage for originals and thumbnails (STORAGES['default'])."""
    return storages["default"]


def s3_client():
    """A boto3 client built from the same settings django-storages uses (for admin work)."""
    return boto3.client(
        "s3",
        endpoint_url=settings.AWS_S3_ENDPOINT_URL,
        aws_access_key_id=settings.AWS_ACCESS_KEY_ID,
        aws_secret_access_key=settings.AWS_SECRET_ACCESS_KEY,
        region_name=settings.AWS_S3_REGION_NAME,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            connect_timeout=3,
            read_timeout=10,
            retries={"max_attempts": 1},
        ),
    )


_shared_lock = threading.Lock()
_shared: dict[tuple, object] = {}


def shared_s3_client():
    """One pooled client per process for the worker's uploads. boto3 clients are thread-safe,
    and django-storages' per-thread connection would build a session (~10 MB, tens of ms)
    in each of a threaded worker's 50 threads."""
    key = (settings.AWS_S3_ENDPOINT_URL, settings.AWS_ACCESS_KEY_ID)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = boto3.session.Session().client(
                "s3",
                endpoint_url=settings.AWS_S3_ENDPOINT_URL,
                aws_access_key_id=settings.AWS_ACCESS_KEY_ID,
                aws_secret_access_key=settings.AWS_SECRET_ACCESS_KEY,
                region_name=settings.AWS_S3_REGION_NAME,
                config=settings.AWS_S3_CLIENT_CONFIG,
            )
        return _shared[key]


def put_object(key: str, data: bytes, content_type: str) -> None:
    """Store bytes under a key in the media bucket, immutable and private."""
    shared_s3_client().put_object(
        Bucket=settings.AWS_STORAGE_BUCKET_NAME,
        Key=key,
        Body=data,
        ContentType=content_type,
        CacheControl="private, max-age=31536000, immutable",
    )


def delete_object(key: str) -> None:
    shared_s3_client().delete_object(Bucket=settings.AWS_STORAGE_BUCKET_NAME, Key=key)


def ensure_bucket() -> bool:
    """Create the private media bucket when missing; True when it was created."""
    client = s3_client()
    bucket = settings.AWS_STORAGE_BUCKET_NAME
    try:
        client.head_bucket(Bucket=bucket)
        return False
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
    client.create_bucket(Bucket=bucket)
    return True


def original_key(sha256: str, extension: str) -> str:
    """Content-addressed key of a stored original: the same bytes land on the same key."""
    return f"originals/{sha256[:2]}/{sha256}.{extension}"


def thumbnail_key(sha256: str) -> str:
    return f"thumbnails/{sha256[:2]}/{sha256}.webp"


_signed_lock = threading.Lock()
_signed: OrderedDict[tuple, tuple[float, str]] = OrderedDict()
SIGNED_URL_CACHE_SIZE = 50_000


def presigned_url(key: str, *, expires: int | None = None, download_name: str | None = None) -> str:
    """A time-limited GET URL for a private object.

    Signing is local but costs ~0.5 ms, which 48 tiles a page turn into a third of the page's
    time; so a URL is reused for the first quarter of its lifetime (it then still has three
    quarters to live), which also lets browsers cache the thumbnail."""
    lifetime = expires or settings.AWS_QUERYSTRING_EXPIRE
    cache_key = (key, lifetime, download_name, settings.AWS_S3_ENDPOINT_URL)
    now = time.monotonic()
    with _signed_lock:
        hit = _signed.get(cache_key)
        if hit and now - hit[0] < lifetime / 4:
            _signed.move_to_end(cache_key)
            return hit[1]
    params = {}
    if download_name:
        params["ResponseContentDisposition"] = f'attachment; filename="{download_name}"'
    url = media_storage().url(key, parameters=params or None, expire=lifetime)
    with _signed_lock:
        _signed[cache_key] = (now, url)
        if len(_signed) > SIGNED_URL_CACHE_SIZE:
            _signed.popitem(last=False)
    return url


def download_filename(image) -> str:
    """A file name for a download built from the prompt and seed, ASCII only so every browser
    and file system keeps it: 'a-porcelain-fox-in-morning-fog-seed42.jpg'."""
    from django.utils.text import slugify

    stem = slugify(image.prompt)[:60].strip("-") or "seedgallery"
    extension = image.original_key.rsplit(".", 1)[-1]
    return f"{stem}-seed{image.seed}.{extension}"


def download_url(image) -> str:
    """A presigned URL that downloads the original (metadata embedded) under its file name."""
    return presigned_url(image.original_key, download_name=download_filename(image))
