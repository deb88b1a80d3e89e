"""S3 storage: content-addressed keys, presigned URLs and the bucket itself."""

from __future__ import annotations

import threading

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


def read_object(key: str) -> bytes:
    """The stored bytes under a key in the media bucket."""
    answer = shared_s3_client().get_object(Bucket=settings.AWS_STORAGE_BUCKET_NAME, Key=key)
    return answer["Body"].read()


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


def presigned_url(key: str, *, expires: int | None = None, download_name: str | None = None) -> str:
    """A time-limited GET URL for a private object."""
    params = {}
    if download_name:
        params["ResponseContentDisposition"] = f'attachment; filename="{download_name}"'
    return media_storage().url(key, parameters=params or None, expire=expires)
